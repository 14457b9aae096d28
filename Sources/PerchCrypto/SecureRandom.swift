internal import CMbedCrypto

/// Cryptographically secure random bytes from the kernel (through mbedTLS's entropy collector, which
/// reads `getrandom(2)` or `/dev/urandom`).
public enum SecureRandom {
    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var ctx = mbedtls_entropy_context()
        mbedtls_entropy_init(&ctx)
        defer { mbedtls_entropy_free(&ctx) }
        var offset = 0
        while offset < count {
            let n = min(Int(MBEDTLS_ENTROPY_BLOCK_SIZE), count - offset)
            let rc = out.withUnsafeMutableBufferPointer { buf in
                mbedtls_entropy_func(&ctx, buf.baseAddress! + offset, n)
            }
            // Failing to read the kernel's entropy source means the system is broken; nothing secure can follow.
            precondition(rc == 0, "no entropy source available (mbedtls_entropy_func returned \(rc))")
            offset += n
        }
        return out
    }

    /// A random token of printable characters (base64 of `byteCount` random bytes, without padding).
    public static func token(byteCount: Int = 12) -> String {
        var s = Base64.encode(bytes(byteCount))
        while s.last == "=" { s.removeLast() }
        return s
    }
}

/// Overwrites a buffer with zeros in a way the optimizer keeps (for keys and passwords).
public func secureZero(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBufferPointer { buf in
        if let base = buf.baseAddress { mbedtls_platform_zeroize(base, buf.count) }
    }
}
