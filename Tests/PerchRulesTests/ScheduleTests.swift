import PerchIO
import Testing
@testable import PerchRules

func schedSpec(_ cron: String) throws -> ScheduleSpec {
    .cron(try CronSpec.parse(cron).get())
}

func schedAt(_ text: String) throws -> ScheduleSpec {
    try ScheduleSpec.parseAt(text).get()
}

@Suite struct ScheduleTests {
    // MARK: at = "HH:MM"

    @Test func atTimes() throws {
        #expect(try schedAt("06:00") == .daily(hour: 6, minute: 0))
        #expect(try schedAt("6:00") == .daily(hour: 6, minute: 0))
        #expect(try schedAt("23:59") == .daily(hour: 23, minute: 59))
        #expect(try schedAt(" 0:00 ") == .daily(hour: 0, minute: 0))
        for bad in ["24:00", "06:60", "06:00:00", "6", "", "06:0", "aa:bb", "-1:00", "006:00", "06:5x", "６:00"] {
            guard case .failure(let e) = ScheduleSpec.parseAt(bad) else {
                Issue.record("\(bad) accepted")
                continue
            }
            #expect(e.message.containsText("HH:MM"), "\(bad): \(e.message)")
        }
        if case .failure(let e) = ScheduleSpec.parseAt("24:00") { #expect(e.message == "at = \"24:00\": the hour 24 is out of 0-23; write the local time as HH:MM, like \"06:00\" or \"23:59\"") }
        if case .failure(let e) = ScheduleSpec.parseAt("06:00:00") { #expect(e.message.containsText("without seconds")) }
    }

    @Test func texts() throws {
        #expect(ScheduleSpec.daily(hour: 6, minute: 0).text == "every day at 06:00")
        #expect(try schedSpec("0 6 * * 1-5").text == "cron 0 6 * * 1-5")
        #expect(try schedSpec("@daily").text == "cron @daily")
    }

    // MARK: Ordinary days

    @Test func dailyRunsStrictlyAfter() throws {
        let berlin = try schedZone("Europe/Berlin")
        let six = ScheduleSpec.daily(hour: 6, minute: 0)
        #expect(six.nextRun(after: schedUTC(2026, 6, 1, 3), in: berlin) == schedUTC(2026, 6, 1, 4))
        #expect(six.nextRun(after: schedUTC(2026, 6, 1, 4), in: berlin) == schedUTC(2026, 6, 2, 4))
        #expect(six.nextRun(after: schedUTC(2026, 6, 1, 4) - 1, in: berlin) == schedUTC(2026, 6, 1, 4))
        #expect(six.nextRun(after: schedUTC(2026, 1, 1, 4), in: berlin) == schedUTC(2026, 1, 1, 5))
        // Across a month end and a year end.
        #expect(six.nextRun(after: schedUTC(2026, 6, 30, 12), in: berlin) == schedUTC(2026, 7, 1, 4))
        #expect(six.nextRun(after: schedUTC(2026, 12, 31, 12), in: berlin) == schedUTC(2027, 1, 1, 5))
        #expect(six.nextRun(after: schedUTC(2026, 6, 1, 3), in: .utc) == schedUTC(2026, 6, 1, 6))
        let kolkata = try schedZone("Asia/Kolkata")
        #expect(six.nextRun(after: schedUTC(2026, 6, 1), in: kolkata) == schedUTC(2026, 6, 1, 0, 30))
        // Well after 2037, from the zone's closing rule.
        #expect(six.nextRun(after: schedUTC(2045, 7, 1), in: berlin) == schedUTC(2045, 7, 1, 4))
    }

    @Test func cronAcrossMonthEndsAndTheLeapDay() throws {
        let thirtyFirst = try schedSpec("0 0 31 * *")
        #expect(thirtyFirst.nextRun(after: schedUTC(2026, 4, 1), in: .utc) == schedUTC(2026, 5, 31))
        #expect(thirtyFirst.nextRun(after: schedUTC(2026, 5, 31), in: .utc) == schedUTC(2026, 7, 31))
        let leap = try schedSpec("0 0 29 2 *")
        #expect(leap.nextRun(after: schedUTC(2026, 3, 1), in: .utc) == schedUTC(2028, 2, 29))
        let berlin = try schedZone("Europe/Berlin")
        #expect(leap.nextRun(after: schedUTC(2026, 3, 1), in: berlin) == schedUTC(2028, 2, 28, 23))
        // 2100 is no leap year: from 2096 the next February 29 is in 2104.
        #expect(leap.nextRun(after: schedUTC(2096, 3, 1), in: .utc) == schedUTC(2104, 2, 29))
        #expect(try schedSpec("30 2 31 2 *").nextRun(after: schedUTC(2026, 1, 1), in: berlin) == nil)
        #expect(try schedSpec("0 0 31 4,6,9,11 *").nextRun(after: 0, in: .utc) == nil)
        let lastOfMonth = try schedSpec("59 23 28-31 * *")
        #expect(lastOfMonth.nextRun(after: schedUTC(2028, 2, 28, 23, 59), in: .utc) == schedUTC(2028, 2, 29, 23, 59))
        #expect(lastOfMonth.nextRun(after: schedUTC(2028, 2, 29, 23, 59), in: .utc) == schedUTC(2028, 3, 28, 23, 59))
    }

    @Test func weekdayListsAndTheDayOrRule() throws {
        // 2026-06-01 is a Monday.
        let mwf = try schedSpec("0 9 * * mon,wed,fri")
        #expect(mwf.runs(after: schedUTC(2026, 6, 1, 10), through: schedUTC(2026, 6, 8, 10), in: .utc)
            == [schedUTC(2026, 6, 3, 9), schedUTC(2026, 6, 5, 9), schedUTC(2026, 6, 8, 9)])
        // The 13th or any Friday.
        let either = try schedSpec("0 12 13 * fri")
        #expect(either.runs(after: schedUTC(2026, 6, 1), through: schedUTC(2026, 6, 20), in: .utc)
            == [schedUTC(2026, 6, 5, 12), schedUTC(2026, 6, 12, 12), schedUTC(2026, 6, 13, 12), schedUTC(2026, 6, 19, 12)])
        // Friday the 13th needs "*" in one of them to be an AND: here every other day that is a Friday.
        let both = try schedSpec("0 12 */2 * fri")
        #expect(both.runs(after: schedUTC(2026, 6, 1), through: schedUTC(2026, 6, 30), in: .utc)
            == [schedUTC(2026, 6, 5, 12), schedUTC(2026, 6, 19, 12)])
        let workdays = try schedSpec("0 6 * * 1-5")
        let berlin = try schedZone("Europe/Berlin")
        // Friday 2026-03-27 06:00 CET; the next is Monday 2026-03-30 06:00 CEST.
        #expect(workdays.nextRun(after: schedUTC(2026, 3, 27, 5), in: berlin) == schedUTC(2026, 3, 30, 4))
        #expect(workdays.runs(after: schedUTC(2026, 6, 1), through: schedUTC(2026, 6, 8), in: berlin).count == 5)
        #expect(try schedSpec("0 6 * * 7").nextRun(after: schedUTC(2026, 6, 1), in: .utc) == schedUTC(2026, 6, 7, 6))
    }

    @Test func runsAreBounded() throws {
        let everyMinute = try schedSpec("* * * * *")
        #expect(everyMinute.runs(after: 0, through: 86400 * 2, in: .utc).count == 1000)
        #expect(everyMinute.runs(after: 0, through: 86400, in: .utc, limit: 10) == (1...10).map { Int64($0) * 60 })
        #expect(everyMinute.runs(after: 30, through: 30, in: .utc).isEmpty)
    }

    // MARK: Daylight-saving days in Berlin (2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00)

    @Test func aFixedTimeInTheGapRunsOnceWhenTheGapEnds() throws {
        let berlin = try schedZone("Europe/Berlin")
        let gapEnd = schedUTC(2026, 3, 29, 1)  // 03:00 CEST
        for spec in [ScheduleSpec.daily(hour: 2, minute: 30), try schedSpec("30 2 * * *")] {
            #expect(spec.nextRun(after: schedUTC(2026, 3, 28, 12), in: berlin) == gapEnd)
            #expect(spec.nextRun(after: gapEnd, in: berlin) == schedUTC(2026, 3, 30, 0, 30))
            #expect(spec.runs(after: schedUTC(2026, 3, 27, 12), through: schedUTC(2026, 3, 30, 12), in: berlin)
                == [schedUTC(2026, 3, 28, 1, 30), gapEnd, schedUTC(2026, 3, 30, 0, 30)])
        }
        // Several times in the gap (and 03:00 itself) collapse into that one run.
        let several = try schedSpec("0,15,30,45 2,3 * * *")
        let day = several.runs(after: schedUTC(2026, 3, 28, 23), through: schedUTC(2026, 3, 29, 22), in: berlin)
        #expect(day == [gapEnd, gapEnd + 900, gapEnd + 1800, gapEnd + 2700])
        let fixedHour = try schedSpec("*/15 2 * * *")
        #expect(fixedHour.runs(after: schedUTC(2026, 3, 28, 23), through: schedUTC(2026, 3, 29, 22), in: berlin) == [gapEnd])
    }

    @Test func aFixedTimeOnTheRepeatedHourRunsAtItsFirstOccurrence() throws {
        let berlin = try schedZone("Europe/Berlin")
        let first = schedUTC(2026, 10, 25, 0, 30)  // 02:30 CEST
        for spec in [ScheduleSpec.daily(hour: 2, minute: 30), try schedSpec("30 2 * * *")] {
            #expect(spec.nextRun(after: schedUTC(2026, 10, 24, 12), in: berlin) == first)
            // Not again at 02:30 CET, an hour later.
            #expect(spec.nextRun(after: first, in: berlin) == schedUTC(2026, 10, 26, 1, 30))
            // Asked during the second occurrence (02:10 CET), it is tomorrow's.
            #expect(spec.nextRun(after: schedUTC(2026, 10, 25, 1, 10), in: berlin) == schedUTC(2026, 10, 26, 1, 30))
            // Asked during the first occurrence (02:10 CEST), it is still today's.
            #expect(spec.nextRun(after: schedUTC(2026, 10, 25, 0, 10), in: berlin) == first)
        }
        let fixedHour = try schedSpec("*/15 2 * * *")
        #expect(fixedHour.runs(after: schedUTC(2026, 10, 24, 22), through: schedUTC(2026, 10, 25, 23), in: berlin)
            == [schedUTC(2026, 10, 25, 0), schedUTC(2026, 10, 25, 0, 15), schedUTC(2026, 10, 25, 0, 30), schedUTC(2026, 10, 25, 0, 45)])
    }

    /// Local midnight to local midnight: 23 hours on the spring day, 25 on the autumn day.
    func berlinDay(_ month: Int, _ day: Int) -> (after: Int64, through: Int64) {
        month == 3
            ? (schedUTC(2026, 3, 28, 23) - 1, schedUTC(2026, 3, 29, 22) - 1)
            : (schedUTC(2026, 10, 24, 22) - 1, schedUTC(2026, 10, 25, 23) - 1)
    }

    @Test func hourlyLinesFollowElapsedTime() throws {
        let berlin = try schedZone("Europe/Berlin")
        let quarter = try schedSpec("*/15 * * * *")
        let hourly = try schedSpec("0 * * * *")
        let spring = berlinDay(3, 29)
        let autumn = berlinDay(10, 25)
        #expect(quarter.runs(after: spring.after, through: spring.through, in: berlin).count == 92)
        #expect(quarter.runs(after: autumn.after, through: autumn.through, in: berlin).count == 100)
        #expect(hourly.runs(after: spring.after, through: spring.through, in: berlin).count == 23)
        #expect(hourly.runs(after: autumn.after, through: autumn.through, in: berlin).count == 25)
        #expect(try schedSpec("@hourly").runs(after: autumn.after, through: autumn.through, in: berlin).count == 25)
        // Every run 15 minutes after the one before, through both changes.
        for day in [spring, autumn] {
            let runs = quarter.runs(after: day.after, through: day.through, in: berlin)
            #expect(zip(runs, runs.dropFirst()).allSatisfy { $1 - $0 == 900 })
            #expect(runs.first == day.after + 1)
        }
        // 01:45 CET, then 03:00 CEST: the wall times between do not exist.
        #expect(quarter.nextRun(after: schedUTC(2026, 3, 29, 0, 45), in: berlin) == schedUTC(2026, 3, 29, 1))
        // 02:00 CEST and 02:00 CET both run.
        #expect(hourly.runs(after: schedUTC(2026, 10, 24, 23, 30), through: schedUTC(2026, 10, 25, 2, 30), in: berlin)
            == [schedUTC(2026, 10, 25, 0), schedUTC(2026, 10, 25, 1), schedUTC(2026, 10, 25, 2)])
        // A fixed line on the same days: one run each.
        let fixed = try schedSpec("30 2 * * *")
        #expect(fixed.runs(after: spring.after, through: spring.through, in: berlin).count == 1)
        #expect(fixed.runs(after: autumn.after, through: autumn.through, in: berlin).count == 1)
    }

    @Test func workdayMorningsOverBothChanges() throws {
        let berlin = try schedZone("Europe/Berlin")
        let workdays = try schedSpec("0 6 * * 1-5")
        // The week after each change: 06:00 local every weekday, in CEST then CET.
        #expect(workdays.runs(after: schedUTC(2026, 3, 28), through: schedUTC(2026, 4, 4), in: berlin)
            == (30...31).map { schedUTC(2026, 3, $0, 4) } + (1...3).map { schedUTC(2026, 4, $0, 4) })
        #expect(workdays.runs(after: schedUTC(2026, 10, 24), through: schedUTC(2026, 10, 31), in: berlin)
            == (26...30).map { schedUTC(2026, 10, $0, 5) })
    }

    @Test func otherZonesChanges() throws {
        // Sydney springs forward at 02:00 AEST on 2026-10-04.
        let sydney = try schedZone("Australia/Sydney")
        #expect(ScheduleSpec.daily(hour: 2, minute: 30).nextRun(after: schedUTC(2026, 10, 3, 12), in: sydney) == schedUTC(2026, 10, 3, 16))
        // New York falls back at 02:00 EDT on 2026-11-01: 01:30 runs at 01:30 EDT.
        let ny = try schedZone("America/New_York")
        #expect(ScheduleSpec.daily(hour: 1, minute: 30).nextRun(after: schedUTC(2026, 11, 1), in: ny) == schedUTC(2026, 11, 1, 5, 30))
        // A POSIX zone behaves like the file.
        let posix = try TimeZoneRules(posix: "CET-1CEST,M3.5.0,M10.5.0/3")
        let berlin = try schedZone("Europe/Berlin")
        for spec in [ScheduleSpec.daily(hour: 2, minute: 30), try schedSpec("*/15 * * * *"), try schedSpec("0 6 * * 1-5")] {
            #expect(spec.runs(after: schedUTC(2026, 3, 27), through: schedUTC(2026, 3, 31), in: posix)
                == spec.runs(after: schedUTC(2026, 3, 27), through: schedUTC(2026, 3, 31), in: berlin))
        }
    }

    /// Against a brute-force reference (every minute of a week around each change, with the
    /// documented rules applied by hand) for a few lines.
    @Test(arguments: ["30 2 * * *", "*/15 * * * *", "0 * * * *", "*/20 1-3 * * *", "0 2 * * 0", "5 0,2,3 * * *"])
    func matchesABruteForceReference(line: String) throws {
        let berlin = try schedZone("Europe/Berlin")
        let spec = try schedSpec(line)
        let cron = spec.matcher
        for start in [schedUTC(2026, 3, 26), schedUTC(2026, 10, 22)] {
            let end = start + 7 * 86400
            var expected: Set<Int64> = []
            // Every wall minute of the days in question, mapped by the documented rules.
            var wall = start
            while wall < end + 86400 {
                let days = floorDiv(wall, 86400)
                let date = CivilCalendar.date(days: days)
                let s = Int(wall - days * 86400)
                let h = s / 3600
                let m = s / 60 % 60
                if cron.matchesDay(days: days, month: date.month, day: date.day), cron.hours & (1 << UInt32(h)) != 0, cron.minutes & (1 << UInt64(m)) != 0 {
                    let local = LocalDateTime(year: date.year, month: date.month, day: date.day, hour: h, minute: m)
                    switch berlin.resolve(local) {
                    case .unique(let t): expected.insert(t)
                    case .repeated(let a, let b):
                        expected.insert(a)
                        if cron.followsElapsedTime { expected.insert(b) }
                    case .skipped(let next): if !cron.followsElapsedTime { expected.insert(next) }
                    }
                }
                wall += 60
            }
            let want = expected.filter { $0 > start && $0 <= end }.sorted()
            let got = spec.runs(after: start, through: end, in: berlin)
            #expect(got.count == want.count)
            #expect(got == want)
        }
    }
}
