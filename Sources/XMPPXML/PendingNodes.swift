import XMPPCore

/// The children read so far of every element still open in the stanza being built, innermost last:
/// one stack for the whole stanza instead of a growing array per element. When an element ends, its
/// children (the nodes from where it began) are moved into one array of exactly their number, so
/// building a child list costs one allocation and no copying, retaining or regrowth.
struct PendingNodes: ~Copyable {
    private var base: UnsafeMutablePointer<XMLNode>
    private var capacity: Int
    /// How many nodes are held.
    private(set) var count = 0

    /// What the stack keeps between stanzas; a stanza with more nodes gives the rest back at its end.
    static let keptCapacity = 64

    init() {
        capacity = Self.keptCapacity
        base = .allocate(capacity: capacity)
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
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

    /// Drops every node, and memory past ``keptCapacity``.
    mutating func removeAll() {
        base.deinitialize(count: count)
        count = 0
        if capacity > Self.keptCapacity {
            base.deallocate()
            capacity = Self.keptCapacity
            base = .allocate(capacity: capacity)
        }
    }

    /// Gives back memory past ``keptCapacity`` once the stack is empty (after a stanza of many nodes).
    mutating func trim() {
        if count == 0, capacity > Self.keptCapacity { removeAll() }
    }

    private mutating func grow() {
        let larger = UnsafeMutablePointer<XMLNode>.allocate(capacity: 2 * capacity)
        larger.moveInitialize(from: base, count: count)
        base.deallocate()
        base = larger
        capacity *= 2
    }
}
