import PerchIO
import PerchTLS
import XMPPCore
import XMPPXML

/// XMPP's own framing (RFC 6120): one XML stream over a TCP connection, in TLS from the first byte
/// (direct TLS, XEP-0368) or after STARTTLS, parsed incrementally.
final class XMLStreamTransport: StreamTransport {
    private let stream: SocketStream
    private let parser: XMLStreamParser
    private let tlsConfiguration: TLSConfiguration
    weak var delegate: (any StreamTransportDelegate)?
    private var corked = false
    private var corkedText = ""
    /// True while inside the parser's callbacks, where the parser must not be reset.
    private var feeding = false
    private var resetPending = false
    /// Set by ``restart()`` or ``startTLS()`` during delivery: the rest of the read is the new stream's
    /// (or TLS records).
    private var switched = false

    init(stream: SocketStream, tlsConfiguration: TLSConfiguration, limits: XMLStreamLimits) {
        self.stream = stream
        self.tlsConfiguration = tlsConfiguration
        self.parser = XMLStreamParser(limits: limits)
    }

    var address: SocketAddress { stream.address }
    var cipherSuite: String? { stream.cipherSuite }
    var pendingOutboundBytes: Int { stream.pendingWriteBytes }

    func start() {
        stream.onOpen = { [unowned self] in self.delegate?.transportReady(channelBindings: self.stream.saslChannelBindings) }
        stream.onTLSEstablished = { [unowned self] in
            self.parser.reset()
            self.delegate?.transportTLSEstablished(channelBindings: self.stream.saslChannelBindings)
        }
        stream.onData = { [unowned self] bytes in self.parse(bytes) }
        stream.onActivity = { [unowned self] in self.delegate?.transportActivity() }
        stream.onEnd = { [unowned self] failure in self.delegate?.transportEnded(failure.endReason) }
        stream.start()
    }

    func describe(_ opening: StreamOpening) -> String { opening.header }
    func open(_ opening: StreamOpening) { write(opening.header) }

    func restart() {
        switched = true
        if feeding { resetPending = true } else { parser.reset() }
    }

    func startTLS() {
        switched = true
        stream.startTLS(tlsConfiguration)
    }

    func send(_ element: XMLElement) { write(element.serialized()) }

    func cork() { corked = true }

    func uncork() {
        corked = false
        guard !corkedText.isEmpty else { return }
        let text = corkedText
        corkedText = ""
        write(text)
    }

    func close() { write(StreamHeader.close) }
    func closeNow() { stream.close() }
    func abort() { stream.abort() }

    func fail(_ error: XMLStreamError) {
        write(error.streamError.serialized)
        write(StreamHeader.close)
        stream.abort()
        delegate?.transportEnded(.localStreamError(error))
    }

    private func write(_ text: String) {
        if corked {
            corkedText += text
        } else {
            stream.write(text.utf8)
        }
    }

    private func parse(_ bytes: UnsafeRawBufferPointer) {
        var remaining = bytes
        while !stream.isEnded, let delegate {
            switched = false
            let leftover: Int
            do {
                feeding = true
                defer { feeding = false }
                leftover = try parser.feed(remaining) { [unowned self] event in
                    if self.stream.isEnded { return .stop }
                    return delegate.transportReceived(event)
                }
                delegate.transportReadDone()
            } catch {
                delegate.transportReadDone()
                guard !stream.isEnded else { return }
                return fail(error)
            }
            if resetPending {
                resetPending = false
                parser.reset()
            }
            guard switched, leftover > 0 else { return }
            // Bytes after <proceed/> are TLS; after a stream restart they are the new stream.
            remaining = UnsafeRawBufferPointer(rebasing: remaining[(remaining.count - leftover)...])
            if stream.tls != nil && !stream.isEncrypted {
                stream.reinject(remaining)
                return
            }
        }
    }
}
