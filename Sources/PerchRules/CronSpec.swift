import PerchIO

/// A five-field cron line, `minute hour day-of-month month day-of-week`, as Vixie cron reads it:
/// `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/15`, `a-b/2` and `a/2` (from a to the field's
/// end), month and weekday names (`jan`-`dec`, `sun`-`sat`, any case), 7 for Sunday, and the
/// shorthands `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`).
///
/// When both day fields are restricted (neither starts with `*`) a day matches if EITHER does:
/// `0 6 1 * mon` runs on the 1st and on every Monday. When one starts with `*` (`*/2` too), both
/// must match.
public struct CronSpec: Sendable, Hashable {
    /// The line as written, fields separated by single spaces (`0 6 * * 1-5`, `@daily`).
    public let text: String
    /// Bit n for minute n (0-59).
    let minutes: UInt64
    /// Bit n for hour n (0-23).
    let hours: UInt32
    /// Bit n for day n (1-31).
    let daysOfMonth: UInt32
    /// Bit n for month n (1-12).
    let months: UInt16
    /// Bit n for weekday n (0 = Sunday to 6).
    let daysOfWeek: UInt8
    let dayOfMonthStar: Bool
    let dayOfWeekStar: Bool
    let hourStar: Bool

    init(text: String, minutes: UInt64, hours: UInt32, daysOfMonth: UInt32, months: UInt16, daysOfWeek: UInt8,
         dayOfMonthStar: Bool, dayOfWeekStar: Bool, hourStar: Bool) {
        self.text = text
        self.minutes = minutes
        self.hours = hours
        self.daysOfMonth = daysOfMonth
        self.months = months
        self.daysOfWeek = daysOfWeek
        self.dayOfMonthStar = dayOfMonthStar
        self.dayOfWeekStar = dayOfWeekStar
        self.hourStar = hourStar
    }

    /// Every day at one time (what `at = "06:00"` means).
    static func daily(hour: Int, minute: Int) -> CronSpec {
        CronSpec(
            text: "\(minute) \(hour) * * *", minutes: 1 << UInt64(minute), hours: 1 << UInt32(hour), daysOfMonth: allDays,
            months: allMonths, daysOfWeek: 0x7F, dayOfMonthStar: true, dayOfWeekStar: true, hourStar: false)
    }

    static let allDays: UInt32 = 0xFFFF_FFFE
    static let allMonths: UInt16 = 0x1FFE

    /// Whether the hour field starts with `*` (`*`, `*/2`): such a line runs by the clock's hours as
    /// they pass, so on the day clocks go back it runs in both occurrences of the repeated hour, and
    /// on the day they go forward the hour that does not exist has nothing to run. Lines with fixed
    /// hours run once per wall time (``ScheduleSpec/nextRun(after:in:)``).
    public var followsElapsedTime: Bool { hourStar }

    private static let shorthands: [(String, String)] = [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
    ]

    static let fieldNames = ["minute", "hour", "day-of-month", "month", "day-of-week"]
    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Parses a cron line; the error names the field and what it allows.
    public static func parse(_ text: String) -> Result<CronSpec, CronError> {
        let trimmed = text.trimmingWhitespace()
        if trimmed.hasPrefix("@") {
            let word = trimmed.lowercased()
            guard let expansion = shorthands.first(where: { $0.0 == word })?.1 else {
                return .failure(CronError(
                    field: nil,
                    message: "\"\(printable(trimmed))\" is not a cron shorthand; use @hourly, @daily, @weekly, @monthly or @yearly, or five fields (minute hour day-of-month month day-of-week)"))
            }
            switch parseFields(expansion, text: word) {
            case .success(let spec): return .success(spec)
            case .failure(let e): return .failure(e)
            }
        }
        return parseFields(trimmed, text: nil)
    }

    private static func parseFields(_ line: String, text: String?) -> Result<CronSpec, CronError> {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            return .failure(CronError(
                field: nil,
                message: "a cron line has five fields (minute hour day-of-month month day-of-week), like \"0 6 * * 1-5\"; \"\(printable(line))\" has \(fields.count)"))
        }
        var bits: [UInt64] = []
        let ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
        for (k, field) in fields.enumerated() {
            switch parseField(field, index: k, range: ranges[k]) {
            case .success(let b): bits.append(b)
            case .failure(let e): return .failure(e)
            }
        }
        var dow = bits[4]
        if dow & (1 << 7) != 0 { dow = (dow | 1) & 0x7F }
        return .success(CronSpec(
            text: text ?? fields.joined(separator: " "), minutes: bits[0], hours: UInt32(bits[1]), daysOfMonth: UInt32(bits[2]),
            months: UInt16(bits[3]), daysOfWeek: UInt8(dow), dayOfMonthStar: fields[2].hasPrefix("*"),
            dayOfWeekStar: fields[4].hasPrefix("*"), hourStar: fields[1].hasPrefix("*")))
    }

    private static func parseField(_ field: String, index: Int, range: (Int, Int)) -> Result<UInt64, CronError> {
        let name = fieldNames[index]
        func fail(_ what: String) -> Result<UInt64, CronError> {
            .failure(CronError(field: index + 1, message: "field \(index + 1) (\(name)): \(what)"))
        }
        let allowed: String
        switch index {
        case 3: allowed = "\(range.0)-\(range.1) or jan-dec"
        case 4: allowed = "0-7 (0 and 7 are Sunday) or sun-sat"
        default: allowed = "\(range.0)-\(range.1)"
        }
        var bits: UInt64 = 0
        for item in field.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { return fail("\"\(printable(field))\" has an empty list item") }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { return fail("\"\(printable(String(item)))\" has more than one step") }
            var step = 1
            if parts.count == 2 {
                guard let s = number(parts[1]), s >= 1, s <= range.1 - range.0 + 1 else {
                    return fail("the step in \"\(printable(String(item)))\" must be a number from 1 to \(range.1 - range.0 + 1)")
                }
                step = s
            }
            let base = parts[0]
            var low: Int
            var high: Int
            if base == "*" {
                low = range.0
                high = range.1
                if index == 4 { high = 6 }
            } else {
                let ends = base.split(separator: "-", omittingEmptySubsequences: false)
                guard ends.count <= 2, let a = value(ends[0], index: index) else {
                    return fail("\"\(printable(String(base)))\" is not a number, range or name; allowed: \(allowed), *, lists a,b, ranges a-b, steps */n")
                }
                guard a >= range.0, a <= range.1 else { return fail("\(a) is out of \(allowed)") }
                low = a
                high = parts.count == 2 ? range.1 : a
                if ends.count == 2 {
                    guard let b = value(ends[1], index: index) else {
                        return fail("\"\(printable(String(ends[1])))\" is not a number or name; allowed: \(allowed)")
                    }
                    guard b >= range.0, b <= range.1 else { return fail("\(b) is out of \(allowed)") }
                    guard b >= a else { return fail("the range \(base) runs backwards; write it as \(b)-\(a) or as a list") }
                    high = b
                }
            }
            var v = low
            while v <= high {
                bits |= 1 << UInt64(v)
                v += step
            }
        }
        return .success(bits)
    }

    private static func number(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.utf8.count <= 3, s.utf8.allSatisfy(isDigit) else { return nil }
        return Int(s)
    }

    private static func value(_ s: Substring, index: Int) -> Int? {
        if let n = number(s) { return n }
        let lower = s.lowercased()
        if index == 3, let i = monthNames.firstIndex(of: lower) { return i + 1 }
        if index == 4, let i = dayNames.firstIndex(of: lower) { return i }
        return nil
    }

    // MARK: Matching wall times

    /// Whether the line runs on this date.
    func matchesDay(days: Int64, month: Int, day: Int) -> Bool {
        guard months & (1 << UInt16(month)) != 0 else { return false }
        let dom = daysOfMonth & (1 << UInt32(day)) != 0
        let dow = daysOfWeek & (1 << UInt8(CivilCalendar.weekday(days: days))) != 0
        return dayOfMonthStar || dayOfWeekStar ? dom && dow : dom || dow
    }

    /// The first hour and minute at or after `hour:minute` in the line's hours and minutes.
    func firstTime(hour: Int, minute: Int) -> (hour: Int, minute: Int)? {
        var h = hour
        var fromMinute = minute
        while h < 24 {
            let hourBits = hours & ~((1 << UInt32(h)) - 1)
            guard hourBits != 0 else { return nil }
            let next = hourBits.trailingZeroBitCount
            if next != h { fromMinute = 0 }
            let minuteBits = minutes & ~((1 << UInt64(fromMinute)) - 1)
            if minuteBits != 0 { return (next, minuteBits.trailingZeroBitCount) }
            h = next + 1
            fromMinute = 0
        }
        return nil
    }

    /// The first wall time (seconds since 1970-01-01 read as UTC, on a minute) at or after `wall`
    /// that the line names, up to `limit`; steps by day, skipping months the line leaves out.
    func nextMatch(fromWall wall: Int64, limit: Int64) -> Int64? {
        let start = floorDiv(wall + 59, 60) * 60
        var day = floorDiv(start, 86400)
        let seconds = Int(start - day * 86400)
        var fromHour = seconds / 3600
        var fromMinute = seconds / 60 % 60
        let lastDay = floorDiv(limit, 86400)
        while day <= lastDay {
            let date = CivilCalendar.date(days: day)
            if months & (1 << UInt16(date.month)) == 0 {
                day = CivilCalendar.days(year: date.year, month: date.month + 1, day: 1)
                fromHour = 0
                fromMinute = 0
                continue
            }
            if matchesDay(days: day, month: date.month, day: date.day), let t = firstTime(hour: fromHour, minute: fromMinute) {
                let w = day * 86400 + Int64(t.hour * 3600 + t.minute * 60)
                return w <= limit ? w : nil
            }
            day += 1
            fromHour = 0
            fromMinute = 0
        }
        return nil
    }
}

/// A cron line or `at` time that cannot be used, worded for the operator.
public struct CronError: Error, Sendable, Hashable, CustomStringConvertible {
    /// 1 (minute) to 5 (day-of-week), or nil for the line as a whole.
    public let field: Int?
    public let message: String

    public init(field: Int?, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { message }
}
