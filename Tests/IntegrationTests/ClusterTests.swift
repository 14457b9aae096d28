import Foundation
import Testing
import XMPPAddress
import XMPPClient
import XMPPCore

/// The two-node ejabberd cluster scripts/integration/cluster starts inside a private namespace, and
/// what the tests do to it through that script.
enum ClusterIT {
    static var enabled: Bool { IT.env["PERCH_IT_CLUSTER"] == "1" }
    static let script = "\(IT.root)/scripts/integration/cluster"
    /// c2s STARTTLS of each node; direct TLS on the port after it.
    static let node1Port = 15500
    static let node2Port = 15510
    /// Where the SRV records send the board for node 1: relays in this process, to cut.
    static let relayPort = 15520
    static let relayTLSPort = 15521
    static func nodeName(_ n: Int) -> String { "perch-cl\(n)@localhost" }

    /// Runs `cluster ARGS` (--kill N, --start N, --ctl N CMD...) and returns its output.
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: script)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ITError("cluster \(arguments.joined(separator: " ")) failed (\(p.terminationStatus)): \(out)") }
        return out
    }

    /// The Erlang nodes the cluster holds sessions of perch@perch.test/board on, as node 2 reports them
    /// (`user_sessions_info`: the session table is the cluster's, each row names the node of the process).
    static func boardSessionNodes() throws -> [String] {
        let out = try run(["--ctl", "2", "user_sessions_info", "perch", "perch.test"])
        return out.split(separator: "\n").compactMap { line -> String? in
            let cols = line.split(separator: "\t").map(String.init)
            guard cols.contains("board") else { return nil }
            return cols.first { $0.hasPrefix("perch-cl") }
        }
    }

    /// Node 1 is back (a test before may have killed it): started again, it rejoins the cluster.
    static func ensureNode1() throws {
        if !waitForPort(node1Port, timeout: 0) { try run(["--start", "1"]) }
    }
}

/// A clustered server under the board: ejabberd nodes 1 and 2 serve perch.test, DNS SRV lists node 1
/// first, and node 1 goes away while the board publishes a counter reading every second (as in
/// FaultTests): killed, or only the board's TCP connection to it cut. The board must be online on node 2
/// within the reconnect policy's first retries, and every reading must arrive exactly once.
@Suite(.serialized, .enabled(if: ClusterIT.enabled, "set PERCH_IT_CLUSTER=1 (scripts/integration/cluster starts a two-node ejabberd cluster in a private network namespace; it needs root and unshare)"))
struct ClusterTests {
    static let pubsub = "http://jabber.org/protocol/pubsub"
    static let service = "pubsub.perch.test"
    static let board = "perch@perch.test/board"

    /// No host: the board finds the cluster by SRV. No transport: both `_xmpps-client` and
    /// `_xmpp-client` records count.
    func clusterConfig(node: String) -> String {
        """
        [account]
        jid = "\(Self.board)"
        password_file = "@DIR@/password"
        [server]
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
        service = "\(Self.service)"
        node = "\(node)"
        access_model = "open"
        max_items = 250
        [device]
        name = "clustered"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        allow_commands = true
        [[sensor]]
        name = "seq"
        source = "command"
        command = ["/bin/sh", "@DIR@/count.sh"]
        interval = "1s"
        precision = 0
        """
    }

    /// The reconnect policy the daemon runs with (only `reconnect_max` set, which the first retries do
    /// not reach), and how many of its retries the move to node 2 may take.
    static let policy = ReconnectPolicy()
    static let firstRetries = 2
    /// Per retry, what a log-in takes beyond its delay: the SRV look-up, node 1's addresses failing, TLS,
    /// SCRAM and bind or resume on node 2, in a debug build on a busy 2-core machine.
    static let loginAllowance: TimeInterval = 2.5

    /// At most the delays of the first retries (after a lost session: the exponential back-off from
    /// `initialDelay`, full jitter), plus a log-in for each.
    static var moveBound: TimeInterval {
        (0..<firstRetries).reduce(0.0) { $0 + Double(policy.ceiling($1)) / 1000 + loginAllowance }
    }

    /// One run: the relays to node 1, the daemon online through them, a subscriber on node 2.
    final class Run {
        let node: String
        let relay: TCPProxy
        let relayTLS: TCPProxy
        let daemon: DaemonProcess
        var viewer: Peer!
        /// Notifications the subscriber saw, publishes only (the server's replays left out), in order.
        var notified: [FaultTests.Seen] = []
        var report: [String] = []

        init(node: String, config: String) throws {
            self.node = node
            try ClusterIT.ensureNode1()
            relay = try TCPProxy(port: ClusterIT.relayPort, target: ClusterIT.node1Port)
            relayTLS = try TCPProxy(port: ClusterIT.relayTLSPort, target: ClusterIT.node1Port + 1)
            daemon = try DaemonProcess(config: config, password: "perch-secret", setup: { dir in
                // The sensor: every run takes the next number. The file is the ground truth of what was taken.
                try "n=$(cat \(dir)/counter 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > \(dir)/counter\necho $n\n".write(toFile: "\(dir)/count.sh", atomically: true, encoding: .utf8)
            })
        }

        var counter: Int {
            Int((try? String(contentsOfFile: "\(daemon.dir)/counter", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "0") ?? 0
        }

        /// The subscriber, on node 2 directly (it stays through both faults).
        func subscribe() throws {
            let p = try Peer(user: "viewer", domain: "perch.test", port: ClusterIT.node2Port)
            p.client.onStanza = { [unowned self, unowned p] s in
                p.received.append(s)
                if s.name == "message", s.child("event", namespace: ClusterTests.pubsub + "#event") != nil {
                    // ejabberd sends the node's last item on its own to the subscribing resource, and
                    // with a delay stamp when the subscriber comes online: replays, not publishes.
                    let replay = s.child("delay", namespace: XMPPNamespace.delay) != nil || s.to?.resourcepart != nil
                    if !replay { self.notified += FaultTests.readings(s) }
                }
            }
            guard p.connect() else { throw ITError("the subscriber cannot log in on node 2") }
            viewer = p
            let sub = XMLElement("pubsub", namespace: ClusterTests.pubsub, children: [.element(XMLElement("subscribe", namespace: ClusterTests.pubsub, attrs: ["node": node, "jid": "viewer@perch.test"]))])
            var answer = try p.ask(ClusterTests.service, sub, type: "set")
            for _ in 0..<20 {
                if case .success? = answer { break }
                p.idle(250)
                answer = try p.ask(ClusterTests.service, sub, type: "set")
            }
            guard case .success? = answer else { throw ITError("the subscriber cannot subscribe to \(node): \(String(describing: answer))") }
        }

        /// Lets readings flow for a while, the subscriber's loop running.
        func collect(_ seconds: TimeInterval) { viewer.idle(Int64(seconds * 1000)) }

        /// The path to node 1 stops forwarding (the connection stays open) for `seconds`: the publishes
        /// the board writes meanwhile are in flight, never seen by node 1, when the fault comes.
        func holdInFlight(_ seconds: TimeInterval) {
            relayTLS.blackhole()
            relay.blackhole()
            mark = daemon.log.utf8.count
            collect(seconds)
            let held = String(decoding: Array(daemon.log.utf8.dropFirst(mark)), as: UTF8.self)
            inFlight = held.components(separatedBy: "\n").filter { $0.contains("SEND <iq") && $0.contains("<publish ") }.count
            report.append("publishes in flight when node 1 went: \(inFlight)")
        }
        private var mark = 0
        private(set) var inFlight = 0
        /// Item ids published more than once (the first never reached a node), from the daemon's trace.
        private(set) var sentAgain: [String] = []

        /// Applies `fault`, then waits until the daemon's log says `online as` or `resumed as` on one of
        /// node 2's ports. Returns the log written since the fault and the time it took (nil: never).
        func move(_ name: String, timeout: TimeInterval = 30, _ fault: () throws -> Void) rethrows -> (log: String, took: TimeInterval?, started: Date) {
            let mark = daemon.log.utf8.count
            func since() -> String { String(decoding: Array(daemon.log.utf8.dropFirst(mark)), as: UTF8.self) }
            let started = Date()
            try fault()
            let targets = [ClusterIT.node2Port + 1, ClusterIT.node2Port].map { "as \(ClusterTests.board) via 127.0.0.1:\($0) " }
            var took: TimeInterval?
            while Date().timeIntervalSince(started) < timeout {
                let log = since()
                if targets.contains(where: { log.contains($0) }) { took = Date().timeIntervalSince(started); break }
                viewer.idle(20)
            }
            report.append("\(name): online on node 2 after \(took.map { String(format: "%.2f", $0) } ?? "never") s (bound \(String(format: "%.1f", ClusterTests.moveBound)) s)")
            return (since(), took, started)
        }

        /// Stops the daemon and checks every reading taken arrived once: notified to the subscriber or
        /// on the node, none under two ids, none notified twice.
        func audit(notifiedBefore: Int) throws {
            let afterMove = notified.count - notifiedBefore
            collect(3)
            #expect(daemon.terminate() == 0)
            let taken = counter
            let all = XMLElement("pubsub", namespace: ClusterTests.pubsub, children: [.element(XMLElement("items", namespace: ClusterTests.pubsub, attrs: ["node": node]))])
            var onNode: [FaultTests.Seen] = []
            if case .success(let iq)? = try viewer.ask(ClusterTests.service, all) { onNode = FaultTests.readings(iq) }
            let values = Set(onNode.map(\.value)).union(notified.map(\.value))
            let missing = (1...max(taken, 1)).filter { !values.contains($0) }
            var ids: [String: Int] = [:]
            for n in notified { ids[n.id, default: 0] += 1 }
            let twice = ids.filter { $0.value > 1 }.keys.sorted()
            var byValue: [Int: Int] = [:]
            for n in onNode { byValue[n.value, default: 0] += 1 }
            let twoIDs = byValue.filter { $0.value > 1 }.keys.sorted()
            // Publishes sent again (the outbox found the first had not reached the node), for the report.
            var publishes: [String: Int] = [:]
            for line in daemon.log.components(separatedBy: "\n") where line.contains("SEND <iq") && line.contains("<publish ") {
                if let r = line.range(of: "<item id='"), let end = line[r.upperBound...].firstIndex(of: "'") { publishes[String(line[r.upperBound..<end]), default: 0] += 1 }
            }
            sentAgain = publishes.filter { $0.value > 1 }.keys.sorted()
            report.append("publishes sent again: \(sentAgain)")
            report.append("readings taken \(taken), on the node \(onNode.count), notified \(notified.count) (\(notifiedBefore) before the move, \(afterMove) after)")
            report.append("lost \(missing), notified twice \(twice), on the node under two ids \(twoIDs)")
            print("CLUSTER \(node):\n  " + report.joined(separator: "\n  "))
            #expect(taken >= 6, "the sensor ran through the test; log:\n\(daemon.log.suffix(4000))")
            #expect(notifiedBefore > 0, "readings were notified from the cluster before the fault")
            #expect(afterMove > 0, "readings were notified after the board moved to node 2; log:\n\(daemon.log.suffix(6000))")
            #expect(missing.isEmpty, "lost readings \(missing); log:\n\(daemon.log.suffix(8000))")
            #expect(twice.isEmpty, "notifications seen twice: \(twice)")
            #expect(twoIDs.isEmpty, "readings published under two ids: \(twoIDs)")
            viewer.disconnect()
        }

        func stop() {
            relay.stop()
            relayTLS.stop()
        }
    }

    /// Starts a run: the daemon online on node 1 (found by SRV, through the relay), the node on the
    /// pubsub service, the subscriber on node 2, readings flowing.
    func start(node: String) throws -> Run {
        let run = try Run(node: node, config: clusterConfig(node: node))
        do {
            try online(run)
        } catch {
            run.stop()
            throw error
        }
        return run
    }

    private func online(_ run: Run) throws {
        let daemon = run.daemon
        let node = run.node
        try #require(daemon.waitFor("online as \(Self.board)"), "log:\n\(daemon.log)")
        let candidates = "candidates: node1.perch.test:\(ClusterIT.relayTLSPort) (direct TLS), node1.perch.test:\(ClusterIT.relayPort), node2.perch.test:\(ClusterIT.node2Port + 1) (direct TLS), node2.perch.test:\(ClusterIT.node2Port)"
        #expect(daemon.log.contains(candidates), "SRV order, node 1 first; log:\n\(daemon.log)")
        #expect(daemon.log.contains("online as \(Self.board) via 127.0.0.1:\(ClusterIT.relayTLSPort) "), "on node 1, direct TLS; log:\n\(daemon.log)")
        #expect(try ClusterIT.boardSessionNodes() == [ClusterIT.nodeName(1)], "the cluster holds the board's session on node 1")
        #expect(daemon.waitFor("pubsub node \(node)", timeout: 15) || daemon.log.contains("created pubsub node"), "log:\n\(daemon.log)")
        try run.subscribe()
        run.collect(3)
    }

    /// One `ejabberdctl` call: a hidden Erlang node starts, asks, and stops.
    static let ctlAllowance: TimeInterval = 2

    /// Checked for both faults: the retries the daemon scheduled in `log`, the time the daemon took to
    /// say it was online on node 2, and node 2's own word that the board's session is there (and no
    /// longer on node 1) before the bound is out.
    func expectMoveWithinFirstRetries(_ move: (log: String, took: TimeInterval?, started: Date), _ run: Run) throws {
        let (log, took, started) = move
        let retries = log.components(separatedBy: "reconnecting in").count - 1
        run.report.append("retries scheduled before node 2: \(retries)")
        #expect(took != nil, "the board did not come online on node 2; log:\n\(log)")
        #expect((1...Self.firstRetries).contains(retries), "the move took \(retries) retries; log:\n\(log)")
        if let took { #expect(took <= Self.moveBound, "online on node 2 after \(took) s, more than the first \(Self.firstRetries) retries allow (\(Self.moveBound) s); log:\n\(log)") }
        // Node 2 drops a dead node's sessions once it sees the node go, and a resumed session's old
        // process on node 1 ends after the hand-over: ask until it says node 2 only, or the bound is out.
        let deadline = started.addingTimeInterval(Self.moveBound + Self.ctlAllowance)
        var nodes = try ClusterIT.boardSessionNodes()
        while nodes != [ClusterIT.nodeName(2)] && Date() < deadline {
            run.viewer.idle(100)
            nodes = try ClusterIT.boardSessionNodes()
        }
        run.report.append("node 2 lists the board's session on \(nodes) after \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
        #expect(nodes == [ClusterIT.nodeName(2)], "node 2 says the board's session is on \(nodes), \(Self.moveBound + Self.ctlAllowance) s after the fault")
    }

    /// Node 1 dies (SIGKILL): its sessions die with it, so node 2 cannot resume the board's
    /// (item-not-found); the board starts a new session there and its outbox sends what was in flight.
    @Test func aKilledNodeIsReplacedByTheOtherWithANewSession() throws {
        let run = try start(node: "perch/cluster-kill")
        defer { run.stop() }
        // Node 1 back for what comes next, whatever this test found.
        defer { try? ClusterIT.ensureNode1() }
        let before = run.notified.count
        run.holdInFlight(2.5)
        let move = try run.move("SIGKILL of node 1") {
            try ClusterIT.run(["--kill", "1"])
            // The board's connection ends with the node. The relays stay: behind them nothing listens
            // now, so they accept and close at once.
            run.relayTLS.closeFrozen()
            run.relay.closeFrozen()
        }
        try expectMoveWithinFirstRetries(move, run)
        let log = move.log
        #expect(log.contains("the server could not resume the session; starting a new one"), "node 2 refused the resumption; log:\n\(log)")
        #expect(log.contains("online as \(Self.board) via 127.0.0.1:\(ClusterIT.node2Port + 1) "), "a new session on node 2, direct TLS; log:\n\(log)")
        #expect(!log.contains("resumed as"), "no resumption after the node died")
        run.collect(4)
        try run.audit(notifiedBefore: before)
        // Nothing in flight survives with the session: the outbox found those items missing on the node
        // and published them again, on the new session.
        #expect(run.inFlight > 0, "publishes were in flight at the kill")
        #expect(!run.sentAgain.isEmpty, "the outbox published the readings in flight again; log:\n\(run.daemon.log.suffix(8000))")
    }

    /// Only the board's TCP connection to node 1 drops and node 1 stays up: the session waits there for
    /// resumption, and node 2 resumes it (the cluster hands the session over).
    @Test func aDroppedConnectionResumesOnTheOtherNode() throws {
        let run = try start(node: "perch/cluster-cut")
        defer { run.stop() }
        let before = run.notified.count
        run.holdInFlight(2.5)
        let move = run.move("TCP connection to node 1 cut") {
            // The held connection dropped, and node 1 unreachable for the board for longer than the
            // test, up all the while.
            run.relay.cut(for: 60)
            run.relayTLS.cut(for: 60)
        }
        try expectMoveWithinFirstRetries(move, run)
        let log = move.log
        #expect(log.contains("resumed as \(Self.board) via 127.0.0.1:\(ClusterIT.node2Port + 1) "), "resumed on node 2, direct TLS; log:\n\(log)")
        #expect(log.contains("resumed the session;"), "log:\n\(log)")
        #expect(!log.contains("could not resume"), "log:\n\(log)")
        #expect(!log.contains("online as"), "no new session; log:\n\(log)")
        #expect(waitForPort(ClusterIT.node1Port, timeout: 0), "node 1 stayed up")
        run.collect(4)
        try run.audit(notifiedBefore: before)
        // What node 1 never received the resumed stream sent again (XEP-0198: by the handled count
        // node 2 took over with the session).
        #expect(run.inFlight > 0, "publishes were in flight at the cut")
        #expect(!run.sentAgain.isEmpty, "the resumed session sent the publishes in flight again; log:\n\(run.daemon.log.suffix(8000))")
    }
}
