import XMPPCore

/// The children read so far of every element still open in the stanza being built, innermost last:
/// one stack for the whole stanza instead of a growing array per element. When an element ends, its
/// children (the nodes from where it began) are moved into one array of exactly their number, so
/// building a child list costs one allocation and no copying, retaining or regrowth. The character
/// data read since the last tag collects in one byte buffer and becomes one text node at the next tag.
struct PendingNodes: ~Copyable {
    private var base: UnsafeMutablePointer<XMLNode>
    private var capacity: Int
    /// How many nodes are held.
    private(set) var count = 0
    private var text: UnsafeMutablePointer<UInt8>
    private var textCapacity: Int
    private var textCount = 0

    /// What the stack starts with (a parser made for one stored element needs little), and what it
    /// keeps between stanzas: a stanza with more nodes gives the rest back at its end.
    static let initialCapacity = 16
    static let keptCapacity = 64
    /// The same for the text run, in bytes.
    static let initialTextCapacity = 256
    static let keptTextCapacity = 4096

    init() {
        capacity = Self.initialCapacity
        base = .allocate(capacity: capacity)
        textCapacity = Self.initialTextCapacity
        text = .allocate(capacity: textCapacity)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
        text.deallocate()
    }

    /// Character data of the innermost open element (valid UTF-8, as libxml2 hands it over; a
    /// character may be split between two calls).
    mutating func appendText(_ bytes: UnsafeBufferPointer<UInt8>) {
        if textCount + bytes.count > textCapacity {
            let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: max(2 * textCapacity, textCount + bytes.count))
            larger.initialize(from: text, count: textCount)
            text.deallocate()
            text = larger
            textCapacity = max(2 * textCapacity, textCount + bytes.count)
        }
        (text + textCount).initialize(from: bytes.baseAddress!, count: bytes.count)
        textCount += bytes.count
    }

    /// The text read since the last tag becomes one text node.
    mutating func flushText() {
        guard textCount > 0 else { return }
        let run = String(decoding: UnsafeBufferPointer(start: text, count: textCount), as: UTF8.self)
        textCount = 0
        append(.text(run))
    }

    mutating func append(_ node: consuming XMLNode) {
        if count == capacity { grow() }
        (base + count).initialize(to: node)
        count += 1
    }

    /// Removes the nodes from `start` on and returns them, in order.
    mutating func take(from start: Int) -> [XMLNode] {
        let n = count - start
        guard n > 0 else { return [] }
        // Appending to a reserved array, rather than Array(unsafeUninitializedCapacity:), which the
        // optimizer leaves generic (a run-time metadata lookup per array).
        var taken: [XMLNode] = []
        taken.reserveCapacity(n)
        for i in start..<count { taken.append((base + i).move()) }
        count = start
        return taken
    }

    /// Drops every node and the text run, and memory past ``keptCapacity`` and ``keptTextCapacity``.
    mutating func removeAll() {
        base.deinitialize(count: count)
        count = 0
        textCount = 0
        trim()
    }

    /// Gives back memory past ``keptCapacity`` and ``keptTextCapacity`` once the stack is empty (after
    /// a stanza of many nodes or a long text).
    mutating func trim() {
        guard count == 0, textCount == 0 else { return }
        if capacity > Self.keptCapacity {
            base.deallocate()
            capacity = Self.initialCapacity
            base = .allocate(capacity: capacity)
        }
        if textCapacity > Self.keptTextCapacity {
            text.deallocate()
            textCapacity = Self.initialTextCapacity
            text = .allocate(capacity: textCapacity)
        }
    }

    private mutating func grow() {
        let larger = UnsafeMutablePointer<XMLNode>.allocate(capacity: 2 * capacity)
        larger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = larger
        capacity *= 2
    }
}
