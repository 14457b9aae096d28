import PerchHTTP
import PerchIO
import PerchLog
import PerchTLS
import XMPPAddress
import XMPPCore
import XMPPSASL
import XMPPXML

/// One connection attempt to one server address: the TCP socket, TLS when in use, the XML parser and
/// the negotiator, wired together. After negotiation it passes stanzas up and writes what it is given.
/// It never reconnects; ``XMPPClient`` decides what happens after it ends.
final class XMPPConnection {
    /// Why the connection ended.
    enum EndReason: Sendable {
        case connectFailed(IOError)
        case tls(TLSError)
        case negotiation(NegotiationError)
        /// A stream error we received after negotiation.
        case streamError(StreamError)
        /// We ended the stream because the peer sent something unacceptable.
        case localStreamError(XMLStreamError)
        case closedByPeer(IOError?)
        case timeout(String)
        case closedByUs
        /// The HTTP proxy did not open the tunnel.
        case proxy(ConnectProxyError)
    }

    let loop: EventLoop
    let candidate: ServerCandidate
    let logger: Logger
    let traceXML: Bool
    private let tcp: TCPConnection
    private var tls: TLSConnection?
    private let tlsConfiguration: TLSConfiguration
    private let parser: XMLStreamParser
    private var negotiator: StreamNegotiator
    private(set) var session: NegotiatedSession?
    private var ended = false
    /// Stanzas parsed from the current read, delivered together when the read is parsed.
    private var inbox: [XMLElement] = []
    /// What is written while a batch is handled (the replies, acknowledgements): sent together as
    /// one TLS record and one segment when the batch is done.
    private var corked = false
    private var corkedText = ""
    private var closing = false
    /// True while inside the parser's callbacks, where the parser must not be reset.
    private var feeding = false
    private var resetPending = false
    private let maxOutboundBytes: Int
    /// The CONNECT tunnel through a proxy, while it is being opened (nil once open, or without a proxy).
    private var tunnel: ConnectProxy?

    var onEstablished: ((NegotiatedSession) -> Void)?
    /// A stanza over the parser's limits on the established stream, in order with the others (the
    /// stanzas before it have been delivered): the client counts it, answers an iq request, logs it.
    var onOversized: ((OversizedStanza) -> Void)?
    /// The stanzas of one read once the session is established, in order, and whether stream
    /// management counts them. One call a read lets the client save its state once for all of them.
    var onStanzas: (([XMLElement], _ counted: Bool) -> Void)?
    /// Whether the connection has ended (a handler may end it while a batch is being delivered).
    var isEnded: Bool { ended }
    var onEnd: ((EndReason) -> Void)?
    /// Called whenever bytes arrive (the client's liveness check uses it).
    var onActivity: (() -> Void)?

    init(loop: EventLoop, candidate: ServerCandidate, address: SocketAddress, negotiator: StreamNegotiator, tlsConfiguration: TLSConfiguration, limits: XMLStreamLimits, maxOutboundBytes: Int, traceXML: Bool, tunnel: ConnectProxy? = nil, logger: Logger) {
        self.tunnel = tunnel
        self.loop = loop
        self.candidate = candidate
        self.negotiator = negotiator
        self.tlsConfiguration = tlsConfiguration
        self.parser = XMLStreamParser(limits: limits)
        self.maxOutboundBytes = maxOutboundBytes
        self.traceXML = traceXML
        self.logger = logger
        self.tcp = TCPConnection(loop: loop, address: address)
    }

    var address: SocketAddress { tcp.address }

    func start() {
        tcp.onConnect = { [unowned self] error in
            if let error { return self.end(.connectFailed(error)) }
            self.tcp.enableKeepalive(idleSeconds: 120, intervalSeconds: 30, count: 4)
            self.logger.debug("connected to \(self.tcp.address)")
            guard let tunnel = self.tunnel else { return self.streamCanStart() }
            // Through a proxy: CONNECT first; the stream starts once the tunnel is open.
            do {
                self.tcp.write(try tunnel.request.serialized())
            } catch {
                self.end(.proxy(ConnectProxyError(status: 0, reason: "", "cannot ask the proxy for \(tunnel.host):\(tunnel.port): \(error)")))
            }
        }
        tcp.onData = { [unowned self] bytes in self.received(bytes) }
        tcp.onClose = { [unowned self] error in self.end(.closedByPeer(error)) }
        tcp.connect()
    }

    /// The byte stream to the server is there (directly, or through the proxy's tunnel).
    private func streamCanStart() {
        if candidate.directTLS {
            beginTLS()
        } else {
            perform(negotiator.start())
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
            streamCanStart()
            if !rest.isEmpty, !ended { rest.withUnsafeBytes { received($0) } }
        } catch {
            tunnel = nil
            end(.proxy(error))
        }
    }

    /// Sends a stanza on an established stream.
    func send(_ element: XMLElement) {
        guard !ended, !closing else { return }
        if traceXML { logger.info("SEND \(XMLTrace.redacted(element))") }
        write(element.serialized())
    }

    /// Bytes queued but not yet written to the socket (plaintext and TLS together).
    var pendingOutboundBytes: Int { tcp.pendingWriteBytes }

    /// Ends the stream politely: `</stream:stream>`, then waits (bounded) for the server's own close.
    func close(timeout: Int64 = 2000) {
        guard !ended, !closing else { return }
        closing = true
        if traceXML { logger.info("SEND </stream:stream>") }
        write(StreamHeader.close)
        loop.schedule(after: timeout) { [weak self] in self?.finishClose() }
    }

    /// Drops the connection at once, without a callback.
    func abort() {
        ended = true
        tcp.close()
    }

    private func finishClose() {
        guard !ended else { return }
        if let tls {
            tls.close()
            tcp.write(tls.takeOutgoing())
        }
        tcp.flushAndClose()
        end(.closedByUs)
    }

    // MARK: - Bytes in

    private func received(_ bytes: UnsafeRawBufferPointer) {
        onActivity?()
        if tunnel != nil { return receivedFromProxy(bytes) }
        if let tls {
            do {
                let wasEstablished = tls.state == .established
                let plain = try tls.receive(bytes)
                flushTLS()
                if !wasEstablished && tls.state == .established { tlsUp() }
                if !plain.isEmpty { plain.withUnsafeBytes { parse($0) } }
                if tls.peerClosed && !ended { end(closing ? .closedByUs : .closedByPeer(nil)) }
            } catch {
                flushTLS()
                end(.tls(error))
            }
        } else {
            parse(bytes)
        }
    }

    private func parse(_ bytes: UnsafeRawBufferPointer) {
        var remaining = bytes
        while !ended {
            var restart = false
            let leftover: Int
            do {
                feeding = true
                defer { feeding = false }
                leftover = try parser.feed(remaining) { [unowned self] event in
                    if self.ended { return .stop }
                    return self.handle(event, restart: &restart)
                }
                deliverInbox()
            } catch {
                deliverInbox()
                logger.warning("the server sent XML Perch will not accept (\(error)); closing the stream")
                write(error.streamError.serialized)
                write(StreamHeader.close)
                return end(.localStreamError(error))
            }
            if resetPending {
                resetPending = false
                parser.reset()
            }
            guard restart, leftover > 0 else { return }
            // Bytes after <proceed/> are TLS; after a stream restart they are the new stream.
            remaining = UnsafeRawBufferPointer(rebasing: remaining[(remaining.count - leftover)...])
            if tls != nil && tls?.state != .established {
                received(remaining)
                return
            }
        }
    }

    private func deliverInbox() {
        guard !inbox.isEmpty else { return }
        let batch = inbox
        inbox = []
        guard !ended else { return }
        corked = true
        onStanzas?(batch, true)
        corked = false
        if !corkedText.isEmpty {
            let text = corkedText
            corkedText = ""
            write(text)
        }
    }

    private func handle(_ event: XMLStreamEvent, restart: inout Bool) -> XMLStreamParser.Disposition {
        if traceXML {
            switch event {
            case .element(let e): logger.info("RECV \(XMLTrace.redacted(e))")
            case .streamOpened(let open): logger.info("RECV <stream:stream id='\(open.id ?? "")' from='\(open.from ?? "")' version='\(open.version ?? "")'>")
            case .streamClosed: logger.info("RECV </stream:stream>")
            case .oversized(let o): logger.info("RECV (skipped) \(o)")
            }
        }
        if case .oversized(let o) = event {
            if session != nil {
                deliverInbox()
                if !ended { onOversized?(o) }
                return ended ? .stop : .continue
            }
            if o.namespace == XMPPNamespace.client, let kind = StanzaKind(rawValue: o.name), kind != .iq || o.type == "get" || o.type == "set" {
                // Routed to the new resource before <enabled/>: the server does not count it, nor do we,
                // and an answer now would be counted by the server and not by us. Dropped.
                logger.warning("dropped \(o) during stream negotiation")
                return .continue
            }
        }
        if session != nil {
            switch event {
            case .element(let e):
                if e.name == "error", e.namespace == XMPPNamespace.stream {
                    deliverInbox()
                    end(.streamError(StreamError(element: e)))
                    return .stop
                }
                inbox.append(e)
            case .streamClosed:
                deliverInbox()
                if !closing { write(StreamHeader.close) }
                end(closing ? .closedByUs : .closedByPeer(nil))
                return .stop
            case .streamOpened:
                deliverInbox()
                end(.localStreamError(XMLStreamError(.badFormat, "a second stream header")))
                return .stop
            case .oversized:
                break
            }
            return .continue
        }
        let actions = negotiator.handle(event)
        let stop = perform(actions)
        if stop { restart = true }
        return stop ? .stop : .continue
    }

    /// Carries out negotiator actions. Returns true when the parser must stop (TLS or restart).
    @discardableResult
    private func perform(_ actions: [StreamNegotiator.Action]) -> Bool {
        var stop = false
        for action in actions {
            switch action {
            case .sendRaw(let text):
                if traceXML { logger.info("SEND \(text)") }
                write(text)
            case .send(let e):
                if traceXML { logger.info("SEND \(XMLTrace.redacted(e))") }
                write(e.serialized())
            case .startTLS:
                stop = true
                beginTLS()
            case .restartStream:
                stop = true
                if feeding { resetPending = true } else { parser.reset() }
                let header = negotiator.header()
                if traceXML { logger.info("SEND \(header)") }
                write(header)
            case .established(let s):
                session = s
                logger.debug("negotiated \(s.jid) with \(s.mechanism)\(tls.map { " over \($0.cipherSuite)" } ?? " without TLS")")
                onEstablished?(s)
            case .fail(let error):
                end(.negotiation(error))
                stop = true
            case .deliverUncounted(let e):
                onStanzas?([e], false)
            case .warn(let text):
                logger.warning(text)
            }
        }
        return stop
    }

    // MARK: - TLS

    private func beginTLS() {
        do {
            let t = try TLSConnection(role: .client(tlsConfiguration))
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
        parser.reset()
        let bindings = tls.channelBindings.map { ChannelBinding(type: $0.type, data: $0.data) }
        if candidate.directTLS {
            perform(negotiator.start(channelBindings: bindings))
        } else {
            perform(negotiator.tlsEstablished(channelBindings: bindings))
        }
    }

    private func flushTLS() {
        guard let tls, tls.hasOutgoing else { return }
        tcp.write(tls.takeOutgoing())
    }

    // MARK: - Bytes out

    private func write(_ text: String) {
        guard !ended else { return }
        if corked {
            corkedText += text
            return
        }
        if tcp.pendingWriteBytes > maxOutboundBytes {
            // The server stopped reading: holding more would only grow memory. Drop the connection; the
            // client reconnects and whatever must not be lost is re-sent from its own queue.
            return end(.timeout("the server stopped reading (\(tcp.pendingWriteBytes) bytes unsent)"))
        }
        if let tls {
            do {
                try tls.send(text.utf8)
                flushTLS()
            } catch {
                end(.tls(error))
            }
        } else {
            tcp.write(text.utf8)
        }
    }

    private func end(_ reason: EndReason) {
        guard !ended else { return }
        ended = true
        tcp.close()
        let cb = onEnd
        onEnd = nil
        onStanzas = nil
        cb?(reason)
    }
}
