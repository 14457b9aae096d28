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
    /// The stream features offered after authentication.
    public var features: XMLElement
    /// XEP-0198 state for a new session where the server enabled it; nil without stream management.
    /// Not set for a resumed session, whose state the client already holds.
    public var streamManagement: StreamManagement?
    /// True when this connection resumed an earlier session (XEP-0198 §5): no new presence, no roster.
    public var resumed = false
    /// How many of our stanzas the server handled on the earlier session, when it said (on
    /// `<resumed/>`, or on a `<failed/>` that refused the resumption).
    public var serverHandled: UInt32?
    /// True when a resumption was asked for and refused, so this is a new session.
    public var resumptionFailed = false

    public init(jid: JID, streamID: String?, mechanism: String, tls: Bool, features: XMLElement) {
        self.jid = jid
        self.streamID = streamID
        self.mechanism = mechanism
        self.tls = tls
        self.features = features
    }
}

/// What a new connection needs to resume a session (XEP-0198 §5).
public struct ResumptionRequest: Sendable, Hashable {
    public var id: String
    /// Stanzas we handled on the old session (our `h`).
    public var handled: UInt32
    /// The full JID of the old session.
    public var jid: JID

    public init(id: String, handled: UInt32, jid: JID) {
        self.id = id
        self.handled = handled
        self.jid = jid
    }
}
