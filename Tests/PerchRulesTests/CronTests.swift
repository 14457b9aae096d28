import PerchIO
import Testing
@testable import PerchRules

func schedCron(_ text: String) throws -> CronSpec {
    try CronSpec.parse(text).get()
}

func schedCronError(_ text: String) -> CronError? {
    if case .failure(let e) = CronSpec.parse(text) { return e }
    return nil
}

/// The set bits of a mask, in order.
func schedBits<T: FixedWidthInteger>(_ mask: T) -> [Int] {
    (0..<T.bitWidth).filter { mask & (1 << $0) != 0 }
}

@Suite struct CronTests {
    @Test func fieldsAsSets() throws {
        let c = try schedCron("5-55/10 8-18/2 */10 jan,Jul,DEC 0,7")
        #expect(schedBits(c.minutes) == [5, 15, 25, 35, 45, 55])
        #expect(schedBits(c.hours) == [8, 10, 12, 14, 16, 18])
        #expect(schedBits(c.daysOfMonth) == [1, 11, 21, 31])
        #expect(schedBits(c.months) == [1, 7, 12])
        #expect(schedBits(c.daysOfWeek) == [0])
        #expect(c.text == "5-55/10 8-18/2 */10 jan,Jul,DEC 0,7")
        // "*/10" starts with "*": for the day rule it counts as unrestricted, as in Vixie cron.
        #expect(c.dayOfMonthStar && !c.dayOfWeekStar && !c.followsElapsedTime)

        let every = try schedCron("* * * * *")
        #expect(schedBits(every.minutes) == Array(0...59))
        #expect(schedBits(every.hours) == Array(0...23))
        #expect(schedBits(every.daysOfMonth) == Array(1...31))
        #expect(schedBits(every.months) == Array(1...12))
        #expect(schedBits(every.daysOfWeek) == Array(0...6))
        #expect(every.followsElapsedTime)

        #expect(schedBits(try schedCron("0 6 * * mon-FRI").daysOfWeek) == [1, 2, 3, 4, 5])
        #expect(schedBits(try schedCron("0 6 * * 5-7").daysOfWeek) == [0, 5, 6])
        #expect(schedBits(try schedCron("0 6 * * */2").daysOfWeek) == [0, 2, 4, 6])
        #expect(schedBits(try schedCron("30/15 * * * *").minutes) == [30, 45])
        #expect(schedBits(try schedCron("0 */6 * * *").hours) == [0, 6, 12, 18])
        #expect(try schedCron("0 */6 * * *").followsElapsedTime)
        #expect(try schedCron("  0\t6  * *   1-5 ").text == "0 6 * * 1-5")
    }

    @Test func shorthands() throws {
        #expect(try schedCron("@daily").text == "@daily")
        #expect(schedBits(try schedCron("@DAILY").hours) == [0])
        #expect(try schedCron("@hourly").followsElapsedTime)
        #expect(schedBits(try schedCron("@weekly").daysOfWeek) == [0])
        #expect(schedBits(try schedCron("@monthly").daysOfMonth) == [1])
        let yearly = try schedCron("@yearly")
        #expect(schedBits(yearly.months) == [1] && schedBits(yearly.daysOfMonth) == [1])
        #expect(try schedCron("@annually") == (try schedCron("@annually")))
        #expect(schedCronError("@reboot")?.message.containsText("@hourly, @daily") == true)
    }

    @Test func textRoundTrips() throws {
        for line in ["0 6 * * 1-5", "*/15 * * * *", "@daily", "5-55/10 8-18/2 */10 jan,Jul,DEC 0,7", "0 12 1,15 * mon"] {
            let c = try schedCron(line)
            #expect(try schedCron(c.text) == c)
        }
    }

    @Test func refusalsNameTheFieldAndWhatIsAllowed() {
        #expect(schedCronError("0 24 * * *")?.message == "field 2 (hour): 24 is out of 0-23")
        #expect(schedCronError("0 24 * * *")?.field == 2)
        #expect(schedCronError("60 * * * *")?.message == "field 1 (minute): 60 is out of 0-59")
        #expect(schedCronError("0 0 0 * *")?.message == "field 3 (day-of-month): 0 is out of 1-31")
        #expect(schedCronError("0 0 32 * *")?.field == 3)
        #expect(schedCronError("0 0 * 13 *")?.message == "field 4 (month): 13 is out of 1-12 or jan-dec")
        #expect(schedCronError("0 0 * * 8")?.message == "field 5 (day-of-week): 8 is out of 0-7 (0 and 7 are Sunday) or sun-sat")
        #expect(schedCronError("0 0 * * fri-mon")?.message.containsText("runs backwards") == true)
        #expect(schedCronError("*/0 * * * *")?.message.containsText("step") == true)
        #expect(schedCronError("*/61 * * * *")?.field == 1)
        #expect(schedCronError("0 6 * *")?.message.containsText("five fields") == true)
        #expect(schedCronError("0 6 * * * *")?.message.containsText("has 6") == true)
        #expect(schedCronError("")?.field == nil)
        #expect(schedCronError("0 6 * * monday")?.message.containsText("sun-sat") == true)
        #expect(schedCronError("0 6 * jan-x *")?.field == 4)
        #expect(schedCronError("0 6 * * mon,")?.message.containsText("empty list item") == true)
        #expect(schedCronError("1-2-3 * * * *")?.field == 1)
        #expect(schedCronError("1/2/3 * * * *")?.field == 1)
        #expect(schedCronError("-1 * * * *")?.field == 1)
        #expect(schedCronError("+1 * * * *")?.field == 1)
        #expect(schedCronError("00000001 * * * *")?.field == 1)
        #expect(schedCronError("0 6 * jan *") == nil)
        #expect(schedCronError("0 6 * * sun") == nil)
    }

    @Test func theDayFieldsOrWhenBothAreRestricted() throws {
        // 2026-06-01 is a Monday; 2026-06-05 a Friday.
        let either = try schedCron("0 12 1 * fri")
        let jun1 = CivilCalendar.days(year: 2026, month: 6, day: 1)
        #expect(either.matchesDay(days: jun1, month: 6, day: 1))
        #expect(either.matchesDay(days: jun1 + 4, month: 6, day: 5))
        #expect(!either.matchesDay(days: jun1 + 1, month: 6, day: 2))
        // With one field starting with "*", both must match.
        let both = try schedCron("0 12 */2 * fri")
        #expect(!both.matchesDay(days: jun1, month: 6, day: 1))
        #expect(both.matchesDay(days: jun1 + 4, month: 6, day: 5))
        #expect(!both.matchesDay(days: jun1 + 11, month: 6, day: 12))
    }
}
