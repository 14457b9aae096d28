import Foundation
import Glibc

/// A TCP proxy on loopback between the daemon and a server, which can fail the network on request:
/// ``cut(for:)`` drops every connection and refuses new ones for a while (a cable pulled, Wi-Fi gone);
/// ``blackhole()`` stops forwarding on the open connections without closing them (a server or a NAT
/// that stops answering). Each connection is two threads copying bytes with poll().
final class TCPProxy: @unchecked Sendable {
    let port: Int
    let target: Int
    private let listenFD: Int32
    private let lock = NSLock()
    private var connections: [Connection] = []
    private var refuseUntil = Date.distantPast
    private var stopped = false

    final class Connection: @unchecked Sendable {
        let client: Int32
        let server: Int32
        var frozen = false
        var closed = false
        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }
    }

    init(port: Int, target: Int) throws {
        self.port = port
        self.target = target
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopback(port)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, listen(fd, 16) == 0 else { close(fd); throw ITError("the proxy cannot listen on \(port)") }
        listenFD = fd
        let t = Thread { [unowned self] in self.acceptLoop() }
        t.start()
    }

    deinit { stop() }

    func stop() {
        // Once: a second close(2) of the listening descriptor would close whatever reused its number.
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
        dropAll()
    }

    /// Drops every connection now and refuses (accepts and closes) new ones for `seconds`.
    func cut(for seconds: TimeInterval) {
        lock.withLock { refuseUntil = Date().addingTimeInterval(seconds) }
        dropAll()
    }

    /// Stops forwarding on the connections open now; they stay open. New connections work.
    func blackhole() {
        lock.withLock { for c in connections { c.frozen = true } }
    }

    /// Closes the connections left frozen by ``blackhole()``.
    func closeFrozen() {
        let frozen = lock.withLock { connections.filter(\.frozen) }
        for c in frozen { finish(c) }
    }

    private func dropAll() {
        let all = lock.withLock { connections }
        for c in all { finish(c) }
    }

    private func finish(_ c: Connection) {
        let first = lock.withLock { () -> Bool in
            guard !c.closed else { return false }
            c.closed = true
            connections.removeAll { $0 === c }
            return true
        }
        guard first else { return }
        shutdown(c.client, Int32(SHUT_RDWR))
        shutdown(c.server, Int32(SHUT_RDWR))
    }

    private static func loopback(_ port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return addr
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if lock.withLock({ stopped }) { return }
                continue
            }
            if lock.withLock({ Date() < refuseUntil }) {
                close(fd)
                continue
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = Self.loopback(target)
            let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
            guard ok else {
                close(server)
                close(fd)
                continue
            }
            let c = Connection(client: fd, server: server)
            lock.withLock { connections.append(c) }
            Thread { [unowned self] in self.pump(c, from: c.client, to: c.server) }.start()
            Thread { [unowned self] in
                self.pump(c, from: c.server, to: c.client)
                close(c.client)
                close(c.server)
            }.start()
        }
    }

    private func pump(_ c: Connection, from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let (closed, frozen) = lock.withLock { (c.closed, c.frozen) }
            if closed { return }
            if frozen {
                Thread.sleep(forTimeInterval: 0.1)
                continue
            }
            var p = pollfd(fd: from, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, 100)
            if r <= 0 { continue }
            if lock.withLock({ c.frozen }) { continue }
            let n = read(from, &buffer, buffer.count)
            if n <= 0 {
                finish(c)
                return
            }
            var off = 0
            while off < n {
                // send with MSG_NOSIGNAL: a peer that closed first must end this connection, not
                // the whole test process with SIGPIPE.
                let w = buffer.withUnsafeBytes { send(to, $0.baseAddress! + off, n - off, Int32(MSG_NOSIGNAL)) }
                if w <= 0 {
                    finish(c)
                    return
                }
                off += w
            }
        }
    }
}
