import Glibc
import Testing
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
@testable import XMPPClient

/// A stanza over the parser's limits, relayed by the server from anybody, is handled (counted for
/// XEP-0198, an iq request answered) and dropped; the stream stays up.
@Suite(.serialized) struct OversizedStanzaTests {
    let loop: EventLoop
    let log = LogLines()

    init() throws {
        loop = try EventLoop()
    }

    func client(_ server: FakeServer) throws -> XMPPClient { try server.client(on: loop, log: log) }

    @discardableResult
    func run(_ timeout: Int64 = 10_000, until condition: @escaping () -> Bool) -> Bool {
        loop.run(until: condition, timeout: timeout)
    }

    static let from = "stranger@evil.example/x"
    static let deep = "<message from='\(from)' to='perch@perch.test' id='deep' type='chat'>" + String(repeating: "<a>", count: 64) + String(repeating: "</a>", count: 64) + "</message>"
    static let wide = "<message from='\(from)' to='perch@perch.test' id='wide' type='chat'>" + "<x xmlns='urn:example'" + (0..<65).map { " a\($0)='v'" }.joined() + "/></message>"
    static let large = "<message from='\(from)' to='perch@perch.test' id='large' type='chat'><body>" + String(repeating: "a", count: 256 * 1024 + 1) + "</body></message>"

    func streamManagedServer() -> FakeServer {
        var behaviour = FakeServer.Behaviour()
        behaviour.streamManagement = true
        return FakeServer(loop: loop, behaviour: behaviour)
    }

    @Test func oversizedStanzasAreCountedAndTheStreamStays() throws {
        let server = streamManagedServer()
        let c = try client(server)
        var delivered: [XMLElement] = []
        c.onStanza = { delivered.append($0) }
        c.start()
        #expect(run { c.isOnline && c.streamMgmt.state?.inbound ?? 0 >= 1 })
        let before = try #require(c.streamMgmt.state?.inbound)
        let session = try #require(server.current)
        session.send(Self.deep + Self.wide + Self.large)
        session.send("<message from='peer@perch.test/x' to='perch@perch.test/board' id='after' type='chat'><body>hi</body></message><r xmlns='urn:xmpp:sm:3'/>")
        #expect(run { !session.acks.isEmpty })
        #expect(session.acks.first == before + 4, "three skipped stanzas and the message after them are handled: \(session.acks)")
        #expect(delivered.map { $0.stanzaID } == ["after"], "only the stanza within the limits reaches the application")
        #expect(server.sessions.count == 1 && session.isOpen, "the stream stays up")
        #expect(c.isOnline)
        for (id, limit) in [("deep", "nested deeper than 64"), ("wide", "more than 64 attributes"), ("large", "larger than 262144 bytes")] {
            let lines = log.all.filter { $0.contains("dropped <message type='chat'> from '\(Self.from)' (id '\(id)')") && $0.contains(limit) }
            #expect(lines.count == 1, "one line for \(id): \(log.all)")
        }
        #expect(!log.all.contains { $0.contains(String(repeating: "a", count: 100)) }, "the content is never logged")
        c.stop {}
    }

    @Test func anOversizedIQRequestIsAnsweredWithPolicyViolation() throws {
        let server = streamManagedServer()
        let c = try client(server)
        c.start()
        #expect(run { c.isOnline && c.streamMgmt.state?.inbound ?? 0 >= 1 })
        let before = try #require(c.streamMgmt.state?.inbound)
        let session = try #require(server.current)
        let attrs = (0..<70).map { " a\($0)='v'" }.joined()
        session.send("<iq type='get' id='big1'\(attrs) from='\(Self.from)' to='perch@perch.test/board'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        // Past the limit in depth, an iq set too; and one in its result form is only dropped.
        session.send("<iq type='set' id='big2' from='\(Self.from)'><command xmlns='http://jabber.org/protocol/commands'>" + String(repeating: "<a>", count: 70) + String(repeating: "</a>", count: 70) + "</command></iq>")
        session.send("<iq type='result' id='big3' from='\(Self.from)'><q xmlns='urn:example'\(attrs)/></iq>")
        func error(_ id: String) -> XMLElement? {
            session.stanzas.first { $0.name == "iq" && $0.stanzaID == id && $0.stanzaType == "error" }
        }
        #expect(run { error("big1") != nil && error("big2") != nil })
        for id in ["big1", "big2"] {
            let reply = try #require(error(id))
            #expect(reply[attribute: "to"] == Self.from)
            #expect(StanzaError(stanza: reply)?.condition == .policyViolation)
        }
        #expect(log.contains("answered <iq type='get'> from '\(Self.from)' (id 'big1')"), "\(log.all)")
        session.send("<r xmlns='urn:xmpp:sm:3'/>")
        #expect(run { !session.acks.isEmpty })
        #expect(session.acks.first == before + 3)
        #expect(!session.stanzas.contains { $0.stanzaID == "big3" }, "a result is not answered")
        #expect(server.sessions.count == 1)
        c.stop {}
    }

    @Test func anOversizedStanzaBeforeEnabledIsDroppedUncounted() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.streamManagement = true
        behaviour.messagesBeforeEnabled = 2
        behaviour.rawBeforeEnabled = Self.deep
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let c = try client(server)
        var delivered: [String] = []
        c.onStanza = { if let id = $0.stanzaID { delivered.append(id) } }
        c.start()
        #expect(run { c.isOnline && delivered.count == 2 && c.streamMgmt.state?.inbound ?? 0 >= 1 })
        #expect(delivered == ["early0", "early1"])
        let session = try #require(server.current)
        session.send("<r xmlns='urn:xmpp:sm:3'/>")
        #expect(run { !session.acks.isEmpty })
        // Counted from <enabled/>: the roster result only, as the server counts.
        #expect(session.acks.first == 1, "\(session.acks)")
        #expect(log.contains("dropped <message type='chat'> from '\(Self.from)' (id 'deep')"), "\(log.all)")
        #expect(server.sessions.count == 1)
        c.stop {}
    }
}
