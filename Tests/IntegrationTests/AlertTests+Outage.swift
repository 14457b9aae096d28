import Foundation
import Testing
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore

/// The server killed (kill -9) under the daemon: the rule goes on switching the fan, and the alert
/// messages wait in state_dir/alerts until the device is back, then arrive stamped with when they
/// happened; an alert that started and ended meanwhile arrives as one "was hot" message. Each server
/// runs an instance of its own on ports of its own (15450 Prosody, 15460 ejabberd), reached by the
/// daemon through a proxy (port + 5) that keeps it away until the owner is logged in again: neither
/// test server keeps messages for an offline user, so the owner must be there when they go out.
extension AlertTests {
    struct AlertOutageTarget: Sendable, CustomTestStringConvertible {
        let kind: ServerProcess.Kind
        let port: Int
        var proxyPort: Int { port + 5 }
        var testDescription: String { kind.rawValue }
        var server: ITServer { ITServer(name: kind.rawValue, domain: "perch.test", port: port, directTLSPort: port + 1, mechanism: "SCRAM-SHA-1") }
    }

    static let alertOutageTargets: [AlertOutageTarget] =
        (IT.prosody ? [AlertOutageTarget(kind: .prosody, port: 15450)] : [])
        + (IT.ejabberd ? [AlertOutageTarget(kind: .ejabberd, port: 15460)] : [])

    @Test(arguments: alertOutageTargets)
    func withTheServerKilledRulesRunAndAlertsWait(_ target: AlertOutageTarget) throws {
        let server = try ServerProcess(target.kind, port: target.port)
        try server.start()
        let proxy = try TCPProxy(port: target.proxyPort, target: target.port)
        defer { proxy.stop() }
        let it = target.server
        let bare = "perch@\(it.domain)"
        let connection = "[connection]\nconnect_timeout = \"5s\"\nreconnect_max = \"10s\""
        let daemon = try Self.alertBoard(it, port: target.proxyPort, automation: Self.hotAlert() + "\n" + Self.coolRule(), connection: connection)

        try server.crash()
        #expect(daemon.waitFor("reconnecting in", timeout: 10), "log:\n\(daemon.log)")
        let alerts = "\(daemon.dir)/state/alerts"

        // Hot while offline: the rule switches the fan on, the alert waits.
        let firstCrossing = Date()
        try Self.alertSetAir(daemon, 31)
        let on = Self.alertPoll(timeout: 4) { daemon.gpioLine("fan") == "1" }
        #expect(on, "the rule did not switch the fan with the server down; log:\n\(daemon.log)")
        #expect(Date().timeIntervalSince(firstCrossing) < 2.5, "the rule took \(Date().timeIntervalSince(firstCrossing)) s")
        #expect(daemon.waitFor("command from \(bare) (operator) via rule cool: fan on → ok"), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("alert hot started"), "log:\n\(daemon.log)")
        // Over while offline: the two become one "was hot".
        try Self.alertSetAir(daemon, 27)
        #expect(Self.alertPoll(timeout: 4) { daemon.gpioLine("fan") == "0" }, "log:\n\(daemon.log)")
        #expect(daemon.waitFor("alert hot ended"), "log:\n\(daemon.log)")
        // Hot again, and still hot when the server is back.
        let secondCrossing = Date()
        try Self.alertSetAir(daemon, 31)
        #expect(Self.alertPoll(timeout: 4) { daemon.gpioLine("fan") == "1" }, "log:\n\(daemon.log)")
        #expect(daemon.waitFor("alert hot started", count: 2), "log:\n\(daemon.log)")
        #expect(Self.alertCount(daemon, "via rule cool: fan on → ok") == 2 && Self.alertCount(daemon, "via rule cool: fan off → ok") == 1, "log:\n\(daemon.log)")
        let waiting = ((try? String(contentsOfFile: alerts, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: "\t").first.map(String.init) ?? "" }
        #expect(waiting == ["was", "started"], "state_dir/alerts: \(waiting)")

        // The server back; the owner logs in before the device may.
        proxy.cut(for: 600)
        try server.start()
        let owner = try Peer.connected("peer", it)
        defer { owner.disconnect() }
        owner.idle(300)
        let seen = owner.received.count
        let onlineBefore = Self.alertCount(daemon, "online as \(bare)/board")
        proxy.cut(for: 0)
        #expect(Self.alertPoll(timeout: 30, owner) { Self.alertCount(daemon, "online as \(bare)/board") > onlineBefore }, "the device did not come back; log:\n\(daemon.log)")
        let second = owner.alertNext(since: seen, from: bare, count: 2, timeout: 5_000)
        #expect(second != nil, "log:\n\(daemon.log)")
        owner.idle(1_500)
        let got = owner.alertMessages(since: seen, from: bare)
        #expect(got.count == 2, "\(got.map { $0.child("body")?.text ?? "" }); log:\n\(daemon.log)")
        #expect(daemon.log.contains("sent 2 alert messages that waited for the server"), "log:\n\(daemon.log)")
        #expect(!FileManager.default.fileExists(atPath: alerts), "state_dir/alerts is left after the messages went")

        if got.count == 2 {
            let was = got[0], hot = got[1]
            let wasBody = was.child("body")?.text ?? ""
            #expect(Self.alertClocks(firstCrossing).contains { wasBody.hasPrefix("\(Self.device): was hot \($0)–") }, "\(wasBody)")
            #expect(wasBody.hasSuffix("; air > 30), while the device was offline"), "\(wasBody)")
            let hotBody = hot.child("body")?.text ?? ""
            #expect(Self.alertClocks(secondCrossing).contains { hotBody == "\(Self.device): hot: air 31 °C (air > 30) since \($0)" }, "\(hotBody)")
            for (m, crossing) in [(was, firstCrossing), (hot, secondCrossing)] {
                #expect(m.stanzaType == "chat" && Self.alertHasHints(m), "\(m)")
                let stamp = Self.alertStamp(m, by: bare)
                let crossed = Int64(crossing.timeIntervalSince1970 * 1000)
                // The sample after the write: within an interval, and a little.
                #expect(stamp.map { $0 >= crossed - 100 && $0 <= crossed + 2_000 } == true,
                        "delay stamp \(String(describing: stamp)) for a crossing at \(crossed): \(m)")
            }
        }
        // The alert is still on, and presence says so.
        owner.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": bare]))
        let away = owner.alertWaitFor(since: seen, timeout: 5_000) { $0.isAlertPresence(from: bare) && $0.child("show")?.text == "away" }
        #expect(away?.child("status")?.text.hasPrefix("⚠ hot · ") == true, "\(String(describing: away))")
        #expect(daemon.terminate() == 0)
    }

    /// Polls `condition` every 50 ms (running `peer`'s loop meanwhile, if any) for up to `timeout` s.
    static func alertPoll(timeout: TimeInterval, _ peer: Peer? = nil, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            if let peer { peer.idle(50) } else { Thread.sleep(forTimeInterval: 0.05) }
        }
        return condition()
    }
}
