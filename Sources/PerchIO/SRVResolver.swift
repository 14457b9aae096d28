import Glibc

/// SRV look-ups over UDP to the name servers in `/etc/resolv.conf`, asked again over TCP when the
/// answer comes back truncated (a domain with many SRV targets, or DNSSEC signatures, needs more than
/// a datagram). Blocking: run it with ``EventLoop/background(_:completion:)``.
public enum SRVResolver {
    /// The configured name servers (at most three, as the C resolver uses) with the timeout and attempts.
    public struct Configuration: Sendable, Hashable {
        public var servers: [String]
        public var timeoutSeconds: Int
        public var attempts: Int

        public init(servers: [String], timeoutSeconds: Int = 5, attempts: Int = 2) {
            self.servers = servers
            self.timeoutSeconds = timeoutSeconds
            self.attempts = attempts
        }

        /// Parses resolv.conf text. Without any `nameserver` line the C resolver uses the local host.
        public static func parse(_ text: String) -> Configuration {
            var servers: [String] = []
            var timeout = 5
            var attempts = 2
            for line in text.split(separator: "\n") {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard let first = words.first, !first.hasPrefix("#"), !first.hasPrefix(";") else { continue }
                if first == "nameserver", words.count > 1, servers.count < 3 { servers.append(String(words[1])) }
                if first == "options" {
                    for opt in words.dropFirst() {
                        if opt.hasPrefix("timeout:"), let v = Int(opt.dropFirst(8)) { timeout = min(max(v, 1), 30) }
                        if opt.hasPrefix("attempts:"), let v = Int(opt.dropFirst(9)) { attempts = min(max(v, 1), 5) }
                    }
                }
            }
            return Configuration(servers: servers.isEmpty ? ["127.0.0.1"] : servers, timeoutSeconds: timeout, attempts: attempts)
        }

        public static func system() -> Configuration {
            parse(readTextFile("/etc/resolv.conf") ?? "")
        }
    }

    /// Asks for `name`'s SRV records, trying each server in turn.
    public static func lookup(_ name: String, configuration: Configuration = .system(), port: UInt16 = 53) -> DNSAnswer {
        var lastFailure = "no name server answered"
        for _ in 0..<configuration.attempts {
            for server in configuration.servers {
                let answer = ask(server: server, port: port, name: name, timeout: configuration.timeoutSeconds)
                switch answer {
                case .records, .noSuchName: return answer
                case .failure(let why): lastFailure = "\(server): \(why)"
                }
            }
        }
        return .failure(lastFailure)
    }

    static func ask(server: String, port: UInt16, name: String, timeout: Int) -> DNSAnswer {
        guard case .success(let addrs) = HostResolver.resolveNumeric(server, port: Int(port)), let addr = addrs.first else {
            return .failure("bad name server address")
        }
        let fd = socket(addr.family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure("cannot open a UDP socket") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard addr.withSockaddr({ Glibc.connect(fd, $0, $1) }) == 0 else { return .failure("cannot reach the name server") }
        let id = UInt16.random(in: 0...UInt16.max)
        let q = DNSMessage.query(id: id, name: name)
        guard send(fd, q, q.count, 0) == q.count else { return .failure("cannot send the query") }
        var buf = [UInt8](repeating: 0, count: 4096)
        // Ignore stray datagrams with the wrong id until the timeout.
        for _ in 0..<8 {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return .failure("no answer within \(timeout) s") }
            let datagram = Array(buf[0..<n])
            if DNSMessage.isTruncated(datagram, expectedID: id) {
                return askOverTCP(addr, name: name, timeout: timeout)
            }
            let answer = DNSMessage.parseSRV(datagram, expectedID: id)
            if case .failure(let why) = answer, why.containsText("wrong id") { continue }
            return answer
        }
        return .failure("no matching answer")
    }
}

extension SRVResolver {
    /// The largest answer taken over TCP (a DNS message is at most 65535 bytes anyway).
    static let maxTCPAnswer = 65_535

    /// The question again over TCP, each message after its two-byte length (RFC 1035 §4.2.2).
    static func askOverTCP(_ addr: SocketAddress, name: String, timeout: Int) -> DNSAnswer {
        let fd = socket(addr.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure("truncated answer, and cannot open a TCP socket") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard addr.withSockaddr({ Glibc.connect(fd, $0, $1) }) == 0 else { return .failure("truncated answer, and the name server takes no TCP") }
        let id = UInt16.random(in: 0...UInt16.max)
        let q = DNSMessage.query(id: id, name: name)
        let framed = [UInt8(q.count >> 8), UInt8(q.count & 0xFF)] + q
        guard send(fd, framed, framed.count, Int32(MSG_NOSIGNAL)) == framed.count else { return .failure("cannot send the query over TCP") }
        func read(_ count: Int) -> [UInt8]? {
            var out = [UInt8](repeating: 0, count: count)
            var got = 0
            while got < count {
                let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
                if n <= 0 { return nil }
                got += n
            }
            return out
        }
        guard let length = read(2) else { return .failure("no answer over TCP within \(timeout) s") }
        let size = Int(length[0]) << 8 | Int(length[1])
        guard size >= 12, size <= maxTCPAnswer, let message = read(size) else { return .failure("a short DNS answer over TCP") }
        if DNSMessage.isTruncated(message, expectedID: id) { return .failure("truncated DNS answer, even over TCP") }
        return DNSMessage.parseSRV(message, expectedID: id)
    }
}

extension HostResolver {
    /// Parses a numeric address without any look-up.
    static func resolveNumeric(_ host: String, port: Int) -> Result<[SocketAddress], IOError> {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &result)
        guard rc == 0, let ai = result, let sa = ai.pointee.ai_addr else {
            return .failure(IOError(call: "getaddrinfo(\(host))", code: rc, message: "not a numeric address"))
        }
        defer { freeaddrinfo(result) }
        return .success([SocketAddress(sa, length: ai.pointee.ai_addrlen)])
    }
}
