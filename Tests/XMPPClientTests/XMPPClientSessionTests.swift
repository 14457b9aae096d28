import Glibc
import Synchronization
import Testing
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
@testable import XMPPClient

/// Log lines, collected from the client's logger.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ s: String) { lines.withLock { $0.append(s) } }
    var all: [String] { lines.withLock { $0 } }
    func contains(_ text: String) -> Bool { all.contains { $0.contains(text) } }
}

/// The client's session logic against ``FakeServer`` over real loopback sockets: what happens when a
/// server stalls, goes quiet, shuts down, redirects or takes our resource.
@Suite(.serialized) struct XMPPClientSessionTests {
    let loop: EventLoop
    let log = LogLines()

    init() throws {
        loop = try EventLoop()
    }

    func client(_ server: FakeServer, _ adjust: (inout ClientConfiguration) -> Void = { _ in }) throws -> XMPPClient {
        var config = ClientConfiguration(jid: try JID("perch@perch.test/board"), password: "secret")
        config.host = "127.0.0.1"
        config.port = server.port
        config.transport = .plain
        config.systemTrustStore = nil
        config.reconnect.initialDelay = 10
        adjust(&config)
        let log = self.log
        return XMPPClient(loop: loop, config: config, logger: Logger(label: "xmpp", level: .debug, format: .bare, sink: { log.append($0) }))
    }

    func isOnline(_ c: XMPPClient) -> Bool {
        if case .online = c.status { return true }
        return false
    }

    @discardableResult
    func run(_ timeout: Int64 = 10_000, until condition: @escaping () -> Bool) -> Bool {
        loop.run(until: condition, timeout: timeout)
    }

    @Test func logsInFetchesTheRosterAndAnnouncesCaps() throws {
        let server = FakeServer(loop: loop)
        let c = try client(server)
        c.start()
        #expect(run { self.isOnline(c) && (server.current?.stanzas.contains { $0.name == "presence" } ?? false) })
        guard case .online(let session) = c.status else { Issue.record("not online: \(log.all)"); return }
        #expect(session.jid.description == "perch@perch.test/board")
        #expect(session.mechanism == "SCRAM-SHA-1")
        let presence = try #require(server.current?.stanzas.first { $0.name == "presence" })
        #expect(presence.child("c", namespace: XMPPNamespace.caps)?[attribute: "hash"] == "sha-1")
        // The roster is asked for before the initial presence (RFC 6121 §2.2).
        #expect(log.contains("roster: 0 contacts"))
        c.stop {}
    }

    @Test func aServerThatNeverSendsFeaturesEndsTheAttemptAtTheConnectTimeout() throws {
        let server = FakeServer(loop: loop, behaviour: .init(sendFeatures: false))
        let c = try client(server) { $0.connectTimeout = 300 }
        c.start()
        // The first attempt times out, and the client tries again on a fresh connection.
        #expect(run { server.sessions.count >= 2 })
        #expect(!isOnline(c))
        #expect(log.contains("did not complete the login within 300 ms"), "\(log.all)")
        // The stalled connection was closed by the client, not left open.
        #expect(run(2_000) { !server.sessions[0].isOpen })
        c.stop {}
    }

    @Test func aDeadConnectionIsNoticedByUnansweredPings() throws {
        let server = FakeServer(loop: loop, behaviour: .init(answerPings: false))
        let c = try client(server) {
            $0.pingInterval = 100
            $0.pingTimeout = 200
        }
        c.start()
        #expect(run { self.isOnline(c) })
        // Silence after the login: a ping, no answer, then the connection is declared dead and replaced.
        #expect(run { server.sessions.count >= 2 })
        #expect(server.sessions[0].stanzas.contains { $0.child("ping", namespace: XMPPNamespace.ping) != nil })
        #expect(log.contains("the connection is dead"), "\(log.all)")
        #expect(run { self.isOnline(c) })
        c.stop {}
    }

    @Test func answeredPingsKeepTheSessionUp() throws {
        let server = FakeServer(loop: loop)
        let c = try client(server) {
            $0.pingInterval = 50
            $0.pingTimeout = 100
        }
        c.start()
        #expect(run { self.isOnline(c) })
        #expect(run { (server.current?.stanzas.filter { $0.child("ping", namespace: XMPPNamespace.ping) != nil }.count ?? 0) >= 3 })
        #expect(server.sessions.count == 1)
        #expect(isOnline(c))
        c.stop {}
    }

    @Test func theAnswerToAPingSchedulesTheNextOneAnIntervalLater() throws {
        // With a long timeout, the next ping must not wait for the timeout timer: an answered ping is
        // done, and the loop sleeps until the next is due (one wake-up to send, one to receive).
        let server = FakeServer(loop: loop)
        let c = try client(server) {
            $0.pingInterval = 50
            $0.pingTimeout = 5_000
        }
        c.start()
        #expect(run { self.isOnline(c) })
        #expect(run(1_000) { (server.current?.stanzas.filter { $0.child("ping", namespace: XMPPNamespace.ping) != nil }.count ?? 0) >= 4 })
        c.stop {}
    }

    @Test func systemShutdownWaitsThenReconnects() throws {
        let server = FakeServer(loop: loop)
        let c = try client(server) {
            $0.reconnect.restartDelay = 300
            $0.reconnect.restartJitter = 0
            $0.reconnect.initialDelay = 1
        }
        c.start()
        #expect(run { self.isOnline(c) })
        server.fail(server.current!, "system-shutdown")
        #expect(run { !self.isOnline(c) })
        #expect(log.contains("system-shutdown"))
        // Not at once: the server is restarting.
        run(100) { false }
        #expect(server.sessions.count == 1)
        #expect(run { server.sessions.count == 2 && self.isOnline(c) })
        c.stop {}
    }

    /// A caller told its request failed with the connection must not find the session still online:
    /// a publisher that sends the next request from there would loop on requests that fail at once.
    @Test func requestsFailOnlyOnceTheStatusSaysTheSessionIsGone() throws {
        let server = FakeServer(loop: loop)
        let c = try client(server)
        c.start()
        #expect(run { self.isOnline(c) })
        var seen: [XMPPClient.Status] = []
        c.sendIQ(Stanza.iq(type: "get", id: "q1", to: try JID("pubsub.perch.test"), payload: XMLElement("pubsub", namespace: "http://jabber.org/protocol/pubsub"))) { _ in seen.append(c.status) }
        #expect(run(2_000) { server.current?.stanzas.contains { $0.stanzaID == "q1" } == true })
        server.drop(server.current!)
        #expect(run { seen.count == 1 })
        #expect(seen.allSatisfy { !self.isOnlineStatus($0) }, "\(seen)")
        #expect(run { self.isOnline(c) })
        c.sendIQ(Stanza.iq(type: "get", id: "q2", to: try JID("pubsub.perch.test"), payload: XMLElement("pubsub", namespace: "http://jabber.org/protocol/pubsub"))) { _ in seen.append(c.status) }
        var stopped = false
        c.stop { stopped = true }
        #expect(run { stopped && seen.count == 2 })
        #expect(seen.last == .stopped, "\(seen)")
    }

    func isOnlineStatus(_ s: XMPPClient.Status) -> Bool {
        if case .online = s { return true }
        return false
    }

    @Test func aDroppedConnectionIsReplaced() throws {
        let server = FakeServer(loop: loop)
        let c = try client(server)
        c.start()
        #expect(run { self.isOnline(c) })
        server.drop(server.current!)
        #expect(run { server.sessions.count == 2 && self.isOnline(c) })
        #expect(log.contains("the server closed the connection") || log.contains("connection lost"), "\(log.all)")
        c.stop {}
    }

    @Test func seeOtherHostIsFollowed() throws {
        let first = FakeServer(loop: loop)
        let second = FakeServer(loop: loop)
        let c = try client(first)
        c.start()
        #expect(run { self.isOnline(c) })
        first.fail(first.current!, "see-other-host", extra: "127.0.0.1:\(second.port)")
        #expect(run { second.sessions.count == 1 && self.isOnline(c) })
        #expect(log.contains("redirects us to 127.0.0.1:\(second.port)"))
        c.stop {}
    }

    @Test func conflictDoesNotFightForTheResource() throws {
        let server = FakeServer(loop: loop)
        let c = try client(server)
        c.start()
        #expect(run { self.isOnline(c) })
        server.fail(server.current!, "conflict", text: "Replaced by new connection")
        #expect(run { !self.isOnline(c) })
        run(300) { false }
        // No immediate reconnect that would kick the other client off in turn.
        #expect(server.sessions.count == 1)
        #expect(log.contains("not taking the resource back"))
        #expect(log.contains("reconnecting in 5 min") || log.contains("reconnecting in 6 min"), "\(log.all)")
        c.stop {}
    }

    @Test func unknownRequestsGetServiceUnavailableAndPingsAreAnswered() throws {
        let server = FakeServer(loop: loop)
        var replies: [XMLElement] = []
        server.onStanza = { _, e in if e.name == "iq" { replies.append(e) } }
        let c = try client(server)
        c.start()
        #expect(run { self.isOnline(c) })
        let session = server.current!
        session.send("<iq type='get' id='u1' from='peer@perch.test/x' to='perch@perch.test/board'><query xmlns='urn:example:unknown'/></iq>")
        session.send("<iq type='get' id='p1' from='peer@perch.test/x' to='perch@perch.test/board'><ping xmlns='urn:xmpp:ping'/></iq>")
        #expect(run { replies.count >= 2 })
        let unknown = try #require(replies.first { $0.stanzaID == "u1" })
        #expect(unknown.stanzaType == "error")
        #expect(unknown.child("error")?.child("service-unavailable", namespace: XMPPNamespace.stanzaErrors) != nil)
        #expect(unknown[attribute: "to"] == "peer@perch.test/x")
        #expect(replies.first { $0.stanzaID == "p1" }?.stanzaType == "result")
        c.stop {}
    }

    @Test func stopSendsUnavailablePresenceAndClosesTheStream() throws {
        let server = FakeServer(loop: loop)
        let c = try client(server)
        c.start()
        #expect(run { self.isOnline(c) })
        var stopped = false
        c.stop { stopped = true }
        #expect(run { stopped })
        #expect(c.status == .stopped)
        #expect(server.sessions[0].stanzas.contains { $0.name == "presence" && $0.stanzaType == "unavailable" })
        #expect(run(2_000) { !server.sessions[0].isOpen })
        #expect(server.sessions.count == 1)
    }

    // MARK: Stream management (XEP-0198)

    func messages(_ session: FakeServer.Session) -> [String] {
        session.stanzas.filter { $0.name == "message" }.compactMap { $0.child("body")?.text }
    }

    @Test func aResumedSessionResendsOnlyWhatTheServerMissed() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.streamManagement = true
        behaviour.answerAckRequests = false
        behaviour.lostInFlight = 1
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let c = try client(server)
        c.start()
        #expect(run { self.isOnline(c) })
        let first = server.current!
        for n in 1...3 { c.send(Stanza.message(to: try JID("peer@perch.test"), body: "m\(n)", id: "m\(n)")) }
        #expect(run { self.messages(first).count == 3 })
        #expect(first.stanzas.filter { $0.name == "message" }.allSatisfy { $0.child("origin-id", namespace: XMPPNamespace.stanzaID)?[attribute: "id"] == $0.stanzaID })
        server.drop(first)
        #expect(run { server.sessions.count == 2 && self.isOnline(c) })
        let second = server.current!
        #expect(second.resumed)
        #expect(run(2_000) { self.messages(second) == ["m3"] }, "only the message the server did not count goes again")
        #expect(log.contains("resumed the session; 1 stanzas sent again"), "\(log.all)")
        #expect(!second.stanzas.contains { $0.name == "presence" }, "no presence flap on resumption")
        c.stop {}
    }

    @Test func aRefusedResumptionStartsANewSessionAndResendsMessages() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.streamManagement = true
        behaviour.answerAckRequests = false
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let c = try client(server)
        c.start()
        #expect(run { self.isOnline(c) })
        let first = server.current!
        c.send(Stanza.message(to: try JID("peer@perch.test"), body: "hello", id: "h1"))
        var iqResult: Result<XMLElement, StanzaError>?
        c.sendIQ(Stanza.iq(type: "get", id: "q1", to: try JID("peer@perch.test/x"), payload: XMLElement("query", namespace: "urn:example"))) { iqResult = $0 }
        #expect(run { first.stanzas.count >= 2 })
        server.behaviour.keepsSessions = false
        server.drop(first)
        #expect(run { server.sessions.count == 2 && self.isOnline(c) })
        let second = server.current!
        #expect(!second.resumed)
        #expect(run(2_000) { self.messages(second) == ["hello"] })
        #expect(second.stanzas.first { $0.name == "message" }?.child("origin-id", namespace: XMPPNamespace.stanzaID)?[attribute: "id"] == "h1", "the re-send keeps its origin id")
        #expect(second.stanzas.contains { $0.name == "presence" }, "a new session announces itself")
        if case .failure(let e)? = iqResult { #expect(e.condition == .recipientUnavailable) } else { Issue.record("the pending iq must fail: \(String(describing: iqResult))") }
        #expect(log.contains("could not resume the session"), "\(log.all)")
        c.stop {}
    }

    /// A reply in a room lands out of context on a new session (the room is joined again, and the
    /// conversation went on): unacknowledged group chat messages are dropped with a log line, while
    /// 1:1 messages go again.
    @Test func aRefusedResumptionDropsUnacknowledgedGroupChatMessages() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.streamManagement = true
        behaviour.answerAckRequests = false
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let c = try client(server)
        c.start()
        #expect(run { self.isOnline(c) })
        let first = server.current!
        c.send(Stanza.message(to: try JID("fleet@conference.perch.test"), body: "alice: pump on", type: "groupchat", id: "g1"))
        c.send(Stanza.message(to: try JID("peer@perch.test"), body: "hello", id: "h1"))
        #expect(run { self.messages(first).count == 2 })
        server.behaviour.keepsSessions = false
        server.drop(first)
        #expect(run { server.sessions.count == 2 && self.isOnline(c) })
        let second = server.current!
        #expect(run(2_000) { self.messages(second) == ["hello"] })
        c.loop.run(until: { false }, timeout: 200)
        #expect(self.messages(second) == ["hello"], "the group chat reply is not sent again")
        #expect(log.contains("dropped 1 unacknowledged group chat message from the lost session"), "\(log.all)")
        c.stop {}
    }

    @Test func aFloodOfStanzasBeforeEnabledIsDeliveredAndNotCounted() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.streamManagement = true
        behaviour.messagesBeforeEnabled = 300
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let c = try client(server)
        var messages: [XMLElement] = []
        c.onStanza = { if $0.name == "message" { messages.append($0) } }
        c.start()
        #expect(run { self.isOnline(c) && messages.count == 300 })
        #expect(messages.first?.stanzaID == "early0" && messages.last?.stanzaID == "early299")
        // The server counts from <enabled/>: only this message and the roster result (if it has
        // arrived yet) are handled, not the 300 before.
        let session = server.current!
        session.send("<message from='peer@perch.test/x' to='perch@perch.test/board' type='chat'><body>hi</body></message><r xmlns='urn:xmpp:sm:3'/>")
        #expect(run { !session.acks.isEmpty })
        #expect((1...2).contains(session.acks.first ?? 0), "\(session.acks)")
        #expect(server.sessions.count == 1, "the session was not replaced")
        c.stop {}
    }

    @Test func aBurstOfCommandsIsSavedOnceBeforeTheFirstIsHandled() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.streamManagement = true
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let dir = try makeTemporaryDirectory("perch-batch")
        defer { _ = system("rm -rf '\(dir)'") }
        let store = ResumptionStore(path: "\(dir)/session.xml")
        let c = try client(server) { $0.resumptionFile = store.path }
        c.start()
        #expect(run { self.isOnline(c) && c.streamMgmt.state?.inbound ?? 0 >= 1 })
        let before = try #require(c.streamMgmt.state?.inbound)
        // What is on disk when each command is handled: the whole burst already counted.
        var savedWhenHandled: [UInt32] = []
        c.onStanza = { _ in savedWhenHandled.append((try? store.load())?.state.inbound ?? 0) }
        let burst = (1...3).map { "<message from='peer@perch.test/x' to='perch@perch.test/board' type='chat' id='b\($0)'><body>pump on</body></message>" }
        server.current!.send(burst.joined())
        #expect(run { savedWhenHandled.count == 3 })
        #expect(savedWhenHandled == [before + 3, before + 3, before + 3])
        c.stop {}
    }

    @Test func acknowledgementsAreRequestedAndAnswered() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.streamManagement = true
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let c = try client(server)
        c.start()
        #expect(run { self.isOnline(c) })
        let session = server.current!
        for n in 1...12 { c.send(Stanza.message(to: try JID("peer@perch.test"), body: "m\(n)", id: "m\(n)")) }
        // Ten stanzas ask for an ack at once; the rest within a second.
        #expect(run(3_000) { c.streamMgmt.state?.unacknowledged.isEmpty == true && c.streamMgmt.state?.acknowledged ?? 0 >= 13 })
        // The server's <r/> is answered with the count of stanzas we handled: the roster result and the message.
        session.send("<message from='peer@perch.test/x' to='perch@perch.test/board' type='chat'><body>hi</body></message><r xmlns='urn:xmpp:sm:3'/>")
        #expect(run { session.acks == [2] }, "\(session.acks)")
        // An acknowledgement of more than was sent is a protocol error: the connection is replaced.
        session.send("<a xmlns='urn:xmpp:sm:3' h='500'/>")
        #expect(run { server.sessions.count == 2 && self.isOnline(c) })
        #expect(log.contains("acknowledged 500 stanzas but only"), "\(log.all)")
        c.stop {}
    }

    @Test func eachRequestGetsExactlyOneAnswerHoweverTheHandlerReplies() throws {
        let server = FakeServer(loop: loop)
        var replies: [XMLElement] = []
        server.onStanza = { _, e in if e.name == "iq" { replies.append(e) } }
        let c = try client(server)
        // One handler answers later (as a command that has to run first does), one declines.
        c.handleIQ(namespace: "urn:example:slow") { iq in
            self.loop.schedule(after: 20) { _ = c.send(Stanza.result(for: iq)) }
            return .handled
        }
        c.handleIQ(namespace: "urn:example:picky") { _ in .unhandled }
        c.start()
        #expect(run { self.isOnline(c) })
        server.current!.send("<iq type='set' id='s1' from='peer@perch.test/x' to='perch@perch.test/board'><go xmlns='urn:example:slow'/></iq>")
        server.current!.send("<iq type='get' id='p1' from='peer@perch.test/x' to='perch@perch.test/board'><q xmlns='urn:example:picky'/></iq>")
        #expect(run { replies.count >= 2 })
        // Time for a stray second answer to show up.
        _ = run(200) { false }
        #expect(replies.map { $0[attribute: "id"] ?? "" }.sorted() == ["p1", "s1"])
        #expect(replies.first { $0[attribute: "id"] == "s1" }?[attribute: "type"] == "result")
        #expect(StanzaError(stanza: replies.first { $0[attribute: "id"] == "p1" }!)?.condition == .serviceUnavailable)
        c.stop {}
    }

    @Test func aRepeatedSetRunsOnceAndGetsTheFirstAnswer() throws {
        let server = FakeServer(loop: loop)
        var replies: [XMLElement] = []
        server.onStanza = { _, e in if e.name == "iq" { replies.append(e) } }
        let c = try client(server)
        var runs = 0
        c.handleIQ(namespace: "urn:example:act") { iq in
            runs += 1
            return .reply(Stanza.result(for: iq, payload: XMLElement("done", namespace: "urn:example:act", attrs: ["run": String(runs)])))
        }
        c.start()
        #expect(run { self.isOnline(c) })
        let request = "<iq type='set' id='a1' from='peer@perch.test/x' to='perch@perch.test/board'><act xmlns='urn:example:act'/></iq>"
        server.current!.send(request + request)
        // The same id from someone else is a different request.
        server.current!.send("<iq type='set' id='a1' from='other@perch.test/x' to='perch@perch.test/board'><act xmlns='urn:example:act'/></iq>")
        #expect(run { replies.count >= 3 })
        #expect(runs == 2)
        #expect(replies.prefix(2).map { $0.child("done", namespace: "urn:example:act")?[attribute: "run"] } == ["1", "1"])
        #expect(log.contains("arrived again; sent the first answer"))
        c.stop {}
    }

    // MARK: Hostile and broken servers

    @Test func hostileXMLFromTheServerEndsTheStreamAndReconnects() throws {
        let attacks = [
            // A DTD (an entity bomb) inside the stream is not even well-formed; an entity reference is
            // refused as restricted XML (the bombs at the start of a stream: XMPPXMLTests).
            ("<!DOCTYPE lol [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]><message><body>&b;</body></message>", "not-well-formed"),
            ("<message><body>&xxe;</body></message>", "restricted-xml"),
            // Nesting without end, past what servers relay (a deep stanza within that is only skipped).
            (String(repeating: "<x>", count: 200_000), "policy-violation"),
            ("<message><body>\u{1}</body></message>", "not-well-formed"),
            ("<message><body>" + String(repeating: "A", count: 10 << 20) + "</body></message>", "policy-violation"),
        ]
        // Written without blocking, a piece at a time while the client's loop runs: the server and
        // the client share this thread.
        func feed(_ text: String, _ session: FakeServer.Session) -> () -> Void {
            let bytes = Array(text.utf8)
            var offset = 0
            let fd = session.fd
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            return {
                // Once the client hung up the descriptor may already belong to its next connection.
                guard offset < bytes.count, session.isOpen else { return }
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, min(65536, bytes.count - offset), Int32(MSG_NOSIGNAL)) }
                if n > 0 { offset += n }
            }
        }
        for (attack, condition) in attacks {
            let server = FakeServer(loop: loop)
            var received: [XMLElement] = []
            server.onStanza = { _, e in received.append(e) }
            let c = try client(server)
            c.start()
            #expect(run { self.isOnline(c) })
            let more = feed(attack, server.current!)
            #expect(run {
                more()
                return server.sessions.count == 2 && self.isOnline(c)
            }, "\(condition): reconnected")
            #expect(log.contains("the server sent XML Perch will not accept (\(condition)"), "\(log.all.filter { $0.contains("will not accept") })")
            c.stop {}
            run(500) { c.status == .stopped }
        }
    }

    @Test func invalidUTF8EndsTheStream() throws {
        let server = FakeServer(loop: loop)
        let c = try client(server)
        c.start()
        #expect(run { self.isOnline(c) })
        let bytes: [UInt8] = Array("<message><body>".utf8) + [0xC3, 0x28, 0xFF] + Array("</body></message>".utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(server.current!.fd, $0.baseAddress, $0.count) }
        #expect(run { server.sessions.count == 2 && self.isOnline(c) })
        #expect(log.contains("the server sent XML Perch will not accept"))
        c.stop {}
    }

    @Test func unknownNamespacesEverywhereAreHandledQuietly() throws {
        let server = FakeServer(loop: loop)
        var replies: [XMLElement] = []
        server.onStanza = { _, e in replies.append(e) }
        let c = try client(server)
        var messages: [XMLElement] = []
        c.onStanza = { messages.append($0) }
        c.start()
        #expect(run { self.isOnline(c) })
        let s = server.current!
        s.send("<unknown xmlns='urn:example:top'/>")
        s.send("<message from='peer@perch.test/x' type='chat'><body>hi</body><x xmlns='urn:example:ext'><y xmlns='urn:example:deeper'/></x></message>")
        s.send("<presence from='peer@perch.test/x'><z xmlns='urn:example:pres'/></presence>")
        s.send("<iq type='set' id='u9' from='peer@perch.test/x'><q xmlns='urn:example:iq'/></iq>")
        s.send("<iq type='get' id='u10' from='peer@perch.test/x'><query xmlns='http://jabber.org/protocol/disco#info'><extra xmlns='urn:example:x'/></query></iq>")
        #expect(run { replies.contains { $0.stanzaID == "u9" } && replies.contains { $0.stanzaID == "u10" } && messages.count == 2 })
        #expect(replies.first { $0.stanzaID == "u9" }?.child("error")?.child("service-unavailable", namespace: XMPPNamespace.stanzaErrors) != nil)
        #expect(replies.first { $0.stanzaID == "u10" }?.stanzaType == "result")
        #expect(server.sessions.count == 1, "nothing unknown ends the session")
        c.stop {}
    }

    @Test func aTLSHandshakeThatStallsEndsAtTheConnectTimeout() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.stallInTLS = true
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let c = try client(server) {
            $0.transport = .starttls
            $0.connectTimeout = 500
        }
        c.start()
        #expect(run(5_000) { server.sessions.count >= 2 })
        #expect(log.contains("did not complete the login within 500 ms"), "\(log.all)")
        #expect(!self.isOnline(c))
        c.stop {}
    }

    @Test func aServerThatStopsReadingDoesNotGrowOurMemory() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.stopReadingAfterBind = true
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let c = try client(server) { $0.maxOutboundBytes = 256 * 1024 }
        c.start()
        #expect(run { self.isOnline(c) })
        let big = String(repeating: "x", count: 60_000)
        var sent = 0
        // Far more than the kernel's socket buffers hold: the client gives up on the connection
        // instead of queueing it all.
        #expect(run(20_000) {
            if self.isOnline(c), sent < 2000 {
                for _ in 0..<20 { c.send(Stanza.message(to: try! JID("peer@perch.test"), body: big, id: "b\(sent)")); sent += 1 }
            }
            return self.log.contains("the server stopped reading")
        }, "sent \(sent) messages")
        #expect(sent < 2000, "the connection was dropped long before everything was queued")
        c.stop {}
    }
}
