/// Limits the parser enforces on what a peer may send. Crossing one ends the stream with
/// `<policy-violation/>`. The defaults suit a board with little memory.
public struct XMLStreamLimits: Sendable, Hashable {
    /// The largest stanza, counted as the bytes of its names, attribute values and character data
    /// (close to its serialized size). Also bounds what libxml2 may buffer of an unfinished tag.
    /// RFC 6120 §13.12 asks servers to accept at least 10,000 bytes; 256 KiB leaves room for pubsub payloads.
    public var maxStanzaBytes: Int
    /// The deepest nesting inside a stanza (the stanza element itself is depth 1).
    public var maxDepth: Int
    /// The most attributes on one element.
    public var maxAttributes: Int

    public init(maxStanzaBytes: Int = 256 * 1024, maxDepth: Int = 64, maxAttributes: Int = 64) {
        self.maxStanzaBytes = maxStanzaBytes
        self.maxDepth = maxDepth
        self.maxAttributes = maxAttributes
    }

    public static let `default` = XMLStreamLimits()
}
