import Foundation
import Testing
import XMPPAddress
import XMPPClient
import XMPPCore

extension AlertTests {
    /// An alert's state survives a restart of the daemon (state_dir/alerts.active):
    /// - an alert still on across a restart (systemctl restart, an upgrade) is not told again;
    /// - an alert told before the daemon stopped, and over by the time it runs again, is said to be
    ///   over, so the owner's last word is not "hot".
    @Test(arguments: servers)
    func aRestartNeitherRepeatsAnAlertNorLosesItsEnd(_ server: ITServer) throws {
        let daemon = try Self.alertBoard(server, automation: Self.hotAlert())
        let bare = "perch@\(server.domain)"
        let online = "online as \(bare)/board"
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        let seen = owner.received.count
        try Self.alertSetAir(daemon, 31)
        #expect(owner.alertNext(since: seen, from: bare, timeout: 5_000) != nil, "log:\n\(daemon.log)")

        // Restarted while still hot.
        #expect(daemon.terminate() == 0)
        try daemon.restart()
        #expect(daemon.waitFor(online, count: 2), "log:\n\(daemon.log)")
        owner.idle(2_500)
        let afterRestart = owner.alertMessages(since: seen, from: bare).compactMap { $0.child("body")?.text }
        #expect(afterRestart.count == 1, "told again after the restart: \(afterRestart)")

        // Stopped while hot, started again once it is over.
        #expect(daemon.terminate() == 0)
        try Self.alertSetAir(daemon, 27)
        try daemon.restart()
        #expect(daemon.waitFor(online, count: 3), "log:\n\(daemon.log)")
        let over = owner.alertWaitFor(since: seen, timeout: 2_500) {
            $0.name == "message" && $0.from?.bare.description == bare && $0.child("body")?.text.hasPrefix("✓ \(Self.device): hot is over") == true
        }
        #expect(over != nil, "no end after the restart: \(owner.alertMessages(since: seen, from: bare).compactMap { $0.child("body")?.text })")
        #expect(try owner.alertSay("alerts", to: "\(bare)/board") == "no alert is on\nhot: off (air > 30; to owners); air 27 °C")
        #expect(daemon.terminate() == 0)
    }
}
