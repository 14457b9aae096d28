public import XMPPCore

/// What a handler registered with ``XMPPClient/handleIQ(namespace:_:)`` did with an iq request. An iq
/// get or set gets exactly one answer (RFC 6120 §8.2.3), so the handler says which way it comes.
public enum IQHandling: Sendable {
    /// Send this reply (a result or an error) now.
    case reply(XMLElement)
    /// The handler sends the reply itself, through ``XMPPClient/send(_:)``: it has already, or it will
    /// once the work it started is done. Nothing more is sent for the request.
    case handled
    /// Not a request this handler serves: it gets `service-unavailable`.
    case unhandled
}
