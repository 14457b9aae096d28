/// Limits the parser enforces on what a peer may send. The defaults suit a board with little memory.
///
/// They are per stanza: a stanza that crosses one is skipped (nothing more of it is kept) and reported
/// as ``XMLStreamEvent/oversized(_:)``, and the stream goes on, since servers relay what other users
/// write. What ends the stream with `<policy-violation/>` is what no server relays: one unfinished tag
/// or text run larger than ``maxStanzaBytes`` held by libxml2, or a skipped stanza past
/// ``skipCeiling`` bytes.
public struct XMLStreamLimits: Sendable, Hashable {
    /// The largest stanza, counted as the bytes of its names, attribute values and character data
    /// (close to its serialized size), namespace declarations included. Also bounds what libxml2 may
    /// buffer of an unfinished tag.
    /// RFC 6120 §13.12 asks servers to accept at least 10,000 bytes; 256 KiB leaves room for pubsub payloads.
    public var maxStanzaBytes: Int
    /// The deepest nesting inside a stanza (the stanza element itself is depth 1).
    public var maxDepth: Int
    /// The most attributes on one element.
    public var maxAttributes: Int

    /// How much of one over-limit stanza is read and thrown away before the stream is ended instead:
    /// twice ``maxStanzaBytes``, 512 KiB by default, what Prosody relays from other servers and
    /// ejabberd's example configuration allows them (from clients both take 256 KiB). Counted as
    /// ``maxStanzaBytes`` is, which is never more than the bytes on the wire. It bounds what skipping
    /// costs libxml2, whose per-level stacks grow with nesting (about 40 bytes a level).
    public var skipCeiling: Int { maxStanzaBytes * 2 }

    public init(maxStanzaBytes: Int = 256 * 1024, maxDepth: Int = 64, maxAttributes: Int = 64) {
        self.maxStanzaBytes = maxStanzaBytes
        self.maxDepth = maxDepth
        self.maxAttributes = maxAttributes
    }

    public static let `default` = XMLStreamLimits()
}
