public import PerchIO
public import XMPPAddress

/// A token bucket per bare JID: `perMinute` commands, refilled continuously, with a burst of the same
/// size. Only actions count; reading and status are free.
public struct RateLimiter: Sendable {
    public var perMinute: Int
    private var buckets: [JID: (tokens: Double, at: Int64)] = [:]

    public init(perMinute: Int) { self.perMinute = perMinute }

    /// Takes a token for `jid` at `now` (ms); nil if allowed, else the milliseconds until one is free.
    public mutating func take(_ jid: JID, now: Int64 = Instant.now().milliseconds) -> Int64? {
        guard perMinute > 0 else { return nil }
        let key = jid.bare
        let rate = Double(perMinute) / 60_000
        var bucket = buckets[key] ?? (Double(perMinute), now)
        bucket.tokens = min(Double(perMinute), bucket.tokens + Double(now - bucket.at) * rate)
        bucket.at = now
        defer { buckets[key] = bucket }
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            if buckets.count > 1024 { prune(now) }
            return nil
        }
        return Int64(((1 - bucket.tokens) / rate).rounded(.up))
    }

    /// Forgets full buckets, so the table stays small.
    private mutating func prune(_ now: Int64) {
        let full = 60_000 / Int64(max(perMinute, 1)) * Int64(perMinute)
        buckets = buckets.filter { now - $0.value.at < full }
    }
}
