public import PerchIO

/// A host and port to try, and whether it speaks direct TLS (XEP-0368) or starts in the clear.
public struct ServerCandidate: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var directTLS: Bool

    public init(host: String, port: Int, directTLS: Bool) {
        self.host = host
        self.port = port
        self.directTLS = directTLS
    }

    public var description: String { "\(host):\(port)\(directTLS ? " (direct TLS)" : "")" }

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
