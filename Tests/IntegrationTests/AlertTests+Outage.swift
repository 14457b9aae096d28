import Foundation
import Testing
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore

/// The server killed (kill -9) under the daemon while an alert is on: the rule goes on switching the
/// fan, and the alert messages wait in state_dir/alerts until the device is back, then arrive stamped
/// with when they happened: the end of the alert told before, one "was hot" for an alert that started
/// and ended meanwhile, and the start of the one still on. Each server runs an instance of its own on
/// ports of its own (15450 Prosody, 15460 ejabberd), reached by the daemon through a proxy (port + 5)
/// that keeps it away until the owner is logged in again: neither test server keeps messages for an
/// offline user, so the owner must be there when they go out.
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

        // Hot while online: told at once.
        let before = try Peer.connected("peer", it)
        let seenLive = before.received.count
        try Self.alertSetAir(daemon, 31)
        let live = before.alertNext(since: seenLive, from: bare, timeout: 5_000)
        #expect(live?.child("body")?.text.hasPrefix("⚠ \(Self.device): hot: air 31 °C") == true, "\(String(describing: live)); log:\n\(daemon.log)")
        #expect(Self.alertPoll(timeout: 4) { daemon.gpioLine("fan") == "1" }, "log:\n\(daemon.log)")

        // Killed at once, before the server acknowledged the message (the daemon asks after 1 s): the
        // new session sends it again.
        try server.crash()
        before.client.stop {}
        #expect(daemon.waitFor("reconnecting in", timeout: 10), "log:\n\(daemon.log)")
        let alerts = "\(daemon.dir)/state/alerts"

        // Over while offline: the rule switches the fan off, the end waits.
        let ended = Date()
        try Self.alertSetAir(daemon, 27)
        #expect(Self.alertPoll(timeout: 4) { daemon.gpioLine("fan") == "0" }, "the rule did not switch the fan with the server down; log:\n\(daemon.log)")
        #expect(Date().timeIntervalSince(ended) < 2.5, "the rule took \(Date().timeIntervalSince(ended)) s")
        #expect(daemon.waitFor("command from \(bare) (operator) via rule cool: fan off → ok"), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("alert hot ended"), "log:\n\(daemon.log)")
        // Hot and over again while offline: the two become one "was hot".
        let firstCrossing = Date()
        try Self.alertSetAir(daemon, 31)
        #expect(Self.alertPoll(timeout: 4) { daemon.gpioLine("fan") == "1" }, "log:\n\(daemon.log)")
        #expect(daemon.waitFor("alert hot started", count: 2), "log:\n\(daemon.log)")
        try Self.alertSetAir(daemon, 27)
        #expect(Self.alertPoll(timeout: 4) { daemon.gpioLine("fan") == "0" }, "log:\n\(daemon.log)")
        #expect(daemon.waitFor("alert hot ended", count: 2), "log:\n\(daemon.log)")
        // Hot again, and still hot when the server is back.
        let secondCrossing = Date()
        try Self.alertSetAir(daemon, 31)
        #expect(Self.alertPoll(timeout: 4) { daemon.gpioLine("fan") == "1" }, "log:\n\(daemon.log)")
        #expect(daemon.waitFor("alert hot started", count: 3), "log:\n\(daemon.log)")
        #expect(Self.alertCount(daemon, "via rule cool: fan on → ok") == 3 && Self.alertCount(daemon, "via rule cool: fan off → ok") == 2, "log:\n\(daemon.log)")
        let waiting = ((try? String(contentsOfFile: alerts, encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: "\t").first.map(String.init) ?? "" }
        #expect(waiting == ["ended", "was", "started"], "state_dir/alerts: \(waiting)")

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
        let last = owner.alertNext(since: seen, from: bare, count: 3, timeout: 5_000)
        #expect(last != nil, "log:\n\(daemon.log)")
        owner.idle(1_500)
        let all = owner.alertMessages(since: seen, from: bare)
        // The live message, sent again by the new session (same origin-id): the server took it as it died.
        let liveID = live.flatMap(Self.alertOriginID)
        let copies = all.filter { liveID != nil && Self.alertOriginID($0) == liveID }
        let got = all.filter { m in !copies.contains { $0 == m } }
        #expect(got.count == 3, "\(all.map { $0.child("body")?.text ?? "" }); log:\n\(daemon.log)")
        #expect(copies.count <= 1, "\(copies)")
        #expect(daemon.log.contains("sent 3 alert messages that waited for the server"), "log:\n\(daemon.log)")
        #expect(!FileManager.default.fileExists(atPath: alerts), "state_dir/alerts is left after the messages went")
        // The live message the server took as it died comes again (the client sends what was not
        // acknowledged) before the messages that waited, which are newer: the owner's last word is
        // never the start of an alert that is long over. (Only when the server died before
        // acknowledging it: the daemon asks 1 s after sending, and the kill comes within ms.)
        #expect(copies.isEmpty || all.first == copies.first,
                "the order the owner saw: \(all.map { "\($0.child("body")?.text ?? "")\(Delay.all(in: $0).isEmpty ? " (no delay)" : "")" })")

        if got.count == 3 {
            let over = got[0], was = got[1], hot = got[2]
            let overBody = over.child("body")?.text ?? ""
            #expect(overBody.hasPrefix("✓ \(Self.device): hot is over: air 27 °C; it lasted "), "\(overBody)")
            #expect(Self.alertClocks(ended).contains { overBody.contains("–\($0)") }, "\(overBody)")
            let wasBody = was.child("body")?.text ?? ""
            #expect(Self.alertClocks(firstCrossing).contains { wasBody.hasPrefix("⚠ \(Self.device): was hot \($0)") }, "\(wasBody)")
            #expect(wasBody.hasSuffix("; air > 30), while the device was offline"), "\(wasBody)")
            let hotBody = hot.child("body")?.text ?? ""
            #expect(Self.alertClocks(secondCrossing).contains { hotBody == "⚠ \(Self.device): hot: air 31 °C (air > 30) since \($0)" }, "\(hotBody)")
            for (m, at) in [(over, ended), (was, firstCrossing), (hot, secondCrossing)] {
                #expect(m.stanzaType == "chat" && Self.alertHasHints(m), "\(m)")
                let stamp = Self.alertStamp(m, by: bare)
                let written = Int64(at.timeIntervalSince1970 * 1000)
                // The sample after the write: within an interval, and a little.
                #expect(stamp.map { $0 >= written - 100 && $0 <= written + 2_000 } == true,
                        "delay stamp \(String(describing: stamp)) for a crossing at \(written): \(m)")
            }
        }
        // The alert is still on, and presence says so.
        owner.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": bare]))
        let away = owner.alertWaitFor(since: seen, timeout: 5_000) { $0.isAlertPresence(from: bare) && $0.child("show")?.text == "away" }
        #expect(away?.child("status")?.text.hasPrefix("⚠ hot · ") == true, "\(String(describing: away))")
        #expect(daemon.terminate() == 0)
    }

    /// A message's XEP-0359 origin-id (or its id).
    static func alertOriginID(_ m: XMLElement) -> String? {
        m.child("origin-id", namespace: XMPPNamespace.stanzaID)?[attribute: "id"] ?? m[attribute: "id"]
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
