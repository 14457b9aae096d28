import PerchHTTP
import PerchIO
import XMPPCore
import XMPPXML

/// XMPP over WebSocket (RFC 7395) on a byte stream: the upgrade handshake asking for the `xmpp`
/// subprotocol, then one element per text message, the stream opened and ended with `<open/>` and
/// `<close/>`.
///
/// The server's messages go through the same incremental parser as an RFC 6120 stream (its
/// `<open/>` becomes that stream's header), so limits, oversized stanzas and stream errors behave
/// exactly as over TCP. A message must hold one whole element; one that leaves an element open is
/// refused. Messages are bounded by the parser's skip ceiling (twice `max_stanza_size`): a larger
/// one ends the connection (close code 1009), as a larger stanza ends a TCP stream.
final class WebSocketTransport: StreamTransport {
    let url: WebURL
    private let stream: SocketStream
    private var handshake: WebSocketHandshake?
    private var codec: WebSocketCodec
    private let parser: XMLStreamParser
    weak var delegate: (any StreamTransportDelegate)?
    private var corked = false
    private var corkedBytes: [UInt8] = []
    private var ended = false
    /// Whether the server's `<open/>` for the current stream has come.
    private var streamOpen = false

    init(url: WebURL, stream: SocketStream, limits: XMLStreamLimits) {
        self.url = url
        self.stream = stream
        self.parser = XMLStreamParser(limits: limits)
        self.codec = WebSocketCodec(maxMessageBytes: limits.skipCeiling)
    }

    var address: SocketAddress { stream.address }
    var cipherSuite: String? { stream.cipherSuite }
    var pendingOutboundBytes: Int { stream.pendingWriteBytes + corkedBytes.count }

    func start() {
        stream.onOpen = { [unowned self] in self.upgrade() }
        stream.onData = { [unowned self] bytes in self.received(bytes) }
        stream.onActivity = { [unowned self] in self.delegate?.transportActivity() }
        stream.onEnd = { [unowned self] failure in
            switch failure {
            case .closed(nil) where self.codec.state == .closed:
                // After the closing handshake, TCP's end is the expected one.
                self.end(.closedByPeer(nil))
            case .closed(nil) where self.handshake != nil:
                self.end(.transport("\(self.url) closed the connection instead of answering the WebSocket upgrade", permanent: false))
            default:
                self.end(failure.endReason)
            }
        }
        stream.start()
    }

    /// The HTTP upgrade request (RFC 6455 §4.1).
    private func upgrade() {
        let h = WebSocketHandshake(url: url)
        handshake = h
        do {
            stream.write(try h.request.serialized())
        } catch {
            end(.transport("cannot ask \(url) for a WebSocket: \(error)", permanent: true))
        }
    }

    func describe(_ opening: StreamOpening) -> String { XMPPFraming.open(to: opening.to, lang: opening.lang) }

    func open(_ opening: StreamOpening) {
        sendText(XMPPFraming.open(to: opening.to, lang: opening.lang))
    }

    /// Nothing to reset here: the server's next `<open/>` starts the new stream.
    func restart() {
        streamOpen = false
    }

    func startTLS() {
        // TLS is the WebSocket connection's (wss); the negotiator never asks for STARTTLS here.
        end(.transport("the server asked for STARTTLS inside a WebSocket stream", permanent: false))
    }

    func send(_ element: XMLElement) {
        // Each element carries its own namespace declaration (RFC 7395 §3.3.3).
        sendText(element.serialized(parentNamespace: ""))
    }

    func cork() { corked = true }

    func uncork() {
        corked = false
        guard !corkedBytes.isEmpty else { return }
        let bytes = corkedBytes
        corkedBytes = []
        stream.write(bytes)
    }

    func close() { sendText(XMPPFraming.close) }

    func closeNow() {
        guard !ended else { return }
        ended = true
        stream.write(codec.close(.normal))
        stream.close()
    }

    func abort() {
        ended = true
        stream.abort()
    }

    func fail(_ error: XMLStreamError) {
        sendText(error.streamError.element.serialized(parentNamespace: ""))
        sendText(XMPPFraming.close)
        stream.write(codec.close(.normal))
        stream.close()
        end(.localStreamError(error))
    }

    private func sendText(_ text: String) {
        guard !ended, handshake == nil else { return }
        let frame = codec.text(text)
        if corked { corkedBytes += frame } else { stream.write(frame) }
    }

    // MARK: - Bytes in

    private func received(_ bytes: UnsafeRawBufferPointer) {
        guard !ended else { return }
        if var h = handshake {
            let rest: [UInt8]
            do {
                guard let r = try h.receive(bytes) else {
                    handshake = h
                    return
                }
                rest = r
            } catch {
                // 401/403: the endpoint refuses us, which retrying does not change.
                // Access refused, or not an XMPP WebSocket endpoint at all (a page, no xmpp subprotocol,
                // an extension forced on us): retrying soon does not help until the URL or the server
                // is fixed. A 404 or a 5xx may be a server restarting: retried as usual.
                let permanent: Bool
                switch error.kind {
                case .noXMPPSubprotocol, .unrequestedExtension: permanent = true
                case .notSwitching: permanent = error.status == 401 || error.status == 403 || error.status == 200
                default: permanent = false
                }
                return end(.transport("\(url): \(error)", permanent: permanent))
            }
            handshake = nil
            delegate?.transportReady(channelBindings: stream.saslChannelBindings)
            if !rest.isEmpty, !ended { frames(codec.receive(rest)) }
            return
        }
        frames(codec.receive(bytes))
    }

    private func frames(_ events: [WebSocketEvent]) {
        for (i, event) in events.enumerated() {
            guard !ended, let delegate else { return }
            switch event {
            case .message(let text):
                message(text, delegate)
            case .send(let bytes):
                stream.write(bytes)
            case .ping, .pong:
                break
            case .close(let code, let reason):
                // The server closed the WebSocket. The echo of its close is the .send that follows:
                // written now, before the connection ends below (RFC 6455 §5.5.1).
                if i + 1 < events.count, case .send(let echo) = events[i + 1] { stream.write(echo) }
                if code == .normal || code == .goingAway || code == nil {
                    if streamOpen { _ = delegate.transportReceived(.streamClosed) }
                    end(.closedByPeer(nil))
                } else {
                    end(.transport("the server closed the WebSocket with code \(code!)\(reason.isEmpty ? "" : ": \(reason)")", permanent: false))
                }
            case .failed(let code, let detail):
                end(.transport("the server broke the WebSocket protocol (\(detail)); closed with \(code)", permanent: false))
            }
        }
        delegate?.transportReadDone()
    }

    /// One text message: `<open/>`, `<close/>`, or an element for the parser.
    private func message(_ text: String, _ delegate: any StreamTransportDelegate) {
        switch XMPPFraming.framingElement(text) {
        case .some(let name):
            let m: XMPPFraming.Message
            do {
                m = try XMPPFraming.parse(text, limits: parser.limits)
            } catch {
                return fail(error)
            }
            switch m {
            case .open(let open):
                if streamOpen { return fail(XMLStreamError(.badFormat, "a second <open/> without a stream restart")) }
                streamOpen = true
                do {
                    parser.reset()
                    // The server's <open/> as the header of the stream its elements are parsed in.
                    var header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'"
                    if let id = open.id { header += " id='" + XMLEscaping.escapeAttribute(id) + "'" }
                    if let from = open.from { header += " from='" + XMLEscaping.escapeAttribute(from) + "'" }
                    if let lang = open.lang { header += " xml:lang='" + XMLEscaping.escapeAttribute(lang) + "'" }
                    header += ">"
                    try feed(header, delegate)
                } catch {
                    fail(error)
                }
            case .close(let seeOther):
                if let seeOther {
                    if url.scheme.isSecure, let target = try? WebURL.parse(seeOther), !target.scheme.isSecure {
                        return end(.transport("the server sends us to \(target), which is not encrypted; not followed (a wss:// endpoint may only send us to another wss:// one)", permanent: false))
                    }
                    return end(.seeOtherURI(seeOther))
                }
                _ = delegate.transportReceived(.streamClosed)
            case .element:
                // Not reached: framingElement only names open and close.
                fail(XMLStreamError(.badFormat, "<\(name)> where <open/> or <close/> was expected"))
            }
        case .none:
            guard streamOpen else {
                return fail(XMLStreamError(.badFormat, "an element before the server's <open/>"))
            }
            let bytes = Array(text.utf8)
            if bytes.allSatisfy(XMPPFraming.isXMLSpace) { return }
            // Checked before anything of it is delivered: a refused message delivers nothing.
            guard XMPPFraming.holdsOneElement(bytes) else {
                return fail(XMLStreamError(.badFormat, "a WebSocket message that is not one whole element (RFC 7395 §3.3.3)"))
            }
            do {
                try feed(bytes, delegate)
                if !ended, !parser.isBetweenStanzas, streamOpen {
                    fail(XMLStreamError(.badFormat, "a WebSocket message that is not one whole element (RFC 7395 §3.3.3)"))
                }
            } catch {
                fail(error)
            }
        }
    }

    private func feed(_ text: String, _ delegate: any StreamTransportDelegate) throws(XMLStreamError) {
        try feed(Array(text.utf8), delegate)
    }

    private func feed(_ bytes: [UInt8], _ delegate: any StreamTransportDelegate) throws(XMLStreamError) {
        var failure: XMLStreamError?
        bytes.withUnsafeBytes { raw in
            do throws(XMLStreamError) {
                _ = try parser.feed(raw) { [unowned self] event in
                if self.ended { return .stop }
                if case .streamOpened = event {} else if case .streamClosed = event {
                    // Only <close/> ends a stream here; a closing tag in a message is malformed.
                    return .stop
                }
                return delegate.transportReceived(event)
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    private func end(_ reason: XMPPConnection.EndReason) {
        guard !ended else { return }
        // The stanzas of the messages before the end (a close frame or a broken frame in the same
        // read) are delivered first: they were the server's to send and are not sent again.
        delegate?.transportReadDone()
        guard !ended else { return }
        ended = true
        stream.abort()
        delegate?.transportEnded(reason)
    }
}
