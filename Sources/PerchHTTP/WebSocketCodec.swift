public import PerchCrypto

/// A WebSocket close status code (RFC 6455 §7.4).
public struct WebSocketCloseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let normal = WebSocketCloseCode(1000)
    public static let goingAway = WebSocketCloseCode(1001)
    public static let protocolError = WebSocketCloseCode(1002)
    public static let unsupportedData = WebSocketCloseCode(1003)
    public static let invalidPayload = WebSocketCloseCode(1007)
    public static let policyViolation = WebSocketCloseCode(1008)
    public static let messageTooBig = WebSocketCloseCode(1009)
    public static let internalError = WebSocketCloseCode(1011)

    /// Whether a peer may send this code in a close frame: 1000-1003, 1007-1014 and 3000-4999
    /// (1004-1006 and 1015 are reserved and never sent, the rest unassigned).
    public var isValidOnTheWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    public var description: String {
        let name: String
        switch rawValue {
        case 1000: name = "normal closure"
        case 1001: name = "going away"
        case 1002: name = "protocol error"
        case 1003: name = "unsupported data"
        case 1007: name = "invalid payload"
        case 1008: name = "policy violation"
        case 1009: name = "message too big"
        case 1010: name = "extension required"
        case 1011: name = "internal error"
        case 1012: name = "service restart"
        case 1013: name = "try again later"
        case 1014: name = "bad gateway"
        default: return "\(rawValue)"
        }
        return "\(rawValue) (\(name))"
    }
}

/// What the codec read from the server, in order.
public enum WebSocketEvent: Sendable, Hashable {
    /// A complete text message (fragments reassembled, UTF-8 checked): for XMPP, one element (RFC 7395).
    case message(String)
    /// The server pinged; the pong is in the ``send(_:)`` that follows.
    case ping([UInt8])
    case pong([UInt8])
    /// The server closed with this code (nil: it sent none) and reason. The echo, if one is due, is in
    /// the ``send(_:)`` that follows; then wait for the server to close TCP (RFC 6455 §7.1.1).
    case close(code: WebSocketCloseCode?, reason: String)
    /// Bytes the caller must write to the socket, in order with the events.
    case send([UInt8])
    /// The server broke the protocol: the close frame with `code` is in the ``send(_:)`` before this
    /// event; write it and close the connection. `detail` says what was wrong, for the log.
    case failed(code: WebSocketCloseCode, detail: String)
}

/// A client-side WebSocket connection after the handshake (RFC 6455 §5): decodes the server's frames
/// and encodes the client's, masked with a fresh random key each.
///
/// Server frames must be unmasked, with no reserved bits or unknown opcodes (else 1002), control frames
/// at most 125 bytes and unfragmented (they may come between a message's fragments), text valid UTF-8
/// (else 1007); XMPP sends text, so a binary message is refused (1003); a frame or message over
/// ``maxMessageBytes`` ends the connection with 1009 before its payload is held. Ping is answered with
/// pong; a close is echoed with its code. Bytes after a close or a failure are ignored.
public struct WebSocketCodec: Sendable {
    public enum State: Sendable, Hashable {
        case open
        /// We sent a close and wait for the server's.
        case closeSent
        /// Both closes were exchanged, or the connection failed: only closing TCP is left.
        case closed
    }

    public let maxMessageBytes: Int
    public private(set) var state = State.open
    private var buffer: [UInt8] = []
    private var fragments: [UInt8] = []
    private var inMessage = false
    private var messageIsText = false
    private let random: @Sendable (Int) -> [UInt8]

    /// `maxMessageBytes` is the largest message (and frame) accepted: tie it to the largest stanza.
    /// `random` gives masking keys (tests make them fixed).
    public init(maxMessageBytes: Int = 256 * 1024, random: @escaping @Sendable (Int) -> [UInt8] = { SecureRandom.bytes($0) }) {
        self.maxMessageBytes = maxMessageBytes
        self.random = random
    }

    // MARK: Sending

    /// One text frame carrying `text`, or nothing once a close was sent or received.
    public func text(_ text: String) -> [UInt8] {
        guard state == .open else { return [] }
        return frame(opcode: 0x1, payload: Array(text.utf8))
    }

    public func ping(_ payload: [UInt8] = []) -> [UInt8] {
        guard state == .open else { return [] }
        return frame(opcode: 0x9, payload: Array(payload.prefix(125)))
    }

    /// Starts the closing handshake: the close frame to write; then wait for the server's close.
    public mutating func close(_ code: WebSocketCloseCode = .normal, reason: String = "") -> [UInt8] {
        guard state == .open else { return [] }
        state = .closeSent
        return closeFrame(code, reason)
    }

    /// A frame (RFC 6455 §5.2) with FIN set, masked with a fresh key.
    public func frame(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
        Self.frame(opcode: opcode, payload: payload, maskKey: random(4))
    }

    public static func frame(opcode: UInt8, payload: [UInt8], maskKey: [UInt8], fin: Bool = true) -> [UInt8] {
        precondition(maskKey.count == 4, "a masking key is 4 bytes")
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 14)
        out.append((fin ? 0x80 : 0) | (opcode & 0x0F))
        let n = payload.count
        if n < 126 {
            out.append(0x80 | UInt8(n))
        } else if n <= 0xFFFF {
            out.append(0x80 | 126)
            out.append(UInt8(n >> 8))
            out.append(UInt8(n & 0xFF))
        } else {
            out.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: UInt64(n) >> UInt64(shift))) }
        }
        out += maskKey
        for (i, b) in payload.enumerated() { out.append(b ^ maskKey[i & 3]) }
        return out
    }

    private func closeFrame(_ code: WebSocketCloseCode?, _ reason: String) -> [UInt8] {
        guard let code else { return frame(opcode: 0x8, payload: []) }
        var payload = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
        // The reason is cut to fit a control frame, at a character boundary.
        var r = Array(reason.utf8.prefix(123))
        while !r.isEmpty, String(validating: r, as: UTF8.self) == nil { r.removeLast() }
        payload += r
        return frame(opcode: 0x8, payload: payload)
    }

    // MARK: Receiving

    /// Reads bytes from the server; returns what they completed, in order.
    public mutating func receive(_ bytes: some Collection<UInt8>) -> [WebSocketEvent] {
        guard state != .closed else { return [] }
        buffer.append(contentsOf: bytes)
        var events: [WebSocketEvent] = []
        var pos = 0
        while state != .closed, let consumed = step(at: pos, &events) {
            pos += consumed
        }
        if state == .closed { buffer = [] } else if pos > 0 { buffer.removeFirst(pos) }
        return events
    }

    /// Decodes one frame at `pos`; returns its length, or nil when more bytes are needed (or the
    /// connection ended).
    private mutating func step(at pos: Int, _ events: inout [WebSocketEvent]) -> Int? {
        let available = buffer.count - pos
        guard available >= 2 else { return nil }
        let b0 = buffer[pos], b1 = buffer[pos + 1]
        let fin = b0 & 0x80 != 0
        let opcode = b0 & 0x0F
        if b0 & 0x70 != 0 { return fail(.protocolError, "reserved bits \((b0 & 0x70) >> 4) set (no extension was negotiated)", &events) }
        let isControl = opcode & 0x08 != 0
        switch opcode {
        case 0x0, 0x1, 0x2, 0x8, 0x9, 0xA: break
        default: return fail(.protocolError, "unknown opcode \(opcode)", &events)
        }
        if b1 & 0x80 != 0 { return fail(.protocolError, "the server masked a frame (server frames are never masked)", &events) }
        var length = UInt64(b1 & 0x7F)
        var header = 2
        if length == 126 {
            guard available >= 4 else { return nil }
            length = UInt64(buffer[pos + 2]) << 8 | UInt64(buffer[pos + 3])
            header = 4
            if length < 126 { return fail(.protocolError, "a 16-bit length of \(length) (must use the shortest form)", &events) }
        } else if length == 127 {
            guard available >= 10 else { return nil }
            length = 0
            for i in 0..<8 { length = length << 8 | UInt64(buffer[pos + 2 + i]) }
            header = 10
            if length >> 63 != 0 { return fail(.protocolError, "a 64-bit length with its top bit set", &events) }
            if length <= 0xFFFF { return fail(.protocolError, "a 64-bit length of \(length) (must use the shortest form)", &events) }
        }
        if isControl {
            if !fin { return fail(.protocolError, "a fragmented control frame (opcode \(opcode))", &events) }
            if length > 125 { return fail(.protocolError, "a control frame of \(length) bytes (at most 125)", &events) }
        } else {
            if opcode == 0 && !inMessage { return fail(.protocolError, "a continuation frame with no message to continue", &events) }
            if opcode != 0 && inMessage { return fail(.protocolError, "a new message began before the fragmented one ended", &events) }
            if length > UInt64(maxMessageBytes) || UInt64(fragments.count) + length > UInt64(maxMessageBytes) {
                return fail(.messageTooBig, "a message of more than \(maxMessageBytes) bytes (this frame: \(length))", &events)
            }
        }
        let n = Int(length)
        guard available >= header + n else { return nil }
        let payload = Array(buffer[(pos + header)..<(pos + header + n)])
        switch opcode {
        case 0x8:
            return closeReceived(payload, &events).map { _ in header + n }
        case 0x9:
            events.append(.ping(payload))
            if state == .open { events.append(.send(frame(opcode: 0xA, payload: payload))) }
        case 0xA:
            events.append(.pong(payload))
        default:
            if opcode != 0 {
                inMessage = true
                messageIsText = opcode == 0x1
                if !messageIsText { return fail(.unsupportedData, "a binary message (XMPP over WebSocket is text only, RFC 7395 §3.2)", &events) }
            }
            fragments += payload
            if fin {
                inMessage = false
                let data = fragments
                fragments = []
                guard let text = String(validating: data, as: UTF8.self) else {
                    return fail(.invalidPayload, "a text message that is not valid UTF-8", &events)
                }
                events.append(.message(text))
            }
        }
        return header + n
    }

    private mutating func closeReceived(_ payload: [UInt8], _ events: inout [WebSocketEvent]) -> Int? {
        var code: WebSocketCloseCode?
        var reason = ""
        if payload.count == 1 { return fail(.protocolError, "a close frame with a 1-byte payload", &events) }
        if payload.count >= 2 {
            let c = WebSocketCloseCode(UInt16(payload[0]) << 8 | UInt16(payload[1]))
            guard c.isValidOnTheWire else { return fail(.protocolError, "close code \(c.rawValue), which may not be sent", &events) }
            guard let r = String(validating: payload[2...], as: UTF8.self) else {
                return fail(.invalidPayload, "a close reason that is not valid UTF-8", &events)
            }
            code = c
            reason = r
        }
        events.append(.close(code: code, reason: reason))
        if state == .open { events.append(.send(closeFrame(code, ""))) }
        state = .closed
        return payload.count
    }

    private mutating func fail(_ code: WebSocketCloseCode, _ detail: String, _ events: inout [WebSocketEvent]) -> Int? {
        if state == .open { events.append(.send(closeFrame(code, ""))) }
        events.append(.failed(code: code, detail: detail))
        state = .closed
        return nil
    }
}
