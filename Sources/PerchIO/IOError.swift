import Glibc

/// A system call failure, with the call and the C library's message.
public struct IOError: Error, Hashable, Sendable, CustomStringConvertible {
    public let call: String
    public let code: Int32
    public let message: String

    public init(call: String, code: Int32, message: String) {
        self.call = call
        self.code = code
        self.message = message
    }

    /// The current `errno`.
    public static func errno(_ call: String) -> IOError {
        let e = Glibc.errno
        return IOError(call: call, code: e, message: String(cString: strerror(e)))
    }

    /// Nothing listens at the address (`ECONNREFUSED`): the host answered, the service is down.
    public var isConnectionRefused: Bool { code == ECONNREFUSED }

    public var description: String { "\(call): \(message)" }
}
