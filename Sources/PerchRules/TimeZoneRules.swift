internal import Glibc
import PerchIO

/// A time zone as data: the offsets from UTC a place has used and when they changed, read from a
/// TZif file or a POSIX TZ string. Nothing here touches the process's TZ or the C library's
/// time zone state, so tests can use Europe/Berlin while the daemon uses the system's zone.
public struct TimeZoneRules: Sendable, Hashable {
    /// `Europe/Berlin`, `UTC`, `localtime`, or the TZ string it came from.
    public let name: String
    let data: TZifData

    init(name: String, data: TZifData) {
        self.name = name
        self.data = data
    }

    public static let utc = TimeZoneRules(
        name: "UTC", data: TZifData(transitions: [], transitionTypes: [], types: [ZoneType(offset: 0, isDST: false, abbreviation: "UTC")], footer: nil))

    /// Where the zone files are: `named(_:)` reads /usr/share/zoneinfo/NAME.
    public static let zoneinfoDirectory = "/usr/share/zoneinfo"

    /// A zone from the bytes of a TZif file (versions 1 to 4). Version 2 and later files are read
    /// from their 64-bit block; instants after the last listed transition follow the file's closing
    /// TZ rule. Damaged, truncated or oversized bytes are an error, never a crash.
    public init(tzif bytes: [UInt8], name: String) throws(TimeZoneError) {
        self.init(name: name, data: try TZifData.parse(bytes, name: name))
    }

    /// A zone from a POSIX TZ string (`CET-1CEST,M3.5.0,M10.5.0/3`, `UTC0`, `<+0530>-5:30`).
    public init(posix text: String) throws(TimeZoneError) {
        guard let rule = PosixTimeZone.parse(text) else {
            throw TimeZoneError("\"\(printable(text))\" is not a POSIX TZ string (like CET-1CEST,M3.5.0,M10.5.0/3 or UTC0)")
        }
        let std = ZoneType(offset: rule.standardOffset, isDST: false, abbreviation: rule.standardName)
        self.init(name: text, data: TZifData(transitions: [], transitionTypes: [], types: [std], footer: rule))
    }

    /// A zone from a TZif file.
    public static func load(path: String, name: String) throws(TimeZoneError) -> TimeZoneRules {
        let bytes: [UInt8]
        do {
            bytes = try readFileOrError(path, limit: TZifData.maxBytes)
        } catch {
            throw TimeZoneError("cannot read the time zone file \(path) (\(error.message)); is tzdata installed, and is the name spelt like Europe/Berlin?")
        }
        return try TimeZoneRules(tzif: bytes, name: name)
    }

    /// A zone by its tzdata name (`Europe/Berlin`, read from /usr/share/zoneinfo), or a TZif file by
    /// its absolute path. Names with `..` are refused.
    public static func named(_ name: String) throws(TimeZoneError) -> TimeZoneRules {
        guard !name.isEmpty else { throw TimeZoneError("an empty time zone name; use one like Europe/Berlin") }
        guard !name.containsText(".."), !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw TimeZoneError("the time zone name \"\(printable(name))\" may not contain \"..\" or control characters; use one like Europe/Berlin")
        }
        let path = name.hasPrefix("/") ? name : zoneinfoDirectory + "/" + name
        return try load(path: path, name: name)
    }

    /// The system's zone, as the C library would choose it, without touching the C library's state:
    /// TZ unset: /etc/localtime (named after its symbolic link's target, else `localtime`);
    /// TZ=`:Europe/Berlin` or `Europe/Berlin`: that zone file; TZ a POSIX string (`UTC0`,
    /// `CET-1CEST,M3.5.0,M10.5.0/3`): that rule; TZ empty: UTC, as in the C library. Anything
    /// unusable gives UTC and a sentence for the operator saying what was wrong and what to set.
    public static func system(environment tz: String?) -> (rules: TimeZoneRules, warning: String?) {
        guard let tz else { return localtime() }
        if tz.isEmpty { return (.utc, nil) }
        if tz.hasPrefix(":") {
            let name = String(tz.dropFirst())
            if name.isEmpty { return localtime() }
            do {
                return (try named(name), nil)
            } catch {
                return (.utc, "TZ=\(printable(tz)) cannot be used (\(error.message)): schedules run in UTC until TZ names a zone such as Europe/Berlin (see \(zoneinfoDirectory)) or is unset to use /etc/localtime")
            }
        }
        var fileError: TimeZoneError?
        if !tz.containsText("..") {
            do {
                return (try named(tz), nil)
            } catch {
                fileError = error
            }
        }
        if let rules = try? TimeZoneRules(posix: tz) { return (rules, nil) }
        let why: String
        if let fileError, tz.unicodeScalars.contains("/") {
            why = fileError.message
        } else if tz.containsText("..") {
            why = "a zone name may not contain \"..\""
        } else {
            why = "it is neither a zone in \(zoneinfoDirectory) nor a POSIX TZ string"
        }
        return (.utc, "TZ=\(printable(tz)) cannot be used (\(why)): schedules run in UTC until TZ names a zone such as Europe/Berlin (see \(zoneinfoDirectory)), holds a POSIX rule such as CET-1CEST,M3.5.0,M10.5.0/3, or is unset to use /etc/localtime")
    }

    private static func localtime() -> (rules: TimeZoneRules, warning: String?) {
        let path = "/etc/localtime"
        var name = "localtime"
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        if n > 0 {
            let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let parts = target.splitText(separator: "zoneinfo/")
            if parts.count >= 2, let last = parts.last, !last.isEmpty { name = last }
        }
        guard fileExists(path) else {
            return (.utc, "there is no /etc/localtime and TZ is unset: schedules run in UTC; set TZ (such as TZ=Europe/Berlin) or link /etc/localtime to a zone in \(zoneinfoDirectory)")
        }
        do {
            return (try load(path: path, name: name), nil)
        } catch {
            return (.utc, "/etc/localtime cannot be used (\(error.message)): schedules run in UTC; set TZ (such as TZ=Europe/Berlin) or link /etc/localtime to a zone in \(zoneinfoDirectory)")
        }
    }

    // MARK: Instants

    /// The local time type in effect at `t`.
    func info(at t: Int64) -> (offset: Int32, abbreviation: String) {
        let transitions = data.transitions
        if transitions.isEmpty || t >= transitions[transitions.count - 1], let footer = data.footer {
            let i = footer.info(at: t)
            return (i.offset, i.abbreviation)
        }
        guard let first = transitions.first, t >= first else { return (data.types[0].offset, data.types[0].abbreviation) }
        // The last transition at or before t.
        var lo = 0
        var hi = transitions.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if transitions[mid] <= t { lo = mid } else { hi = mid - 1 }
        }
        let type = data.types[Int(data.transitionTypes[lo])]
        return (type.offset, type.abbreviation)
    }

    /// Seconds east of UTC at `unixSeconds`.
    public func offset(at unixSeconds: Int64) -> Int32 { info(at: unixSeconds).offset }

    /// The abbreviation in effect (`CET`, `CEST`, `IST`, `+0530`).
    public func abbreviation(at unixSeconds: Int64) -> String { info(at: unixSeconds).abbreviation }

    /// The first instant after `t` at which the offset or abbreviation may change (listed
    /// transitions, then the closing rule's); nil when none follows.
    public func nextTransition(after t: Int64) -> Int64? {
        let transitions = data.transitions
        if let last = transitions.last, t < last {
            var lo = 0
            var hi = transitions.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if transitions[mid] > t { hi = mid } else { lo = mid + 1 }
            }
            return transitions[lo]
        }
        return data.footer?.nextTransition(after: t)
    }

    /// The wall clock at `unixSeconds` (clamped to about ±34,000 years).
    public func local(_ unixSeconds: Int64) -> LocalTime {
        let t = unixSeconds.clamped(1 << 40)
        let offset = self.offset(at: t)
        let wall = t + Int64(offset)
        let days = floorDiv(wall, 86400)
        let s = Int(wall - days * 86400)
        let d = CivilCalendar.date(days: days)
        return LocalTime(
            year: d.year, month: d.month, day: d.day, hour: s / 3600, minute: s / 60 % 60, second: s % 60,
            weekday: CivilCalendar.weekday(days: days), offset: offset)
    }

    // MARK: Wall times

    /// Which instants show `local` on this zone's clocks: one; two, on the day clocks go back; or
    /// none, in the gap when they go forward, where `nextValid` is the instant the gap ends (03:00
    /// CEST for 02:30 in Berlin on the last Sunday of March).
    public func resolve(_ local: LocalDateTime) -> LocalResolution {
        resolve(wall: local.wallSeconds)
    }

    /// `resolve(_:)` for a wall time as seconds since 1970-01-01 read as UTC.
    func resolve(wall: Int64) -> LocalResolution {
        let w = wall.clamped(1 << 40)
        // Offsets stay within ±26 hours, so every instant showing w lies in this window.
        let lo = w - 2 * 86400
        let hi = w + 2 * 86400
        var offsets: [Int32] = [offset(at: lo)]
        var changes: [(at: Int64, before: Int32, after: Int32)] = []
        var t = lo
        var guardCount = data.transitions.count + 64
        while guardCount > 0, let next = nextTransition(after: t), next <= hi {
            let before = offset(at: next - 1)
            let after = offset(at: next)
            if !offsets.contains(after) { offsets.append(after) }
            changes.append((next, before, after))
            t = next
            guardCount -= 1
        }
        var instants: [Int64] = []
        for o in offsets {
            let u = w - Int64(o)
            if offset(at: u) == o && !instants.contains(u) { instants.append(u) }
        }
        instants.sort()
        if instants.count == 1 { return .unique(instants[0]) }
        if instants.count >= 2 { return .repeated(first: instants[0], second: instants[instants.count - 1]) }
        for c in changes where c.after > c.before && w - Int64(c.after) < c.at && c.at <= w - Int64(c.before) {
            return .skipped(nextValid: c.at)
        }
        // Not reached for consistent data; a damaged zone still gets an answer.
        return .skipped(nextValid: w - Int64(offsets.max() ?? 0))
    }
}

/// What a wall time is in a zone (``TimeZoneRules/resolve(_:)``).
public enum LocalResolution: Sendable, Hashable {
    case unique(Int64)
    /// Clocks went back: the wall time came round twice.
    case repeated(first: Int64, second: Int64)
    /// Clocks went forward over it: `nextValid` is the instant the gap ends.
    case skipped(nextValid: Int64)
}

/// Why a time zone could not be loaded, worded for the operator.
public struct TimeZoneError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
