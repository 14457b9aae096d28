import XMPPAddress

/// Subscription requests from strangers that wait for an owner's `allow` or `deny`
/// (`strangers = "ask-owners"`), kept within bounds whatever a flood of requests does:
///
/// - at most ``capacity`` wait at once; past that a request is refused as in `refuse` mode, and the
///   owners are told so once per spell of being full (``Decision/full(tellOwners:)``);
/// - a request waits at most ``lifetime`` ms, then it is forgotten (the stranger may ask again);
/// - the owners get at most ``asksPerMinute`` messages of one ask each a minute; the asks past that
///   wait in ``untold`` and go out together in one message (``takeUntold(now:)``).
///
/// A pure state machine: the agent sends the messages and runs the timer.
struct SubscriptionAsks {
    enum Decision: Equatable {
        /// Tell the owners about this request now.
        case askNow
        /// It waits; the owners hear of it in the next batch.
        case later
        /// It asked before and still waits: nothing to do.
        case alreadyWaiting
        /// Too many wait: refuse it; `tellOwners` for the first refusal of a spell.
        case full(tellOwners: Bool)
    }

    let capacity: Int
    let lifetime: Int64
    let asksPerMinute: Int
    /// Bare JID → when it asked (ms).
    private(set) var waiting: [JID: Int64] = [:]
    /// Waiting requests the owners have not heard of yet, oldest first.
    private(set) var untold: [JID] = []
    /// When the ask messages of the last minute went out.
    private var toldAt: [Int64] = []
    private var fullTold = false

    init(capacity: Int = 32, lifetime: Int64 = 24 * 3_600_000, asksPerMinute: Int = 3) {
        self.capacity = capacity
        self.lifetime = lifetime
        self.asksPerMinute = asksPerMinute
    }

    mutating func request(_ jid: JID, now: Int64) -> Decision {
        let bare = jid.bare
        expire(now: now)
        if waiting[bare] != nil { return .alreadyWaiting }
        guard waiting.count < capacity else {
            defer { fullTold = true }
            return .full(tellOwners: !fullTold)
        }
        waiting[bare] = now
        if untold.isEmpty, takeMessage(now) { return .askNow }
        untold.append(bare)
        return .later
    }

    /// The waiting requests the owners have not heard of, for one message; empty when there are none
    /// (or they expired meanwhile).
    mutating func takeUntold(now: Int64) -> [JID] {
        expire(now: now)
        let out = untold.filter { waiting[$0] != nil }
        untold = []
        if !out.isEmpty { toldAt.append(now) }
        return out
    }

    /// Forgets a request (an owner decided); false when it was not waiting.
    mutating func remove(_ jid: JID, now: Int64) -> Bool {
        expire(now: now)
        guard waiting.removeValue(forKey: jid.bare) != nil else { return false }
        untold.removeAll { $0 == jid.bare }
        if waiting.count < capacity { fullTold = false }
        return true
    }

    mutating func expire(now: Int64) {
        if waiting.contains(where: { now - $0.value >= lifetime }) {
            waiting = waiting.filter { now - $0.value < lifetime }
            untold.removeAll { waiting[$0] == nil }
        }
        if waiting.count < capacity { fullTold = false }
    }

    private mutating func takeMessage(_ now: Int64) -> Bool {
        toldAt.removeAll { now - $0 >= 60_000 }
        guard toldAt.count < asksPerMinute else { return false }
        toldAt.append(now)
        return true
    }
}
