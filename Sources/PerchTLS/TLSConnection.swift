internal import CMbedTLS
import PerchCrypto

/// One TLS session over memory buffers: the caller moves bytes between this object and the socket.
///
/// Owns mbedTLS's `mbedtls_ssl_context` and `mbedtls_ssl_config` (plus its RNG and, for the server role,
/// its certificate and key). Ciphertext from the network goes in through ``receive(_:)``, which returns
/// the plaintext it could decrypt; plaintext goes out through ``send(_:)``; whatever mbedTLS wants to put
/// on the wire is collected by ``takeOutgoing()``. Because all decrypted data is drained on every call,
/// nothing can sit inside the TLS layer while the event loop waits on the socket.
///
/// The client runs the handshake with verification deferred, then checks the peer's chain against the
/// trust store, its name against the reference identifiers, its (extended) key usage against what a TLS
/// server with the negotiated suite needs, and any SPKI pins against the verified path, before reporting the
/// handshake complete, so no application data is ever sent to an unverified peer.
///
/// Not thread-safe: use from one thread.
public final class TLSConnection {
    public enum Role: Sendable { case client(TLSConfiguration), server(TLSServerIdentity) }

    /// The state after a call.
    public enum HandshakeState: Sendable, Equatable { case inProgress, established }

    private let role: Role
    private let ssl: UnsafeMutablePointer<mbedtls_ssl_context>
    private let conf: UnsafeMutablePointer<mbedtls_ssl_config>
    private let entropy: UnsafeMutablePointer<mbedtls_entropy_context>
    private let drbg: UnsafeMutablePointer<mbedtls_ctr_drbg_context>
    private var ownCert: UnsafeMutablePointer<mbedtls_x509_crt>?
    private var ownKey: UnsafeMutablePointer<mbedtls_pk_context>?
    private var alpnList: UnsafeMutablePointer<UnsafePointer<CChar>?>?
    fileprivate let io = BIO()
    public private(set) var state: HandshakeState = .inProgress
    public private(set) var peerClosed = false
    private var failed: TLSError?
    /// Channel bindings captured when the handshake completed (RFC 5929), best first.
    public private(set) var channelBindings: [(type: String, data: [UInt8])] = []

    public init(role: Role) throws(TLSError) {
        self.role = role
        ssl = .allocate(capacity: 1)
        conf = .allocate(capacity: 1)
        entropy = .allocate(capacity: 1)
        drbg = .allocate(capacity: 1)
        mbedtls_ssl_init(ssl)
        mbedtls_ssl_config_init(conf)
        mbedtls_entropy_init(entropy)
        mbedtls_ctr_drbg_init(drbg)
        try setUp()
    }

    deinit {
        mbedtls_ssl_free(ssl)
        mbedtls_ssl_config_free(conf)
        mbedtls_ctr_drbg_free(drbg)
        mbedtls_entropy_free(entropy)
        if let ownCert { mbedtls_x509_crt_free(ownCert); ownCert.deallocate() }
        if let ownKey { mbedtls_pk_free(ownKey); ownKey.deallocate() }
        if let alpnList {
            var i = 0
            while let p = alpnList[i] { free(UnsafeMutablePointer(mutating: p)); i += 1 }
            alpnList.deallocate()
        }
        ssl.deallocate()
        conf.deallocate()
        entropy.deallocate()
        drbg.deallocate()
    }

    private func setUp() throws(TLSError) {
        let personal = Array("perch".utf8)
        try check(mbedtls_ctr_drbg_seed(drbg, mbedtls_entropy_func, entropy, personal, personal.count), .configuration, "seeding the RNG")
        let endpoint: Int32
        switch role {
        case .client: endpoint = MBEDTLS_SSL_IS_CLIENT
        case .server: endpoint = MBEDTLS_SSL_IS_SERVER
        }
        try check(mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT), .configuration, "TLS defaults")
        mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, drbg)
        // TLS 1.2 is the newest mbedTLS 2.28 speaks; nothing older is acceptable.
        mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
        mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED)
        switch role {
        case .client(let config):
            // Verification happens in verifyPeer() once the handshake is done, against a trust store
            // loaded only for that moment (the Debian bundle costs hundreds of KB while parsed).
            mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_OPTIONAL)
            if !config.alpn.isEmpty {
                let list = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: config.alpn.count + 1)
                for (i, p) in config.alpn.enumerated() { list[i] = UnsafePointer(strdup(p)) }
                list[config.alpn.count] = nil
                alpnList = list
                try check(mbedtls_ssl_conf_alpn_protocols(conf, list), .configuration, "ALPN")
            }
        case .server(let identity):
            mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE)
            let cert = UnsafeMutablePointer<mbedtls_x509_crt>.allocate(capacity: 1)
            mbedtls_x509_crt_init(cert)
            ownCert = cert
            let key = UnsafeMutablePointer<mbedtls_pk_context>.allocate(capacity: 1)
            mbedtls_pk_init(key)
            ownKey = key
            var certBytes = Array(identity.certificateChainPEM.utf8) + [0]
            try check(mbedtls_x509_crt_parse(cert, &certBytes, certBytes.count), .configuration, "parsing the server certificate")
            var keyBytes = Array(identity.privateKeyPEM.utf8) + [0]
            try check(mbedtls_pk_parse_key(key, &keyBytes, keyBytes.count, nil, 0), .configuration, "parsing the server key")
            try check(mbedtls_ssl_conf_own_cert(conf, cert, key), .configuration, "server certificate")
        }
        try check(mbedtls_ssl_setup(ssl, conf), .configuration, "TLS session setup")
        if case .client(let config) = role {
            try check(mbedtls_ssl_set_hostname(ssl, config.serverName), .configuration, "server name")
        }
        let userData = Unmanaged.passUnretained(io).toOpaque()
        mbedtls_ssl_set_bio(ssl, userData, { ctx, buf, len in
            Unmanaged<BIO>.fromOpaque(ctx!).takeUnretainedValue().write(buf!, len)
        }, { ctx, buf, len in
            Unmanaged<BIO>.fromOpaque(ctx!).takeUnretainedValue().read(buf!, len)
        }, nil)
    }

    /// Starts (or continues) the handshake. The client calls this once to produce its ClientHello.
    @discardableResult
    public func startHandshake() throws(TLSError) -> HandshakeState {
        try advance()
        return state
    }

    /// Feeds ciphertext from the network. Returns all application data that could be decrypted.
    public func receive(_ ciphertext: UnsafeRawBufferPointer) throws(TLSError) -> [UInt8] {
        if let failed { throw failed }
        io.inbound.append(contentsOf: ciphertext)
        if state == .inProgress {
            try advance()
            if state == .inProgress { return [] }
        }
        return try drain()
    }

    /// Convenience for arrays.
    public func receive(_ ciphertext: [UInt8]) throws(TLSError) -> [UInt8] {
        let result: Result<[UInt8], TLSError> = ciphertext.withUnsafeBytes { buf in
            do throws(TLSError) { return .success(try receive(buf)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Encrypts application data; the records are then in ``takeOutgoing()``.
    public func send(_ plaintext: some Collection<UInt8>) throws(TLSError) {
        if let failed { throw failed }
        guard state == .established else { throw TLSError(.io, "application data before the TLS handshake finished") }
        let bytes = Array(plaintext)
        var offset = 0
        while offset < bytes.count {
            let rc = bytes.withUnsafeBufferPointer { mbedtls_ssl_write(ssl, $0.baseAddress! + offset, $0.count - offset) }
            if rc < 0 { throw fail(TLSError(.io, "TLS write failed: \(Self.describe(rc))")) }
            offset += Int(rc)
        }
    }

    /// Takes the bytes that must be written to the network.
    public func takeOutgoing() -> [UInt8] {
        defer { io.outbound.removeAll(keepingCapacity: true) }
        return io.outbound
    }

    /// True when there are bytes waiting in ``takeOutgoing()``.
    public var hasOutgoing: Bool { !io.outbound.isEmpty }

    /// Queues a close_notify alert.
    public func close() {
        _ = mbedtls_ssl_close_notify(ssl)
    }

    /// The ALPN protocol the server chose, if any.
    public var negotiatedALPN: String? {
        mbedtls_ssl_get_alpn_protocol(ssl).map { String(cString: $0) }
    }

    /// The cipher suite in use, for logs.
    public var cipherSuite: String { mbedtls_ssl_get_ciphersuite(ssl).map { String(cString: $0) } ?? "none" }

    // MARK: - Internals

    private func advance() throws(TLSError) {
        if let failed { throw failed }
        guard state == .inProgress else { return }
        let rc = mbedtls_ssl_handshake(ssl)
        if rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE { return }
        if rc != 0 { throw fail(TLSError(.handshake, "TLS handshake failed: \(Self.describe(rc))")) }
        if case .client(let config) = role { try verifyPeer(config) }
        captureChannelBindings()
        state = .established
    }

    private func drain() throws(TLSError) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let rc = chunk.withUnsafeMutableBufferPointer { mbedtls_ssl_read(ssl, $0.baseAddress, $0.count) }
            if rc > 0 {
                out.append(contentsOf: chunk[0..<Int(rc)])
                continue
            }
            if rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE { break }
            if rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == 0 {
                peerClosed = true
                break
            }
            throw fail(TLSError(.io, "TLS read failed: \(Self.describe(rc))"))
        }
        return out
    }

    private func verifyPeer(_ config: TLSConfiguration) throws(TLSError) {
        guard let peer = mbedtls_ssl_get_peer_cert(ssl) else {
            throw fail(TLSError(.untrustedCertificate, "the server presented no certificate"))
        }
        let chain = UnsafeMutablePointer(mutating: peer)
        // The system bundle's CAs that issued a presented certificate; all of them only if that fails.
        let issuers = try TrustStore(systemBundle: config.systemTrustStore, extraFile: config.extraCAFile, issuersOf: peer)
        let filtered = issuers.isSubset
        var (rc, flags, path) = Self.verify(chain, against: issuers)
        if rc != 0 || flags != 0, filtered {
            (rc, flags, path) = Self.verify(chain, against: try TrustStore(systemBundle: config.systemTrustStore, extraFile: config.extraCAFile))
        }
        if rc != 0 || flags != 0 {
            var info = [CChar](repeating: 0, count: 512)
            _ = mbedtls_x509_crt_verify_info(&info, info.count, "", flags)
            let reasons = cString(info).split(separator: "\n").joined(separator: "; ")
            throw fail(TLSError(.untrustedCertificate, "the server's certificate is not trusted: \(reasons.isEmpty ? Self.describe(rc) : reasons)"))
        }
        let names = Self.names(of: chain)
        guard CertificateIdentity.matches(dnsNames: names.dns, commonNames: names.common, referenceNames: config.referenceNames) else {
            let presented = (names.dns.isEmpty ? names.common : names.dns).joined(separator: ", ")
            throw fail(TLSError(.nameMismatch, "the server's certificate is for \(presented.isEmpty ? "no name" : presented), not \(config.referenceNames.joined(separator: " or "))"))
        }
        if let problem = Self.usageProblem(chain, requiredKeyUsage: CMbedTLS_required_key_usage(ssl), suite: cipherSuite) {
            throw fail(TLSError(.certificateUsage, "the server's certificate is not for a TLS server: \(problem)"))
        }
        if !config.spkiPins.isEmpty {
            let matched = path.spkiDigests.contains { digest in digest.map { config.spkiPins.contains($0) } ?? false }
            if !matched {
                let actual = Self.spkiDigest(chain).map { Base64.encode($0) } ?? "unknown"
                throw fail(TLSError(.pinMismatch, "no certificate of the verified chain matches a configured pin (the server's key is sha256/\(actual))"))
            }
        }
    }

    /// Verifies a presented chain against a trust store, which it releases.
    private static func verify(_ chain: UnsafeMutablePointer<mbedtls_x509_crt>, against trust: TrustStore) -> (rc: Int32, flags: UInt32, path: VerifiedPath) {
        defer { trust.release() }
        var flags: UInt32 = 0
        // mbedTLS calls back once for each certificate of the path it built and verified, from the
        // trust anchor down to the server's certificate: that path, not what the server presented
        // (which may carry any certificate it likes), is what pins are matched against.
        let path = VerifiedPath()
        let rc = withExtendedLifetime(path) {
            mbedtls_x509_crt_verify(chain, trust.chain, nil, nil, &flags, { context, crt, _, _ in
                guard let context, let crt else { return 0 }
                Unmanaged<VerifiedPath>.fromOpaque(context).takeUnretainedValue().spkiDigests.append(TLSConnection.spkiDigest(crt))
                return 0
            }, Unmanaged.passUnretained(path).toOpaque())
        }
        return (rc, flags, path)
    }

    /// What forbids the certificate to authenticate a TLS server with this cipher suite, or nil:
    /// an extended key usage without serverAuth (none at all allows any use), or a key usage that
    /// leaves out what the key exchange does with the key.
    static func usageProblem(_ cert: UnsafePointer<mbedtls_x509_crt>, requiredKeyUsage: Int32, suite: String) -> String? {
        if CMbedTLS_crt_check_server_auth(cert) != 0 {
            return "its extended key usage does not include serverAuth (a certificate for TLS clients, code signing or the like)"
        }
        if requiredKeyUsage < 0 { return "the cipher suite \(suite) is unknown" }
        if requiredKeyUsage > 0, mbedtls_x509_crt_check_key_usage(cert, UInt32(requiredKeyUsage)) != 0 {
            let needed: String
            switch requiredKeyUsage {
            case MBEDTLS_X509_KU_DIGITAL_SIGNATURE: needed = "digitalSignature"
            case MBEDTLS_X509_KU_KEY_ENCIPHERMENT: needed = "keyEncipherment"
            case MBEDTLS_X509_KU_KEY_AGREEMENT: needed = "keyAgreement"
            default: needed = "0x\(String(requiredKeyUsage, radix: 16))"
            }
            return "its key usage does not allow \(needed), which the cipher suite \(suite) needs"
        }
        return nil
    }

    private func captureChannelBindings() {
        var bindings: [(String, [UInt8])] = []
        guard case .client = role else { return }
        var unique = [UInt8](repeating: 0, count: 64)
        let n = CMbedTLS_tls_unique(ssl, &unique, unique.count)
        if let peer = mbedtls_ssl_get_peer_cert(ssl) {
            // RFC 5929 §4.1: the certificate's signature hash, except MD5 and SHA-1 which become SHA-256.
            var len = 0
            if let raw = CMbedTLS_crt_raw(peer, &len) {
                let der = Array(UnsafeBufferPointer(start: raw, count: len))
                let md = mbedtls_md_type_t(rawValue: UInt32(CMbedTLS_crt_sig_md(peer)))
                let algorithm: DigestAlgorithm = md == MBEDTLS_MD_SHA384 ? .sha384 : md == MBEDTLS_MD_SHA512 ? .sha512 : .sha256
                bindings.append(("tls-server-end-point", algorithm.hash(der)))
            }
        }
        if n > 0 { bindings.insert(("tls-unique", Array(unique[0..<n])), at: 0) }
        channelBindings = bindings.map { (type: $0.0, data: $0.1) }
    }

    static func names(of cert: UnsafePointer<mbedtls_x509_crt>) -> (dns: [String], common: [String]) {
        func collect(_ fn: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, UnsafeMutablePointer<Int>, Int) -> Int) -> [String] {
            var ptrs = [UnsafePointer<UInt8>?](repeating: nil, count: 64)
            var lens = [Int](repeating: 0, count: 64)
            let n = fn(&ptrs, &lens, 64)
            return (0..<n).compactMap { i in ptrs[i].map { String(decoding: UnsafeBufferPointer(start: $0, count: lens[i]), as: UTF8.self) } }
        }
        let dns = collect { CMbedTLS_crt_dns_names(cert, $0, $1, $2) }
        let common = collect { CMbedTLS_crt_common_names(cert, $0, $1, $2) }
        return (dns, common)
    }

    /// SHA-256 of the certificate's SubjectPublicKeyInfo DER.
    static func spkiDigest(_ cert: UnsafeMutablePointer<mbedtls_x509_crt>) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBufferPointer { mbedtls_pk_write_pubkey_der(CMbedTLS_crt_pk(cert), $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return DigestAlgorithm.sha256.hash(buf[(buf.count - Int(n))...])
    }

    /// The SPKI pins of the certificates in a PEM text, in order (for tools and tests that derive pins).
    public static func spkiDigests(ofPEM pem: String) throws(TLSError) -> [[UInt8]] {
        let chain = UnsafeMutablePointer<mbedtls_x509_crt>.allocate(capacity: 1)
        mbedtls_x509_crt_init(chain)
        defer { mbedtls_x509_crt_free(chain); chain.deallocate() }
        var bytes = Array(pem.utf8) + [0]
        let rc = mbedtls_x509_crt_parse(chain, &bytes, bytes.count)
        if rc != 0 { throw TLSError(.configuration, "parsing certificates: \(describe(rc))") }
        var out: [[UInt8]] = []
        forEachCertificate(in: chain) { c in
            if let d = spkiDigest(UnsafeMutablePointer(mutating: c)) { out.append(d) }
        }
        return out
    }

    private func fail(_ error: TLSError) -> TLSError {
        failed = error
        return error
    }

    private func check(_ rc: Int32, _ code: TLSError.Code, _ what: String) throws(TLSError) {
        if rc != 0 { throw TLSError(code, "\(what): \(Self.describe(rc))") }
    }

    static func describe(_ rc: Int32) -> String {
        var buf = [CChar](repeating: 0, count: 256)
        mbedtls_strerror(rc, &buf, buf.count)
        return "\(cString(buf)) (-0x\(String(-rc, radix: 16)))"
    }
}

@available(*, unavailable)
extension TLSConnection: Sendable {}

/// The SPKI digests of the certificates on the path verification built, filled by the verify callback.
final class VerifiedPath {
    var spkiDigests: [[UInt8]?] = []
}

/// The memory "socket" under mbedTLS: its send callback appends to `outbound`, its receive callback
/// takes from `inbound`.
final class BIO {
    var inbound: [UInt8] = []
    var inboundOffset = 0
    var outbound: [UInt8] = []

    func write(_ buf: UnsafePointer<UInt8>, _ len: Int) -> Int32 {
        outbound.append(contentsOf: UnsafeBufferPointer(start: buf, count: len))
        return Int32(len)
    }

    func read(_ buf: UnsafeMutablePointer<UInt8>, _ len: Int) -> Int32 {
        let available = inbound.count - inboundOffset
        guard available > 0 else { return MBEDTLS_ERR_SSL_WANT_READ }
        let n = min(len, available)
        inbound.withUnsafeBufferPointer { src in buf.update(from: src.baseAddress! + inboundOffset, count: n) }
        inboundOffset += n
        if inboundOffset == inbound.count {
            inbound.removeAll(keepingCapacity: true)
            inboundOffset = 0
        }
        return Int32(n)
    }
}

/// A NUL-terminated C buffer as a String.
func cString(_ buf: [CChar]) -> String {
    String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
