/// A TLS failure, with mbedTLS's own message where there is one.
public struct TLSError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The library could not be set up (bad CA file, bad key...).
        case configuration
        /// The handshake failed (protocol error, no common cipher, alert from the peer).
        case handshake
        /// The certificate chain does not lead to a trusted CA, or is expired or revoked.
        case untrustedCertificate
        /// The certificate is valid but not for the name we connected to.
        case nameMismatch
        /// No certificate of the verified path matches a configured public-key pin.
        case pinMismatch
        /// The certificate is trusted but not for this use: its extended key usage leaves out
        /// serverAuth, or its key usage does not allow what the cipher suite needs.
        case certificateUsage
        /// Reading or writing application data failed.
        case io
        /// The peer closed the TLS session.
        case closed
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail }
}
