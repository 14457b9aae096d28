public import XMPPCore

/// Why the parser ended the stream. ``condition`` is the stream error to send to the peer.
public struct XMLStreamError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The stream error condition (RFC 6120 §4.9.3) this maps to.
    public let condition: StreamError.Condition
    /// What exactly was wrong, for the log.
    public let detail: String

    public init(_ condition: StreamError.Condition, _ detail: String) {
        self.condition = condition
        self.detail = detail
    }

    public var description: String { "\(condition.rawValue): \(detail)" }

    /// The stream error element to send before closing.
    public var streamError: StreamError { StreamError(condition) }
}
