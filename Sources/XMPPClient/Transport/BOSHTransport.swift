import PerchHTTP
import PerchIO
import PerchLog
import XMPPCore
import XMPPXML

/// XMPP over BOSH (XEP-0124, XEP-0206): the stream as bodies POSTed to the connection manager's URL,
/// on at most two kept-alive HTTP connections — one request held by the manager for up to `wait`
/// seconds (`hold` = 1) so it can answer the moment something arrives, and one to send on.
///
/// ``BOSHSession`` keeps the request ids, acknowledgements and resending; this class moves its
/// requests over the connections, with a deadline for each response. The manager's session
/// creation response stands for the stream header, its restart response for the header after SASL,
/// its `terminate` for the stream's end. An idle board costs one request per `wait`.
final class BOSHTransport: StreamTransport {
    let url: WebURL
    private let makeStream: () -> SocketStream
    private let loop: EventLoop
    private let logger: Logger
    private var session: BOSHSession
    private var links: [Link] = []
    weak var delegate: (any StreamTransportDelegate)?
    private var corked = false
    private var ended = false
    /// After ``restart()``: the features of the next response belong to a new stream.
    private var restarting = false
    private var terminating = false
    /// Whether the first connection came up (the stream can start).
    private var ready = false
    /// Resends of a request whose response was lost, by rid: each waits longer (1, 2, 4, 8, 16 s), so
    /// a network that is gone for a while is not hammered and the session outlives a short cut.
    private var resends: [Int64: Int] = [:]
    private var resendTimers: [EventLoop.Timer] = []
    /// A polling session's next empty request (only when the manager holds none).
    private var pollTimer: EventLoop.Timer?
    private var pollDue = false

    /// One HTTP/1.1 connection and the request on it.
    final class Link {
        let stream: SocketStream
        var parser = HTTPResponseParser(limits: HTTPLimits(maxHeaderBytes: 16 * 1024, maxHeaderCount: 64, maxBodyBytes: 4 << 20), requestMethod: "POST")
        var open = false
        /// The rid whose response this connection waits for.
        var rid: Int64?
        /// A request written once the connection (and its TLS) is up.
        var queued: [UInt8]?
        var deadline: EventLoop.Timer?
        init(stream: SocketStream) { self.stream = stream }
    }

    init(url: WebURL, address: SocketAddress, wait: Int, domain: String, limits: XMLStreamLimits, loop: EventLoop, logger: Logger, makeStream: @escaping () -> SocketStream) {
        self.url = url
        self.address = address
        self.loop = loop
        self.logger = logger
        self.makeStream = makeStream
        self.session = BOSHSession(domain: domain, wait: wait, hold: 1, limits: limits)
        self.session.maxRetries = 5
    }

    let address: SocketAddress
    var cipherSuite: String? { links.first { $0.open }?.stream.cipherSuite }
    var pendingOutboundBytes: Int { links.reduce(0) { $0 + $1.stream.pendingWriteBytes } }

    func start() {
        // The stream can start once the first connection is there (TLS up).
        _ = link()
    }

    func describe(_ opening: StreamOpening) -> String {
        session.state == .idle
            ? "(a BOSH session request to \(url) for \(opening.to), wait \(session.wait) s, hold 1)"
            : "(a BOSH stream restart, xmpp:restart='true')"
    }

    func open(_ opening: StreamOpening) {
        if session.state == .idle {
            let r = session.start()
            post(r)
        } else {
            pump()
        }
    }

    func restart() {
        restarting = true
        session.restart()
    }

    func startTLS() {
        end(.transport("the connection manager asked for STARTTLS inside BOSH", permanent: false))
    }

    func send(_ element: XMLElement) {
        session.enqueue(element)
        if !corked { pump() }
    }

    func cork() { corked = true }

    func uncork() {
        corked = false
        pump()
    }

    func close() {
        terminating = true
        session.terminate()
        pump()
    }

    func closeNow() {
        guard !ended else { return }
        ended = true
        for t in resendTimers { t.cancel() }
        pollTimer?.cancel()
        for l in links {
            l.deadline?.cancel()
            l.stream.close()
        }
    }

    func abort() {
        ended = true
        for t in resendTimers { t.cancel() }
        pollTimer?.cancel()
        for l in links {
            l.deadline?.cancel()
            l.stream.abort()
        }
    }

    func fail(_ error: XMLStreamError) {
        session.terminate()
        pump()
        end(.localStreamError(error))
    }

    // MARK: - Requests

    /// Sends what the session wants sent now, on a free connection (opening the second if needed).
    private func pump() {
        // Each request in flight holds a connection: two at most.
        while !ended, ready, session.inFlightCount < 2 {
            if session.hold == 0, session.state == .active, !session.hasQueuedWork, !pollDue {
                // A polling session (the manager holds no request, §12): an empty request at most
                // every `polling` seconds, not one per round trip.
                if pollTimer?.isPending != true {
                    let seconds = max(session.polling ?? 5, 1)
                    pollTimer = loop.schedule(after: Int64(seconds) * 1000) { [weak self] in
                        self?.pollDue = true
                        self?.pump()
                    }
                }
                return
            }
            guard let r = session.nextRequest() else { return }
            pollDue = false
            post(r)
        }
    }

    private func post(_ r: BOSHSession.Request) {
        let l = links.first { $0.rid == nil && !$0.stream.isEnded } ?? link()
        l.rid = r.rid
        var headers = HTTPHeaders()
        headers.append("Content-Type", "text/xml; charset=utf-8")
        let request = HTTPRequest(method: "POST", target: url.target, host: url.hostField, headers: headers, body: Array(r.body.utf8))
        let bytes: [UInt8]
        do { bytes = try request.serialized() } catch {
            return end(.transport("cannot write a request to \(url): \(error)", permanent: true))
        }
        l.deadline?.cancel()
        l.deadline = loop.schedule(after: Int64(session.requestTimeout) * 1000) { [weak self, unowned l] in
            self?.lost(l, "no response within \(self?.session.requestTimeout ?? 0) s")
        }
        if l.open { l.stream.write(bytes) } else { l.queued = bytes }
    }

    /// A new connection, connecting.
    private func link() -> Link {
        let l = Link(stream: makeStream())
        links.append(l)
        l.stream.onOpen = { [unowned self, unowned l] in
            l.open = true
            if let q = l.queued {
                l.queued = nil
                l.stream.write(q)
            }
            if !self.ready {
                self.ready = true
                // SCRAM is not bound to a TLS session: a BOSH session spans several connections.
                self.delegate?.transportReady(channelBindings: [])
            }
        }
        l.stream.onData = { [unowned self, unowned l] bytes in self.received(bytes, on: l) }
        l.stream.onActivity = { [unowned self] in self.delegate?.transportActivity() }
        l.stream.onEnd = { [unowned self, unowned l] failure in self.connectionEnded(l, failure) }
        l.stream.start()
        return l
    }

    private func received(_ bytes: UnsafeRawBufferPointer, on l: Link) {
        let events: [HTTPResponseEvent]
        do { events = try l.parser.feed(bytes) } catch {
            return lost(l, "a malformed HTTP response (\(error))")
        }
        for case .response(let response) in events {
            guard let rid = l.rid else {
                return end(.transport("\(url) sent a response nobody asked for", permanent: false))
            }
            l.rid = nil
            l.deadline?.cancel()
            resends[rid] = nil
            if !response.head.keepAlive { retire(l) }
            answered(rid, response)
            if ended { return }
        }
        delegate?.transportReadDone()
        pump()
    }

    /// The manager's answer to `rid`, in order with the others.
    private func answered(_ rid: Int64, _ response: HTTPResponse) {
        guard let delegate else { return }
        let wasCreating = session.state == .creating
        let delivery: BOSHSession.Delivery
        do { delivery = try session.received(rid: rid, response: response) } catch {
            let permanent = error.kind == .httpStatus && (response.head.status == 403 || response.head.status == 401)
            return end(.transport("\(url): \(error)", permanent: permanent))
        }
        if wasCreating, session.state != .creating, session.sid != nil {
            logger.debug("BOSH session \(session.sid!) at \(url): wait \(session.wait) s, hold \(session.hold), requests \(session.requests)")
            _ = delegate.transportReceived(.streamOpened(StreamOpen(id: session.sid, from: nil, to: nil, version: "1.0", lang: nil, contentNamespace: XMPPNamespace.client)))
        }
        for item in delivery.items {
            if ended { return }
            guard case .stanza(let stanza) = item else {
                // Skipped for its size, depth or attributes: counted and answered as over TCP.
                if case .skipped(let o) = item { _ = delegate.transportReceived(.oversized(o)) }
                continue
            }
            if restarting, stanza.name == "features", stanza.namespace == XMPPNamespace.stream {
                restarting = false
                _ = delegate.transportReceived(.streamOpened(StreamOpen(id: session.sid, from: nil, to: nil, version: "1.0", lang: nil, contentNamespace: XMPPNamespace.client)))
            }
            _ = delegate.transportReceived(.element(stanza))
        }
        if let t = delivery.termination, !ended {
            if let other = t.seeOtherURI { return end(.seeOtherURI(other)) }
            if terminating || t.condition.isEmpty {
                _ = delegate.transportReceived(.streamClosed)
                return end(terminating ? .closedByUs : .closedByPeer(nil))
            }
            end(.transport("the connection manager ended the BOSH session: \(t)", permanent: false))
        } else if terminating, session.state == .ended, session.inFlightCount == 0, !ended {
            _ = delegate.transportReceived(.streamClosed)
            end(.closedByUs)
        }
    }

    /// The response on `l` will not come: resend its request on another connection (§14).
    private func lost(_ l: Link, _ why: String) {
        guard !ended else { return }
        l.deadline?.cancel()
        retire(l)
        guard let rid = l.rid else { return pump() }
        l.rid = nil
        let again: BOSHSession.Request
        do { again = try session.lost(rid: rid) } catch {
            return end(.transport("\(url): \(error) (\(why))", permanent: false))
        }
        let n = resends[rid, default: 0]
        resends[rid] = n + 1
        let delay = Int64(1000) << Int64(min(n, 4))
        logger.debug("BOSH request \(rid) to \(url): \(why); sending it again in \(delay / 1000) s")
        resendTimers.removeAll { !$0.isPending }
        resendTimers.append(loop.schedule(after: delay) { [weak self] in
            guard let self, !self.ended else { return }
            self.post(again)
        })
    }

    private func connectionEnded(_ l: Link, _ failure: SocketStream.Failure) {
        guard !ended else { return }
        if !l.open {
            // It never opened: refused, unreachable, TLS refused. Only the first says so to the client.
            links.removeAll { $0 === l }
            l.deadline?.cancel()
            if case .tls = failure { return end(failure.endReason) }
            if case .proxy = failure { return end(failure.endReason) }
            if session.state == .idle || session.state == .creating { return end(failure.endReason) }
        }
        if let response = try? l.parser.finish(), let rid = l.rid {
            l.rid = nil
            l.deadline?.cancel()
            links.removeAll { $0 === l }
            answered(rid, response)
            return pump()
        }
        lost(l, "the connection closed (\(failure.endReason))")
    }

    private func retire(_ l: Link) {
        links.removeAll { $0 === l }
        l.stream.close()
    }

    private func end(_ reason: XMPPConnection.EndReason) {
        guard !ended else { return }
        // The stanzas that came before the end (in the terminating body, or earlier in this read)
        // are delivered first: they were the server's to send and are not sent again.
        delegate?.transportReadDone()
        guard !ended else { return }
        ended = true
        for t in resendTimers { t.cancel() }
        pollTimer?.cancel()
        for l in links {
            l.deadline?.cancel()
            l.stream.abort()
        }
        delegate?.transportEnded(reason)
    }
}
