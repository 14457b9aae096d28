import CLinux
import Glibc

/// Milliseconds on the monotonic clock: immune to wall-clock jumps (NTP on a board without an RTC
/// can move the wall clock by years at boot).
public struct Instant: Comparable, Hashable, Sendable {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }

    public static func < (a: Instant, b: Instant) -> Bool { a.milliseconds < b.milliseconds }
    public static func + (a: Instant, ms: Int64) -> Instant { Instant(milliseconds: a.milliseconds + ms) }
    public static func - (a: Instant, b: Instant) -> Int64 { a.milliseconds - b.milliseconds }
}

/// Wall-clock time in UTC, for protocol timestamps (XEP-0082).
public enum WallClock {
    /// Seconds and milliseconds since the Unix epoch.
    public static func now() -> (seconds: Int64, millis: Int) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return (Int64(ts.tv_sec), Int(ts.tv_nsec / 1_000_000))
    }

    /// Milliseconds since the Unix epoch.
    public static func milliseconds() -> Int64 {
        let (s, ms) = now()
        return s * 1000 + Int64(ms)
    }

    /// XEP-0082 DateTime in UTC for a time in Unix milliseconds.
    public static func iso8601(milliseconds ms: Int64) -> String {
        iso8601(seconds: ms / 1000, millis: Int(ms % 1000))
    }

    /// XEP-0082 DateTime in UTC: `2026-11-21T15:34:00.123Z`.
    public static func iso8601(seconds: Int64, millis: Int = 0) -> String {
        var t = time_t(seconds)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func pad(_ v: Int32, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(tmv.tm_year + 1900, 4))-\(pad(tmv.tm_mon + 1, 2))-\(pad(tmv.tm_mday, 2))T\(pad(tmv.tm_hour, 2)):\(pad(tmv.tm_min, 2)):\(pad(tmv.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }
}
