import Glibc
import Testing
import PerchHTTP
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// The real client over XMPP over WebSocket (RFC 7395) against ``WebTransportWSServer`` on loopback
/// (ws://, and wss:// where TLS matters): what it does with handshake answers it must refuse, frames
/// split and interleaved, close codes, frames and messages over the limits, and RFC 7395 framing
/// broken. Every frame the client sends is checked to be masked.
@Suite(.serialized) struct WebTransportWebSocketTests {
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
        config.transport = .websocket
        config.url = try WebURL.parse(url)
        config.systemTrustStore = nil
        config.reconnect.initialDelay = 10
        config.connectTimeout = 5_000
        adjust(&config)
        let log = self.log
        return XMPPClient(loop: loop, config: config, logger: Logger(label: "xmpp", level: .debug, format: .bare, sink: { log.append($0) }))
    }

    func url(_ ws: WebTransportWSServer) -> String { "ws://127.0.0.1:\(ws.port)/xmpp-websocket" }

    @discardableResult
    func run(_ timeout: Int64 = 10_000, until condition: @escaping () -> Bool) -> Bool {
        loop.run(until: condition, timeout: timeout)
    }

    /// Lets the loop turn for `ms` (what must not happen has had its chance).
    func settle(_ ms: Int64 = 300) { _ = loop.run(until: { false }, timeout: ms) }

    /// RFC 6455 §5.3: every frame from the client is masked.
    func expectMasked(_ ws: WebTransportWSServer, sourceLocation: SourceLocation = #_sourceLocation) {
        let frames = ws.connections.flatMap(\.frames)
        #expect(!frames.isEmpty, sourceLocation: sourceLocation)
        #expect(frames.allSatisfy { $0.masked }, "unmasked client frames: \(frames.filter { !$0.masked }.map(\.opcode))", sourceLocation: sourceLocation)
    }

    func chat(_ id: String, _ body: String = "hello") -> String {
        "<message xmlns='jabber:client' from='\(Self.peer)' to='perch@perch.test/board' type='chat' id='\(id)'><body>\(body)</body></message>"
    }

    /// A client online over `ws`, with what it delivers collected in `delivered`.
    func online(_ ws: WebTransportWSServer, _ delivered: WebTransportBox<[XMLElement]>) throws -> XMPPClient {
        let c = try client(url(ws))
        c.onStanza = { delivered.value.append($0) }
        c.start()
        #expect(run { c.isOnline }, "\(log.all)")
        return c
    }

    // MARK: - The upgrade

    struct RefusedAnswer: Sendable, CustomTestStringConvertible {
        let name: String
        let answer: @Sendable (String) -> String
        let logged: String
        var testDescription: String { name }
    }

    static let refusedAnswers: [RefusedAnswer] = [
        RefusedAnswer(
            name: "no xmpp subprotocol",
            answer: { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \($0)\r\n\r\n" },
            logged: "WebSocket handshake refused, no xmpp subprotocol: the server chose no subprotocol; RFC 7395 requires it to agree to xmpp"),
        RefusedAnswer(
            name: "another subprotocol",
            answer: { "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \($0)\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n" },
            logged: "WebSocket handshake refused, no xmpp subprotocol: the server chose \"mqtt\""),
        RefusedAnswer(
            name: "wrong Sec-WebSocket-Accept",
            answer: { _ in "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n" },
            logged: "WebSocket handshake refused, wrong Sec-WebSocket-Accept: Sec-WebSocket-Accept is \"dGhlIHNhbXBsZSBub25jZQ==\""),
        RefusedAnswer(
            name: "200 instead of 101",
            answer: { _ in "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\n<html>" },
            logged: "WebSocket handshake refused, the server did not switch protocols: the server answered 200 OK instead of 101 Switching Protocols (the URL serves a page, not WebSocket: check the path)"),
        RefusedAnswer(
            name: "an extension not asked for",
            answer: {
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \($0)\r\nSec-WebSocket-Protocol: xmpp\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
            },
            logged: "WebSocket handshake refused, an extension that was not asked for: Sec-WebSocket-Extensions: permessage-deflate (none was asked for)"),
    ]

    @Test(arguments: refusedAnswers) func aHandshakeAnswerThatMustBeRefused(_ r: RefusedAnswer) throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        ws.answerHandshake = r.answer
        let c = try client(url(ws))
        c.start()
        #expect(run { self.log.contains("reconnecting in") }, "\(log.all)")
        #expect(log.all.contains { $0.contains(r.logged) && $0.contains(url(ws)) }, "\(log.all)")
        let first = try #require(ws.connections.first)
        let request = try #require(first.request)
        #expect(WebTransportSocket.header("Sec-WebSocket-Protocol", in: request) == "xmpp")
        #expect(WebTransportSocket.header("Sec-WebSocket-Version", in: request) == "13")
        #expect(request.hasPrefix("GET /xmpp-websocket HTTP/1.1\r\n"))
        // Nothing of XMPP goes over a refused upgrade, and the connection is closed.
        #expect(first.frames.isEmpty, "the client sent frames after a refused handshake: \(first.messages)")
        #expect(run { WebTransportSocket.peerClosed(first.fd) || !first.isOpen })
        #expect(!c.isOnline)
        c.stop {}
    }

    // MARK: - Frames

    @Test func aMessageFragmentedOverFramesAndSplitAcrossReadsArrivesOnce() throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        settle()  // as below: nothing of the backend's between the fragments
        let text = Array(chat("frag", "one message in three frames").utf8)
        let a = text.count / 3, b = 2 * text.count / 3
        let bytes = WebTransportWSServer.frame(1, Array(text[0..<a]), fin: false)
            + WebTransportWSServer.frame(0, Array(text[a..<b]), fin: false)
            + WebTransportWSServer.frame(0, Array(text[b...]))
        // Seven bytes at a time, each in its own read: the cuts fall inside headers and payloads.
        let pieces = stride(from: 0, to: bytes.count, by: 7).map { Array(bytes[$0..<min($0 + 7, bytes.count)]) }
        for (i, p) in pieces.enumerated() { loop.schedule(after: Int64(5 * i)) { conn.write(p) } }
        #expect(run { delivered.value.contains { $0.stanzaID == "frag" } })
        settle()
        #expect(delivered.value.filter { $0.stanzaID == "frag" }.count == 1)
        #expect(delivered.value.first { $0.stanzaID == "frag" }?.child("body")?.text == "one message in three frames")
        #expect(c.isOnline && ws.connections.count == 1 && conn.isOpen)
        expectMasked(ws)
        c.stop {}
    }

    @Test func aPingBetweenFragmentsIsAnsweredWithAMaskedPong() throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        // The backend's own answers after the login first: a message of its own between the two
        // fragments would be a protocol error (1002), which is not what this test is about.
        settle()
        let text = Array(chat("pinged").utf8)
        conn.write(WebTransportWSServer.frame(1, Array(text[0..<20]), fin: false))
        conn.write(WebTransportWSServer.frame(9, Array("p1".utf8)))
        loop.schedule(after: 50) { conn.write(WebTransportWSServer.frame(0, Array(text[20...]))) }
        #expect(run { delivered.value.contains { $0.stanzaID == "pinged" } })
        let pongs = conn.frames.filter { $0.opcode == 10 }
        #expect(pongs.count == 1 && pongs.first?.payload == Array("p1".utf8), "\(conn.frames.map(\.opcode))")
        #expect(pongs.allSatisfy { $0.masked })
        settle()
        #expect(delivered.value.filter { $0.stanzaID == "pinged" }.count == 1)
        #expect(c.isOnline && ws.connections.count == 1)
        expectMasked(ws)
        c.stop {}
    }

    @Test(arguments: [UInt16(1000), 1001, 1008, 1011]) func aCloseFrame(_ code: UInt16) throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        conn.write(WebTransportWSServer.close(code, "bye"))
        #expect(run { ws.connections.count == 2 && c.isOnline }, "the client reconnects: \(log.all)")
        // The close is echoed with its code, masked.
        let closes = conn.frames.filter { $0.opcode == 8 }
        #expect(closes.count == 1 && closes.first?.closeCode == code, "\(closes.map(\.closeCode))")
        if code == 1000 || code == 1001 {
            #expect(log.contains("the server closed the connection"), "\(log.all)")
            #expect(!log.contains("closed the WebSocket with code"))
        } else {
            let name = code == 1008 ? "1008 (policy violation)" : "1011 (internal error)"
            #expect(log.contains("the server closed the WebSocket with code \(name): bye"), "\(log.all)")
        }
        expectMasked(ws)
        c.stop {}
    }

    /// What came before the end in the same read is the server's to have sent: delivered, once.
    @Test(arguments: [[UInt8](WebTransportWSServer.close(1011, "restart")), WebTransportWSServer.frame(2, [1, 2, 3])])
    func aStanzaJustBeforeTheEndIsDelivered(_ end: [UInt8]) throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        conn.write(WebTransportWSServer.frame(1, Array(chat("before-end").utf8)) + end)
        #expect(run { ws.connections.count == 2 && c.isOnline }, "\(log.all)")
        #expect(delivered.value.filter { $0.stanzaID == "before-end" }.count == 1, "\(delivered.value.map(\.stanzaID))")
        expectMasked(ws)
        c.stop {}
    }

    @Test func aFrameOverTheLimitEndsTheConnectionWith1009() throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        // The limit is the parser's skip ceiling: twice max_stanza_size (512 KiB by default).
        let ceiling = XMLStreamLimits.default.skipCeiling
        let length = UInt64(ceiling + 1)
        var header: [UInt8] = [0x81, 127]
        for shift in stride(from: 56, through: 0, by: -8) { header.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        conn.write(header + Array(repeating: UInt8(ascii: "a"), count: 4096))
        #expect(run { ws.connections.count == 2 && c.isOnline }, "the client reconnects: \(log.all)")
        let closes = conn.frames.filter { $0.opcode == 8 }
        #expect(closes.map(\.closeCode) == [1009], "\(conn.frames.map(\.opcode))")
        #expect(log.contains("a message of more than \(ceiling) bytes"), "\(log.all)")
        #expect(log.contains("closed with 1009 (message too big)"))
        expectMasked(ws)
        c.stop {}
    }

    @Test func fragmentsAddingUpPastTheLimitEndTheConnectionWith1009() throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        let ceiling = XMLStreamLimits.default.skipCeiling
        let piece = [UInt8](repeating: UInt8(ascii: "a"), count: 60_000)
        conn.write(WebTransportWSServer.frame(1, Array("<message xmlns='jabber:client'><body>".utf8), fin: false))
        for _ in 0..<(ceiling / piece.count + 1) { conn.write(WebTransportWSServer.frame(0, piece, fin: false)) }
        #expect(run { ws.connections.count == 2 && c.isOnline }, "\(log.all)")
        #expect(conn.frames.filter { $0.opcode == 8 }.map(\.closeCode) == [1009])
        #expect(delivered.value.isEmpty)
        expectMasked(ws)
        c.stop {}
    }

    @Test func aBinaryFrameIsRefusedWith1003() throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        conn.write(WebTransportWSServer.frame(2, Array(chat("binary").utf8)))
        #expect(run { ws.connections.count == 2 && c.isOnline }, "\(log.all)")
        #expect(conn.frames.filter { $0.opcode == 8 }.map(\.closeCode) == [1003])
        #expect(log.contains("a binary message (XMPP over WebSocket is text only, RFC 7395 §3.2)); closed with 1003 (unsupported data)"), "\(log.all)")
        #expect(!delivered.value.contains { $0.stanzaID == "binary" })
        expectMasked(ws)
        c.stop {}
    }

    @Test func aTextFrameThatIsNotUTF8IsRefusedWith1007() throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        conn.write(WebTransportWSServer.frame(1, Array("<message xmlns='jabber:client' id='latin1'><body>".utf8) + [0xE9] + Array("</body></message>".utf8)))
        #expect(run { ws.connections.count == 2 && c.isOnline }, "\(log.all)")
        #expect(conn.frames.filter { $0.opcode == 8 }.map(\.closeCode) == [1007])
        #expect(log.contains("the server broke the WebSocket protocol (a text message that is not valid UTF-8); closed with 1007 (invalid payload)"), "\(log.all)")
        #expect(!delivered.value.contains { $0.stanzaID == "latin1" })
        expectMasked(ws)
        c.stop {}
    }

    @Test func aMaskedServerFrameIsRefusedWith1002() throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        conn.write(WebTransportWSServer.frame(1, Array(chat("masked").utf8), masked: true))
        #expect(run { ws.connections.count == 2 && c.isOnline }, "\(log.all)")
        #expect(conn.frames.filter { $0.opcode == 8 }.map(\.closeCode) == [1002])
        #expect(log.contains("the server masked a frame (server frames are never masked)); closed with 1002 (protocol error)"), "\(log.all)")
        #expect(!delivered.value.contains { $0.stanzaID == "masked" })
        expectMasked(ws)
        c.stop {}
    }

    // MARK: - What the messages hold

    @Test func anOversizedStanzaInOneMessageIsSkippedCountedAndAnswered() throws {
        let server = backend(streamManagement: true)
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        #expect(run { c.streamMgmt.state?.inbound ?? 0 >= 1 })
        let before = try #require(c.streamMgmt.state?.inbound)
        let conn = try #require(ws.current)
        let session = try #require(server.current)
        let from = "stranger@evil.example/x"
        // Over max_stanza_size (256 KiB), under the ceiling (512 KiB): skipped, not a reason to close.
        let filler = String(repeating: "a", count: 300 * 1024)
        conn.sendText("<iq xmlns='jabber:client' type='get' id='bigws' from='\(from)' to='perch@perch.test/board'><query xmlns='urn:example'>\(filler)</query></iq>")
        conn.sendText("<message xmlns='jabber:client' from='\(from)' to='perch@perch.test/board' type='chat' id='bigmsg'><body>\(filler)</body></message>")
        conn.sendText(chat("after"))
        func error() -> XMLElement? { session.stanzas.first { $0.name == "iq" && $0.stanzaID == "bigws" && $0.stanzaType == "error" } }
        #expect(run { error() != nil && delivered.value.contains { $0.stanzaID == "after" } }, "\(log.all)")
        let reply = try #require(error())
        #expect(reply[attribute: "to"] == from)
        #expect(StanzaError(stanza: reply)?.condition == .policyViolation)
        #expect(log.contains("answered <iq type='get'> from '\(from)' (id 'bigws')"), "\(log.all)")
        #expect(log.contains("dropped <message type='chat'> from '\(from)' (id 'bigmsg')"), "\(log.all)")
        session.send("<r xmlns='urn:xmpp:sm:3'/>")
        #expect(run { !session.acks.isEmpty })
        #expect(session.acks.first == before + 3, "both skipped stanzas and the one after are counted: \(session.acks)")
        #expect(delivered.value.map(\.stanzaID).filter { $0 != nil && $0 != "after" }.allSatisfy { !["bigws", "bigmsg"].contains($0) })
        #expect(ws.connections.count == 1 && conn.isOpen && c.isOnline, "the stream stays up")
        #expect(!log.all.contains { $0.contains(String(repeating: "a", count: 100)) }, "the content is never logged")
        expectMasked(ws)
        c.stop {}
    }

    @Test func aMessageWithTwoStanzasIsRefusedAndNeitherIsDelivered() throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        conn.sendText(chat("two-a") + chat("two-b"))
        #expect(run { ws.connections.count == 2 && c.isOnline }, "\(log.all)")
        #expect(log.contains("a WebSocket message that is not one whole element (RFC 7395 §3.3.3)"), "\(log.all)")
        #expect(!delivered.value.contains { $0.stanzaID == "two-a" || $0.stanzaID == "two-b" }, "a refused message delivers nothing: \(delivered.value.map(\.stanzaID))")
        // The refusal speaks the protocol: a stream error, <close/>, then the close frame.
        #expect(conn.messages.contains { $0.contains("bad-format") }, "\(conn.messages.suffix(3))")
        #expect(conn.messages.last?.contains("<close") == true)
        #expect(conn.frames.last?.opcode == 8)
        expectMasked(ws)
        c.stop {}
    }

    @Test func aMessageWithHalfAStanzaIsRefused() throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        let whole = chat("half")
        let cut = whole.index(whole.startIndex, offsetBy: 60)
        conn.sendText(String(whole[..<cut]))
        conn.sendText(String(whole[cut...]))
        #expect(run { ws.connections.count == 2 && c.isOnline }, "\(log.all)")
        #expect(log.contains("a WebSocket message that is not one whole element (RFC 7395 §3.3.3)"), "\(log.all)")
        #expect(!delivered.value.contains { $0.stanzaID == "half" }, "the halves are not joined")
        #expect(conn.messages.contains { $0.contains("bad-format") })
        expectMasked(ws)
        c.stop {}
    }

    @Test func aSecondOpenWithoutARestartIsRefused() throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        conn.sendText("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='perch.test' id='again' version='1.0'/>")
        conn.sendText(chat("after-open"))
        #expect(run { ws.connections.count == 2 && c.isOnline }, "\(log.all)")
        #expect(log.contains("a second <open/> without a stream restart"), "\(log.all)")
        #expect(conn.messages.contains { $0.contains("bad-format") })
        #expect(!delivered.value.contains { $0.stanzaID == "after-open" })
        expectMasked(ws)
        c.stop {}
    }

    /// The markup scan that decides whether a message is one element, on the shapes a scan can get
    /// wrong: `>` and `<`-free quotes in attribute values, CDATA, comments, an XML declaration.
    @Test func theOneElementScan() {
        func one(_ s: String) -> Bool { XMPPFraming.holdsOneElement(Array(s.utf8)) }
        #expect(one("<message/>"))
        #expect(one(" \n<message a='x>y' b=\"'>\"><body>a &gt; b > c</body></message>\n"))
        #expect(one("<?xml version='1.0'?><message><body><![CDATA[</message><x>]]></body></message>"))
        #expect(one("<message><!-- </message> --></message>"))
        #expect(one("<m><a/><b></b>text</m>"))
        #expect(!one("<message><body>half"))
        #expect(!one("<message from='peer@perch.test/x' to='"))
        #expect(!one("<a/><b/>"))
        #expect(!one("<a></a><b/>"))
        #expect(!one("<a/>text"))
        #expect(!one("text<a/>"))
        #expect(!one("</a>"))
        #expect(!one("<a></a></a>"))
        #expect(!one("<!DOCTYPE a><a/>"))
        #expect(!one("<![CDATA[x]]>"))
        #expect(!one(""))
    }

    // MARK: - see-other-uri

    @Test func aSeeOtherURIIsFollowedToTheOtherEndpoint() throws {
        let server = backend()
        let ws = WebTransportWSServer(loop: loop, backend: server)
        let other = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try online(ws, delivered)
        let conn = try #require(ws.current)
        let target = "ws://127.0.0.1:\(other.port)/other-path"
        conn.sendText("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='\(target)'/>")
        #expect(run { other.connections.count == 1 && c.isOnline }, "\(log.all)")
        #expect(other.current?.request?.hasPrefix("GET /other-path HTTP/1.1\r\n") == true)
        #expect(log.contains("the server redirects us to \(target)"), "\(log.all)")
        #expect(ws.connections.count == 1, "not back to the first endpoint")
        expectMasked(ws)
        expectMasked(other)
        c.stop {}
    }

    @Test func aSeeOtherURIFromWSSToWSIsNotFollowed() throws {
        let server = backend()
        let wss = WebTransportWSServer(loop: loop, backend: server, tls: PlainPolicyCerts.server)
        let plain = WebTransportWSServer(loop: loop, backend: server)
        let delivered = WebTransportBox<[XMLElement]>([])
        let c = try client("wss://localhost:\(wss.port)/xmpp-websocket") { $0.caFile = PlainPolicyCerts.caFile }
        c.onStanza = { delivered.value.append($0) }
        c.start()
        #expect(run { c.isOnline }, "\(log.all)")
        let conn = try #require(wss.current)
        let target = "ws://127.0.0.1:\(plain.port)/xmpp-websocket"
        conn.sendText("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='\(target)'/>")
        #expect(run { wss.connections.count == 2 && c.isOnline }, "the client comes back to the wss endpoint: \(log.all)")
        #expect(plain.connections.isEmpty, "never to the unencrypted one")
        #expect(!log.contains("the server redirects us to"), "\(log.all)")
        #expect(log.all.contains { $0.contains(target) && $0.contains("not followed") }, "the log says the redirect was refused: \(log.all)")
        c.stop {}
    }
}

/// A reference to a value a closure fills in.
final class WebTransportBox<T> {
    var value: T
    init(_ value: T) { self.value = value }
}
