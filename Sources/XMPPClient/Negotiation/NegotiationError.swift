public import XMPPCore

/// Why stream negotiation failed, sorted by what the daemon should do next.
public struct NegotiationError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The credentials were refused: retrying soon will not help, the operator must act.
        case authentication
        /// The server cannot be used securely as configured (no STARTTLS, no acceptable mechanism, a
        /// server signature that does not verify): retrying soon will not help either.
        case security
        /// The server ended the stream with a stream error.
        case stream(StreamError)
        /// The server broke the protocol or sent something unexpected; a retry may work.
        case protocolViolation
        /// The resource is taken and the server would not give us another.
        case resourceConflict
    }

    public let kind: Kind
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { detail }
}
