import PerchHTTP
import PerchIO
import PerchLog
import PerchTLS

/// The byte stream under every transport: a TCP connection, through an HTTP CONNECT tunnel when a
/// proxy is configured, inside TLS from the first byte (direct TLS, `wss`, `https`) or from
/// ``startTLS(_:)`` on (STARTTLS). Above it, a framing reads and writes plaintext and never sees
/// the socket, the proxy or the TLS records.
final class SocketStream {
    /// Why the byte stream ended.
    enum Failure: Sendable {
        case connect(IOError)
        case tls(TLSError)
        case proxy(ConnectProxyError)
        /// The peer closed TCP (with the error, if it was not an orderly close), or sent TLS close_notify.
        case closed(IOError?)
        /// Too much waits unsent: the peer stopped reading.
        case stuck(Int)
    }

    let address: SocketAddress
    private let loop: EventLoop
    private let logger: Logger
    private let tcp: TCPConnection
    private var tunnel: ConnectProxy?
    /// TLS to set up as soon as the stream is there (nil: starts in the clear).
    private let initialTLS: TLSConfiguration?
    private(set) var tls: TLSConnection?
    private var ended = false
    private let maxOutboundBytes: Int

    /// The stream is there: TCP connected, the tunnel open, and TLS up if it starts with TLS.
    var onOpen: (() -> Void)?
    /// Plaintext from the peer.
    var onData: ((UnsafeRawBufferPointer) -> Void)?
    /// The TLS handshake started with ``startTLS(_:)`` completed.
    var onTLSEstablished: (() -> Void)?
    /// Any bytes arrived (before decryption): the liveness check's signal.
    var onActivity: (() -> Void)?
    var onEnd: ((Failure) -> Void)?

    init(loop: EventLoop, address: SocketAddress, tls: TLSConfiguration?, tunnel: ConnectProxy?, maxOutboundBytes: Int, logger: Logger) {
        self.loop = loop
        self.address = address
        self.initialTLS = tls
        self.tunnel = tunnel
        self.maxOutboundBytes = maxOutboundBytes
        self.logger = logger
        self.tcp = TCPConnection(loop: loop, address: address)
    }

    /// The channel bindings of the TLS session (empty in the clear).
    var channelBindings: [(type: String, data: [UInt8])] { tls?.state == .established ? tls!.channelBindings : [] }
    var isEncrypted: Bool { tls?.state == .established }
    var cipherSuite: String? { isEncrypted ? tls?.cipherSuite : nil }
    /// Bytes queued but not yet written to the socket.
    var pendingWriteBytes: Int { tcp.pendingWriteBytes }
    var isEnded: Bool { ended }

    func start() {
        tcp.onConnect = { [unowned self] error in
            if let error { return self.end(.connect(error)) }
            self.tcp.enableKeepalive(idleSeconds: 120, intervalSeconds: 30, count: 4)
            self.logger.debug("connected to \(self.tcp.address)")
            guard let tunnel = self.tunnel else { return self.streamIsThere() }
            // Through a proxy: CONNECT first; the stream is there once the tunnel is open.
            do {
                self.tcp.write(try tunnel.request.serialized())
            } catch {
                self.end(.proxy(ConnectProxyError(status: 0, reason: "", "cannot ask the proxy for \(tunnel.host):\(tunnel.port): \(error)")))
            }
        }
        tcp.onData = { [unowned self] bytes in self.received(bytes) }
        tcp.onClose = { [unowned self] error in self.end(.closed(error)) }
        tcp.connect()
    }

    private func streamIsThere() {
        if let initialTLS { beginTLS(initialTLS) } else { onOpen?() }
    }

    /// Starts the TLS handshake on a stream that began in the clear; ``onTLSEstablished`` follows.
    func startTLS(_ configuration: TLSConfiguration) {
        beginTLS(configuration)
    }

    /// Writes plaintext (encrypted when TLS is up).
    func write(_ bytes: some Collection<UInt8>) {
        guard !ended else { return }
        if tcp.pendingWriteBytes > maxOutboundBytes {
            // The peer stopped reading: holding more would only grow memory. Whatever must not be
            // lost is re-sent from the client's own queue after the reconnection.
            return end(.stuck(tcp.pendingWriteBytes))
        }
        if let tls {
            do {
                try tls.send(bytes)
                flushTLS()
            } catch {
                end(.tls(error))
            }
        } else {
            tcp.write(bytes)
        }
    }

    /// Feeds bytes that the framing read past a switch to TLS back in, as TLS records.
    func reinject(_ bytes: UnsafeRawBufferPointer) {
        guard !ended else { return }
        decrypt(bytes)
    }

    /// Sends TLS close_notify, writes what is queued, and closes; no callback.
    func close() {
        guard !ended else { return }
        ended = true
        if let tls {
            tls.close()
            tcp.write(tls.takeOutgoing())
        }
        tcp.flushAndClose()
    }

    /// Drops the connection at once; no callback.
    func abort() {
        ended = true
        tcp.close()
    }

    // MARK: - Bytes in

    private func received(_ bytes: UnsafeRawBufferPointer) {
        onActivity?()
        guard !ended else { return }
        if tunnel != nil { return receivedFromProxy(bytes) }
        if tls != nil { decrypt(bytes) } else { onData?(bytes) }
    }

    private func decrypt(_ bytes: UnsafeRawBufferPointer) {
        guard let tls else {
            onData?(bytes)
            return
        }
        do {
            let wasEstablished = tls.state == .established
            let plain = try tls.receive(bytes)
            flushTLS()
            if !wasEstablished && tls.state == .established { tlsUp() }
            if !plain.isEmpty, !ended { plain.withUnsafeBytes { onData?($0) } }
            if tls.peerClosed && !ended { end(.closed(nil)) }
        } catch {
            flushTLS()
            end(.tls(error))
        }
    }

    /// The proxy's answer to CONNECT; the bytes after it are the tunnel's.
    private func receivedFromProxy(_ bytes: UnsafeRawBufferPointer) {
        guard var t = tunnel else { return }
        do {
            guard let rest = try t.receive(bytes) else {
                tunnel = t
                return
            }
            tunnel = nil
            logger.debug("the proxy opened a tunnel to \(t.host):\(t.port)")
            streamIsThere()
            if !rest.isEmpty, !ended { rest.withUnsafeBytes { received($0) } }
        } catch {
            tunnel = nil
            end(.proxy(error))
        }
    }

    // MARK: - TLS

    private func beginTLS(_ configuration: TLSConfiguration) {
        do {
            let t = try TLSConnection(role: .client(configuration))
            tls = t
            try t.startHandshake()
            flushTLS()
        } catch {
            end(.tls(error))
        }
    }

    private func tlsUp() {
        guard let tls else { return }
        logger.debug("TLS established with \(tcp.address): \(tls.cipherSuite)")
        if initialTLS != nil { onOpen?() } else { onTLSEstablished?() }
    }

    private func flushTLS() {
        guard let tls, tls.hasOutgoing else { return }
        tcp.write(tls.takeOutgoing())
    }

    private func end(_ failure: Failure) {
        guard !ended else { return }
        ended = true
        tcp.close()
        let cb = onEnd
        onEnd = nil
        onData = nil
        cb?(failure)
    }
}
