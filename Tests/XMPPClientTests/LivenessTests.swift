import Glibc
import Testing
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
@testable import XMPPClient

/// The rules of ``Liveness`` on their own: when to ping, when answers are overdue, when the connection
/// is dead.
@Suite struct LivenessRuleTests {
    @Test func anIdleConnectionIsPingedAndDeadWhenThePingGoesUnanswered() {
        var l = Liveness(interval: 5_000, timeout: 2_000, now: 0)
        #expect(l.nextCheck(at: 0) == 5_000)
        do {
            let a = l.check(at: 4_999)
            #expect(a == .none)
        }
        do {
            let a = l.check(at: 5_000)
            #expect(a == .ping)
        }
        l.waiting(true, at: 5_000)
        // The ping is the probe: no second one, and not overdue-then-ping again.
        do {
            let a = l.check(at: 6_000)
            #expect(a == .none)
        }
        #expect(l.overdue(at: 6_000))
        do {
            let a = l.check(at: 7_000)
            #expect(a == .dead(silentFor: 2_000))
        }
    }

    @Test func anAnsweredPingMeansTheNextOneAnIntervalLater() {
        var l = Liveness(interval: 5_000, timeout: 2_000, now: 0)
        do {
            let a = l.check(at: 5_000)
            #expect(a == .ping)
        }
        l.waiting(true, at: 5_000)
        l.heard(at: 5_010)
        do {
            let a = l.waiting(false, at: 5_010)
            #expect(a, "the wait ended: the next check moves")
        }
        #expect(l.nextCheck(at: 5_010) == 5_000)
        do {
            let a = l.check(at: 9_000)
            #expect(a == .none)
        }
    }

    @Test func silenceWhileWaitingIsOverdueAtHalfTheTimeoutAndDeadAtIt() {
        var l = Liveness(interval: 60_000, timeout: 2_000, now: 0)
        // Idle for a long time, then a request: silence counts from the request, not from the last byte.
        do {
            let a = l.waiting(true, at: 50_000)
            #expect(a)
        }
        do {
            let a = l.waiting(true, at: 50_500)
            #expect(!a, "already waiting")
        }
        do {
            let a = l.check(at: 50_900)
            #expect(a == .none)
        }
        #expect(!l.overdue(at: 50_900))
        #expect(l.nextCheck(at: 50_900) == 100)
        do {
            let a = l.check(at: 51_000)
            #expect(a == .ping, "overdue: one probe")
        }
        #expect(l.overdue(at: 51_000))
        do {
            let a = l.check(at: 51_500)
            #expect(a == .none)
        }
        do {
            let a = l.check(at: 52_000)
            #expect(a == .dead(silentFor: 2_000))
        }
    }

    @Test func anyByteIsASignOfLifeWhileRequestsStayOutstanding() {
        var l = Liveness(interval: 60_000, timeout: 2_000, now: 0)
        l.waiting(true, at: 0)
        do {
            let a = l.check(at: 1_000)
            #expect(a == .ping)
        }
        // The server answers the probe but not the slow request: not dead, silence starts over.
        l.heard(at: 1_050)
        #expect(!l.overdue(at: 1_100))
        do {
            let a = l.check(at: 2_100)
            #expect(a == .ping, "overdue again: another probe")
        }
        do {
            let a = l.check(at: 3_049)
            #expect(a == .none)
        }
        do {
            let a = l.check(at: 3_050)
            #expect(a == .dead(silentFor: 2_000))
        }
    }
}

/// The client against ``FakeServer``: an unanswered `<r/>` or iq ends a connection within the ping
/// timeout, long before the idle ping would, and ``XMPPClient/answersOverdue`` tells senders to hold
/// back meanwhile.
@Suite(.serialized) struct LivenessSessionTests {
    let loop: EventLoop
    let log = LogLines()

    init() throws {
        loop = try EventLoop()
    }

    @discardableResult
    func run(_ timeout: Int64 = 10_000, until condition: @escaping () -> Bool) -> Bool {
        loop.run(until: condition, timeout: timeout)
    }

    @Test func anUnansweredAckRequestEndsTheConnectionWithinThePingTimeout() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.streamManagement = true
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let c = try server.client(on: loop, log: log) {
            $0.pingInterval = 60_000
            $0.pingTimeout = 600
        }
        var overdue: [Bool] = []
        c.onAnswersOverdue = { overdue.append($0) }
        c.start()
        #expect(run { c.isOnline && c.streamMgmt.state != nil })
        #expect(run(1_500) { c.streamMgmt.state?.unacknowledged.isEmpty == true }, "the login's stanzas are acknowledged")
        // The server hangs: it reads, and answers nothing (not the <r/>, not the probe ping).
        server.behaviour.answerAckRequests = false
        server.behaviour.answerPings = false
        let hung = Instant.now()
        c.send(Stanza.message(to: try JID("peer@perch.test"), body: "reading", id: "m1"))
        // The <r/> goes out a second after the message; 600 ms of silence after it, the connection is dead.
        #expect(run(5_000) { server.sessions.count >= 2 })
        let took = Instant.now() - hung
        #expect(took < 3_000, "noticed after \(took) ms, not at the 60 s idle ping")
        #expect(log.contains("while waiting for a ping and an acknowledgement; the connection is dead. Reconnecting"), "\(log.all)")
        #expect(overdue == [true, false], "overdue before the end, cleared with the connection")
        #expect(run { c.isOnline })
        c.stop {}
    }

    @Test func anUnansweredIQEndsTheConnectionWithinThePingTimeout() throws {
        let server = FakeServer(loop: loop, behaviour: .init(answerPings: false))
        let c = try server.client(on: loop, log: log) {
            $0.pingInterval = 60_000
            $0.pingTimeout = 400
        }
        c.start()
        #expect(run { c.isOnline })
        var answer: Result<XMLElement, StanzaError>?
        let sent = Instant.now()
        c.sendIQ(Stanza.iq(type: "set", id: "pub1", to: try JID("pubsub.perch.test"), payload: XMLElement("pubsub", namespace: "http://jabber.org/protocol/pubsub"))) { answer = $0 }
        #expect(run(3_000) { server.sessions.count >= 2 })
        #expect(Instant.now() - sent < 2_000)
        #expect(log.contains("while waiting for a ping and a request; the connection is dead"), "\(log.all)")
        // No stream management: nothing will answer it now.
        #expect(run { answer != nil })
        if case .failure(let e)? = answer { #expect(e.condition == .recipientUnavailable) } else { Issue.record("\(String(describing: answer))") }
        c.stop {}
    }

    @Test func aSlowAnswerFromFarAwayIsNotADeadServer() throws {
        // The iq goes to a remote service that takes its time; our server answers the probe ping.
        // The fake server shares the client's loop, so its answer needs a loop turn more than a real
        // server's: the timeout leaves room for a busy machine running tests in parallel.
        let server = FakeServer(loop: loop)
        let c = try server.client(on: loop, log: log) {
            $0.pingInterval = 60_000
            $0.pingTimeout = 1_200
        }
        var overdue: [Bool] = []
        c.onAnswersOverdue = { overdue.append($0) }
        c.start()
        #expect(run { c.isOnline })
        var answer: Result<XMLElement, StanzaError>?
        c.sendIQ(Stanza.iq(type: "get", id: "slow1", to: try JID("pubsub.far.example"), payload: XMLElement("pubsub", namespace: "http://jabber.org/protocol/pubsub"))) { answer = $0 }
        run(3_000) { false }
        #expect(server.sessions.count == 1, "\(log.all)")
        #expect(c.isOnline)
        // Overdue at half the timeout, cleared by the probe's answer; while the iq stays out the two
        // take turns, so the clearing is awaited rather than sampled at an arbitrary moment.
        #expect(overdue.first == true, "\(overdue)")
        #expect(run(2_000) { overdue.last == false }, "\(overdue)")
        #expect(log.contains("asking with a ping"))
        server.current!.send("<iq type='result' id='slow1' from='pubsub.far.example' to='perch@perch.test/board'/>")
        #expect(run { answer != nil })
        if case .success? = answer {} else { Issue.record("\(String(describing: answer))") }
        c.stop {}
    }

    /// While answers are overdue the flag is set, and what arrives clears it at once: a publisher that
    /// holds readings on it writes nothing new into a connection that may be dead.
    @Test func answersOverdueIsSetWhileTheServerIsSilentAndClearedByItsAnswer() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.streamManagement = true
        behaviour.answerPings = false
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let c = try server.client(on: loop, log: log) {
            $0.pingInterval = 60_000
            $0.pingTimeout = 4_000
        }
        c.start()
        #expect(run { c.isOnline && c.streamMgmt.state != nil })
        #expect(run(1_500) { c.streamMgmt.state?.unacknowledged.isEmpty == true })
        server.behaviour.answerAckRequests = false
        // A sender that follows the flag, as the pubsub publisher does.
        var written = 0
        var held = 0
        func reading() {
            if c.answersOverdue { held += 1; return }
            written += 1
            c.send(Stanza.message(to: try! JID("peer@perch.test"), body: "r\(written)", id: "r\(written)"))
        }
        reading()
        #expect(run(5_000) { c.answersOverdue })
        run(100) { false }
        let before = server.current!.stanzas.count
        for _ in 0..<3 { reading() }
        #expect(held == 3 && written == 1)
        #expect(server.current!.stanzas.count == before, "nothing new written while overdue")
        // The server answers after all: the flag clears and the session stays.
        server.current!.send("<a xmlns='urn:xmpp:sm:3' h='\(server.current!.managed!.received)'/>")
        #expect(run { !c.answersOverdue })
        #expect(server.sessions.count == 1)
        c.stop {}
    }

    /// A connection refused while a server restarts is retried within 1 to 3 s, not in milliseconds
    /// (the transient back-off) and not after a long fixed wait.
    @Test func aRefusedConnectionIsRetriedLikeARestartingServer() throws {
        // A port with nothing listening: bind one, note it, close it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        close(fd)
        var config = ClientConfiguration(jid: try JID("perch@perch.test/board"), password: "secret")
        config.host = "127.0.0.1"
        config.port = Int(UInt16(bigEndian: addr.sin_port))
        config.transport = .plain
        config.systemTrustStore = nil
        config.reconnect.initialDelay = 10
        let log = self.log
        let c = XMPPClient(loop: loop, config: config, logger: Logger(label: "xmpp", level: .debug, format: .bare, sink: { log.append($0) }))
        c.start()
        #expect(run { log.contains("reconnecting in") })
        let line = log.all.first { $0.contains("reconnecting in") } ?? ""
        #expect(log.contains("Connection refused"), "\(log.all)")
        let seconds = line.split(separator: " ").dropLast().last.flatMap { Double($0) } ?? -1
        #expect(line.hasSuffix(" s") && (1...3).contains(seconds), "\(line)")
        c.stop {}
    }
}
