import Foundation
import Testing
import XMPPAddress
import XMPPClient
import XMPPCore

/// Two faults measured against each server, each on a server instance and ports of its own:
/// - a hung server: the server process is stopped (SIGSTOP) for 10 s with its TCP connections open,
///   while the daemon takes a reading a second with ping_interval = 5 s and ping_timeout = 2 s. The
///   daemon must notice within seconds, write no new reading into the dead connection once answers
///   are overdue, and deliver every reading once, those taken more than ping_timeout into the stall
///   with their XEP-0203 delay stamp;
/// - a graceful restart (the server ends every stream, then comes back): the daemon must be back a
///   few seconds after the server is.
extension FaultTests {
    static let hungTargets: [Target] =
        (IT.prosody ? [Target(kind: .prosody, port: 15340, proxyPort: 0)] : [])
        + (IT.ejabberd ? [Target(kind: .ejabberd, port: 15350, proxyPort: 0)] : [])
    static let restartTargets: [Target] =
        (IT.prosody ? [Target(kind: .prosody, port: 15360, proxyPort: 0)] : [])
        + (IT.ejabberd ? [Target(kind: .ejabberd, port: 15370, proxyPort: 0)] : [])

    /// The fault tests' daemon, straight to the server, with the fastest liveness settings allowed.
    func hungConfig(port: Int) -> String {
        config(Target(kind: .prosody, port: port, proxyPort: port))
            .replacingOccurrences(of: "ping_interval = \"10s\"", with: "ping_interval = \"5s\"")
            .replacingOccurrences(of: "ping_timeout = \"5s\"", with: "ping_timeout = \"2s\"")
    }

    @Test(.enabled(if: IT.anyServer, "needs scripts/integration/run"), arguments: hungTargets)
    func aHungServerIsNoticedAndItsReadingsArriveStamped(_ target: Target) throws {
        let pingTimeout: TimeInterval = 2
        let server = try ServerProcess(target.kind, port: target.port)
        try server.start()
        let daemon = try DaemonProcess(config: hungConfig(port: target.port), password: "perch-secret", setup: { dir in
            // Every run takes the next number and notes when (Unix ms): the ground truth of what was taken.
            try "n=$(cat \(dir)/counter 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > \(dir)/counter\necho \"$n $(date +%s%3N)\" >> \(dir)/taken\necho $n\n"
                .write(toFile: "\(dir)/count.sh", atomically: true, encoding: .utf8)
        })
        #expect(daemon.waitFor("online as perch@perch.test/board"), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("pubsub node \(Self.node)", timeout: 15) || daemon.log.contains("created pubsub node"), "log:\n\(daemon.log)")
        let viewer = try FaultSubscriber(port: target.port)
        viewer.peer.idle(4000)

        guard let pid = server.serverPID else { throw ITError("no \(target.kind) pid file") }
        let logAtStall = daemon.log.count
        let onlineBefore = online(daemon)
        let stalled = Date()
        kill(pid, SIGSTOP)
        var resumed = false
        defer { if !resumed { kill(pid, SIGCONT) } }
        var detected: TimeInterval?
        while Date().timeIntervalSince(stalled) < 10 {
            if detected == nil, String(daemon.log.dropFirst(logAtStall)).contains("the connection is dead") {
                detected = Date().timeIntervalSince(stalled)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(pid, SIGCONT)
        resumed = true
        let continued = Date()
        var back: TimeInterval?
        while Date().timeIntervalSince(continued) < 60 {
            if online(daemon) > onlineBefore { back = Date().timeIntervalSince(continued); break }
            viewer.peer.idle(100)
        }
        // Let the backlog drain, then stop taking readings.
        viewer.peer.idle(6000)
        // A reading taken while the daemon shuts down stays in its outbox for the next run.
        let stopping = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(daemon.terminate() == 0)
        viewer.peer.idle(1000)

        // A reading taken in the last moment before SIGTERM may still be on its way to the server
        // when the session closes: it stays in the outbox for the next run, and is not counted here.
        let taken = FaultSubscriber.taken(daemon).filter { $0.at < stopping - 500 }
        let onNode = try viewer.itemsOnNode()
        let notified = viewer.notified
        let values = Set(onNode.map(\.value)).union(notified.map(\.value))
        let missing = taken.map(\.value).filter { !values.contains($0) }
        var ids: [String: Int] = [:]
        for n in notified { ids[n.id, default: 0] += 1 }
        let duplicateNotifications = ids.values.filter { $0 > 1 }.count
        var byValue: [Int: Int] = [:]
        for n in onNode { byValue[n.value, default: 0] += 1 }
        let duplicateItems = byValue.values.filter { $0 > 1 }.count
        let stamped = Set(onNode.filter(\.delayed).map(\.value)).union(notified.filter(\.delayed).map(\.value))
        let stallMs = Int64(stalled.timeIntervalSince1970 * 1000)
        let continuedMs = Int64(continued.timeIntervalSince1970 * 1000)
        // Taken more than ping_timeout after the stall began, while the server was still stopped.
        let late = taken.filter { $0.at > stallMs + Int64(pingTimeout * 1000) && $0.at <= continuedMs }
        let unstamped = late.filter { !stamped.contains($0.value) }.map(\.value)
        let duringStall = taken.filter { $0.at > stallMs && $0.at <= continuedMs }

        // Once the answers were overdue, nothing new went into the connection until it was declared dead.
        let stallLog = String(daemon.log.dropFirst(logAtStall)).components(separatedBy: "\n")
        let held = stallLog.firstIndex { $0.contains("new readings wait in the outbox") }
        let dead = stallLog.firstIndex { $0.contains("the connection is dead") }
        var writtenWhileOverdue = 0
        if let held, let dead, held < dead {
            writtenWhileOverdue = stallLog[held..<dead].filter { $0.contains("SEND <iq") && $0.contains("<publish ") }.count
        }

        print("""
            HUNG SERVER \(target.kind) (SIGSTOP 10 s, ping_interval 5 s, ping_timeout 2 s, a reading a second):
              detected after \(detected.map { String(format: "%.1f", $0) } ?? "never") s; back online \(back.map { String(format: "%.1f", $0) } ?? "never") s after SIGCONT
              readings taken \(taken.count), \(duringStall.count) during the stall, \(late.count) of them more than 2 s in: \(late.count - unstamped.count)/\(late.count) stamped
              on the node \(onNode.count), notified \(notified.count), stamped in all \(stamped.count)/\(taken.count)
              lost \(missing.count) \(missing), duplicated notifications \(duplicateNotifications), duplicated items \(duplicateItems), publishes written while overdue \(writtenWhileOverdue)
            """)
        #expect(detected != nil && detected! < 6, "the hung server was noticed after \(detected ?? -1) s; log:\n\(daemon.log.suffix(8000))")
        #expect(back != nil, "the daemon did not come back; log:\n\(daemon.log.suffix(8000))")
        #expect(held != nil && dead != nil && held! < dead!, "readings were held once answers were overdue")
        #expect(writtenWhileOverdue == 0, "no publish written into the connection while answers were overdue")
        #expect(late.count >= 6, "readings were taken during the stall")
        #expect(unstamped.isEmpty, "readings taken more than ping_timeout into the stall arrive with a delay stamp: \(unstamped)")
        #expect(missing.isEmpty, "lost readings \(missing); log:\n\(daemon.log.suffix(8000))")
        #expect(duplicateNotifications == 0, "notifications seen twice")
        #expect(duplicateItems == 0, "a reading published under two ids")
        viewer.peer.disconnect()
    }

    @Test(.enabled(if: IT.anyServer, "needs scripts/integration/run"), arguments: restartTargets)
    func aGracefulServerRestartCostsAFewSeconds(_ target: Target) throws {
        let server = try ServerProcess(target.kind, port: target.port)
        try server.start()
        let daemon = try DaemonProcess(config: daemonConfig(port: target.port), password: "perch-secret")
        #expect(daemon.waitFor("online as perch@perch.test/board"), "log:\n\(daemon.log)")
        Thread.sleep(forTimeInterval: 2)
        var lines: [String] = []
        for round in 1...2 {
            let before = online(daemon)
            let started = Date()
            try server.stop()
            try server.start()
            let serverBack = Date().timeIntervalSince(started)
            var offline: TimeInterval?
            while Date().timeIntervalSince(started) < 90 {
                if online(daemon) > before { offline = Date().timeIntervalSince(started); break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            let perch = (offline ?? 90) - serverBack
            lines.append("restart \(round): offline \(offline.map { String(format: "%.1f", $0) } ?? "> 90") s, of which the server's own stop and start \(String(format: "%.1f", serverBack)) s and Perch's reconnect \(String(format: "%.1f", perch)) s")
            #expect(offline != nil, "not back online; log:\n\(daemon.log.suffix(6000))")
            // Loose bounds: Perch's share is its first retries (1 to 3 s apart) plus the login.
            #expect(perch < 5, "Perch took \(perch) s to reconnect after the server was back; log:\n\(daemon.log.suffix(6000))")
            #expect((offline ?? 90) < serverBack + 5)
            Thread.sleep(forTimeInterval: 2)
        }
        print("GRACEFUL RESTART \(target.kind):\n  " + lines.joined(separator: "\n  "))
        #expect(daemon.terminate() == 0)
    }
}

/// A subscriber to the fault tests' node that collects the readings notified to it (the server's own
/// replays of the last item left out, see ``FaultTests``).
final class FaultSubscriber {
    let peer: Peer
    private(set) var notified: [FaultTests.Seen] = []

    init(port: Int) throws {
        peer = try Peer(user: "viewer", domain: "perch.test", port: port)
        peer.client.onStanza = { [unowned self] s in
            self.peer.received.append(s)
            guard s.name == "message", s.child("event", namespace: FaultTests.pubsub + "#event") != nil else { return }
            let replay = s.child("delay", namespace: XMPPNamespace.delay) != nil || s.to?.resourcepart != nil
            if !replay { self.notified += FaultTests.readings(s) }
        }
        guard peer.connect() else { throw ITError("the subscriber cannot log in") }
        let sub = XMLElement("pubsub", namespace: FaultTests.pubsub, children: [.element(XMLElement("subscribe", namespace: FaultTests.pubsub, attrs: ["node": FaultTests.node, "jid": "viewer@perch.test"]))])
        _ = try peer.ask("pubsub.perch.test", sub, type: "set")
    }

    /// Every item the node holds.
    func itemsOnNode() throws -> [FaultTests.Seen] {
        let all = XMLElement("pubsub", namespace: FaultTests.pubsub, children: [.element(XMLElement("items", namespace: FaultTests.pubsub, attrs: ["node": FaultTests.node]))])
        guard case .success(let iq)? = try peer.ask("pubsub.perch.test", all) else { throw ITError("cannot read the node's items") }
        return FaultTests.readings(iq)
    }

    /// What the counting sensor took, from its own record: each value and when (Unix ms).
    static func taken(_ daemon: DaemonProcess) -> [(value: Int, at: Int64)] {
        let text = (try? String(contentsOfFile: "\(daemon.dir)/taken", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let v = Int(parts[0]), let t = Int64(parts[1]) else { return nil }
            return (v, t)
        }
    }
}
