public import PerchIO
public import XMPPCore

/// Requests seen recently, by sender and id, with the reply each got: a request that arrives again
/// (a client retrying after a lost reply, a server re-delivering after a failed resumption) is answered
/// with the first reply and never executed twice. Bounded by count and age.
///
/// Each sender has a bounded share: past ``perSender`` entries a sender's own oldest goes, and when the
/// whole table is full the oldest entry of whoever holds the most goes. So no sender, however busy,
/// evicts the entries of one that stays within its share.
public struct RecentRequests: Sendable {
    public enum Seen: Sendable, Equatable {
        /// New: handle it (it is now recorded as in progress).
        case new
        /// Seen and still being handled: its reply will go out when done.
        case inProgress
        /// Seen and answered: send this again.
        case answered(XMLElement)
        /// Seen and done, with nothing to send again (a request that has no answer when it succeeds).
        case done
    }

    private struct Entry: Sendable {
        var at: Instant
        var reply: XMLElement?
        /// Finished without a reply to repeat (``finished(_:)``).
        var done = false
        var sender: String
        /// Which insertion this is, so a place left in `order` by an entry removed early is skipped.
        var serial: Int
    }

    /// One sender's keys, oldest first; those before `head` are gone.
    private struct Queue: Sendable {
        var keys: [(key: String, serial: Int)] = []
        var head = 0
        var count = 0
    }

    public let capacity: Int
    public let perSender: Int
    public let maxAge: Int64
    private var entries: [String: Entry] = [:]
    /// Keys oldest first; those before `head` are gone (compacted now and then, not on every removal).
    private var order: [(key: String, serial: Int)] = []
    private var head = 0
    private var senders: [String: Queue] = [:]
    private var serial = 0
    /// The last request seen under each sender and id (``key(from:id:)``), by its full key.
    private var latest: [String: String] = [:]

    /// - Parameter perSender: the most entries one sender may hold (default: the whole capacity).
    public init(capacity: Int = 256, perSender: Int? = nil, maxAge: Int64 = 600_000) {
        self.capacity = capacity
        self.perSender = min(perSender ?? capacity, capacity)
        self.maxAge = maxAge
    }

    public static func key(from: String, id: String) -> String { "\(from)\u{0}\(id)" }

    /// The key of a request by its sender, its id and what it asks: one id may serve many requests
    /// (slixmpp gives every iq the id "0"), so only the same payload under the same id is a repeat.
    /// The digest is of this process's Hasher (the table lives in memory only).
    public static func key(from: String, id: String, payload: some Hashable) -> String {
        var h = Hasher()
        h.combine(payload)
        return "\(from)\u{0}\(id)\u{0}\(h.finalize())"
    }

    /// Looks a request up, recording it when it is new. Its sender (for the share) is what comes
    /// before the NUL of ``key(from:id:)``.
    public mutating func check(_ key: String, now: Instant = .now()) -> Seen {
        let sender = key.unicodeScalars.firstIndex(of: "\u{0}").map { String(key.unicodeScalars[..<$0]) } ?? ""
        return check(key, sender: sender, now: now)
    }

    /// Looks a request up, recording it when it is new, as one of `sender`'s (a bare JID, so a sender's
    /// resources share one share).
    public mutating func check(_ key: String, sender: String, now: Instant = .now()) -> Seen {
        expire(now)
        if let e = entries[key] { return e.reply.map { .answered($0) } ?? (e.done ? .done : .inProgress) }
        serial += 1
        entries[key] = Entry(at: now, sender: sender, serial: serial)
        order.append((key, serial))
        senders[sender, default: Queue()].keys.append((key, serial))
        senders[sender]!.count += 1
        if senders[sender]!.count > perSender { dropOldest(of: sender) }
        if entries.count > capacity, let busiest = senders.max(by: { $0.value.count < $1.value.count })?.key {
            dropOldest(of: busiest)
        }
        return .new
    }

    /// Looks a request up by its full key (``key(from:id:payload:)``), as the latest under `request`
    /// (``key(from:id:)``): a repeat is the same request as the last one under that sender and id. A
    /// client retries its last request; one that asks something else under the same id, even what it
    /// asked before that, is sending a new request (on, off, on under id "0" is three commands), so
    /// the entry of the one before is forgotten.
    public mutating func check(_ key: String, request: String, sender: String, now: Instant = .now()) -> Seen {
        if let previous = latest[request], previous != key { remove(previous) }
        let seen = check(key, sender: sender, now: now)
        latest[request] = key
        if latest.count > 2 * capacity { latest = latest.filter { entries[$0.value] != nil } }
        return seen
    }

    /// Records the reply to a request seen before; false when it was not recorded.
    @discardableResult
    public mutating func answered(_ key: String, _ reply: XMLElement) -> Bool {
        guard entries[key] != nil, entries[key]?.reply == nil else { return false }
        entries[key]?.reply = reply
        return true
    }

    /// Records that a request seen before is done and has no reply to repeat; false when it was not
    /// recorded.
    @discardableResult
    public mutating func finished(_ key: String) -> Bool {
        guard entries[key] != nil, entries[key]?.reply == nil else { return false }
        entries[key]?.done = true
        return true
    }

    public var count: Int { entries.count }

    private mutating func expire(_ now: Instant) {
        while head < order.count {
            let (key, serial) = order[head]
            guard let e = entries[key], e.serial == serial else {
                head += 1
                continue
            }
            guard now - e.at > maxAge else { break }
            remove(key)
            head += 1
        }
        if order.count - head > 4 * capacity {
            // Mostly places of entries evicted early (a sender over its share): keep the live ones.
            order = order[head...].filter { entries[$0.key]?.serial == $0.serial }
            head = 0
        } else if head > 64, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    private mutating func dropOldest(of sender: String) {
        // Taken out of the dictionary while it changes: a copy beside the dictionary's would make the
        // change copy the sender's whole queue, on every request once the sender is at its share.
        guard var q = senders.removeValue(forKey: sender) else { return }
        var oldest: String?
        while q.head < q.keys.count {
            let (key, serial) = q.keys[q.head]
            q.head += 1
            if entries[key]?.serial == serial {
                oldest = key
                break
            }
        }
        senders[sender] = consume q
        if let oldest { remove(oldest) }
    }

    /// Forgets an entry; its places in `order` and its sender's queue are skipped later.
    private mutating func remove(_ key: String) {
        guard let e = entries.removeValue(forKey: key), var q = senders.removeValue(forKey: e.sender) else { return }
        q.count -= 1
        if q.count == 0 { return }
        // Drop gone places at the front, and compact now and then.
        while q.head < q.keys.count, entries[q.keys[q.head].key]?.serial != q.keys[q.head].serial { q.head += 1 }
        if q.head > 16, q.head * 2 > q.keys.count {
            q.keys.removeFirst(q.head)
            q.head = 0
        }
        senders[e.sender] = consume q
    }
}
