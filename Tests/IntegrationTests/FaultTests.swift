import Foundation
import Testing
import XMPPAddress
import XMPPClient
import XMPPCore

/// Nothing lost, nothing twice: the daemon (its own process) publishes a counter reading every second
/// to a pubsub node through a TCP proxy, while the test breaks things in turn: a server restart, a
/// server `kill -9` with 5 s down, the daemon `kill -9` and restarted, a 10 s network cut, and a
/// connection that stops answering without closing. A subscriber collects notifications; at the end
/// every counter value taken must be on the node or have been notified, no notification may come
/// twice, and no chat command may have run twice. Each server runs its own instance, on ports of its
/// own, so the faults touch nothing else.
@Suite(.serialized)
struct FaultTests {
    struct Target: Sendable, CustomTestStringConvertible {
        let kind: ServerProcess.Kind
        let port: Int
        let proxyPort: Int
        /// "starttls", or "websocket" through the server's HTTPS port (`port` + 3).
        var transport = "starttls"
        var testDescription: String { transport == "starttls" ? kind.rawValue : "\(kind.rawValue) \(transport)" }
        var httpPort: Int? { transport == "starttls" ? nil : port + 2 }
        /// Where the cuttable proxy forwards to.
        var proxied: Int { httpPort.map { $0 + 1 } ?? port }
        var serverSection: String {
            switch transport {
            case "websocket": "url = \"wss://localhost:\(proxyPort)\(kind == .prosody ? "/xmpp-websocket" : "/ws")\"\ntransport = \"websocket\""
            default: "host = \"127.0.0.1\"\nport = \(proxyPort)\ntransport = \"\(transport)\""
            }
        }
    }

    static let targets: [Target] =
        (IT.prosody ? [Target(kind: .prosody, port: 15260, proxyPort: 15269), Target(kind: .prosody, port: 15260, proxyPort: 15269, transport: "websocket")] : [])
        + (IT.ejabberd ? [Target(kind: .ejabberd, port: 15270, proxyPort: 15279), Target(kind: .ejabberd, port: 15270, proxyPort: 15279, transport: "websocket")] : [])

    static let node = "perch/faults"
    static let pubsub = "http://jabber.org/protocol/pubsub"

    func config(_ target: Target) -> String {
        """
        [account]
        jid = "perch@perch.test/board"
        password_file = "@DIR@/password"
        [server]
        \(target.serverSection)
        ca_file = "\(IT.caFile)"
        [access]
        owners = ["peer@perch.test"]
        [connection]
        ping_interval = "10s"
        ping_timeout = "5s"
        connect_timeout = "5s"
        reconnect_max = "10s"
        [log]
        trace_xml = true
        [telemetry]
        min_interval = "1s"
        pubsub = "service"
        service = "pubsub.perch.test"
        node = "\(Self.node)"
        access_model = "open"
        max_items = 250
        [device]
        name = "faulty"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        allow_commands = true
        [[output]]
        name = "pump"
        line = "pump"
        [[sensor]]
        name = "seq"
        source = "command"
        command = ["/bin/sh", "@DIR@/count.sh"]
        interval = "1s"
        precision = 0
        """
    }

    /// One reading as the subscriber saw it.
    struct Seen {
        let id: String
        let value: Int
        let delayed: Bool
    }

    static func readings(_ e: XMLElement) -> [Seen] {
        var out: [Seen] = []
        func walk(_ e: XMLElement) {
            if e.name == "item", let id = e[attribute: "id"] {
                var value: Int?
                var delayed = false
                func inner(_ x: XMLElement) {
                    if x.name == "numeric", x[attribute: "name"] == "seq" { value = x[attribute: "value"].flatMap { Double($0) }.map { Int($0) } }
                    if x.name == "delay", x.namespace == XMPPNamespace.delay { delayed = true }
                    for c in x.elements { inner(c) }
                }
                inner(e)
                if let value { out.append(Seen(id: id, value: value, delayed: delayed)) }
                return
            }
            for c in e.elements { walk(c) }
        }
        walk(e)
        return out
    }

    /// Runs the subscriber's loop while waiting for the daemon's log to say `text`; returns the time it
    /// took (s), or nil.
    func wait(_ daemon: DaemonProcess, _ text: String, count: Int, _ peers: [Peer], timeout: TimeInterval = 60) -> TimeInterval? {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if daemon.log.components(separatedBy: text).count > count { return Date().timeIntervalSince(start) }
            for p in peers { p.idle(50) }
        }
        return nil
    }

    func online(_ daemon: DaemonProcess) -> Int {
        daemon.log.components(separatedBy: "online as perch@perch.test/board").count - 1
            + daemon.log.components(separatedBy: "resumed as perch@perch.test/board").count - 1
    }

    func counter(_ daemon: DaemonProcess) -> Int {
        Int((try? String(contentsOfFile: "\(daemon.dir)/counter", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "0") ?? 0
    }

    @Test(.enabled(if: IT.anyServer, "needs scripts/integration/run"), arguments: targets)
    func everyReadingArrivesOnceThroughEveryFault(_ target: Target) throws {
        let server = try ServerProcess(target.kind, port: target.port, httpPort: target.httpPort)
        try server.start()
        let proxy = try TCPProxy(port: target.proxyPort, target: target.proxied)
        defer { proxy.stop() }
        let daemon = try DaemonProcess(config: config(target), password: "perch-secret", setup: { dir in
            // The sensor: every run takes the next number. The file is the ground truth of what was taken.
            try "n=$(cat \(dir)/counter 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > \(dir)/counter\necho $n\n".write(toFile: "\(dir)/count.sh", atomically: true, encoding: .utf8)
        })
        #expect(daemon.waitFor("online as perch@perch.test/board"), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("pubsub node \(Self.node)", timeout: 15) || daemon.log.contains("created pubsub node"), "log:\n\(daemon.log)")

        var notified: [Seen] = []
        var raw: [String] = []
        func subscriber() throws -> Peer {
            let p = try Peer(user: "viewer", domain: "perch.test", port: target.port)
            p.client.onStanza = { [unowned p] s in
                p.received.append(s)
                if s.name == "message", s.child("event", namespace: Self.pubsub + "#event") != nil {
                    raw.append(s.serialized())
                    // ejabberd also sends the node's last item on its own (XEP-0060 §6.1.7): to the
                    // subscribing resource after a subscribe, and with a delay stamp on the message
                    // when the subscriber comes online. Those are the server's replays, not publishes.
                    let replay = s.child("delay", namespace: XMPPNamespace.delay) != nil || s.to?.resourcepart != nil
                    if !replay { notified += Self.readings(s) }
                }
            }
            guard p.connect() else { throw ITError("the subscriber cannot log in") }
            let sub = XMLElement("pubsub", namespace: Self.pubsub, children: [.element(XMLElement("subscribe", namespace: Self.pubsub, attrs: ["node": Self.node, "jid": "viewer@perch.test"]))])
            _ = try p.ask("pubsub.perch.test", sub, type: "set")
            return p
        }
        var viewer = try subscriber()
        func ownerPeer() throws -> Peer {
            let p = try Peer(user: "peer", domain: "perch.test", port: target.port)
            guard p.connect() else { throw ITError("the owner cannot log in") }
            return p
        }
        var owner = try ownerPeer()
        var report: [String] = []
        var commands = 0

        /// A command before each fault, and the same message (same id) sent again: it must run once.
        func command() throws {
            commands += 1
            let text = commands % 2 == 1 ? "pump on" : "pump off"
            let id = "cmd-\(commands)"
            var m = Stanza.message(to: try JID("perch@perch.test/board"), body: text, id: id)
            m.append(XMLElement("origin-id", namespace: XMPPNamespace.stanzaID, attrs: ["id": id]))
            owner.send(m)
            owner.send(m)
            for _ in 0..<15 {
                owner.idle(50)
                viewer.idle(50)
            }
        }

        /// The server went away: read what the subscriber's socket still holds, then retire it (a new
        /// subscriber logs in once the server is back).
        func retireSubscribers() {
            viewer.idle(500)
            viewer.client.stop {}
            owner.client.stop {}
        }

        func phase(_ name: String, _ fault: () throws -> Void) throws {
            let before = online(daemon)
            viewer.idle(3000)
            try command()
            let started = Date()
            try fault()
            var took: TimeInterval?
            while Date().timeIntervalSince(started) < 90 {
                if online(daemon) > before { took = Date().timeIntervalSince(started); break }
                viewer.idle(100)
                owner.idle(10)
            }
            #expect(took != nil, "\(name): the daemon did not come back; log:\n\(daemon.log.suffix(6000))")
            report.append("\(name): back online after \(String(format: "%.1f", took ?? -1)) s")
            // Let the backlog drain before the next fault.
            viewer.idle(4000)
        }

        try phase("server restart") {
            try server.stop()
            retireSubscribers()
            try server.start()
            viewer = try subscriber()
            owner = try ownerPeer()
        }
        try phase("server kill -9, 5 s down") {
            try server.crash()
            retireSubscribers()
            Thread.sleep(forTimeInterval: 4.5)
            try server.start()
            viewer = try subscriber()
            owner = try ownerPeer()
        }
        var atKill = 0
        try phase("daemon kill -9 and restart") {
            daemon.crash()
            atKill = counter(daemon)
            try daemon.restart()
        }
        try phase("10 s network cut") {
            proxy.cut(for: 10)
        }
        try phase("connection stops answering") {
            proxy.blackhole()
        }
        proxy.closeFrozen()
        viewer.idle(5000)
        #expect(daemon.terminate() == 0)
        let taken = counter(daemon)

        // What the node holds, and what was notified.
        let all = XMLElement("pubsub", namespace: Self.pubsub, children: [.element(XMLElement("items", namespace: Self.pubsub, attrs: ["node": Self.node]))])
        var onNode: [Seen] = []
        if case .success(let iq)? = try viewer.ask("pubsub.perch.test", all) { onNode = Self.readings(iq) }
        let values = Set(onNode.map(\.value)).union(notified.map(\.value))
        let missing = (1...max(taken, 1)).filter { !values.contains($0) }
        var seenIDs: [String: Int] = [:]
        for n in notified { seenIDs[n.id, default: 0] += 1 }
        let duplicateNotifications = seenIDs.values.filter { $0 > 1 }.count
        var byValue: [Int: Int] = [:]
        for n in onNode { byValue[n.value, default: 0] += 1 }
        let duplicateItems = byValue.values.filter { $0 > 1 }.count
        let delayed = onNode.filter(\.delayed).count + notified.filter(\.delayed).count
        // Publishes sent again after a fault (the first never reached the node: looked up, not there).
        var publishes: [String: Int] = [:]
        for line in daemon.log.components(separatedBy: "\n") where line.contains("SEND <iq") && line.contains("<publish ") {
            if let r = line.range(of: "<item id='"), let end = line[r.upperBound...].firstIndex(of: "'") { publishes[String(line[r.upperBound..<end]), default: 0] += 1 }
        }
        let republished = publishes.filter { $0.value > 1 }.keys.sorted()
        let audit = daemon.log.components(separatedBy: "\n").filter { $0.contains("command from peer@perch.test (owner) via chat: pump") }.count

        report.append("readings taken \(taken), on the node \(onNode.count), notified \(notified.count) (\(Set(notified.map(\.id)).count) distinct), with a delay stamp \(delayed)")
        report.append("lost \(missing.count) \(missing), duplicated notifications \(duplicateNotifications), duplicated items \(duplicateItems), sent again after the first was lost \(republished.count)")
        report.append("commands sent \(commands) (each twice, same id), run \(audit)")
        if duplicateNotifications > 0 {
            let ids = seenIDs.filter { $0.value > 1 }.keys.sorted()
            report.append("notified twice: " + ids.joined(separator: ", "))
            for id in ids { report += raw.filter { $0.contains("'\(id)'") } }
        }
        print("FAULTS \(target.testDescription):\n  " + report.joined(separator: "\n  "))
        if !missing.allSatisfy({ $0 == atKill }) || duplicateNotifications > 0 {
            try? daemon.log.write(toFile: "/tmp/perch-faults-\(target.kind)-\(target.transport).log", atomically: true, encoding: .utf8)
        }

        // Only the reading being taken at the instant of kill -9 may be gone: the program ran, the
        // daemon died before it read the output.
        #expect(missing.allSatisfy { $0 == atKill }, "lost readings \(missing); log:\n\(daemon.log.suffix(8000))")
        #expect(duplicateNotifications == 0, "notifications seen twice")
        #expect(duplicateItems == 0, "a reading published under two ids")
        #expect(delayed > 0, "backlog items carry a delay stamp")
        #expect(audit == commands, "every command ran exactly once")
        #expect(daemon.log.contains("arrived again"), "the repeated message was recognised")
        viewer.disconnect()
        owner.disconnect()
    }
}
