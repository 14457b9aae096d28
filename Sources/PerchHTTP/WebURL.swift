internal import Glibc

/// Why a URL was refused.
public struct WebURLError: Error, Sendable, Hashable, CustomStringConvertible {
    public let url: String
    public let detail: String
    public init(_ url: String, _ detail: String) {
        self.url = url
        self.detail = detail
    }
    public var description: String { "\"\(HTTPText.printable(url.utf8, limit: 200))\": \(detail)" }
}

/// A ws, wss, http or https URL (RFC 3986, RFC 6455 §3): what a transport needs to connect and to
/// write the request line and Host field.
///
/// Refused: other schemes, userinfo (`user:pass@`: credentials do not belong in a URL that gets
/// logged; proxy credentials have their own settings), fragments, empty hosts, percent-encoded or
/// non-ASCII hosts (write the A-label), IPv6 zone identifiers, port 0 or past 65535.
public struct WebURL: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable {
        case ws, wss, http, https

        /// TLS (wss, https).
        public var isSecure: Bool { self == .wss || self == .https }
        public var defaultPort: UInt16 { isSecure ? 443 : 80 }
    }

    public var scheme: Scheme
    /// The host, lowercased, without brackets for an IPv6 literal.
    public var host: String
    public var port: UInt16
    /// The request target: path and query, `/` at least.
    public var target: String
    public var isIPv6Literal: Bool

    /// The Host field (RFC 9110 §7.2): the port only when it is not the scheme's default.
    public var hostField: String {
        let h = isIPv6Literal ? "[\(host)]" : host
        return port == scheme.defaultPort ? h : "\(h):\(port)"
    }

    /// `host:port` with brackets for IPv6 (the authority of a CONNECT request).
    public var authority: String { (isIPv6Literal ? "[\(host)]" : host) + ":\(port)" }

    /// localhost, 127.0.0.0/8 or ::1: the only hosts plain ws/http is accepted for by default.
    public var isLoopback: Bool {
        if host == "localhost" || host == "::1" { return true }
        if !isIPv6Literal, host.utf8.first == UInt8(ascii: "1") {
            var addr = in_addr()
            if inet_pton(AF_INET, host, &addr) == 1 { return UInt32(bigEndian: addr.s_addr) >> 24 == 127 }
        }
        return false
    }

    public var description: String { "\(scheme.rawValue)://\(isIPv6Literal ? "[\(host)]" : host):\(port)\(target)" }

    public init(scheme: Scheme, host: String, port: UInt16? = nil, target: String = "/", isIPv6Literal: Bool = false) {
        self.scheme = scheme
        self.host = host
        self.port = port ?? scheme.defaultPort
        self.target = target
        self.isIPv6Literal = isIPv6Literal
    }

    public static func parse(_ text: String) throws(WebURLError) -> WebURL {
        let u = Array(text.utf8)
        guard u.count <= 2048 else { throw WebURLError(text, "longer than 2048 bytes") }
        if let bad = u.firstIndex(where: { $0 <= 0x20 || $0 >= 0x7F }) {
            throw WebURLError(text, "byte \(HTTPText.printable([u[bad]])) at \(bad) (a URL is printable ASCII without spaces)")
        }
        guard let colon = u.firstIndex(of: UInt8(ascii: ":")), u.count >= colon + 3, u[colon + 1] == UInt8(ascii: "/"), u[colon + 2] == UInt8(ascii: "/")
        else { throw WebURLError(text, "not an absolute URL (scheme://host…)") }
        let schemeText = String(decoding: u[..<colon].map(HTTPText.lower), as: UTF8.self)
        guard let scheme = Scheme(rawValue: schemeText) else {
            throw WebURLError(text, "the scheme \"\(schemeText)\" is not one of ws, wss, http, https")
        }
        if u.contains(UInt8(ascii: "#")) { throw WebURLError(text, "has a fragment (#…), which a \(scheme.rawValue) URL must not") }
        let rest = u[(colon + 3)...]
        let authorityEnd = rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) ?? rest.endIndex
        let authority = rest[rest.startIndex..<authorityEnd]
        var target = String(decoding: rest[authorityEnd...], as: UTF8.self)
        if target.isEmpty { target = "/" } else if target.utf8.first == UInt8(ascii: "?") { target = "/" + target }
        if authority.contains(UInt8(ascii: "@")) {
            throw WebURLError(text, "has userinfo (user@ or user:password@); credentials are not accepted in a URL")
        }
        var host: ArraySlice<UInt8>
        var portText: ArraySlice<UInt8>?
        var v6 = false
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { throw WebURLError(text, "an IPv6 literal without its closing ]") }
            host = authority[(authority.startIndex + 1)..<close]
            v6 = true
            let after = authority[(close + 1)...]
            if !after.isEmpty {
                guard after.first == UInt8(ascii: ":") else { throw WebURLError(text, "text after the IPv6 literal's ]") }
                portText = after.dropFirst()
            }
            if host.contains(UInt8(ascii: "%")) { throw WebURLError(text, "an IPv6 zone identifier (%…) is not accepted") }
            var a6 = in6_addr()
            guard inet_pton(AF_INET6, String(decoding: host, as: UTF8.self), &a6) == 1 else {
                throw WebURLError(text, "\"\(String(decoding: host, as: UTF8.self))\" is not an IPv6 address")
            }
        } else {
            if let c = authority.firstIndex(of: UInt8(ascii: ":")) {
                host = authority[authority.startIndex..<c]
                portText = authority[(c + 1)...]
            } else {
                host = authority
            }
            guard !host.isEmpty else { throw WebURLError(text, "no host") }
            guard host.count <= 253 else { throw WebURLError(text, "the host is longer than 253 bytes") }
            let hostByte: (UInt8) -> Bool = {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)
                    || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
            }
            if let bad = host.firstIndex(where: { !hostByte($0) }) {
                throw WebURLError(text, "byte \(HTTPText.printable([host[bad]])) in the host (letters, digits, '-', '.', '_'; write international names as A-labels, xn--…)")
            }
        }
        var port = scheme.defaultPort
        if let p = portText {
            guard !p.isEmpty, p.count <= 5, p.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(String(decoding: p, as: UTF8.self)), n >= 1, n <= 65535 else {
                throw WebURLError(text, "the port \"\(String(decoding: p, as: UTF8.self))\" is not a number from 1 to 65535")
            }
            port = UInt16(n)
        }
        let hostText = String(decoding: host.map(HTTPText.lower), as: UTF8.self)
        return WebURL(scheme: scheme, host: hostText, port: port, target: target, isIPv6Literal: v6)
    }
}
