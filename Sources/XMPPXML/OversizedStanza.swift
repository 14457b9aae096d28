/// A first-level element that crossed one of the per-stanza ``XMLStreamLimits``: the parser stopped
/// building it at the limit, skipped the rest, and reports what it kept of the element's own tag so
/// the receiver can count it (XEP-0198), answer it (an iq request) and say who sent it.
///
/// Servers relay what senders write, so a stanza over our limits is the sender's doing, not the
/// server's: ending the stream for it would let anybody keep the device offline.
public struct OversizedStanza: Sendable, Hashable, CustomStringConvertible {
    /// Which limit it crossed.
    public enum Limit: String, Sendable, Hashable {
        case size
        case depth
        case attributes
    }

    /// The element's local name and namespace (`message` in `jabber:client`, say).
    public var name: String
    public var namespace: String
    /// Its `id`, `type`, `from` and `to` attributes, when present and no longer than a JID may be.
    public var id: String?
    public var type: String?
    public var from: String?
    public var to: String?
    public var limit: Limit
    /// The limit in words, for the log ("elements nested deeper than 64").
    public var detail: String

    public init(name: String, namespace: String, id: String? = nil, type: String? = nil, from: String? = nil, to: String? = nil, limit: Limit, detail: String) {
        self.name = name
        self.namespace = namespace
        self.id = id
        self.type = type
        self.from = from
        self.to = to
        self.limit = limit
        self.detail = detail
    }

    /// One line for the log: what and who, never the content.
    public var description: String {
        "<\(name)\(type.map { " type='\($0)'" } ?? "")> from '\(from ?? "the server")'\(id.map { " (id '\($0)')" } ?? ""): \(detail)"
    }
}
