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
    private var order: [String] = []

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
        if order.count > capacity { entries[order.removeFirst()] = nil }
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
        while let first = order.first, let e = entries[first], now - e.at > maxAge {
            entries[first] = nil
            order.removeFirst()
        }
        while let first = order.first, entries[first] == nil { order.removeFirst() }
    }
}
