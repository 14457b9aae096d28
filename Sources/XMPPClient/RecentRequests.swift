public import PerchIO
public import XMPPCore

/// Requests seen recently, by sender and id, with the reply each got: a request that arrives again
/// (a client retrying after a lost reply, a server re-delivering after a failed resumption) is answered
/// with the first reply and never executed twice. Bounded by count and age.
public struct RecentRequests: Sendable {
    public enum Seen: Sendable, Equatable {
        /// New: handle it (it is now recorded as in progress).
        case new
        /// Seen and still being handled: its reply will go out when done.
        case inProgress
        /// Seen and answered: send this again.
        case answered(XMLElement)
    }

    private struct Entry: Sendable {
        var at: Instant
        var reply: XMLElement?
    }

    public let capacity: Int
    public let maxAge: Int64
    private var entries: [String: Entry] = [:]
    /// Keys oldest first; those before `head` are gone (compacted now and then, not on every removal).
    private var order: [String] = []
    private var head = 0

    public init(capacity: Int = 256, maxAge: Int64 = 600_000) {
        self.capacity = capacity
        self.maxAge = maxAge
    }

    public static func key(from: String, id: String) -> String { "\(from)\u{0}\(id)" }

    /// Looks a request up, recording it when it is new.
    public mutating func check(_ key: String, now: Instant = .now()) -> Seen {
        expire(now)
        if let e = entries[key] { return e.reply.map { .answered($0) } ?? .inProgress }
        entries[key] = Entry(at: now)
        order.append(key)
        if entries.count > capacity { dropOldest() }
        return .new
    }

    /// Records the reply to a request seen before; false when it was not recorded.
    @discardableResult
    public mutating func answered(_ key: String, _ reply: XMLElement) -> Bool {
        guard entries[key] != nil, entries[key]?.reply == nil else { return false }
        entries[key]?.reply = reply
        return true
    }

    public var count: Int { entries.count }

    private mutating func expire(_ now: Instant) {
        while head < order.count, let e = entries[order[head]], now - e.at > maxAge { dropOldest() }
        if head > 64, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    private mutating func dropOldest() {
        guard head < order.count else { return }
        entries[order[head]] = nil
        head += 1
    }
}
