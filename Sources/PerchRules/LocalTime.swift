/// A moment as a wall clock in some time zone shows it, with the zone's offset at that moment.
public struct LocalTime: Sendable, Hashable {
    public let year: Int
    /// 1 (January) to 12.
    public let month: Int
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int
    /// 0 (Sunday) to 6 (Saturday).
    public let weekday: Int
    /// Seconds east of UTC in effect at that moment.
    public let offset: Int32

    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, weekday: Int, offset: Int32) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.weekday = weekday
        self.offset = offset
    }

    /// Hours and minutes, `14:02`.
    public var text: String { twoDigits(hour) + ":" + twoDigits(minute) }

    /// The date, `2026-03-29`.
    public var dateText: String {
        let y = year >= 0 && year < 10000 ? String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year) : String(year)
        return y + "-" + twoDigits(month) + "-" + twoDigits(day)
    }

    /// The same wall time without weekday and offset.
    public var dateTime: LocalDateTime {
        LocalDateTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }
}

/// A date and wall-clock time with no zone attached: what a schedule names. Which instant (if any,
/// and whether one or two) it is depends on the zone: ``TimeZoneRules/resolve(_:)``.
public struct LocalDateTime: Sendable, Hashable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// Seconds since 1970-01-01 00:00 of this wall time read as if it were UTC. Fields out of their
    /// usual range carry over (month 13 is January of the next year, hour 24 the next day); absurd
    /// values are clamped so the arithmetic cannot overflow.
    public var wallSeconds: Int64 {
        let days = CivilCalendar.days(year: year, month: month, day: day)
        let h = Int64(clamping: hour).clamped(1_000_000_000)
        let m = Int64(clamping: minute).clamped(1_000_000_000)
        let s = Int64(clamping: second).clamped(1_000_000_000)
        return days * 86400 + h * 3600 + m * 60 + s
    }
}

/// The proleptic Gregorian calendar as arithmetic on day numbers (days since 1970-01-01), after
/// Howard Hinnant's `days_from_civil` and `civil_from_days`: no C library, no global state.
public enum CivilCalendar {
    /// Day number of a date. A month outside 1-12 carries into the year; days past the month's end
    /// carry into the next. Years are clamped to ±1,000,000.
    public static func days(year: Int, month: Int, day: Int) -> Int64 {
        var y = Int64(clamping: year).clamped(1_000_000)
        var m = Int64(clamping: month).clamped(12_000_000) - 1
        y += floorDiv(m, 12)
        m = m - floorDiv(m, 12) * 12 + 1
        let d = Int64(clamping: day).clamped(1_000_000_000)
        if m <= 2 { y -= 1 }
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = m > 2 ? m - 3 : m + 9
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    /// The date of a day number.
    public static func date(days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719468
        let era = floorDiv(z, 146097)
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (Int(y), Int(m), Int(d))
    }

    /// 0 (Sunday) to 6 (Saturday); 1970-01-01 was a Thursday.
    public static func weekday(days: Int64) -> Int {
        Int(floorMod(days + 4, 7))
    }

    public static func isLeapYear(_ y: Int) -> Bool {
        (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

@inline(__always)
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

@inline(__always)
func floorMod(_ a: Int64, _ b: Int64) -> Int64 {
    a - floorDiv(a, b) * b
}

func twoDigits(_ n: Int) -> String {
    n >= 0 && n < 10 ? "0" + String(n) : String(n)
}

extension Int64 {
    /// Within ±limit.
    @inline(__always)
    func clamped(_ limit: Int64) -> Int64 { Swift.min(Swift.max(self, -limit), limit) }
}
