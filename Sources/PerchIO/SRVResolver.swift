import Glibc

/// Where SRV look-ups go: the name servers in `/etc/resolv.conf`, with its timeout and attempts.
/// ``SRVQuery`` asks them, on the event loop.
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
