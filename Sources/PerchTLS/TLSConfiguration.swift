/// What a TLS client checks and presents. There is deliberately no way to turn verification off.
public struct TLSConfiguration: Sendable, Hashable {
    /// The server name sent in SNI: the XMPP domain (RFC 6120 §13.7.2.1).
    public var serverName: String
    /// The names the certificate may be issued to (RFC 6125 reference identifiers): the XMPP domain, and
    /// a host the user configured explicitly (RFC 6125 §6.2.1 allows a user-chosen identifier).
    public var referenceNames: [String]
    /// The system's CA bundle (Debian's ca-certificates); nil to trust only ``extraCAFile``.
    public var systemTrustStore: String?
    /// A PEM file of extra CAs, for servers with a private CA.
    public var extraCAFile: String?
    /// SHA-256 digests of SubjectPublicKeyInfo DER. When not empty, one certificate of the verified
    /// path (the server's certificate, the intermediates verification used, or the trust anchor) must
    /// match one pin, in addition to (never instead of) normal verification. Certificates the server
    /// sent that are not on that path do not count.
    public var spkiPins: [[UInt8]]
    /// ALPN protocols to offer (`xmpp-client` for direct TLS, XEP-0368).
    public var alpn: [String]

    public static let debianCABundle = "/etc/ssl/certs/ca-certificates.crt"

    public init(serverName: String, referenceNames: [String]? = nil, systemTrustStore: String? = TLSConfiguration.debianCABundle, extraCAFile: String? = nil, spkiPins: [[UInt8]] = [], alpn: [String] = []) {
        self.serverName = serverName
        self.referenceNames = referenceNames ?? [serverName]
        self.systemTrustStore = systemTrustStore
        self.extraCAFile = extraCAFile
        self.spkiPins = spkiPins
        self.alpn = alpn
    }
}

/// A server's certificate and key, for the server role (used by tests to run both ends in memory).
public struct TLSServerIdentity: Sendable, Hashable {
    public var certificateChainPEM: String
    public var privateKeyPEM: String

    public init(certificateChainPEM: String, privateKeyPEM: String) {
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
    }
}
