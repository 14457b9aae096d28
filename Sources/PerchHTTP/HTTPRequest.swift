/// Why a request could not be written: a field that would break the message's framing.
public struct HTTPRequestError: Error, Sendable, Hashable, CustomStringConvertible {
    public let detail: String
    public init(_ detail: String) { self.detail = detail }
    public var description: String { detail }
}

/// An HTTP/1.1 request to write: method, target, Host, other fields and a body.
///
/// ``description`` (what a log line shows) never includes the values of `Authorization` or
/// `Proxy-Authorization`.
public struct HTTPRequest: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public var method: String
    /// The request target: an origin form (`/path?query`) or, for CONNECT, `host:port`.
    public var target: String
    /// The Host field's value (`host`, `host:port`, `[v6]:port`).
    public var host: String
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(method: String, target: String, host: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.host = host
        self.headers = headers
        self.body = body
    }

    /// The bytes to write. Adds Content-Length when there is a body (or the method is POST/PUT).
    public func serialized() throws(HTTPRequestError) -> [UInt8] {
        guard HTTPText.isToken(method) else { throw HTTPRequestError("the method \"\(HTTPText.printable(method.utf8))\" is not a token") }
        guard !target.isEmpty, target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPRequestError("the request target \"\(HTTPText.printable(target.utf8))\" is empty or has spaces, controls or non-ASCII bytes")
        }
        try Self.checkValue("Host", host)
        var out = Array("\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\n".utf8)
        for f in headers {
            guard HTTPText.isToken(f.name) else { throw HTTPRequestError("the field name \"\(HTTPText.printable(f.name.utf8))\" is not a token") }
            guard !HTTPText.equalsIgnoringCase(f.name, "Host"), !HTTPText.equalsIgnoringCase(f.name, "Content-Length") else {
                throw HTTPRequestError("\(f.name) is written by the request itself")
            }
            try Self.checkValue(f.name, f.value)
            out += Array("\(f.name): \(f.value)\r\n".utf8)
        }
        if !body.isEmpty || HTTPText.equalsIgnoringCase(method, "POST") || HTTPText.equalsIgnoringCase(method, "PUT") {
            out += Array("Content-Length: \(body.count)\r\n".utf8)
        }
        out += [0x0D, 0x0A]
        out += body
        return out
    }

    private static func checkValue(_ name: String, _ value: String) throws(HTTPRequestError) {
        if value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            throw HTTPRequestError("the value of \(name) has a control character (CR, LF or NUL would split the request)")
        }
    }

    static func isSecret(_ name: String) -> Bool {
        HTTPText.equalsIgnoringCase(name, "Authorization") || HTTPText.equalsIgnoringCase(name, "Proxy-Authorization")
            || HTTPText.equalsIgnoringCase(name, "Cookie")
    }

    /// The request line and fields, credentials replaced by `<redacted>`.
    public var description: String {
        var s = "\(method) \(target) HTTP/1.1; Host: \(host)"
        for f in headers { s += "; \(f.name): " + (Self.isSecret(f.name) ? "<redacted>" : f.value) }
        if !body.isEmpty { s += "; \(body.count) body bytes" }
        return HTTPText.printable(s.utf8, limit: 1024)
    }

    public var debugDescription: String { "HTTPRequest(\(description))" }
}
