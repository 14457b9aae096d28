public import PerchHTTP
public import PerchIO

/// A host and port to try, whether TLS starts with the first byte, and the framing spoken there.
public struct ServerCandidate: Hashable, Sendable, CustomStringConvertible {
    /// How the XMPP stream is carried.
    public enum Framing: Hashable, Sendable {
        /// RFC 6120: the XML stream itself (STARTTLS, or direct TLS per XEP-0368).
        case xmpp
        /// RFC 7395: one element per WebSocket message, at this URL.
        case websocket(WebURL)
        /// XEP-0124/0206: bodies POSTed to this URL.
        case bosh(WebURL)

        /// For the log.
        public var name: String {
            switch self {
            case .xmpp: "XMPP"
            case .websocket: "WebSocket"
            case .bosh: "BOSH"
            }
        }
    }

    public var host: String
    public var port: Int
    /// TLS from the first byte: direct TLS, `wss`, `https`.
    public var directTLS: Bool
    public var framing: Framing

    public init(host: String, port: Int, directTLS: Bool) {
        self.host = host
        self.port = port
        self.directTLS = directTLS
        self.framing = .xmpp
    }

    /// The WebSocket or BOSH endpoint at `url`.
    public init(websocket url: WebURL) {
        self.host = url.host
        self.port = Int(url.port)
        self.directTLS = url.scheme.isSecure
        self.framing = .websocket(url)
    }

    public init(bosh url: WebURL) {
        self.host = url.host
        self.port = Int(url.port)
        self.directTLS = url.scheme.isSecure
        self.framing = .bosh(url)
    }

    /// The same kind of endpoint at another URL (a `see-other-uri`), if `url` can carry it: a
    /// WebSocket candidate goes to a ws/wss URL, BOSH to http/https; never from TLS to the clear.
    public func redirected(to url: WebURL) -> ServerCandidate? {
        if directTLS && !url.scheme.isSecure { return nil }
        switch (framing, url.scheme) {
        case (.websocket, .ws), (.websocket, .wss): return ServerCandidate(websocket: url)
        case (.bosh, .http), (.bosh, .https): return ServerCandidate(bosh: url)
        default: return nil
        }
    }

    public var description: String {
        switch framing {
        case .xmpp: return "\(host):\(port)\(directTLS ? " (direct TLS)" : "")"
        case .websocket(let url): return "\(url) (WebSocket)"
        case .bosh(let url): return "\(url) (BOSH)"
        }
    }

    /// The connection attempts for a domain from its SRV answers (RFC 6120 §3.2.1, XEP-0368 §3).
    ///
    /// `_xmpp-client._tcp` and `_xmpps-client._tcp` records are merged into one priority space. A single
    /// record with target "." means the service is decidedly not available there. Without any record,
    /// the domain itself on the default port is tried.
    public static func fromSRV<G: RandomNumberGenerator>(domain: String, starttls: DNSAnswer?, directTLS: DNSAnswer?, using rng: inout G) -> [ServerCandidate] {
        var tagged: [(SRVRecord, Bool)] = []
        var decidedlyAbsent = false
        for (answer, direct) in [(starttls, false), (directTLS, true)] {
            guard case .records(let records)? = answer else { continue }
            if records.count == 1, records[0].target.isEmpty || records[0].target == "." {
                decidedlyAbsent = true
                continue
            }
            tagged += records.filter { !$0.target.isEmpty }.map { ($0, direct) }
        }
        if tagged.isEmpty {
            if decidedlyAbsent { return [] }
            var fallback: [ServerCandidate] = []
            if starttls != nil { fallback.append(ServerCandidate(host: domain, port: 5222, directTLS: false)) }
            if directTLS != nil && starttls == nil { fallback.append(ServerCandidate(host: domain, port: 5223, directTLS: true)) }
            return fallback
        }
        // Order by priority/weight over the merged set; the tag travels with each record.
        let keyed = tagged.enumerated().map { i, pair in
            SRVRecord(priority: pair.0.priority, weight: pair.0.weight, port: UInt16(i), target: pair.0.target)
        }
        return SRVRecord.order(keyed, using: &rng).map { r in
            let (original, direct) = tagged[Int(r.port)]
            return ServerCandidate(host: original.target, port: Int(original.port), directTLS: direct)
        }
    }
}
