import Glibc

/// A Python program run as a loopback peer for the codecs: it prints its listening ports on its
/// first line, then serves until it is terminated.
final class HTTPPeerProcess {
    static let python = "/usr/bin/python3"

    /// Whether `python` can import `module` (Debian's python3-websockets; scripts/install-deps test).
    static func canImport(_ module: String) -> Bool {
        guard let p = try? HTTPPeerProcess(arguments: ["-c", "import \(module)"], readPorts: false) else { return false }
        return p.wait() == 0
    }

    private(set) var pid: pid_t = 0
    private(set) var ports: [UInt16] = []
    private var output: Int32 = -1

    init(script: String) throws {
        try start(["-u", "-c", script])
        try readPorts()
    }

    private init(arguments: [String], readPorts: Bool) throws {
        try start(arguments)
    }

    /// posix_spawn with default signal dispositions and an empty mask: the test runner's threads may
    /// block signals, and a child that inherits a blocked SIGTERM never ends.
    private func start(_ arguments: [String]) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw PeerError("pipe: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([Self.python] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        let rc = posix_spawn(&pid, Self.python, &actions, &attr, argv, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw PeerError("posix_spawn \(Self.python): \(rc)")
        }
        output = fds[0]
    }

    /// The ports on the first line the script prints, within 15 seconds.
    private func readPorts() throws {
        var line: [UInt8] = []
        var pfd = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
        while !line.contains(0x0A), poll(&pfd, 1, 15_000) == 1 {
            var buf = [UInt8](repeating: 0, count: 256)
            let n = read(output, &buf, buf.count)
            if n <= 0 { break }
            line += buf[0..<n]
        }
        let text = String(decoding: line.prefix { $0 != 0x0A }, as: UTF8.self)
        ports = text.split(separator: " ").compactMap { UInt16($0) }
        guard !ports.isEmpty else {
            stop()
            throw PeerError("the Python peer did not start (printed \"\(text)\")")
        }
    }

    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        pid = 0
        if output >= 0 { close(output); output = -1 }
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : -1
    }

    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        _ = wait()
    }

    deinit { stop() }
}

struct PeerError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A blocking TCP connection to 127.0.0.1 with a receive timeout.
final class PeerSocket {
    let fd: Int32

    init(port: UInt16, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PeerError("socket: errno \(errno)") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw PeerError("connect to 127.0.0.1:\(port): errno \(errno)")
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw PeerError("send: errno \(errno)") }
            off += n
        }
    }

    /// Up to 4096 bytes; empty at the peer's end of stream; throws on timeout.
    func receive() throws -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { throw PeerError("recv: errno \(errno) (timed out?)") }
        return Array(buf[0..<n])
    }
}
