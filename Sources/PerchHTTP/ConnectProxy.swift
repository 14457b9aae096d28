import PerchCrypto

/// A user and password for an HTTP proxy. Neither ever appears in ``description`` or a log line.
public struct ProxyCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let user: String
    public let password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    public var description: String { "ProxyCredentials(<redacted>)" }
    public var debugDescription: String { description }

    /// The `Proxy-Authorization` value (Basic, RFC 7617, UTF-8).
    var basic: String { "Basic " + Base64.encode(Array((user + ":" + password).utf8)) }
}

/// Why the proxy did not open the tunnel.
public struct ConnectProxyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The proxy's status (0 when its answer could not be read) and reason phrase.
    public let status: Int
    public let reason: String
    public let detail: String

    public init(status: Int, reason: String, _ detail: String) {
        self.status = status
        self.reason = reason
        self.detail = detail
    }

    public var description: String { detail }
}

/// An HTTP CONNECT tunnel (RFC 9110 §9.3.6) through a proxy: the request, and the reading of the
/// proxy's answer. A 2xx opens the tunnel and the bytes after the answer's header are the tunnel's
/// (the start of the TLS handshake, typically); anything else is refused with the proxy's words.
public struct ConnectProxy: Sendable {
    public let host: String
    public let port: UInt16
    public let hasCredentials: Bool
    private let credentials: ProxyCredentials?
    private var parser: HTTPResponseParser

    /// `host` is the destination (an IPv6 literal without brackets), `port` its port.
    public init(host: String, port: UInt16, credentials: ProxyCredentials? = nil, limits: HTTPLimits = HTTPLimits(maxHeaderBytes: 8192, maxHeaderCount: 64, maxBodyBytes: 4096)) {
        self.host = host
        self.port = port
        self.credentials = credentials
        self.hasCredentials = credentials != nil
        self.parser = HTTPResponseParser(limits: limits, requestMethod: "CONNECT")
        self.parser.headOnly = true
    }

    /// `CONNECT host:port HTTP/1.1` with Host and, with credentials, Proxy-Authorization (which the
    /// request's description redacts).
    public var request: HTTPRequest {
        let authority = (host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host) + ":\(port)"
        var h = HTTPHeaders()
        if let credentials { h.append("Proxy-Authorization", credentials.basic) }
        return HTTPRequest(method: "CONNECT", target: authority, host: authority, headers: h)
    }

    /// Reads the proxy's answer: nil until its header is complete, then the tunnel's first bytes.
    public mutating func receive(_ bytes: some Collection<UInt8>) throws(ConnectProxyError) -> [UInt8]? {
        let events: [HTTPResponseEvent]
        do throws(HTTPParseError) {
            events = try parser.feed(bytes)
        } catch {
            throw ConnectProxyError(status: 0, reason: "", "the proxy's answer to CONNECT \(host):\(port) is not HTTP: \(error)")
        }
        guard let first = events.first else { return nil }
        let head: HTTPResponseHead
        let remaining: [UInt8]
        switch first {
        case .tunnel(let h, let r): (head, remaining) = (h, r)
        case .response(let r): (head, remaining) = (r.head, [])
        }
        if head.status / 100 == 2 { return remaining }
        let hint: String
        switch head.status {
        // 401 is what some proxies (tinyproxy) answer for wrong credentials instead of 407.
        case 407, 401: hint = hasCredentials ? "the proxy refused the configured credentials" : "the proxy wants credentials and none are configured"
        case 403: hint = "the proxy's policy forbids tunnels to \(host):\(port) (often: only port 443 is allowed)"
        case 502, 504: hint = "the proxy could not reach \(host):\(port)"
        case 405, 501: hint = "the proxy does not do CONNECT"
        default: hint = "the tunnel was not opened"
        }
        throw ConnectProxyError(status: head.status, reason: head.reason, "the proxy answered CONNECT \(host):\(port) with \(head): \(hint)")
    }
}
