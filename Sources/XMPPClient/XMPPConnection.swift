import PerchHTTP
import PerchIO
import PerchLog
import PerchTLS
import XMPPAddress
import XMPPCore
import XMPPSASL
import XMPPXML

/// One connection attempt to one server endpoint: a transport (``StreamTransport``: the byte stream
/// and its framing) and the negotiator, wired together. After negotiation it passes stanzas up and
/// writes what it is given. It never reconnects; ``XMPPClient`` decides what happens after it ends.
final class XMPPConnection: StreamTransportDelegate {
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
        /// The WebSocket or BOSH layer failed or refused; `permanent` when retrying cannot help until
        /// the operator acts (a refused URL, access denied).
        case transport(String, permanent: Bool)
        /// The server sent us to another endpoint (RFC 7395 `see-other-uri`, BOSH `see-other-uri`).
        case seeOtherURI(String)
    }

    let loop: EventLoop
    let candidate: ServerCandidate
    let logger: Logger
    let traceXML: Bool
    private let transport: any StreamTransport
    private var negotiator: StreamNegotiator
    private(set) var session: NegotiatedSession?
    private var ended = false
    /// Stanzas parsed from the current read, delivered together when the read is parsed.
    private var inbox: [XMLElement] = []
    private var closing = false

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

    init(loop: EventLoop, candidate: ServerCandidate, transport: any StreamTransport, negotiator: StreamNegotiator, traceXML: Bool, logger: Logger) {
        self.loop = loop
        self.candidate = candidate
        self.transport = transport
        self.negotiator = negotiator
        self.traceXML = traceXML
        self.logger = logger
    }

    var address: SocketAddress { transport.address }
    /// Where the stream goes, for the log: the address, or the URL and the address.
    var endpointDescription: String { candidate.framing == .xmpp ? "\(address)" : "\(candidate) at \(address)" }
    /// The negotiation asked to resume a session and waits for the answer.
    var awaitsResumption: Bool { negotiator.awaitsResumption }

    func start() {
        transport.delegate = self
        transport.start()
    }

    /// Sends a stanza on an established stream; false when the stream is ending (nothing is written).
    @discardableResult
    func send(_ element: XMLElement) -> Bool {
        guard !ended, !closing else { return false }
        if traceXML { logger.info("SEND \(XMLTrace.redacted(element))") }
        transport.send(element)
        return true
    }

    /// Bytes queued but not yet written to the network.
    var pendingOutboundBytes: Int { transport.pendingOutboundBytes }

    /// Ends the stream politely, then waits (bounded) for the server's own end.
    func close(timeout: Int64 = 2000) {
        guard !ended, !closing else { return }
        closing = true
        if traceXML { logger.info("SEND (end of stream)") }
        transport.close()
        loop.schedule(after: timeout) { [weak self] in self?.finishClose() }
    }

    /// Drops the connection at once, without a callback.
    func abort() {
        ended = true
        transport.abort()
    }

    private func finishClose() {
        guard !ended else { return }
        transport.closeNow()
        end(.closedByUs)
    }

    // MARK: - What the transport reports

    func transportReady(channelBindings: [ChannelBinding]) {
        perform(negotiator.start(channelBindings: channelBindings))
    }

    func transportTLSEstablished(channelBindings: [ChannelBinding]) {
        logger.debug("TLS established with \(transport.address): \(transport.cipherSuite ?? "?")")
        perform(negotiator.tlsEstablished(channelBindings: channelBindings))
    }

    func transportActivity() { onActivity?() }

    func transportReadDone() { deliverInbox() }

    func transportEnded(_ reason: EndReason) {
        switch reason {
        case .localStreamError(let e):
            deliverInbox()
            logger.warning("the server sent XML Perch will not accept (\(e)); closing the stream")
        case .closedByPeer(nil) where closing:
            // The server's TLS close_notify, or its closing the connection, answering ours.
            return end(.closedByUs)
        default:
            break
        }
        end(reason)
    }

    func transportReceived(_ event: XMLStreamEvent) -> XMLStreamParser.Disposition {
        if ended { return .stop }
        return handle(event)
    }

    private func deliverInbox() {
        guard !inbox.isEmpty else { return }
        let batch = inbox
        inbox = []
        guard !ended else { return }
        transport.cork()
        onStanzas?(batch, true)
        if !ended { transport.uncork() }
    }

    private func handle(_ event: XMLStreamEvent) -> XMLStreamParser.Disposition {
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
                if !closing { transport.close() }
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
        return perform(negotiator.handle(event)) ? .stop : .continue
    }

    /// Carries out negotiator actions. Returns true when delivery must stop (TLS or restart).
    @discardableResult
    private func perform(_ actions: [StreamNegotiator.Action]) -> Bool {
        var stop = false
        for action in actions {
            switch action {
            case .openStream(let opening):
                if traceXML { logger.info("SEND \(transport.describe(opening))") }
                transport.open(opening)
            case .send(let e):
                if traceXML { logger.info("SEND \(XMLTrace.redacted(e))") }
                transport.send(e)
            case .startTLS:
                stop = true
                transport.startTLS()
            case .restartStream:
                stop = true
                transport.restart()
                let opening = negotiator.opening
                if traceXML { logger.info("SEND \(transport.describe(opening))") }
                transport.open(opening)
            case .established(let s):
                session = s
                logger.debug("negotiated \(s.jid) with \(s.mechanism)\(transport.cipherSuite.map { " over \($0)" } ?? " without TLS")")
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

    private func end(_ reason: EndReason) {
        guard !ended else { return }
        ended = true
        transport.abort()
        let cb = onEnd
        onEnd = nil
        onStanzas = nil
        cb?(reason)
    }
}
