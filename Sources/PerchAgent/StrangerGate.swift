public import PerchIO
public import PerchLog
public import XMPPAddress

/// What the device does with requests from senders who have no role, so that a flood of them costs
/// little: every front-end checks the role first and asks the gate before answering or logging.
///
/// - Replies to strangers share one token bucket (``replyBurst`` at once, ``repliesPerMinute`` after):
///   past it a refusal goes unanswered, which is what a stranger deserves anyway.
/// - Refusals are not audited one by one: the first of a quiet spell is logged, the rest are
///   summarised in one line per ``summaryInterval`` (counts by kind, distinct senders, the busiest).
/// - ``firstContact(_:within:)`` remembers senders told off lately in a table of bounded size that
///   evicts the oldest entry in O(1), however many JIDs a stranger invents.
///
/// The summary needs a timer only while strangers are knocking; an idle device never wakes for it.
public final class StrangerGate {
    public let repliesPerMinute: Int
    public let replyBurst: Int
    public let summaryInterval: Int64
    public let capacity: Int

    private let logger: Logger
    private let schedule: (Int64, @escaping () -> Void) -> Void
    private var tokens: Double
    private var refilledAt: Int64
    /// Refusals since the last summary, by kind, and the senders behind them.
    private var pending: [String: Int] = [:]
    private var senders: [JID: Int] = [:]
    private var dropped = 0
    private var summaryScheduled = false
    /// Senders seen lately (bare JID → when), oldest first in `order` from `head` on.
    private var seen: [JID: Int64] = [:]
    private var order: [(jid: JID, at: Int64)] = []
    private var head = 0

    /// - Parameter schedule: runs a closure after a delay in milliseconds (the event loop's timers).
    public init(
        repliesPerMinute: Int = 30, replyBurst: Int = 10, summaryInterval: Int64 = 60_000, capacity: Int = 1024, logger: Logger,
        schedule: @escaping (Int64, @escaping () -> Void) -> Void
    ) {
        self.repliesPerMinute = repliesPerMinute
        self.replyBurst = replyBurst
        self.summaryInterval = summaryInterval
        self.capacity = capacity
        self.logger = logger
        self.schedule = schedule
        tokens = Double(replyBurst)
        refilledAt = Instant.now().milliseconds
    }

    public convenience init(logger: Logger, loop: EventLoop) {
        self.init(logger: logger) { ms, action in loop.schedule(after: ms, action) }
    }

    /// Records a refusal of `what` (a short kind: "chat command", "XEP-0325 set") from `jid`, logs it
    /// (at once when it is the first of a quiet spell, else in the next summary), and says whether a
    /// refusal may be sent back now. With `wantsReply` false (nothing would be sent back) it only
    /// records, and leaves the reply budget to others.
    public func refuse(_ jid: JID, _ what: String, wantsReply: Bool = true, now: Int64 = Instant.now().milliseconds) -> Bool {
        let bare = jid.bare
        if !summaryScheduled {
            summaryScheduled = true
            logger.info("refused a \(what) from \(logQuoted(bare.description)), who has no role here; further refusals are summarised every \(summaryInterval / 1000) s")
            schedule(summaryInterval) { [weak self] in self?.summarise() }
        } else {
            pending[what, default: 0] += 1
            if senders[bare] != nil || senders.count < capacity { senders[bare, default: 0] += 1 }
        }
        guard wantsReply else { return false }
        let allowed = takeToken(now)
        if !allowed { dropped += 1 }
        return allowed
    }

    /// Whether an answer anyone would get (a pong, disco#info) may go to `jid` now: it spends the
    /// strangers' reply budget, and once that is spent the answer is refused, and counted as such.
    public func mayAnswer(_ jid: JID, _ what: String, now: Int64 = Instant.now().milliseconds) -> Bool {
        if takeToken(now) { return true }
        _ = refuse(jid, what, wantsReply: false, now: now)
        dropped += 1
        return false
    }

    /// True when `jid` (bare) was not seen within `within` ms, and remembers it as seen now.
    public func firstContact(_ jid: JID, within: Int64, now: Int64 = Instant.now().milliseconds) -> Bool {
        let bare = jid.bare
        if let at = seen[bare], now - at < within { return false }
        // An entry seen again is appended again; its older place in `order` no longer matches its time
        // and is skipped on eviction, so the oldest sighting goes first.
        seen[bare] = now
        order.append((bare, now))
        while seen.count > capacity { evictOldest() }
        if order.count - head > 4 * capacity {
            // Mostly stale places of senders seen again: keep the live ones (amortised O(1)).
            order = order[head...].filter { seen[$0.jid] == $0.at }
            head = 0
        } else if head > 64, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return true
    }

    /// How many senders ``firstContact(_:within:)`` remembers now (at most ``capacity``).
    public var remembered: Int { seen.count }

    /// Logs what was refused since the last summary; stays quiet (and stops the timer) when nothing was.
    func summarise() {
        guard !pending.isEmpty else {
            summaryScheduled = false
            return
        }
        let total = pending.values.reduce(0, +)
        let kinds = pending.sorted { $0.value > $1.value }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let busiest = senders.max { $0.value < $1.value }
        var line = "refused \(total) more request\(total == 1 ? "" : "s") from senders without a role in the last \(summaryInterval / 1000) s (\(kinds)); \(senders.count)\(senders.count >= capacity ? "+" : "") sender\(senders.count == 1 ? "" : "s")"
        if let busiest { line += ", most from \(logQuoted(busiest.key.description)) (\(busiest.value))" }
        if dropped > 0 { line += "; \(dropped) got no answer (replies to strangers are limited to \(repliesPerMinute) a minute)" }
        logger.notice(line)
        pending = [:]
        senders = [:]
        dropped = 0
        schedule(summaryInterval) { [weak self] in self?.summarise() }
    }

    private func takeToken(_ now: Int64) -> Bool {
        let rate = Double(repliesPerMinute) / 60_000
        tokens = min(Double(replyBurst), tokens + Double(max(0, now - refilledAt)) * rate)
        refilledAt = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    private func evictOldest() {
        while head < order.count {
            let (jid, at) = order[head]
            head += 1
            if seen[jid] == at {
                seen[jid] = nil
                return
            }
        }
    }
}
