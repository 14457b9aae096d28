import PerchCrypto
import Testing
@testable import PerchHTTP

/// A server frame (unmasked unless a key is given).
func wsServerFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: [UInt8]? = nil) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
    let m: UInt8 = mask == nil ? 0 : 0x80
    if payload.count < 126 {
        out.append(m | UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
        out += [m | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    } else {
        out.append(m | 127)
        for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: payload.count >> s)) }
    }
    if let mask {
        out += mask
        out += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
    } else {
        out += payload
    }
    return out
}

/// Unmasks a client frame: (opcode, fin, payload), or nil if it is not a single masked frame.
func wsClientFrame(_ f: [UInt8]) -> (opcode: UInt8, fin: Bool, payload: [UInt8])? {
    guard f.count >= 6, f[1] & 0x80 != 0 else { return nil }
    var len = Int(f[1] & 0x7F)
    var i = 2
    if len == 126 { len = Int(f[2]) << 8 | Int(f[3]); i = 4 } else if len == 127 {
        len = 0
        for k in 0..<8 { len = len << 8 | Int(f[2 + k]) }
        i = 10
    }
    let key = Array(f[i..<(i + 4)])
    i += 4
    guard f.count == i + len else { return nil }
    return (f[0] & 0x0F, f[0] & 0x80 != 0, f[i...].enumerated().map { $0.element ^ key[$0.offset & 3] })
}

func wsFailure(_ events: [WebSocketEvent]) -> WebSocketCloseCode? {
    for case .failed(let code, _) in events { return code }
    return nil
}

@Suite struct WebSocketCodecTests {
    @Test func encodesMaskedFramesWithAFreshKeyEach() {
        let c = WebSocketCodec()
        let a = c.text("<message/>"), b = c.text("<message/>")
        #expect(wsClientFrame(a)?.payload == Array("<message/>".utf8))
        #expect(wsClientFrame(a)?.opcode == 1)
        #expect(a != b)  // different masking keys
        let long = String(repeating: "x", count: 300)
        #expect(wsClientFrame(c.text(long))?.payload.count == 300)
        let huge = String(repeating: "y", count: 70000)
        let f = c.text(huge)
        #expect(f[1] == 0x80 | 127 && wsClientFrame(f)?.payload.count == 70000)
    }

    @Test func knownMaskedFrame() {
        // RFC 6455 §5.7: a masked "Hello".
        #expect(WebSocketCodec.frame(opcode: 1, payload: Array("Hello".utf8), maskKey: [0x37, 0xfa, 0x21, 0x3d])
            == [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
    }

    @Test func decodesMessagesInAnySplit() {
        let stream = wsServerFrame(1, Array("Hello".utf8)) + wsServerFrame(1, Array(String(repeating: "é", count: 100).utf8))
            + wsServerFrame(1, Array(repeating: UInt8(ascii: "z"), count: 70000))
        for step in [1, 3, 500, stream.count] {
            var c = WebSocketCodec()
            var events: [WebSocketEvent] = []
            var i = 0
            while i < stream.count {
                events += c.receive(stream[i..<min(i + step, stream.count)])
                i += step
            }
            #expect(events == [.message("Hello"), .message(String(repeating: "é", count: 100)), .message(String(repeating: "z", count: 70000))])
        }
    }

    @Test func reassemblesFragmentsWithControlFramesBetween() {
        var c = WebSocketCodec()
        let events = c.receive(wsServerFrame(1, Array("<mess".utf8), fin: false) + wsServerFrame(9, [1, 2]) + wsServerFrame(0, Array("age/".utf8), fin: false)
            + wsServerFrame(0, Array(">".utf8)))
        #expect(events.count == 3)
        #expect(events.first == .ping([1, 2]))
        if case .send(let pong) = events[1] {
            #expect(wsClientFrame(pong)?.opcode == 0xA && wsClientFrame(pong)?.payload == [1, 2])
        } else { Issue.record("no pong") }
        #expect(events.last == .message("<message/>"))
    }

    @Test func aCharacterSplitAcrossFragmentsIsFine() {
        var c = WebSocketCodec()
        let e = Array("é".utf8)
        #expect(c.receive(wsServerFrame(1, [e[0]], fin: false) + wsServerFrame(0, [e[1]])) == [.message("é")])
    }

    @Test func closeIsEchoedWithItsCode() {
        var c = WebSocketCodec()
        let events = c.receive(wsServerFrame(8, [0x03, 0xE8] + Array("bye".utf8)) + wsServerFrame(1, Array("late".utf8)))
        #expect(events.first == .close(code: .normal, reason: "bye"))
        guard events.count == 2, case .send(let echo) = events[1], let f = wsClientFrame(echo) else { Issue.record("\(events)"); return }
        #expect(f.opcode == 8 && f.payload == [0x03, 0xE8])
        #expect(c.state == .closed)
        #expect(c.receive(wsServerFrame(1, Array("x".utf8))).isEmpty)
        #expect(c.text("x").isEmpty)
    }

    @Test func anEmptyCloseIsEchoedEmpty() {
        var c = WebSocketCodec()
        let events = c.receive(wsServerFrame(8, []))
        #expect(events.first == .close(code: nil, reason: ""))
        if case .send(let echo)? = events.last { #expect(wsClientFrame(echo)?.payload == []) }
    }

    @Test func ourCloseIsAnsweredWithoutASecondEcho() {
        var c = WebSocketCodec()
        let mine = c.close(.goingAway, reason: "shutting down")
        #expect(wsClientFrame(mine)?.payload == [0x03, 0xE9] + Array("shutting down".utf8))
        #expect(c.state == .closeSent)
        #expect(c.receive(wsServerFrame(8, [0x03, 0xE9])) == [.close(code: .goingAway, reason: "")])
        #expect(c.state == .closed)
    }

    @Test func protocolErrors() {
        let cases: [([UInt8], WebSocketCloseCode)] = [
            (wsServerFrame(1, Array("x".utf8), rsv: 0x40), .protocolError),
            (wsServerFrame(1, Array("x".utf8), rsv: 0x10), .protocolError),
            (wsServerFrame(3, []), .protocolError),
            (wsServerFrame(0xB, []), .protocolError),
            (wsServerFrame(1, Array("x".utf8), mask: [1, 2, 3, 4]), .protocolError),
            (wsServerFrame(9, [], fin: false), .protocolError),
            (wsServerFrame(9, Array(repeating: 0, count: 126)), .protocolError),
            (wsServerFrame(0, Array("x".utf8)), .protocolError),
            (wsServerFrame(1, Array("x".utf8), fin: false) + wsServerFrame(1, Array("y".utf8)), .protocolError),
            ([0x81, 126, 0, 5] + Array("hello".utf8), .protocolError),  // 16-bit length for 5 bytes
            ([0x81, 127, 0, 0, 0, 0, 0, 0, 0, 5] + Array("hello".utf8), .protocolError),
            ([0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 5], .protocolError),
            (wsServerFrame(8, [3]), .protocolError),
            (wsServerFrame(8, [0x03, 0xED]), .protocolError),  // 1005 may not be sent
            (wsServerFrame(8, [0x03, 0xEE]), .protocolError),  // 1006
            (wsServerFrame(8, [0x00, 0x10]), .protocolError),
            (wsServerFrame(8, [0x13, 0x88]), .protocolError),  // 5000
            (wsServerFrame(8, [0x03, 0xE8, 0xFF]), .invalidPayload),
            (wsServerFrame(1, [0xC3, 0x28]), .invalidPayload),
            (wsServerFrame(1, [0xED, 0xA0, 0x80]), .invalidPayload),  // a UTF-16 surrogate
            (wsServerFrame(1, [0xE2, 0x82], fin: false) + wsServerFrame(0, [0x28]), .invalidPayload),
            (wsServerFrame(2, [1, 2, 3]), .unsupportedData),
        ]
        for (bytes, code) in cases {
            var c = WebSocketCodec()
            let events = c.receive(bytes)
            #expect(wsFailure(events) == code, "\(bytes.prefix(12)): \(events)")
            // The close frame with the code goes out before the failure is reported.
            if case .send(let frame)? = events.first, let f = wsClientFrame(frame) {
                #expect(f.opcode == 8 && f.payload == [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)])
            } else { Issue.record("no close frame first: \(events)") }
            #expect(c.state == .closed)
        }
    }

    @Test func validCloseCodesAreAccepted() {
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999] {
            var c = WebSocketCodec()
            #expect(c.receive(wsServerFrame(8, [UInt8(code >> 8), UInt8(code & 0xFF)])).first == .close(code: WebSocketCloseCode(code), reason: ""))
        }
    }

    @Test func oversizedFramesAndMessagesAreRefusedWith1009BeforeTheyArrive() {
        var c = WebSocketCodec(maxMessageBytes: 100)
        // Only the header of a 64-bit-length frame: refused without waiting for its payload.
        #expect(wsFailure(c.receive([0x81, 127, 0, 0, 0, 1, 0, 0, 0, 0])) == .messageTooBig)
        var d = WebSocketCodec(maxMessageBytes: 100)
        let ok = d.receive(wsServerFrame(1, Array(repeating: 0x61, count: 60), fin: false))
        #expect(ok.isEmpty)
        #expect(wsFailure(d.receive(wsServerFrame(0, Array(repeating: 0x61, count: 60)))) == .messageTooBig)
        var e = WebSocketCodec(maxMessageBytes: 100)
        #expect(e.receive(wsServerFrame(1, Array(repeating: 0x61, count: 100))) == [.message(String(repeating: "a", count: 100))])
    }
}

@Suite struct WebSocketHandshakeTests {
    let url = try! WebURL.parse("wss://example.org/xmpp-websocket")

    func answer(_ h: WebSocketHandshake, status: String = "101 Switching Protocols", protocolLine: String? = "Sec-WebSocket-Protocol: xmpp\r\n",
                accept: String? = nil, extra: String = "") -> [UInt8] {
        var s = "HTTP/1.1 \(status)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept ?? h.expectedAccept)\r\n"
        s += (protocolLine ?? "") + extra + "\r\n"
        return Array(s.utf8)
    }

    @Test func theRFCExampleKey() {
        // RFC 6455 §1.3.
        #expect(WebSocketHandshake.accept(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        let h = WebSocketHandshake(url: url, key: Array("the sample nonce".utf8))
        #expect(h.key == "dGhlIHNhbXBsZSBub25jZQ==")
    }

    @Test func theRequestAsksForXMPP() throws {
        let h = WebSocketHandshake(url: url)
        #expect(Base64.decode(h.key)?.count == 16)
        #expect(WebSocketHandshake(url: url).key != h.key)
        let text = String(decoding: try h.request.serialized(), as: UTF8.self)
        #expect(text.hasPrefix("GET /xmpp-websocket HTTP/1.1\r\nHost: example.org\r\n"))
        for line in ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: xmpp", "Sec-WebSocket-Key: \(h.key)"] {
            #expect(text.containsText("\r\n\(line)\r\n"), "\(line)")
        }
    }

    @Test func acceptsAConformingAnswerAndKeepsTheBytesAfterIt() throws {
        var h = WebSocketHandshake(url: url)
        let bytes = answer(h) + [0x81, 0x00]
        #expect(try h.receive(bytes.prefix(10)) == nil)
        #expect(try h.receive(bytes.dropFirst(10)) == [0x81, 0x00])
    }

    @Test func refusals() {
        let cases: [(status: String, proto: String?, accept: String?, extra: String, kind: WebSocketHandshakeError.Kind)] = [
            ("101 Switching Protocols", nil, nil, "", .noXMPPSubprotocol),
            ("101 Switching Protocols", "Sec-WebSocket-Protocol: chat\r\n", nil, "", .noXMPPSubprotocol),
            ("101 Switching Protocols", "Sec-WebSocket-Protocol: xmpp, chat\r\n", nil, "", .noXMPPSubprotocol),
            ("101 Switching Protocols", nil, "AAAA", "", .badAccept),
            ("101 Switching Protocols", "Sec-WebSocket-Protocol: xmpp\r\n", nil, "Sec-WebSocket-Extensions: permessage-deflate\r\n", .unrequestedExtension),
            ("200 OK", nil, nil, "", .notSwitching),
            ("404 Not Found", nil, nil, "Content-Length: 100\r\n", .notSwitching),
        ]
        for c in cases {
            var h = WebSocketHandshake(url: url)
            do {
                _ = try h.receive(answer(h, status: c.status, protocolLine: c.proto, accept: c.accept, extra: c.extra))
                Issue.record("accepted: \(c)")
            } catch {
                #expect(error.kind == c.kind, "\(c): \(error)")
            }
        }
        var h = WebSocketHandshake(url: url)
        #expect(throws: WebSocketHandshakeError.self) { try h.receive(Array("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n".utf8)) }
        var g = WebSocketHandshake(url: url)
        #expect(throws: WebSocketHandshakeError.self) { try g.receive(Array("garbage\r\n\r\n".utf8)) }
    }
}
