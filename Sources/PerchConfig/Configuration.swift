public import XMPPAddress

/// The daemon's configuration, validated. Loaded by ``ConfigurationLoader``.
public struct Configuration: Sendable {
    public enum Transport: String, Sendable { case starttls, directtls, plain }

    public struct Account: Sendable {
        public var jid: JID
        /// Where the password came from, for messages (never the password itself).
        public var passwordSource: PasswordSource
    }

    public struct Server: Sendable {
        public var host: String?
        public var port: Int?
        public var transport: Transport?
        public var caFile: String?
        /// SPKI SHA-256 pins, decoded.
        public var pins: [[UInt8]]
    }

    public struct Access: Sendable {
        public var owners: [AccessEntry]
        public var operators: [AccessEntry]
        public var viewers: [AccessEntry]
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
