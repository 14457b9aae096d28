internal import CLinux
internal import CMbedCrypto
internal import Glibc

/// Cryptographically secure random bytes from the kernel, by `getrandom(2)`: one system call, cheap
/// enough for the masking key of every WebSocket frame. (mbedTLS's entropy collector, used before,
/// set up a context per call that ran HAVEGE's timing loops in Debian's build: most of the CPU of a
/// WebSocket session under load.)
public enum SecureRandom {
    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = out.withUnsafeMutableBytes { buf in
                getrandom(buf.baseAddress! + offset, count - offset, 0)
            }
            if n < 0 {
                // Interrupted by a signal: again. Anything else means the system is broken; nothing
                // secure can follow.
                if errno == EINTR { continue }
                preconditionFailure("no entropy source available (getrandom failed with errno \(errno))")
            }
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
