public import XMPPAddress
public import XMPPCore

/// What negotiation established.
public struct NegotiatedSession: Sendable, Hashable {
    /// The full JID the server bound.
    public var jid: JID
    /// The server's stream id.
    public var streamID: String?
    /// The SASL mechanism used.
    public var mechanism: String
    /// Whether the stream is encrypted.
    public var tls: Bool
    /// The stream features offered after binding (e.g. XEP-0198 stream management), for later use.
    public var features: XMLElement
}
