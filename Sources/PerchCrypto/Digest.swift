internal import CMbedCrypto

/// The hash functions Perch needs: SCRAM (RFC 5802/7677), SPKI pins and channel bindings.
public enum DigestAlgorithm: Sendable, Hashable {
    case sha1
    case sha256
    case sha384
    case sha512

    /// Output length in bytes.
    public var size: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        }
    }

    var mdType: mbedtls_md_type_t {
        switch self {
        case .sha1: MBEDTLS_MD_SHA1
        case .sha256: MBEDTLS_MD_SHA256
        case .sha384: MBEDTLS_MD_SHA384
        case .sha512: MBEDTLS_MD_SHA512
        }
    }

    var info: OpaquePointer {
        // mbedtls_md_info_from_type only returns nil for algorithms compiled out; Debian's build has all four.
        guard let info = mbedtls_md_info_from_type(mdType) else {
            preconditionFailure("mbedTLS was built without \(self)")
        }
        return info
    }

    /// The digest of `data`.
    public func hash(_ data: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        let bytes = Array(data)
        bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                _ = mbedtls_md(info, input.baseAddress, input.count, output.baseAddress)
            }
        }
        return out
    }

    /// HMAC (RFC 2104) of `data` under `key`.
    public func hmac(key: some Collection<UInt8>, _ data: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        let k = Array(key)
        let d = Array(data)
        k.withUnsafeBufferPointer { kb in
            d.withUnsafeBufferPointer { db in
                out.withUnsafeMutableBufferPointer { ob in
                    _ = mbedtls_md_hmac(info, kb.baseAddress, kb.count, db.baseAddress, db.count, ob.baseAddress)
                }
            }
        }
        return out
    }

    /// PBKDF2 (RFC 8018 §5.2) with HMAC over this digest, producing `size` bytes: SCRAM's Hi() function.
    public func pbkdf2(password: some Collection<UInt8>, salt: some Collection<UInt8>, iterations: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        var ctx = mbedtls_md_context_t()
        mbedtls_md_init(&ctx)
        defer { mbedtls_md_free(&ctx) }
        guard mbedtls_md_setup(&ctx, info, 1) == 0 else { preconditionFailure("mbedtls_md_setup failed") }
        let p = Array(password)
        let s = Array(salt)
        p.withUnsafeBufferPointer { pb in
            s.withUnsafeBufferPointer { sb in
                out.withUnsafeMutableBufferPointer { ob in
                    _ = mbedtls_pkcs5_pbkdf2_hmac(
                        &ctx, pb.baseAddress, pb.count, sb.baseAddress, sb.count, UInt32(clamping: iterations),
                        UInt32(ob.count), ob.baseAddress)
                }
            }
        }
        return out
    }
}
