import PerchIO
import XMPPCore
import XMPPSASL
import XMPPXML

/// What carries one XMPP stream to the server: below it a byte stream (TCP, TLS, a proxy's tunnel),
/// in it a framing — the RFC 6120 stream, RFC 7395 WebSocket messages, or XEP-0124/0206 BOSH
/// bodies. ``XMPPConnection`` negotiates and delivers stanzas through this seam and does not know
/// which transport it has; a new transport is a new conforming type.
///
/// Every transport delivers what the server sent as the events of an RFC 6120 stream
/// (``XMLStreamEvent``): the opening (`<stream:stream>`, `<open/>`, a session's first body), each
/// element, the end.
protocol StreamTransport: AnyObject {
    /// Where this transport connects (the proxy, when there is one), for the log.
    var address: SocketAddress { get }
    /// The TLS cipher suite once TLS protects the stream, for the log.
    var cipherSuite: String? { get }
    /// Bytes (or stanzas' bytes) accepted but not yet written to the network.
    var pendingOutboundBytes: Int { get }
    var delegate: (any StreamTransportDelegate)? { get set }

    /// Connects; ``StreamTransportDelegate/transportReady(channelBindings:)`` follows.
    func start()
    /// The stream header as this framing writes it, for the trace.
    func describe(_ opening: StreamOpening) -> String
    /// Sends the stream header (the first, or a new one after STARTTLS or SASL: then ``restart()`` has been called).
    func open(_ opening: StreamOpening)
    /// The stream restarts (RFC 6120 §4.3.3): forget the old stream; the next events are the new
    /// stream's. Called from inside event delivery.
    func restart()
    /// Starts TLS on a stream that began in the clear (STARTTLS, RFC 6120 only); the delegate hears
    /// ``StreamTransportDelegate/transportTLSEstablished(channelBindings:)``.
    func startTLS()
    /// Sends one element (a stanza, a nonza).
    func send(_ element: XMLElement)
    /// Holds what is sent until ``uncork()``: the answers to one read go out together (one TLS
    /// record, one WebSocket write, one BOSH request).
    func cork()
    func uncork()
    /// Ends the stream politely (`</stream:stream>`, `<close/>`, a terminating body); the server's
    /// own end follows as ``XMLStreamEvent/streamClosed``, or ``closeNow()`` is called after a while.
    func close()
    /// Closes the connection after a polite end (TLS close_notify; written, then closed). No callback.
    func closeNow()
    /// Drops the connection at once. No callback.
    func abort()
    /// Refuses what the server sent: the stream error in the transport's framing, then the end.
    func fail(_ error: XMLStreamError)
}

/// What a transport tells the connection it carries, on the event loop.
protocol StreamTransportDelegate: AnyObject {
    /// The transport can carry the stream: open it. `channelBindings` are the TLS session's (empty in the clear).
    func transportReady(channelBindings: [ChannelBinding])
    /// TLS started with ``StreamTransport/startTLS()`` is up.
    func transportTLSEstablished(channelBindings: [ChannelBinding])
    /// One event from the server; `.stop` ends the delivery of this read (the stream restarts or TLS
    /// starts: what follows belongs to something else).
    func transportReceived(_ event: XMLStreamEvent) -> XMLStreamParser.Disposition
    /// Every event of one read has been delivered.
    func transportReadDone()
    /// Bytes arrived (the liveness check's signal).
    func transportActivity()
    /// The transport ended; nothing more comes from it.
    func transportEnded(_ reason: XMPPConnection.EndReason)
}

extension SocketStream.Failure {
    /// The failure of the byte stream as the end of the connection.
    var endReason: XMPPConnection.EndReason {
        switch self {
        case .connect(let e): return .connectFailed(e)
        case .tls(let e): return .tls(e)
        case .proxy(let e): return .proxy(e)
        case .closed(let e): return .closedByPeer(e)
        case .stuck(let n): return .timeout("the server stopped reading (\(n) bytes unsent)")
        }
    }
}

extension SocketStream {
    /// The TLS channel bindings in the SASL layer's form.
    var saslChannelBindings: [ChannelBinding] { channelBindings.map { ChannelBinding(type: $0.type, data: $0.data) } }
}
