import PerchCrypto

/// Why the server's answer to the upgrade request was refused.
public struct WebSocketHandshakeError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// Not 101: the server (or something in front of it) refused, or is not a WebSocket endpoint.
        case notSwitching = "the server did not switch protocols"
        case missingUpgrade = "no Upgrade: websocket"
        case missingConnection = "no Connection: Upgrade"
        case badAccept = "wrong Sec-WebSocket-Accept"
        /// The server did not agree to the `xmpp` subprotocol (RFC 7395 §3.1 requires it).
        case noXMPPSubprotocol = "no xmpp subprotocol"
        case unrequestedExtension = "an extension that was not asked for"
        case malformedResponse = "malformed HTTP answer"
    }

    public let kind: Kind
    public let detail: String
    /// The status the server answered with (0 when the answer could not be read).
    public let status: Int

    public init(_ kind: Kind, status: Int, _ detail: String) {
        self.kind = kind
        self.status = status
        self.detail = detail
    }

    public var description: String { "WebSocket handshake refused, \(kind.rawValue): \(detail)" }
}

/// The client side of the opening handshake (RFC 6455 §4.1, RFC 7395 §3.1): the upgrade request
/// asking for the `xmpp` subprotocol, and the check of the server's 101 answer.
///
/// Feed the connection's first bytes to ``receive(_:)``: it returns nil until the answer's header is
/// complete, then the bytes that followed it (the first WebSocket frames, for ``WebSocketCodec``).
public struct WebSocketHandshake: Sendable {
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    public static let subprotocol = "xmpp"

    public let url: WebURL
    /// Sec-WebSocket-Key: 16 random bytes, base64.
    public let key: String
    public let extraHeaders: HTTPHeaders
    private var parser: HTTPResponseParser

    /// `key` is for tests; leave it out to draw 16 fresh random bytes.
    public init(url: WebURL, key: [UInt8]? = nil, extraHeaders: HTTPHeaders = HTTPHeaders(), limits: HTTPLimits = HTTPLimits(maxHeaderBytes: 8192, maxHeaderCount: 64, maxBodyBytes: 4096)) {
        self.url = url
        self.key = Base64.encode(key ?? SecureRandom.bytes(16))
        self.extraHeaders = extraHeaders
        self.parser = HTTPResponseParser(limits: limits, requestMethod: "GET")
        self.parser.headOnly = true
    }

    /// The value a conforming server answers in Sec-WebSocket-Accept.
    public var expectedAccept: String { Self.accept(forKey: key) }

    public static func accept(forKey key: String) -> String {
        Base64.encode(DigestAlgorithm.sha1.hash(Array((key + guid).utf8)))
    }

    /// The upgrade request (GET on the URL's path).
    public var request: HTTPRequest {
        var h = HTTPHeaders()
        h.append("Upgrade", "websocket")
        h.append("Connection", "Upgrade")
        h.append("Sec-WebSocket-Key", key)
        h.append("Sec-WebSocket-Version", "13")
        h.append("Sec-WebSocket-Protocol", Self.subprotocol)
        for f in extraHeaders { h.append(f.name, f.value) }
        return HTTPRequest(method: "GET", target: url.target, host: url.hostField, headers: h)
    }

    /// Reads the server's answer; nil while it is incomplete, then the bytes after it.
    public mutating func receive(_ bytes: some Collection<UInt8>) throws(WebSocketHandshakeError) -> [UInt8]? {
        let events: [HTTPResponseEvent]
        do throws(HTTPParseError) {
            events = try parser.feed(bytes)
        } catch {
            throw WebSocketHandshakeError(.malformedResponse, status: 0, error.description)
        }
        guard let first = events.first else { return nil }
        switch first {
        case .tunnel(let head, let remaining):
            try check(head)
            return remaining
        case .response(let r):
            throw WebSocketHandshakeError(.notSwitching, status: r.head.status, "the server answered \(r.head) instead of 101 Switching Protocols" + Self.hint(r.head.status))
        }
    }

    /// Checks a 101 answer's fields.
    public func check(_ head: HTTPResponseHead) throws(WebSocketHandshakeError) {
        let s = head.status
        guard s == 101 else {
            throw WebSocketHandshakeError(.notSwitching, status: s, "the server answered \(head) instead of 101 Switching Protocols" + Self.hint(s))
        }
        guard head.headers.hasToken("Upgrade", "websocket") else {
            throw WebSocketHandshakeError(.missingUpgrade, status: s, "Upgrade is \(Self.shown(head.headers["Upgrade"])), not websocket")
        }
        guard head.headers.hasToken("Connection", "Upgrade") else {
            throw WebSocketHandshakeError(.missingConnection, status: s, "Connection is \(Self.shown(head.headers["Connection"])), without Upgrade")
        }
        let accepts = head.headers.values("Sec-WebSocket-Accept")
        guard accepts.count == 1, accepts[0] == expectedAccept else {
            throw WebSocketHandshakeError(.badAccept, status: s, "Sec-WebSocket-Accept is \(Self.shown(accepts.first)), expected \(expectedAccept) (a proxy or cache answered, or not a WebSocket server)")
        }
        let protocols = head.headers.tokens("Sec-WebSocket-Protocol")
        guard protocols.count == 1, protocols[0] == Self.subprotocol else {
            let what = protocols.isEmpty ? "the server chose no subprotocol" : "the server chose \"\(HTTPText.printable(protocols.joined(separator: ", ").utf8))\""
            throw WebSocketHandshakeError(.noXMPPSubprotocol, status: s, "\(what); RFC 7395 requires it to agree to xmpp (is this the server's XMPP WebSocket endpoint?)")
        }
        if let ext = head.headers["Sec-WebSocket-Extensions"], !HTTPText.trimmed(ext).isEmpty {
            throw WebSocketHandshakeError(.unrequestedExtension, status: s, "Sec-WebSocket-Extensions: \(HTTPText.printable(ext.utf8)) (none was asked for)")
        }
    }

    private static func shown(_ v: String?) -> String { v.map { "\"\(HTTPText.printable($0.utf8))\"" } ?? "absent" }

    private static func hint(_ status: Int) -> String {
        switch status {
        case 200: return " (the URL serves a page, not WebSocket: check the path)"
        case 301, 302, 307, 308: return " (a redirect, which is not followed: put the final URL in the configuration)"
        case 400, 426: return " (the server refused the upgrade request)"
        case 401, 403: return " (the server refused access)"
        case 404: return " (no WebSocket endpoint at this path)"
        default: return ""
        }
    }
}
