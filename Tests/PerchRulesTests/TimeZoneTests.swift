import Foundation
import PerchIO
import Testing
@testable import PerchRules

/// Unix seconds of a UTC date and time, computed by Foundation (not by the code under test).
func schedUTC(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0) -> Int64 {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let date = calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))!
    return Int64(date.timeIntervalSince1970)
}

/// A zone from the system's tzdata, failing the test when it is missing.
func schedZone(_ name: String) throws -> TimeZoneRules {
    do {
        return try TimeZoneRules.named(name)
    } catch {
        Issue.record("\(name): \(error)")
        throw error
    }
}

func schedBerlinBytes() throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: "/usr/share/zoneinfo/Europe/Berlin")))
}

@Suite struct TimeZoneTests {
    // MARK: Offsets and abbreviations

    @Test func berlinAroundTheSpringChangeOf2026() throws {
        let berlin = try schedZone("Europe/Berlin")
        #expect(berlin.name == "Europe/Berlin")
        let change = schedUTC(2026, 3, 29, 1)
        #expect(berlin.offset(at: change - 1) == 3600)
        #expect(berlin.abbreviation(at: change - 1) == "CET")
        #expect(berlin.offset(at: change) == 7200)
        #expect(berlin.abbreviation(at: change) == "CEST")
        let before = berlin.local(change - 1)
        #expect(before.dateText == "2026-03-29" && before.hour == 1 && before.minute == 59 && before.second == 59)
        #expect(before.weekday == 0)
        let after = berlin.local(change)
        #expect(after.text == "03:00" && after.offset == 7200)
        #expect(berlin.nextTransition(after: change - 3600) == change)
    }

    @Test func berlinAroundTheAutumnChangeOf2026() throws {
        let berlin = try schedZone("Europe/Berlin")
        let change = schedUTC(2026, 10, 25, 1)
        #expect(berlin.offset(at: change - 1) == 7200)
        #expect(berlin.abbreviation(at: change - 1) == "CEST")
        #expect(berlin.offset(at: change) == 3600)
        #expect(berlin.abbreviation(at: change) == "CET")
        #expect(berlin.local(change - 1).text == "02:59")
        #expect(berlin.local(change).text == "02:00")
    }

    @Test func berlinAfter2037FollowsTheClosingRule() throws {
        let berlin = try schedZone("Europe/Berlin")
        // tzdata lists transitions up to 2037; 2040 comes from "CET-1CEST,M3.5.0,M10.5.0/3".
        #expect(berlin.data.transitions.last! < schedUTC(2038, 1, 1))
        #expect(berlin.data.footer != nil)
        #expect(berlin.offset(at: schedUTC(2040, 1, 15)) == 3600)
        #expect(berlin.offset(at: schedUTC(2040, 7, 1, 12)) == 7200)
        #expect(berlin.abbreviation(at: schedUTC(2040, 7, 1, 12)) == "CEST")
        let spring2040 = schedUTC(2040, 3, 25, 1)
        #expect(berlin.offset(at: spring2040 - 1) == 3600)
        #expect(berlin.offset(at: spring2040) == 7200)
        #expect(berlin.nextTransition(after: spring2040 - 10) == spring2040)
        #expect(berlin.local(schedUTC(2100, 6, 1, 10)).text == "12:00")
    }

    @Test func utcIsFixed() {
        let z = TimeZoneRules.utc
        #expect(z.name == "UTC")
        #expect(z.offset(at: 0) == 0 && z.offset(at: schedUTC(2040, 7, 1)) == 0)
        #expect(z.abbreviation(at: 0) == "UTC")
        #expect(z.nextTransition(after: 0) == nil)
        let l = z.local(schedUTC(2026, 12, 1, 22, 5, 9))
        #expect(l == LocalTime(year: 2026, month: 12, day: 1, hour: 22, minute: 5, second: 9, weekday: 2, offset: 0))
        #expect(z.local(-1).dateText == "1969-12-31")
        #expect(z.resolve(LocalDateTime(year: 2026, month: 3, day: 29, hour: 2, minute: 30)) == .unique(schedUTC(2026, 3, 29, 2, 30)))
    }

    @Test func aPosixStringZone() throws {
        let z = try TimeZoneRules(posix: "CET-1CEST,M3.5.0,M10.5.0/3")
        #expect(z.name == "CET-1CEST,M3.5.0,M10.5.0/3")
        let berlin = try schedZone("Europe/Berlin")
        // The same answers as the file, hour by hour through 2026 and 2041.
        for start in [schedUTC(2026, 1, 1), schedUTC(2041, 1, 1)] {
            var t = start
            while t < start + 366 * 86400 {
                #expect(z.offset(at: t) == berlin.offset(at: t))
                #expect(z.abbreviation(at: t) == berlin.abbreviation(at: t))
                t += 3600
            }
        }
        let india = try TimeZoneRules(posix: "<+0530>-5:30")
        #expect(india.offset(at: 0) == 19800 && india.abbreviation(at: 0) == "+0530")
        let utc0 = try TimeZoneRules(posix: "UTC0")
        #expect(utc0.offset(at: 12345) == 0 && utc0.abbreviation(at: 0) == "UTC")
        // Southern hemisphere rule: daylight time across the new year.
        let chile = try TimeZoneRules(posix: "<-04>4<-03>,M9.1.6/24,M4.1.6/24")
        #expect(chile.offset(at: schedUTC(2030, 1, 15)) == -3 * 3600)
        #expect(chile.offset(at: schedUTC(2030, 7, 15)) == -4 * 3600)
        for bad in ["", "C", "CET", "CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0", "CET-25", "CET-1CEST,J0,J10", "<ab>1", "CET-1 ", "CET-1CEST,M3.5.0/168,M10.5.0"] {
            #expect(throws: TimeZoneError.self, "\(bad)") { try TimeZoneRules(posix: bad) }
        }
    }

    @Test func newYorkAndSydney() throws {
        let ny = try schedZone("America/New_York")
        let spring = schedUTC(2026, 3, 8, 7)
        #expect(ny.offset(at: spring - 1) == -5 * 3600 && ny.abbreviation(at: spring - 1) == "EST")
        #expect(ny.offset(at: spring) == -4 * 3600 && ny.abbreviation(at: spring) == "EDT")
        let sydney = try schedZone("Australia/Sydney")
        #expect(sydney.offset(at: schedUTC(2026, 1, 15)) == 11 * 3600)
        #expect(sydney.abbreviation(at: schedUTC(2026, 1, 15)) == "AEDT")
        #expect(sydney.offset(at: schedUTC(2026, 7, 15)) == 10 * 3600)
        let autumn = schedUTC(2026, 4, 4, 16)
        #expect(sydney.offset(at: autumn - 1) == 11 * 3600 && sydney.offset(at: autumn) == 10 * 3600)
        let springSydney = schedUTC(2026, 10, 3, 16)
        #expect(sydney.offset(at: springSydney - 1) == 10 * 3600 && sydney.offset(at: springSydney) == 11 * 3600)
        // 02:30 on 2026-10-04 does not exist in Sydney; the gap ends at 03:00 AEDT.
        #expect(sydney.resolve(LocalDateTime(year: 2026, month: 10, day: 4, hour: 2, minute: 30)) == .skipped(nextValid: springSydney))
        // After 2037, from the closing rule.
        #expect(sydney.offset(at: schedUTC(2045, 1, 15)) == 11 * 3600)
        #expect(sydney.offset(at: schedUTC(2045, 7, 15)) == 10 * 3600)
    }

    @Test func kolkataIsHalfAnHourOff() throws {
        let z = try schedZone("Asia/Kolkata")
        #expect(z.offset(at: schedUTC(2026, 6, 1)) == 19800)
        #expect(z.abbreviation(at: schedUTC(2026, 6, 1)) == "IST")
        #expect(z.local(schedUTC(2026, 6, 1, 0, 45)).text == "06:15")
        #expect(z.resolve(LocalDateTime(year: 2026, month: 6, day: 1, hour: 6, minute: 15)) == .unique(schedUTC(2026, 6, 1, 0, 45)))
    }

    /// The zones agree with Foundation's (ICU's) at every six hours from 2020 to 2030.
    @Test(arguments: ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "America/Sao_Paulo", "Europe/London"])
    func agreesWithFoundation(name: String) throws {
        let ours = try schedZone(name)
        let theirs = try #require(TimeZone(identifier: name))
        var t = schedUTC(2020, 1, 1)
        var mismatches = 0
        while t < schedUTC(2030, 1, 1) {
            if Int(ours.offset(at: t)) != theirs.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t))) { mismatches += 1 }
            t += 6 * 3600
        }
        #expect(mismatches == 0)
    }

    // MARK: Wall times to instants

    @Test func resolveUniqueRepeatedAndSkipped() throws {
        let berlin = try schedZone("Europe/Berlin")
        #expect(berlin.resolve(LocalDateTime(year: 2026, month: 3, day: 29, hour: 1, minute: 30)) == .unique(schedUTC(2026, 3, 29, 0, 30)))
        #expect(berlin.resolve(LocalDateTime(year: 2026, month: 3, day: 29, hour: 2, minute: 30)) == .skipped(nextValid: schedUTC(2026, 3, 29, 1)))
        #expect(berlin.resolve(LocalDateTime(year: 2026, month: 3, day: 29, hour: 2, minute: 0)) == .skipped(nextValid: schedUTC(2026, 3, 29, 1)))
        #expect(berlin.resolve(LocalDateTime(year: 2026, month: 3, day: 29, hour: 3, minute: 0)) == .unique(schedUTC(2026, 3, 29, 1)))
        #expect(
            berlin.resolve(LocalDateTime(year: 2026, month: 10, day: 25, hour: 2, minute: 30))
                == .repeated(first: schedUTC(2026, 10, 25, 0, 30), second: schedUTC(2026, 10, 25, 1, 30)))
        #expect(berlin.resolve(LocalDateTime(year: 2026, month: 10, day: 25, hour: 3, minute: 0)) == .unique(schedUTC(2026, 10, 25, 2)))
        #expect(berlin.resolve(LocalDateTime(year: 2026, month: 10, day: 25, hour: 1, minute: 59)) == .unique(schedUTC(2026, 10, 24, 23, 59)))
        // After 2037 too (2040-03-25, 2040-10-28).
        #expect(berlin.resolve(LocalDateTime(year: 2040, month: 3, day: 25, hour: 2, minute: 30)) == .skipped(nextValid: schedUTC(2040, 3, 25, 1)))
        #expect(
            berlin.resolve(LocalDateTime(year: 2040, month: 10, day: 28, hour: 2, minute: 30))
                == .repeated(first: schedUTC(2040, 10, 28, 0, 30), second: schedUTC(2040, 10, 28, 1, 30)))
        // Fields out of range carry over: 2026-02-29 is March 1.
        #expect(berlin.resolve(LocalDateTime(year: 2026, month: 2, day: 29, hour: 12)) == .unique(schedUTC(2026, 3, 1, 11)))
    }

    @Test func everyInstantsWallTimeResolvesBackToIt() throws {
        let berlin = try schedZone("Europe/Berlin")
        var t = schedUTC(2026, 3, 28)
        while t < schedUTC(2026, 3, 30) {
            #expect(berlin.resolve(berlin.local(t).dateTime) == .unique(t))
            t += 600
        }
        t = schedUTC(2026, 10, 25, 0)
        while t < schedUTC(2026, 10, 25, 2) {
            guard case .repeated(let a, let b) = berlin.resolve(berlin.local(t).dateTime) else {
                Issue.record("\(t) is not in the repeated hour")
                return
            }
            #expect(a == t || b == t)
            #expect(b - a == 3600)
            t += 600
        }
    }

    @Test func civilCalendarArithmetic() {
        #expect(CivilCalendar.days(year: 1970, month: 1, day: 1) == 0)
        #expect(CivilCalendar.days(year: 2028, month: 2, day: 29) * 86400 == schedUTC(2028, 2, 29))
        #expect(CivilCalendar.days(year: 1900, month: 3, day: 1) * 86400 == schedUTC(1900, 3, 1))
        var day: Int64 = -800_000
        while day < 800_000 {
            let d = CivilCalendar.date(days: day)
            #expect(CivilCalendar.days(year: d.year, month: d.month, day: d.day) == day)
            day += 997
        }
        #expect(CivilCalendar.weekday(days: CivilCalendar.days(year: 2026, month: 12, day: 1)) == 2)
        #expect(CivilCalendar.days(year: 2026, month: 13, day: 1) == CivilCalendar.days(year: 2027, month: 1, day: 1))
        #expect(CivilCalendar.days(year: 2026, month: 0, day: 1) == CivilCalendar.days(year: 2025, month: 12, day: 1))
        #expect(!CivilCalendar.isLeapYear(2100) && CivilCalendar.isLeapYear(2000) && CivilCalendar.isLeapYear(2028))
        let l = TimeZoneRules.utc.local(schedUTC(2028, 2, 29, 14, 2))
        #expect(l.text == "14:02" && l.dateText == "2028-02-29")
    }

    // MARK: Files

    @Test func versionOneFilesAreRead() throws {
        // The 32-bit block alone, as a version 1 file: the same answers within its range.
        var bytes = try schedBerlinBytes()
        let v1 = try TZifData.parse(bytes, name: "x")
        bytes[4] = 0
        let asV1 = try TimeZoneRules(tzif: bytes, name: "v1")
        #expect(asV1.data.footer == nil)
        #expect(!asV1.data.transitions.isEmpty)
        #expect(asV1.offset(at: schedUTC(2026, 7, 1)) == 7200)
        #expect(asV1.offset(at: schedUTC(2026, 1, 1)) == 3600)
        #expect(v1.footer != nil)
    }

    @Test func truncatedAndGarbageBytesAreErrors() throws {
        let bytes = try schedBerlinBytes()
        // Every prefix: an error or (only for the whole file) a zone; never a crash.
        for n in 0..<bytes.count {
            #expect(throws: TimeZoneError.self) { try TimeZoneRules(tzif: Array(bytes[0..<n]), name: "Europe/Berlin") }
        }
        #expect(throws: Never.self) { try TimeZoneRules(tzif: bytes, name: "Europe/Berlin") }
        do {
            _ = try TimeZoneRules(tzif: Array(bytes[0..<100]), name: "Europe/Berlin")
        } catch {
            #expect(error.message.containsText("truncated"))
        }
        do {
            _ = try TimeZoneRules(tzif: Array("# a shell script\n".utf8), name: "/etc/localtime")
            Issue.record("garbage accepted")
        } catch {
            #expect(error.message == "/etc/localtime is not a time zone file (TZif): it does not start with \"TZif\"")
        }
        // Every byte of the header and the start of the data flipped, one at a time.
        for i in 0..<min(bytes.count, 400) {
            var b = bytes
            b[i] ^= 0xFF
            _ = try? TimeZoneRules(tzif: b, name: "flipped")
        }
        // Counts near 2^32 and an oversized file.
        var huge = bytes
        for k in 20..<44 { huge[k] = 0xFF }
        #expect(throws: TimeZoneError.self) { try TimeZoneRules(tzif: huge, name: "huge") }
        #expect(throws: TimeZoneError.self) { try TimeZoneRules(tzif: bytes + [UInt8](repeating: 0, count: 1 << 20), name: "big") }
    }

    @Test func aDamagedFooterIsNamed() throws {
        var bytes = try schedBerlinBytes()
        // The footer is the last line: "\nCET-1CEST,M3.5.0,M10.5.0/3\n".
        let footer = Array("CET-1CEST,M3.5.0,M10.5.0/3".utf8)
        let at = bytes.count - 1 - footer.count
        #expect(Array(bytes[at..<(bytes.count - 1)]) == footer)
        bytes[at + 4] = UInt8(ascii: "x")
        do {
            _ = try TimeZoneRules(tzif: bytes, name: "Europe/Berlin")
            Issue.record("bad footer accepted")
        } catch {
            #expect(error.message.containsText("not a POSIX TZ string"))
            #expect(error.message.containsText("CET-xCEST"))
        }
    }

    @Test func namedRefusesDotDotAndReportsMissingFiles() {
        #expect(throws: TimeZoneError.self) { try TimeZoneRules.named("../../etc/passwd") }
        #expect(throws: TimeZoneError.self) { try TimeZoneRules.named("") }
        do {
            _ = try TimeZoneRules.named("Nowhere/Bogus")
            Issue.record("a missing zone loaded")
        } catch {
            #expect(error.message.containsText("/usr/share/zoneinfo/Nowhere/Bogus"))
            #expect(error.message.containsText("tzdata"))
        }
        #expect((try? TimeZoneRules.named("/usr/share/zoneinfo/Asia/Kolkata"))?.offset(at: 0) == 19800)
        #expect(throws: TimeZoneError.self) { try TimeZoneRules.named("/etc/hostname") }
    }

    // MARK: The system's zone

    @Test func systemZoneFromTZ() throws {
        for tz in [":Europe/Berlin", "Europe/Berlin"] {
            let (rules, warning) = TimeZoneRules.system(environment: tz)
            #expect(warning == nil)
            #expect(rules.name == "Europe/Berlin")
            #expect(rules.offset(at: schedUTC(2026, 7, 1)) == 7200)
        }
        let posix = TimeZoneRules.system(environment: "CET-1CEST,M3.5.0,M10.5.0/3")
        #expect(posix.warning == nil)
        #expect(posix.rules.offset(at: schedUTC(2026, 7, 1)) == 7200 && posix.rules.offset(at: schedUTC(2026, 1, 1)) == 3600)
        let utc0 = TimeZoneRules.system(environment: "UTC0")
        #expect(utc0.warning == nil && utc0.rules.offset(at: schedUTC(2026, 7, 1)) == 0)
        let bogus = TimeZoneRules.system(environment: "Nowhere/Bogus")
        #expect(bogus.rules == .utc)
        let warning = try #require(bogus.warning)
        #expect(warning.containsText("TZ=Nowhere/Bogus"))
        #expect(warning.containsText("UTC"))
        #expect(warning.containsText("Europe/Berlin"))
        let word = TimeZoneRules.system(environment: "Berlin")
        #expect(word.rules == .utc && word.warning?.containsText("neither a zone") == true)
        let colon = TimeZoneRules.system(environment: ":Nowhere/Bogus")
        #expect(colon.rules == .utc && colon.warning != nil)
        let dots = TimeZoneRules.system(environment: "../../etc/passwd")
        #expect(dots.rules == .utc && dots.warning?.containsText("may not contain") == true)
        let empty = TimeZoneRules.system(environment: "")
        #expect(empty.rules == .utc && empty.warning == nil)
    }

    @Test func systemZoneFromEtcLocaltime() throws {
        let (rules, warning) = TimeZoneRules.system(environment: nil)
        let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/etc/localtime")
        if FileManager.default.fileExists(atPath: "/etc/localtime") {
            #expect(warning == nil)
            if let target, let range = target.range(of: "zoneinfo/") {
                #expect(rules.name == String(target[range.upperBound...]))
            } else {
                #expect(rules.name == "localtime")
            }
        } else {
            #expect(rules == .utc && warning != nil)
        }
    }
}
