import PerchIO

/// When a `[[schedule]]` runs: every day at a local time (`at = "06:00"`) or by a cron line
/// (`cron = "0 6 * * 1-5"`), in the system's time zone.
///
/// Daylight-saving days:
/// - A fixed local time that falls in the spring-forward gap runs once, when the gap ends (02:30 in
///   Berlin on the last Sunday of March runs at 03:00 CEST); several times in the gap collapse into
///   that one run. Nothing is skipped.
/// - A fixed local time that comes round twice on the fall-back day runs once, at its first
///   occurrence (02:30 CEST); the second occurrence does not run again.
/// - A cron line whose hour field starts with `*` (`*/15 * * * *`, `0 * * * *`, `@hourly`) follows
///   the clock as time passes: in the repeated hour it runs in both occurrences, and in the
///   spring-forward gap there is nothing to run or collapse (those wall times do not exist; the next
///   matching time after the gap is the next run). The day of 23 hours has 92 quarter hours, the day
///   of 25 hours 100.
public enum ScheduleSpec: Sendable, Hashable {
    case daily(hour: Int, minute: Int)
    case cron(CronSpec)

    /// No run further than this after the instant asked about (eight years and a day: long enough
    /// for a February 29 line across 2100, which is no leap year) means none.
    static let horizon: Int64 = (8 * 366 + 1) * 86400

    /// `06:00`, `6:00`, `23:59`: hours and minutes, no seconds.
    public static func parseAt(_ text: String) -> Result<ScheduleSpec, CronError> {
        let t = text.trimmingWhitespace()
        let parts = t.split(separator: ":", omittingEmptySubsequences: false)
        func fail(_ why: String) -> Result<ScheduleSpec, CronError> {
            .failure(CronError(field: nil, message: "at = \"\(printable(t))\": \(why); write the local time as HH:MM, like \"06:00\" or \"23:59\""))
        }
        guard parts.count == 2 else {
            return fail(parts.count == 3 ? "a time of day in hours and minutes, without seconds" : "not a time of day")
        }
        guard (1...2).contains(parts[0].utf8.count), parts[0].utf8.allSatisfy(isDigit), let h = Int(parts[0]) else {
            return fail("the hour is not a number")
        }
        guard parts[1].utf8.count == 2, parts[1].utf8.allSatisfy(isDigit), let m = Int(parts[1]) else {
            return fail("the minutes are not two digits")
        }
        guard h <= 23 else { return fail("the hour \(h) is out of 0-23") }
        guard m <= 59 else { return fail("the minute \(m) is out of 0-59") }
        return .success(.daily(hour: h, minute: m))
    }

    /// `every day at 06:00`, `cron 0 6 * * 1-5`.
    public var text: String {
        switch self {
        case .daily(let h, let m): return "every day at " + twoDigits(h) + ":" + twoDigits(m)
        case .cron(let c): return "cron " + c.text
        }
    }

    var matcher: CronSpec {
        switch self {
        case .daily(let h, let m): return CronSpec.daily(hour: min(max(h, 0), 23), minute: min(max(m, 0), 59))
        case .cron(let c): return c
        }
    }

    /// The first run strictly after `unixSeconds` in `zone`, with the daylight-saving semantics
    /// above; nil when there is none within eight years (`30 2 31 2 *`). Steps by day and then
    /// through the day's matching hours and minutes, never minute by minute.
    public func nextRun(after unixSeconds: Int64, in zone: TimeZoneRules) -> Int64? {
        let after = unixSeconds.clamped(1 << 40)
        let spec = matcher
        let limit = after + ScheduleSpec.horizon
        if spec.followsElapsedTime {
            // Through the stretches of constant offset: in each, wall time runs with real time, so
            // the first matching wall time inside it is the next run.
            var start = after + 1
            var stretches = 0
            while start <= limit, stretches < 4096 {
                let offset = Int64(zone.offset(at: start))
                let end = zone.nextTransition(after: start) ?? Int64.max
                guard let wall = spec.nextMatch(fromWall: start + offset, limit: min(end, limit) + offset) else {
                    if end >= limit { return nil }
                    start = end
                    stretches += 1
                    continue
                }
                let run = wall - offset
                if run < end && run <= limit { return run }
                start = end
                stretches += 1
            }
            return nil
        }
        // Fixed wall times, in order; each runs at its only or first instant, or at the end of the
        // gap it falls in. Those mapping to `after` or before it (already run) are passed over.
        var wall = after + Int64(zone.offset(at: after))
        var tries = 0
        while tries < 4096 {
            guard let w = spec.nextMatch(fromWall: wall, limit: limit + 93600) else { return nil }
            let run: Int64
            switch zone.resolve(wall: w) {
            case .unique(let t): run = t
            case .repeated(let first, _): run = first
            case .skipped(let next): run = next
            }
            if run > after { return run <= limit ? run : nil }
            wall = w + 60
            tries += 1
        }
        return nil
    }

    /// The runs after `after` up to and including `through`, at most `limit` of them (for tests
    /// and for deciding what a board that was off missed).
    public func runs(after: Int64, through: Int64, in zone: TimeZoneRules, limit: Int = 1000) -> [Int64] {
        var out: [Int64] = []
        var t = after
        while out.count < min(limit, 1000), let next = nextRun(after: t, in: zone), next <= through {
            out.append(next)
            t = next
        }
        return out
    }
}
