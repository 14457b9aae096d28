import Glibc

/// One SRV look-up carried by the event loop: non-blocking UDP to each name server in turn, each
/// attempt bounded by the configuration's timeout, and the question again over TCP when the answer
/// comes back truncated (RFC 7766: a domain with many SRV targets, or DNSSEC signatures, needs more
/// than a datagram). No thread is started.
public final class SRVQuery {
    let loop: EventLoop
    let name: String
    let configuration: SRVResolver.Configuration
    let port: UInt16
    private var completion: ((DNSAnswer) -> Void)?
    /// The servers still to ask, in order (every server, `attempts` times).
    private var queue: [String] = []
    private var fd: Int32 = -1
    private var timer: EventLoop.Timer?
    private var id: UInt16 = 0
    private var lastFailure = "no name server answered"
    /// Over TCP: the bytes still to write, and what has arrived.
    private var tcpOut: [UInt8] = []
    private var tcpIn: [UInt8] = []
    private var server = ""

    public init(loop: EventLoop, name: String, configuration: SRVResolver.Configuration = .system(), port: UInt16 = 53, completion: @escaping (DNSAnswer) -> Void) {
        self.loop = loop
        self.name = name
        self.configuration = configuration
        self.port = port
        self.completion = completion
    }

    deinit { closeSocket() }

    /// Asks; `completion` runs once on the loop (never from inside this call).
    public func start() {
        for _ in 0..<configuration.attempts { queue += configuration.servers }
        loop.schedule(after: 0) { [weak self] in self?.next() }
    }

    /// Stops; `completion` is not called.
    public func cancel() {
        completion = nil
        timer?.cancel()
        closeSocket()
    }

    private func next() {
        closeSocket()
        guard completion != nil else { return }
        guard !queue.isEmpty else { return finish(.failure(lastFailure)) }
        server = queue.removeFirst()
        guard case .success(let addrs) = HostResolver.resolveNumeric(server, port: Int(port)), let addr = addrs.first else {
            lastFailure = "\(server): bad name server address"
            return next()
        }
        fd = socket(addr.family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else {
            lastFailure = "cannot open a UDP socket"
            return next()
        }
        guard addr.withSockaddr({ Glibc.connect(fd, $0, $1) }) == 0 else {
            lastFailure = "\(server): cannot reach the name server"
            return next()
        }
        id = UInt16.random(in: 0...UInt16.max)
        let q = DNSMessage.query(id: id, name: name)
        guard send(fd, q, q.count, Int32(MSG_NOSIGNAL)) == q.count else {
            lastFailure = "\(server): cannot send the query"
            return next()
        }
        let socket = fd
        loop.watch(socket, .readable) { [weak self] _ in self?.readDatagrams(socket, addr) }
        arm("no answer within \(configuration.timeoutSeconds) s")
    }

    private func arm(_ failure: String) {
        timer?.cancel()
        timer = loop.schedule(after: Int64(configuration.timeoutSeconds) * 1000) { [weak self] in
            guard let self else { return }
            self.lastFailure = "\(self.server): \(failure)"
            self.next()
        }
    }

    private func readDatagrams(_ socket: Int32, _ addr: SocketAddress) {
        var buf = [UInt8](repeating: 0, count: 4096)
        while fd == socket {
            let n = recv(socket, &buf, buf.count, 0)
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
                lastFailure = "\(server): the name server refused the query"
                return next()
            }
            let datagram = Array(buf[0..<n])
            if DNSMessage.isTruncated(datagram, expectedID: id) { return askOverTCP(addr) }
            let answer = DNSMessage.parseSRV(datagram, expectedID: id)
            switch answer {
            case .failure(let why) where why.containsText("wrong id"):
                continue  // a stray datagram: keep waiting for ours
            case .records, .noSuchName:
                return finish(answer)
            case .failure(let why):
                lastFailure = "\(server): \(why)"
                return next()
            }
        }
    }

    // MARK: TCP

    private func askOverTCP(_ addr: SocketAddress) {
        closeSocket()
        fd = socket(addr.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else {
            lastFailure = "\(server): truncated answer, and cannot open a TCP socket"
            return next()
        }
        let rc = addr.withSockaddr { Glibc.connect(fd, $0, $1) }
        guard rc == 0 || errno == EINPROGRESS else {
            lastFailure = "\(server): truncated answer, and the name server takes no TCP"
            return next()
        }
        id = UInt16.random(in: 0...UInt16.max)
        let q = DNSMessage.query(id: id, name: name)
        tcpOut = [UInt8(q.count >> 8), UInt8(q.count & 0xFF)] + q
        tcpIn = []
        let socket = fd
        loop.watch(socket, [.readable, .writable]) { [weak self] events in self?.tcpEvent(socket, events) }
        arm("no answer over TCP within \(configuration.timeoutSeconds) s")
    }

    private func tcpEvent(_ socket: Int32, _ events: EventLoop.Events) {
        guard fd == socket else { return }
        if events.contains(.writable), !tcpOut.isEmpty {
            let n = tcpOut.withUnsafeBytes { send(socket, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                    lastFailure = "\(server): truncated answer, and the name server takes no TCP"
                    return next()
                }
            } else {
                tcpOut.removeFirst(n)
                if tcpOut.isEmpty { loop.update(socket, .readable) }
            }
        }
        guard events.contains(.readable) || events.contains(.hangup) else { return }
        var buf = [UInt8](repeating: 0, count: 4096)
        while fd == socket {
            let n = recv(socket, &buf, buf.count, 0)
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
                lastFailure = "\(server): the TCP connection failed"
                return next()
            }
            if n == 0 {
                lastFailure = "\(server): a short DNS answer over TCP"
                return next()
            }
            tcpIn += buf[0..<n]
            guard tcpIn.count >= 2 else { continue }
            let size = Int(tcpIn[0]) << 8 | Int(tcpIn[1])
            guard size >= 12 else {
                lastFailure = "\(server): a short DNS answer over TCP"
                return next()
            }
            guard tcpIn.count >= size + 2 else { continue }
            let message = Array(tcpIn[2..<(size + 2)])
            if DNSMessage.isTruncated(message, expectedID: id) {
                lastFailure = "\(server): truncated DNS answer, even over TCP"
                return next()
            }
            let answer = DNSMessage.parseSRV(message, expectedID: id)
            if case .failure(let why) = answer {
                lastFailure = "\(server): \(why)"
                return next()
            }
            return finish(answer)
        }
    }

    // MARK: Ending

    private func finish(_ answer: DNSAnswer) {
        timer?.cancel()
        closeSocket()
        let done = completion
        completion = nil
        done?(answer)
    }

    private func closeSocket() {
        guard fd >= 0 else { return }
        loop.unwatch(fd)
        close(fd)
        fd = -1
    }
}

@available(*, unavailable)
extension SRVQuery: Sendable {}
