public import XMPPCore

/// The attributes of a received `<stream:stream>` header (RFC 6120 §4.7).
public struct StreamOpen: Sendable, Hashable {
    public var id: String?
    public var from: String?
    public var to: String?
    public var version: String?
    public var lang: String?
    /// The default namespace declared on the stream header (`jabber:client` for a client stream).
    public var contentNamespace: String?

    public init(id: String? = nil, from: String? = nil, to: String? = nil, version: String? = nil, lang: String? = nil, contentNamespace: String? = nil) {
        self.id = id
        self.from = from
        self.to = to
        self.version = version
        self.lang = lang
        self.contentNamespace = contentNamespace
    }
}

/// What the stream parser reports.
public enum XMLStreamEvent: Sendable, Hashable {
    /// The peer's stream header was read.
    case streamOpened(StreamOpen)
    /// A complete first-level element (a stanza, or a negotiation element such as `<stream:features/>`).
    case element(XMLElement)
    /// A complete first-level element that crossed a per-stanza limit (size, depth, attributes): it was
    /// skipped, not built, and the stream goes on. What was kept of its tag says who sent what.
    case oversized(OversizedStanza)
    /// The peer closed its stream with `</stream:stream>`.
    case streamClosed
}
