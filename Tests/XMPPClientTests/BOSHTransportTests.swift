import Glibc
import Testing
import PerchHTTP
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// The real client over BOSH (XEP-0124, XEP-0206) against ``BOSHTransportFakeManager`` on loopback:
/// the session it asks for, lost and out-of-order responses, the manager's terminations and HTTP
/// errors, a body that is not XML, `Connection: close`, the restart after SASL and the terminate at
/// shutdown. In every test the client keeps at most two connections and two requests.
@Suite(.serialized) struct BOSHTransportTests {
    let loop: EventLoop
    let log = LogLines()

    init() throws {
        loop = try EventLoop()
    }

    static let peer = "peer@perch.test/x"

    func backend(streamManagement: Bool = false) -> FakeServer {
        var b = FakeServer.Behaviour()
        b.streamManagement = streamManagement
        return FakeServer(loop: loop, behaviour: b)
    }

    func client(_ url: String, _ adjust: (inout ClientConfiguration) -> Void = { _ in }) throws -> XMPPClient {
        var config = ClientConfiguration(jid: try JID("perch@perch.test/board"), password: "secret")
        config.transport = .bosh
        config.url = try WebURL.parse(url)
        config.systemTrustStore = nil
        config.reconnect.initialDelay = 10
        config.connectTimeout = 8_000
        adjust(&config)
        let log = self.log
        return XMPPClient(loop: loop, config: config, logger: Logger(label: "xmpp", level: .debug, format: .bare, sink: { log.append($0) }))
    }

    @discardableResult
    func run(_ timeout: Int64 = 10_000, until condition: @escaping () -> Bool) -> Bool {
        loop.run(until: condition, timeout: timeout)
    }

    func settle(_ ms: Int64 = 300) { _ = loop.run(until: { false }, timeout: ms) }

    func chat(_ id: String, _ body: String = "hello") -> String {
        "<message xmlns='jabber:client' from='\(Self.peer)' to='perch@perch.test/board' type='chat' id='\(id)'><body>\(body)</body></message>"
    }

    func message(_ id: String) -> XMLElement {
        var e = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": Self.peer, "type": "chat", "id": id])
        e.append(.text("body", namespace: XMPPNamespace.client, "status"))
        return e
    }

    /// A client online through `m`, with one empty request held by the manager.
    func online(_ m: BOSHTransportFakeManager, _ delivered: WebTransportBox<[XMLElement]>) throws -> XMPPClient {
        let c = try client(m.url)
        c.onStanza = { delivered.value.append($0) }
        c.start()
        #expect(run { c.isOnline }, "\(log.all)")
        // The roster result and the presence answers settle; then one request waits at the manager.
        settle()
        #expect(run { m.heldRIDs.count == 1 }, "\(m.heldRIDs)")
        return c
    }

    /// Never more than two connections, never more than two requests at the manager.
    func expectBounded(_ m: BOSHTransportFakeManager, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(m.maxConcurrent <= 2, "\(m.maxConcurrent) connections at once", sourceLocation: sourceLocation)
        #expect(m.maxHeld <= 2, "\(m.maxHeld) requests at once", sourceLocation: sourceLocation)
    }

    func requests(_ m: BOSHTransportFakeManager, carrying id: String) -> [BOSHTransportFakeManager.Request] {
        m.requests.filter { r in r.body.elements.contains { $0.stanzaID == id } }
    }

    // MARK: - The session

    @Test func theSessionIsCreatedWithHold1AndRestartedAfterSASL() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        let first = try #require(m.requests.first)
        #expect(first.sid == nil)
        #expect(first.body[attribute: "hold"] == "1")
        #expect(first.body[attribute: "wait"] == "60")
        #expect(first.body[attribute: "to"] == "perch.test")
        #expect(first.body[attribute: "ver"] == "1.11")
        #expect(first.body[attribute: "content"] == "text/xml; charset=utf-8")
        #expect(first.body.attributes.contains { $0.name == "version" && $0.namespace == BOSHTransportFakeManager.xbosh && $0.value == "1.0" })
        #expect(first.body.elements.isEmpty)
        let sid = try #require(m.session?.sid)
        // After <success/>: one restart request, empty, in the session.
        let restarts = m.requests.filter(\.isRestart)
        #expect(restarts.count == 1)
        let restart = try #require(restarts.first)
        #expect(restart.sid == sid && restart.body.elements.isEmpty && restart.body[attribute: "to"] == "perch.test")
        let auth = try #require(m.requests.firstIndex { $0.body.elements.contains { $0.name == "response" && $0.namespace == XMPPNamespace.sasl } })
        #expect(m.requests.firstIndex { $0.isRestart }! > auth)
        // Each rid once, consecutive, from the creation on.
        let rids = m.requests.map(\.rid)
        #expect(Set(rids).count == rids.count && rids == Array(first.rid..<(first.rid + Int64(rids.count))), "\(rids)")
        #expect(m.requests.dropFirst().allSatisfy { $0.sid == sid })
        // Two requests at most: one held, one to send on.
        #expect(m.maxHeld == 2)
        expectBounded(m)
        c.stop {}
    }

    @Test func aLostResponseIsResentWithTheSameRIDAfterABackOff() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        var arrivals = 0
        m.intercept = { r in
            guard r.body.elements.contains(where: { $0.stanzaID == "lost1" }) else { return .normal }
            arrivals += 1
            // The first time the manager takes the stanza and the answer is lost; the second time
            // the request is lost; the third gets through.
            return arrivals == 1 ? .processAndDrop : arrivals == 2 ? .drop : .normal
        }
        #expect(c.send(message("lost1")))
        #expect(run(8_000) { arrivals == 3 && m.heldRIDs.count == 1 }, "\(log.all)")
        let sent = requests(m, carrying: "lost1")
        #expect(sent.count == 3)
        #expect(Set(sent.map(\.rid)).count == 1, "the same rid each time: \(sent.map(\.rid))")
        #expect(Set(sent.map(\.raw)).count == 1, "the same body each time")
        let gaps = zip(sent.dropFirst(), sent).map { $0.at.milliseconds - $1.at.milliseconds }
        #expect(gaps.count == 2 && (900..<1800).contains(gaps[0]) && (1900..<2900).contains(gaps[1]), "back-off 1 s, then 2 s: \(gaps)")
        let rid = sent[0].rid
        #expect(log.contains("BOSH request \(rid) to \(m.url): the connection closed"), "\(log.all)")
        #expect(log.contains("sending it again in 1 s") && log.contains("sending it again in 2 s"))
        // The backend got the stanza once; the session survived.
        let session = try #require(server.current)
        #expect(session.stanzas.filter { $0.stanzaID == "lost1" }.count == 1)
        #expect(c.isOnline && m.sessions.count == 1)
        expectBounded(m)
        c.stop {}
    }

    @Test func aResponseCutShortIsFetchedAgainAndItsStanzaDeliveredOnce() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        let s = try #require(m.session)
        let rid = try #require(m.heldRIDs.first)
        let body = "<body xmlns='\(BOSHTransportFakeManager.ns)'>\(chat("once"))</body>"
        // The manager sent its answer (and remembers it); the connection broke in its middle.
        s.responses[rid] = body
        let cut = Array(body.utf8).prefix(body.utf8.count / 2)
        m.writeRaw(s, rid: rid, "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + String(decoding: cut, as: UTF8.self), close: true)
        #expect(run(5_000) { delivered.value.contains { $0.stanzaID == "once" } }, "\(log.all)")
        settle()
        #expect(delivered.value.filter { $0.stanzaID == "once" }.count == 1)
        #expect(m.requests.filter { $0.rid == rid }.count == 2, "asked again once")
        #expect(log.contains("BOSH request \(rid) to \(m.url): the connection closed") && log.contains("sending it again in 1 s"), "\(log.all)")
        #expect(c.isOnline && m.sessions.count == 1)
        expectBounded(m)
        c.stop {}
    }

    @Test func responsesAnsweredOutOfOrderAreDeliveredInRIDOrder() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        let s = try #require(m.session)
        m.manual = true
        let held = try #require(m.heldRIDs.first)
        #expect(c.send(message("out1")))
        #expect(run { m.heldRIDs == [held, held + 1] }, "\(m.heldRIDs)")
        #expect(m.session?.held.map(\.connection.number).count == 2)
        #expect(Set(s.held.map(\.connection.number)).count == 2, "on two connections")
        m.respond(s, rid: held + 1, payload: chat("second"))
        settle()
        #expect(!delivered.value.contains { $0.stanzaID == "second" }, "held until the earlier rid is answered")
        m.respond(s, rid: held, payload: chat("first"))
        #expect(run { delivered.value.count >= 2 })
        settle()
        #expect(delivered.value.compactMap(\.stanzaID) == ["first", "second"])
        m.manual = false
        m.flush(s)
        #expect(c.send(message("out2")))
        #expect(run { server.current?.stanzas.contains { $0.stanzaID == "out2" } == true })
        #expect(c.isOnline && m.sessions.count == 1)
        expectBounded(m)
        c.stop {}
    }

    // MARK: - What the bodies hold

    @Test func aBodyOfStanzasLargerTogetherThanMaxStanzaSizeIsRead() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        let s = try #require(m.session)
        let rid = try #require(m.heldRIDs.first)
        // Three stanzas of 100 KiB: each within max_stanza_size (256 KiB), the body over it.
        let text = String(repeating: "b", count: 100 * 1024)
        m.manual = true
        m.respond(s, rid: rid, payload: chat("big1", text) + chat("big2", text) + chat("big3", text))
        m.manual = false
        #expect(run { delivered.value.count >= 3 }, "\(log.all)")
        settle()
        #expect(delivered.value.compactMap(\.stanzaID) == ["big1", "big2", "big3"])
        #expect(delivered.value.allSatisfy { $0.child("body")?.text.utf8.count == 100 * 1024 })
        #expect(c.isOnline && m.sessions.count == 1, "the session goes on: \(log.all)")
        expectBounded(m)
        c.stop {}
    }

    @Test func anOversizedStanzaInABodyIsSkippedCountedAndAnswered() throws {
        let server = backend(streamManagement: true)
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        #expect(run { c.streamMgmt.state?.inbound ?? 0 >= 1 })
        settle()
        let before = try #require(c.streamMgmt.state?.inbound)
        let s = try #require(m.session)
        let session = try #require(server.current)
        let from = "stranger@evil.example/x"
        // Over max_stanza_size (256 KiB), under the ceiling (512 KiB), with a stanza after it.
        let filler = String(repeating: "a", count: 300 * 1024)
        m.manual = true
        #expect(run { m.heldRIDs.count == 1 })
        m.respond(s, rid: m.heldRIDs[0], payload: "<iq xmlns='jabber:client' type='get' id='bigbosh' from='\(from)' to='perch@perch.test/board'><query xmlns='urn:example'>\(filler)</query></iq>" + chat("after1"))
        m.manual = false
        m.flush(s)
        #expect(run { delivered.value.contains { $0.stanzaID == "after1" } && m.heldRIDs.count == 1 }, "\(log.all)")
        m.manual = true
        m.respond(s, rid: m.heldRIDs[0], payload: "<message xmlns='jabber:client' from='\(from)' to='perch@perch.test/board' type='chat' id='bigmsg'><body>\(filler)</body></message>" + chat("after2"))
        m.manual = false
        m.flush(s)
        func error() -> XMLElement? { session.stanzas.first { $0.name == "iq" && $0.stanzaID == "bigbosh" && $0.stanzaType == "error" } }
        #expect(run { error() != nil && delivered.value.contains { $0.stanzaID == "after2" } }, "\(log.all)")
        let reply = try #require(error())
        #expect(reply[attribute: "to"] == from)
        #expect(StanzaError(stanza: reply)?.condition == .policyViolation)
        #expect(log.contains("answered <iq type='get'> from '\(from)' (id 'bigbosh')"), "\(log.all)")
        #expect(log.contains("dropped <message type='chat'> from '\(from)' (id 'bigmsg')"), "\(log.all)")
        #expect(!delivered.value.contains { $0.stanzaID == "bigbosh" || $0.stanzaID == "bigmsg" })
        session.send("<r xmlns='urn:xmpp:sm:3'/>")
        #expect(run { !session.acks.isEmpty })
        #expect(session.acks.first == before + 4, "both skipped stanzas and the two after them are counted: \(session.acks)")
        #expect(c.isOnline && m.sessions.count == 1, "the session goes on")
        #expect(!log.all.contains { $0.contains(String(repeating: "a", count: 100)) }, "the content is never logged")
        expectBounded(m)
        c.stop {}
    }

    @Test func aBodyOverTheSkipCeilingEndsTheSession() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        let s = try #require(m.session)
        let rid = try #require(m.heldRIDs.first)
        let text = String(repeating: "c", count: 200 * 1024)
        m.manual = true
        m.respond(s, rid: rid, payload: chat("c1", text) + chat("c2", text) + chat("c3", text))
        m.manual = false
        #expect(run { m.sessions.count == 2 && c.isOnline }, "\(log.all)")
        #expect(log.contains("(the limit is \(XMLStreamLimits.default.skipCeiling), twice max_stanza_size)"), "\(log.all)")
        expectBounded(m)
        c.stop {}
    }

    // MARK: - The manager ends the session

    struct Termination: Sendable, CustomTestStringConvertible {
        let attributes: String
        let payload: String
        let logged: String
        var testDescription: String { attributes }
    }

    static let terminations = [
        Termination(attributes: " type='terminate' condition='item-not-found'", payload: "", logged: "the connection manager ended the BOSH session: item-not-found"),
        Termination(attributes: " type='terminate' condition='remote-stream-error'", payload: "", logged: "the connection manager ended the BOSH session: remote-stream-error"),
        Termination(
            attributes: " type='terminate' condition='remote-stream-error'",
            payload: "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><internal-server-error xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
            logged: "the server ended the stream: internal-server-error"),
        // No condition: the server closed the stream (XEP-0206), a clean end.
        Termination(attributes: " type='terminate'", payload: "", logged: "the server closed the connection"),
    ]

    @Test(arguments: terminations) func theManagerTerminatesTheSession(_ t: Termination) throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        let s = try #require(m.session)
        let rid = try #require(m.heldRIDs.first)
        m.manual = true
        m.respond(s, rid: rid, payload: chat("last") + t.payload, attributes: t.attributes)
        m.manual = false
        #expect(run { m.sessions.count == 2 && c.isOnline }, "a new session: \(log.all)")
        #expect(log.contains(t.logged), "\(log.all)")
        if t.attributes == " type='terminate'" { #expect(!log.contains("undefined-condition")) }
        #expect(delivered.value.filter { $0.stanzaID == "last" }.count == 1, "what came with the end is delivered")
        #expect(!m.requests.contains { $0.sid == s.sid && $0.rid > rid }, "nothing more is sent in the ended session")
        expectBounded(m)
        c.stop {}
    }

    @Test func aSeeOtherURITerminationIsFollowed() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let other = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        let s = try #require(m.session)
        let rid = try #require(m.heldRIDs.first)
        m.manual = true
        m.respond(s, rid: rid, payload: "<uri>\(other.url)</uri>", attributes: " type='terminate' condition='see-other-uri'")
        #expect(run { other.sessions.count == 1 && c.isOnline }, "\(log.all)")
        #expect(log.contains("the server redirects us to \(other.url)"), "\(log.all)")
        #expect(m.sessions.count == 1)
        expectBounded(m)
        expectBounded(other)
        c.stop {}
    }

    // MARK: - HTTP answers

    @Test func a404EndsTheSessionAndANewOneIsStarted() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        let s = try #require(m.session)
        let rid = try #require(m.heldRIDs.first)
        m.writeRaw(s, rid: rid, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", close: false)
        #expect(run { m.sessions.count == 2 && c.isOnline }, "\(log.all)")
        #expect(log.contains("warning: \(m.url): BOSH HTTP error: the connection manager answered 404 Not Found to rid \(rid) (the session is unknown to the manager"), "\(log.all)")
        expectBounded(m)
        c.stop {}
    }

    @Test func a403IsPermanentAndNotRetriedSoon() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        m.intercept = { r in r.sid == nil ? .raw("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", close: false) : .normal }
        let c = try client(m.url)
        c.start()
        #expect(run { self.log.contains("reconnecting in") }, "\(log.all)")
        #expect(log.contains("error: \(m.url): BOSH HTTP error: the connection manager answered 403 Forbidden"), "\(log.all)")
        #expect(log.contains("(forbidden: policy refused the session)"))
        let line = try #require(log.all.last { $0.contains("reconnecting in") })
        #expect(line.hasSuffix(" min") && ["15", "16", "17", "18"].contains { line.contains("reconnecting in \($0) min") }, "the authentication-failure delay: \(line)")
        settle(1_500)
        #expect(m.requests.count == 1, "not asked again: \(m.requests.count)")
        #expect(!c.isOnline)
        expectBounded(m)
        c.stop {}
    }

    @Test func aBodyThatIsNotXMLEndsTheSession() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        let s = try #require(m.session)
        let rid = try #require(m.heldRIDs.first)
        let junk = "<html><body>Bad Gateway"
        m.writeRaw(s, rid: rid, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: \(junk.utf8.count)\r\n\r\n\(junk)", close: false)
        #expect(run { m.sessions.count == 2 && c.isOnline }, "\(log.all)")
        #expect(log.contains("BOSH malformed response body: the response body is not one well-formed element"), "\(log.all)")
        expectBounded(m)
        c.stop {}
    }

    @Test func connectionCloseAfterAResponseOpensANewConnection() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        let before = m.connections.count
        // The next response (to the held request, when the message comes) says Connection: close.
        m.nextResponseHeaders = "Connection: close\r\n"
        #expect(c.send(message("cc1")))
        #expect(run { server.current?.stanzas.contains { $0.stanzaID == "cc1" } == true })
        settle()
        let closed = m.connections.filter { !$0.isOpen }.count
        #expect(closed >= 1)
        // Both ways still work, on a new connection where one is needed.
        server.current?.send(chat("cc2"))
        #expect(run { delivered.value.contains { $0.stanzaID == "cc2" } })
        #expect(c.send(message("cc3")))
        #expect(run { server.current?.stanzas.contains { $0.stanzaID == "cc3" } == true })
        settle()
        #expect(m.connections.count > before, "a new connection was opened")
        #expect(!log.contains("sending it again"), "no request was written to the closed connection: \(log.all)")
        #expect(c.isOnline && m.sessions.count == 1)
        expectBounded(m)
        c.stop {}
    }

    @Test func stoppingTheClientTerminatesTheSession() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(m, delivered)
        let sid = try #require(m.session?.sid)
        var stopped = false
        c.stop { stopped = true }
        #expect(run { stopped }, "\(log.all)")
        let terminate = try #require(m.requests.last)
        #expect(terminate.type == "terminate" && terminate.sid == sid, "\(terminate.raw)")
        #expect(m.requests.filter { $0.type == "terminate" }.count == 1)
        #expect(server.current?.stanzas.contains { $0.name == "presence" && $0.stanzaType == "unavailable" } == true, "the unavailable presence went out before the end")
        #expect(!log.contains("did not"), "\(log.all)")
        expectBounded(m)
    }

    /// A manager that holds nothing (hold = 0, polling = 2 s, §12): the board polls every 2 s while
    /// idle instead of once per round trip, and still sends at once and reads what came at the next poll.
    @Test func aPollingSessionPollsAtThePollingInterval() throws {
        let server = backend()
        let m = BOSHTransportFakeManager(loop: loop, backend: server)
        m.holdLimit = 0
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try client(m.url) { $0.connectTimeout = 30_000 }
        c.onStanza = { delivered.value.append($0) }
        c.start()
        // Each step of the login waits for a poll: slow, as polling sessions are.
        #expect(run(40_000) { c.isOnline }, "\(log.all)")
        settle(500)
        let before = m.requests.count
        settle(5_000)
        let polls = m.requests.count - before
        #expect((1...4).contains(polls), "\(polls) requests in 5 s of idle polling")
        c.send(message("out-now"))
        #expect(run(1_000) { !self.requests(m, carrying: "out-now").isEmpty }, "sent at once, not at the next poll")
        try #require(m.session).outgoing.append(chat("in-later"))
        #expect(run(4_000) { delivered.value.contains { $0.stanzaID == "in-later" } }, "read at a poll")
        expectBounded(m)
        c.stop {}
    }
}
