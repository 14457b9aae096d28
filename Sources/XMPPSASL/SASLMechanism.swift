
/// A client-side SASL mechanism (RFC 4422) as a pure state machine: it produces the initial response,
/// answers challenges, and checks the server's final data. It does no I/O.
public protocol SASLMechanism {
    /// The IANA mechanism name, e.g. `SCRAM-SHA-256-PLUS`.
    var name: String { get }
    /// The initial response sent with `<auth/>`.
    mutating func initialResponse() -> [UInt8]
    /// The response to a server challenge.
    mutating func respond(to challenge: [UInt8]) throws(SASLError) -> [UInt8]
    /// Verifies the additional data of `<success/>` (the SCRAM server signature). Mechanisms that
    /// carry none accept an empty success.
    mutating func verifySuccess(_ data: [UInt8]) throws(SASLError)
    /// True once the server has been authenticated to us (always true for mechanisms that cannot do so).
    var serverVerified: Bool { get }
}

/// A channel binding (RFC 5929): its type name and the data that binds SCRAM to the TLS connection.
public struct ChannelBinding: Sendable, Hashable {
    public var type: String
    public var data: [UInt8]

    public init(type: String, data: [UInt8]) {
        self.type = type
        self.data = data
    }
}

/// RFC 4616 PLAIN. Only ever used inside TLS, when the operator allowed it, no pins are set and the
/// server offers no SCRAM.
public struct SASLPlain: SASLMechanism {
    public let name = "PLAIN"
    private let username: String
    private let password: String

    /// - Parameters: the user name and password, already SASLprep'd (``SASLPrep/prepare(_:what:stored:)``).
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public mutating func initialResponse() -> [UInt8] {
        [0] + Array(username.utf8) + [0] + Array(password.utf8)
    }

    public mutating func respond(to challenge: [UInt8]) throws(SASLError) -> [UInt8] {
        throw SASLError(.malformedChallenge, "the server sent a challenge to PLAIN, which has none")
    }

    public mutating func verifySuccess(_ data: [UInt8]) throws(SASLError) {}

    public var serverVerified: Bool { true }
}
