import CLinux
import Glibc

/// A non-blocking TCP connection driven by an ``EventLoop``.
///
/// Writes are queued and flushed as the socket accepts them; ``pendingWriteBytes`` lets the owner bound
/// the queue (a server that stops reading must not make us grow without limit).
public final class TCPConnection {
    public enum State: Sendable, Equatable { case connecting, connected, closed }

    private let loop: EventLoop
    public let address: SocketAddress
    private var fd: Int32 = -1
    public private(set) var state: State = .connecting
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    private var readBuffer = [UInt8](repeating: 0, count: 16 * 1024)

    /// Called once: nil when connected, or the error.
    public var onConnect: ((IOError?) -> Void)?
    /// Called with each batch of received bytes.
    public var onData: ((UnsafeRawBufferPointer) -> Void)?
    /// Called once when the connection ends: nil for an orderly close by the peer, or the error.
    public var onClose: ((IOError?) -> Void)?

    public init(loop: EventLoop, address: SocketAddress) {
        self.loop = loop
        self.address = address
    }

    deinit {
        if fd >= 0 {
            loop.unwatch(fd)
            Glibc.close(fd)
        }
    }

    /// Starts connecting; ``onConnect`` reports the outcome.
    public func connect() {
        fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return finishConnect(IOError.errno("socket")) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return finishConnect(nil) }
        guard errno == EINPROGRESS else { return finishConnect(IOError.errno("connect(\(address))")) }
        loop.watch(fd, .writable) { [unowned self] _ in
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(self.fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 {
                self.finishConnect(IOError(call: "connect(\(self.address))", code: err, message: String(cString: strerror(err))))
            } else {
                self.finishConnect(nil)
            }
        }
    }

    /// Turns on kernel TCP keepalive probes (a second line of defence behind XMPP pings).
    public func enableKeepalive(idleSeconds: Int32, intervalSeconds: Int32, count: Int32) {
        guard fd >= 0 else { return }
        var one: Int32 = 1
        var idle = idleSeconds, intvl = intervalSeconds, cnt = count
        let size = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &intvl, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &cnt, size)
    }

    private func finishConnect(_ error: IOError?) {
        if let error {
            shutdownSocket()
            state = .closed
            let cb = onConnect
            onConnect = nil
            cb?(error)
            return
        }
        state = .connected
        loop.watch(fd, interest) { [unowned self] events in self.handle(events) }
        let cb = onConnect
        onConnect = nil
        cb?(nil)
    }

    private var interest: EventLoop.Events { outboundOffset < outbound.count ? [.readable, .writable] : .readable }

    /// Queues bytes and writes what the socket takes now.
    public func write(_ bytes: some Collection<UInt8>) {
        guard state == .connected else { return }
        let wasEmpty = outboundOffset >= outbound.count
        outbound.append(contentsOf: bytes)
        flush()
        if wasEmpty && state == .connected && outboundOffset < outbound.count { loop.update(fd, interest) }
    }

    /// Bytes accepted by ``write(_:)`` but not yet taken by the kernel.
    public var pendingWriteBytes: Int { outbound.count - outboundOffset }

    /// Closes the socket now. No callback is made.
    public func close() {
        guard state != .closed else { return }
        state = .closed
        onData = nil
        onClose = nil
        onConnect = nil
        shutdownSocket()
    }

    /// Flushes what is queued (best effort, without blocking), then closes.
    public func flushAndClose() {
        flush()
        close()
    }

    private func shutdownSocket() {
        if fd >= 0 {
            loop.unwatch(fd)
            Glibc.close(fd)
            fd = -1
        }
    }

    private func handle(_ events: EventLoop.Events) {
        if events.contains(.writable) {
            flush()
            if state == .connected { loop.update(fd, interest) }
        }
        if events.contains(.readable) || events.contains(.hangup) { readAvailable() }
    }

    private func flush() {
        while outboundOffset < outbound.count, state == .connected {
            let n = outbound.withUnsafeBytes { buf in
                send(fd, buf.baseAddress! + outboundOffset, buf.count - outboundOffset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                outboundOffset += n
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                break
            } else {
                fail(IOError.errno("send"))
                return
            }
        }
        if outboundOffset >= outbound.count {
            outbound.removeAll(keepingCapacity: outbound.capacity <= 64 * 1024)
            outboundOffset = 0
        } else if outboundOffset > 64 * 1024 {
            outbound.removeFirst(outboundOffset)
            outboundOffset = 0
        }
    }

    private func readAvailable() {
        while state == .connected {
            let n = readBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                // Acknowledge at once rather than up to 40 ms later: a server that has Nagle on holds
                // its next stanza until this one is acknowledged, and when we have nothing to answer
                // (an <a/> from the server) no reply carries the acknowledgement.
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_QUICKACK, &one, socklen_t(MemoryLayout<Int32>.size))
                readBuffer.withUnsafeBytes { onData?(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                if n < readBuffer.count { return }
            } else if n == 0 {
                fail(nil)
                return
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                return
            } else if errno != EINTR {
                fail(IOError.errno("recv"))
                return
            }
        }
    }

    private func fail(_ error: IOError?) {
        guard state != .closed else { return }
        state = .closed
        shutdownSocket()
        let cb = onClose
        onClose = nil
        onData = nil
        cb?(error)
    }
}

@available(*, unavailable)
extension TCPConnection: Sendable {}
