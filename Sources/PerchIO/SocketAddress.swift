import Glibc

/// An IPv4 or IPv6 socket address, copied out of `sockaddr_storage` so it is a plain value.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    let storage: [UInt8]
    public let family: Int32

    init(_ addr: UnsafePointer<sockaddr>, length: socklen_t) {
        storage = Array(UnsafeRawBufferPointer(start: addr, count: Int(length)))
        family = Int32(addr.pointee.sa_family)
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        storage.withUnsafeBytes { body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) }
    }

    /// The numeric host, without the port.
    public var host: String {
        var buf = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        _ = withSockaddr { getnameinfo($0, $1, &buf, socklen_t(buf.count), nil, 0, NI_NUMERICHOST) }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var port: Int {
        storage.withUnsafeBytes { raw -> Int in
            if family == AF_INET6 {
                return Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            }
            return Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
        }
    }

    /// True for 127.0.0.0/8 and ::1 (and IPv4-mapped loopback).
    public var isLoopback: Bool {
        storage.withUnsafeBytes { raw -> Bool in
            if family == AF_INET {
                let a = UInt32(bigEndian: raw.load(as: sockaddr_in.self).sin_addr.s_addr)
                return a >> 24 == 127
            }
            if family == AF_INET6 {
                let a = raw.load(as: sockaddr_in6.self).sin6_addr
                let bytes = withUnsafeBytes(of: a) { Array($0) }
                if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
                if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF { return bytes[12] == 127 }
            }
            return false
        }
    }

    public var description: String { family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Host name resolution through the C library (so /etc/hosts, mDNS `.local` names and nsswitch work as
/// the operator expects). `getaddrinfo` blocks, so callers run it with ``EventLoop/background(_:completion:)``.
public enum HostResolver {
    public static func resolve(host: String, port: Int) -> Result<[SocketAddress], IOError> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        hints.ai_flags = AI_ADDRCONFIG
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0 else {
            return .failure(IOError(call: "getaddrinfo(\(host))", code: rc, message: String(cString: gai_strerror(rc))))
        }
        defer { freeaddrinfo(result) }
        var out: [SocketAddress] = []
        var cur = result
        while let ai = cur {
            if let addr = ai.pointee.ai_addr {
                let a = SocketAddress(addr, length: ai.pointee.ai_addrlen)
                if !out.contains(a) { out.append(a) }
            }
            cur = ai.pointee.ai_next
        }
        return .success(out)
    }
}
