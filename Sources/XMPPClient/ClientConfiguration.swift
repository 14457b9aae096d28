public import PerchHTTP
public import XMPPAddress
public import XMPPXML

/// Everything the client needs to connect and behave.
public struct ClientConfiguration: Sendable {
    /// How to reach the server.
    public enum Transport: String, Sendable {
        /// Plain TCP, then STARTTLS (mandatory).
        case starttls
        /// TLS from the first byte (XEP-0368).
        case directTLS = "directtls"
        /// No TLS; refused unless the server address is on the loopback interface.
        case plain
        /// XMPP over WebSocket (RFC 7395) at ``ClientConfiguration/url``, or the endpoint XEP-0156 names.
        case websocket
        /// BOSH (XEP-0124/0206) at ``ClientConfiguration/url``, or the endpoint XEP-0156 names.
        case bosh

        /// WebSocket or BOSH: over HTTP, at a URL.
        public var isWeb: Bool { self == .websocket || self == .bosh }
    }

    public var jid: JID
    public var password: String
    /// An explicit server host; nil to use DNS SRV for the JID's domain.
    public var host: String?
    /// The port with ``host``; nil for the transport's default (5222, or 5223 for direct TLS).
    public var port: Int?
    /// The transport. With DNS SRV and nil, both record kinds are used (each with its own transport).
    public var transport: Transport?
    /// The WebSocket or BOSH endpoint; nil: found by XEP-0156 from the JID's domain.
    public var url: WebURL?
    /// The port of `https://DOMAIN/.well-known/host-meta` (XEP-0156): 443; tests use another.
    public var discoveryPort = 443
    /// BOSH: how long the connection manager may hold a request (seconds).
    public var boshWait = 60
    public var caFile: String?
    public var systemTrustStore: String? = "/etc/ssl/certs/ca-certificates.crt"
    public var spkiPins: [[UInt8]] = []
    /// Allow SASL PLAIN (the password itself, inside TLS) when the server offers no SCRAM. Never used
    /// with ``spkiPins`` set, whatever this says.
    public var allowPlain = false
    public var limits: XMLStreamLimits = .default

    /// Ping the server after this long without receiving anything (ms).
    public var pingInterval: Int64 = 60_000
    /// Declare the connection dead when the server stays silent this long while we wait for it (a
    /// ping, an iq request, an XEP-0198 acknowledgement) (ms); at half of it the answers are overdue
    /// (``XMPPClient/answersOverdue``). An idle dead TCP connection is noticed within interval +
    /// timeout (90 s by default), a busy one within the timeout of the first unanswered request.
    public var pingTimeout: Int64 = 30_000
    /// Time allowed for TCP connect plus the whole negotiation (ms).
    public var connectTimeout: Int64 = 30_000
    public var reconnect = ReconnectPolicy()
    /// Bytes that may wait unsent before the connection is considered stuck.
    public var maxOutboundBytes = 1 << 20

    /// XEP-0092 software version, and the XEP-0115 caps node.
    public var softwareName = "Perch"
    public var softwareVersion = "0.1.0"
    public var operatingSystem: String?
    public var capsNode = "https://perch.invalid/caps"
    /// The presence priority (RFC 6121 §4.7.2.3).
    public var presencePriority = 0
    /// Use XEP-0198 stream management where the server offers it.
    public var streamManagement = true
    /// Where the stream management state is kept between runs, so a restarted client resumes the
    /// session; nil keeps it in memory only.
    public var resumptionFile: String?
    /// Log every element sent and received (SASL payloads redacted).
    public var traceXML = false
    /// An HTTP proxy every connection goes through (CONNECT); nil connects directly.
    public var proxy: Proxy?

    /// An HTTP CONNECT proxy: where it is, and the credentials it wants (never logged).
    public struct Proxy: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public var user: String?
        public var password: String?

        public init(host: String, port: Int, user: String? = nil, password: String? = nil) {
            self.host = host
            self.port = port
            self.user = user
            self.password = password
        }

        public var description: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)\(user == nil ? "" : " (with credentials)")" }
    }

    public init(jid: JID, password: String) {
        self.jid = jid
        self.password = password
    }
}
