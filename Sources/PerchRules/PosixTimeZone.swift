/// A POSIX TZ rule string (`CET-1CEST,M3.5.0,M10.5.0/3`, `UTC0`, `<+0530>-5:30`): a standard time,
/// optionally a daylight-saving time and the yearly rule between them. TZif files end in one, which
/// holds for instants after their last listed transition (RFC 8536 §3.3, with the version 3
/// extensions: rule times from -167 to 167 hours).
struct PosixTimeZone: Sendable, Hashable {
    var standardName: String
    /// Seconds east of UTC (the string's sign is the other way round: `CET-1` is UTC+1).
    var standardOffset: Int32
    var daylight: Daylight?

    struct Daylight: Sendable, Hashable {
        var name: String
        var offset: Int32
        var start: Rule
        /// Seconds after local midnight, in standard time.
        var startTime: Int32
        var end: Rule
        /// Seconds after local midnight, in daylight-saving time.
        var endTime: Int32
    }

    enum Rule: Sendable, Hashable {
        /// `Jn`: day 1-365, February 29 never counted.
        case julian(Int)
        /// `n`: day 0-365, February 29 counted in leap years.
        case zeroBased(Int)
        /// `Mm.w.d`: weekday d (0 = Sunday) of week w (1-4, 5 = the last) of month m.
        case monthWeekDay(month: Int, week: Int, weekday: Int)

        /// Days after January 1 of `year`.
        func dayOfYear(_ year: Int) -> Int64 {
            switch self {
            case .julian(let n):
                return Int64(n - 1 + (CivilCalendar.isLeapYear(year) && n >= 60 ? 1 : 0))
            case .zeroBased(let n):
                return Int64(n)
            case .monthWeekDay(let month, let week, let weekday):
                let first = CivilCalendar.days(year: year, month: month, day: 1)
                let firstWeekday = CivilCalendar.weekday(days: first)
                var day = 1 + (weekday - firstWeekday + 7) % 7 + (week - 1) * 7
                let length = CivilCalendar.daysInMonth(year: year, month: month)
                while day > length { day -= 7 }
                return first + Int64(day - 1) - CivilCalendar.days(year: year, month: 1, day: 1)
            }
        }
    }

    /// Offset and abbreviation in effect at `t` (Unix seconds).
    func info(at t: Int64) -> (offset: Int32, abbreviation: String, isDaylight: Bool) {
        guard let dst = daylight else { return (standardOffset, standardName, false) }
        var inDaylight = false
        for event in events(around: t) where event.at <= t { inDaylight = event.daylight }
        return inDaylight ? (dst.offset, dst.name, true) : (standardOffset, standardName, false)
    }

    /// The first change of offset or abbreviation strictly after `t`.
    func nextTransition(after t: Int64) -> Int64? {
        guard daylight != nil else { return nil }
        for event in events(around: t, extraYear: true) where event.at > t { return event.at }
        return nil
    }

    /// The starts and ends of daylight-saving time in the year of `t` and the years either side,
    /// in order (an end and a start at the same instant: the start last, so it wins).
    private func events(around t: Int64, extraYear: Bool = false) -> [(at: Int64, daylight: Bool)] {
        guard let dst = daylight else { return [] }
        let year = CivilCalendar.date(days: floorDiv(t.clamped(1 << 40) + Int64(standardOffset), 86400)).year
        var out: [(at: Int64, daylight: Bool)] = []
        for y in (year - 1)...(year + (extraYear ? 2 : 1)) {
            let jan1 = CivilCalendar.days(year: y, month: 1, day: 1)
            let start = (jan1 + dst.start.dayOfYear(y)) * 86400 + Int64(dst.startTime) - Int64(standardOffset)
            let end = (jan1 + dst.end.dayOfYear(y)) * 86400 + Int64(dst.endTime) - Int64(dst.offset)
            out.append((end, false))
            out.append((start, true))
        }
        // Insertion sort keeps equal instants in the order appended (end before start).
        for i in 1..<out.count {
            var j = i
            while j > 0 && out[j - 1].at > out[j].at {
                out.swapAt(j - 1, j)
                j -= 1
            }
        }
        return out
    }

    /// Parses a TZ string; nil when it is not one.
    static func parse(_ text: String) -> PosixTimeZone? {
        var p = Parser(bytes: Array(text.utf8))
        guard text.utf8.count <= 256, let std = p.name(), let stdOffset = p.offset(maxHours: 24) else { return nil }
        if p.atEnd { return PosixTimeZone(standardName: std, standardOffset: stdOffset, daylight: nil) }
        guard let dstName = p.name() else { return nil }
        var dstOffset = stdOffset + 3600
        if let c = p.peek, c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || isDigit(c) {
            guard let o = p.offset(maxHours: 24) else { return nil }
            dstOffset = o
        }
        // No rule: POSIX leaves it to the implementation; glibc and tzcode use the US rule.
        var start = Rule.monthWeekDay(month: 3, week: 2, weekday: 0)
        var end = Rule.monthWeekDay(month: 11, week: 1, weekday: 0)
        var startTime: Int32 = 7200
        var endTime: Int32 = 7200
        if !p.atEnd {
            guard p.take(UInt8(ascii: ",")), let s = p.rule() else { return nil }
            start = s
            if p.take(UInt8(ascii: "/")) {
                guard let t = p.time(maxHours: 167) else { return nil }
                startTime = t
            }
            guard p.take(UInt8(ascii: ",")), let e = p.rule() else { return nil }
            end = e
            if p.take(UInt8(ascii: "/")) {
                guard let t = p.time(maxHours: 167) else { return nil }
                endTime = t
            }
            guard p.atEnd else { return nil }
        }
        return PosixTimeZone(
            standardName: std, standardOffset: stdOffset,
            daylight: Daylight(name: dstName, offset: dstOffset, start: start, startTime: startTime, end: end, endTime: endTime))
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        var atEnd: Bool { i >= bytes.count }
        var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func take(_ c: UInt8) -> Bool {
            guard peek == c else { return false }
            i += 1
            return true
        }

        /// `CET` (three or more letters) or `<+0530>` (letters, digits, + and -).
        mutating func name() -> String? {
            let begin = i
            if take(UInt8(ascii: "<")) {
                while let c = peek, c != UInt8(ascii: ">") {
                    guard isLetter(c) || isDigit(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") else { return nil }
                    i += 1
                }
                guard take(UInt8(ascii: ">")), i - begin - 2 >= 3 else { return nil }
                return String(decoding: bytes[(begin + 1)..<(i - 1)], as: UTF8.self)
            }
            while let c = peek, isLetter(c) { i += 1 }
            guard i - begin >= 3 else { return nil }
            return String(decoding: bytes[begin..<i], as: UTF8.self)
        }

        /// A UTC offset as the string writes it (`-1` is one hour east), returned as seconds east.
        mutating func offset(maxHours: Int) -> Int32? {
            guard let t = time(maxHours: maxHours) else { return nil }
            return -t
        }

        /// `[+-]hh[:mm[:ss]]`.
        mutating func time(maxHours: Int) -> Int32? {
            var sign: Int32 = 1
            if take(UInt8(ascii: "-")) { sign = -1 } else { _ = take(UInt8(ascii: "+")) }
            guard let h = number(maxDigits: 3), h <= maxHours else { return nil }
            var total = h * 3600
            if take(UInt8(ascii: ":")) {
                guard let m = number(maxDigits: 2), m <= 59 else { return nil }
                total += m * 60
                if take(UInt8(ascii: ":")) {
                    guard let s = number(maxDigits: 2), s <= 59 else { return nil }
                    total += s
                }
            }
            return sign * Int32(total)
        }

        mutating func rule() -> Rule? {
            if take(UInt8(ascii: "J")) {
                guard let n = number(maxDigits: 3), (1...365).contains(n) else { return nil }
                return .julian(n)
            }
            if take(UInt8(ascii: "M")) {
                guard let m = number(maxDigits: 2), (1...12).contains(m), take(UInt8(ascii: ".")),
                    let w = number(maxDigits: 1), (1...5).contains(w), take(UInt8(ascii: ".")),
                    let d = number(maxDigits: 1), (0...6).contains(d)
                else { return nil }
                return .monthWeekDay(month: m, week: w, weekday: d)
            }
            guard let n = number(maxDigits: 3), n <= 365 else { return nil }
            return .zeroBased(n)
        }

        mutating func number(maxDigits: Int) -> Int? {
            var n = 0
            var digits = 0
            while let c = peek, isDigit(c) {
                guard digits < maxDigits else { return nil }
                n = n * 10 + Int(c - UInt8(ascii: "0"))
                digits += 1
                i += 1
            }
            return digits > 0 ? n : nil
        }
    }
}

@inline(__always)
func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

@inline(__always)
func isLetter(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
}
