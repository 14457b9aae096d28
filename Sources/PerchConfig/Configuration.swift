public import PerchHTTP
public import XMPPAddress

/// The daemon's configuration, validated. Loaded by ``ConfigurationLoader``.
public struct Configuration: Sendable {
    public enum Transport: String, Sendable { case starttls, directtls, plain, websocket, bosh }

    public struct Account: Sendable {
        public var jid: JID
        /// Where the password came from, for messages (never the password itself).
        public var passwordSource: PasswordSource
    }

    public struct Server: Sendable {
        public var host: String?
        public var port: Int?
        public var transport: Transport?
        /// `url`: the WebSocket (ws/wss) or BOSH (http/https) endpoint; nil with those transports:
        /// found by XEP-0156 from the account's domain.
        public var url: WebURL?
        /// `bosh_wait`: how long the BOSH connection manager may hold a request (seconds).
        public var boshWait = 60
        public var caFile: String?
        /// SPKI SHA-256 pins, decoded.
        public var pins: [[UInt8]]
        /// `allow_plain`: SASL PLAIN (the password itself, inside TLS) with a server that has no SCRAM.
        /// Never used when pins are set.
        public var allowPlain = false
        /// `proxy`: an HTTP CONNECT proxy every connection goes through.
        public var proxy: Proxy?
    }

    /// An HTTP proxy (`server.proxy = "http://proxy.example.org:3128"`), and where its credentials
    /// come from (`server.proxy_credentials_file`, or the systemd credential `proxy-credentials`).
    public struct Proxy: Sendable, Hashable {
        public var host: String
        public var port: Int
        /// A file holding `user:password`; nil: the proxy wants none.
        public var credentials: PasswordSource?
    }

    public struct Access: Sendable {
        public var owners: [AccessEntry]
        public var operators: [AccessEntry]
        public var viewers: [AccessEntry]
        /// What happens to a stranger's subscription request.
        public var strangers: StrangerPolicy = .refuse

        public init(owners: [AccessEntry], operators: [AccessEntry], viewers: [AccessEntry]) {
            self.owners = owners
            self.operators = operators
            self.viewers = viewers
        }
    }

    public enum StrangerPolicy: String, Sendable {
        /// Refuse the subscription request.
        case refuse
        /// Ask the owners by chat; one replies `allow JID` or `deny JID`.
        case askOwners = "ask-owners"
    }

    /// How commands are vetted.
    public struct Commands: Sendable {
        /// A command message delayed longer than this (XEP-0203, offline storage) is refused (ms).
        public var maxAge: Int64 = 60_000
        /// Actions per minute per JID (0: no limit).
        public var rateLimit = 30
        public init() {}
    }

    /// How readings and states are published.
    public struct Telemetry: Sendable {
        public enum PubSub: String, Sendable { case none, pep, service }
        public var presence = true
        /// The shortest time between two presence updates (ms).
        public var minInterval: Int64 = 60_000
        public var pubsub: PubSub = .none
        /// The pubsub service's JID, for `pubsub = "service"`.
        public var service: String?
        /// The node readings are published to.
        public var node: String?
        public var accessModel = "presence"
        public var maxItems = 100
        public var persist = true
        public init() {}
    }

    /// Where readings wait until the server has them: the durable outbox.
    public struct Outbox: Sendable {
        /// Staged entries are written together this often (ms); 0 writes each one as it is taken.
        public var commitInterval: Int64 = 5_000
        /// "process" (survives the daemon being killed) or "power" (an fsync per commit).
        public var syncEveryCommit = false
        public var maxEntries = 100_000
        public var maxBytes = 32 << 20
        public var maxAge: Int64 = 7 * 86_400_000
        public init() {}
    }

    public struct Connection: Sendable {
        public var pingInterval: Int64 = 60_000
        public var pingTimeout: Int64 = 30_000
        public var connectTimeout: Int64 = 30_000
        public var reconnectMax: Int64 = 300_000
        public var maxStanzaBytes = 256 * 1024
    }

    public struct Log: Sendable {
        public var level: String = "info"
        public var traceXML = false
    }

    public var file: String
    public var account: Account
    public var server: Server
    public var access: Access
    public var connection: Connection
    public var log: Log
    public var device: DeviceConfiguration
    public var commands = Commands()
    public var telemetry = Telemetry()
    public var outbox = Outbox()
    /// `[[room]]`: the group chat rooms the device joins.
    public var rooms: [RoomConfiguration] = []
    /// `[[alert]]`, `[[rule]]`, `[[schedule]]`: what the device decides on its own.
    public var alerts: [AlertConfiguration] = []
    public var rules: [RuleConfiguration] = []
    public var schedules: [ScheduleConfiguration] = []
}

/// A bare JID or a whole domain (`@example.org`) in an access list.
public enum AccessEntry: Sendable, Hashable, CustomStringConvertible {
    case jid(JID)
    case domain(String)

    public func matches(_ jid: JID) -> Bool {
        switch self {
        case .jid(let j): j == jid.bare
        case .domain(let d): jid.domainpart == d
        }
    }

    public var description: String {
        switch self {
        case .jid(let j): j.description
        case .domain(let d): "@\(d)"
        }
    }
}

/// Where the account password is read from.
public enum PasswordSource: Sendable, Hashable, CustomStringConvertible {
    case file(String)
    case credential(String)
    case environment

    public var description: String {
        switch self {
        case .file(let p): "the file \(p)"
        case .credential(let p): "the systemd credential \(p)"
        case .environment: "the environment variable PERCH_PASSWORD"
        }
    }
}
