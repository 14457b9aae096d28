/// Why authentication cannot go on. Each case says what the operator can do about it.
public struct SASLError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The server offers no mechanism we are willing to use.
        case noAcceptableMechanism
        /// The server's SCRAM message is malformed or breaks the protocol.
        case malformedChallenge
        /// The server's nonce does not extend ours (a replay or a broken server).
        case nonceMismatch
        /// The server asked for an iteration count we refuse (too low to be safe, or so high it would
        /// stall the board).
        case unacceptableIterationCount
        /// The server's final signature is wrong: it does not know the password, or someone is in the middle.
        case serverSignatureMismatch
        /// The server reported an error in its final message (`e=`).
        case serverError
        /// The server ended authentication with a `<failure/>`.
        case failure
        /// SASLprep refuses the user name or password (a prohibited character, the bidi rules).
        case preparation
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail }
}
