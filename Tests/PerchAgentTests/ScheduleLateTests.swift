import Testing
@testable import PerchIO
@testable import PerchAgent

/// A schedule's timer that fires late (the board was suspended: the monotonic clock the timers run on
/// stood still while the wall clock went on) is a missed run, judged by catch_up, not one on time; and
/// a last run saved by a clock far ahead does not hold a schedule back.
@Suite struct ScheduleLateTests {
    /// Moves the wall clock on without telling anyone, as a suspend does: the timers fire late.
    static func suspend(_ rig: AutomationRig, for ms: Int64) {
        rig.loop.clock.jumpWall(by: ms)
    }

    @Test func aRunTooLateForCatchUpIsSkippedWithALogLine() throws {
        let rig = try AutomationRig("""
            [[schedule]]
            name = "noon"
            at = "13:30"
            do = "fan toggle"
            catch_up = "10m"
            """)
        Self.suspend(rig, for: 2 * 3_600_000)
        rig.loop.advance(by: 31 * 60_000)
        #expect(rig.fan() != "1", "two hours late is more than catch_up: not run")
        #expect(rig.log.lines.contains { $0.contains("schedule noon: skipped the run of 2026-03-28 13:30, missed while the timer was late (the system suspended or busy) (it is 2 h late, more than catch_up 10 min)") }, "\(rig.log.lines.filter { $0.contains("schedule") })")
        // The next day's run is on time again.
        rig.loop.advance(by: 86_400_000)
        #expect(rig.fan() == "1")
    }

    @Test func aLateTimerRunsTheLatestMissedRunOnceWithinCatchUp() throws {
        let rig = try AutomationRig("""
            [[schedule]]
            name = "often"
            cron = "*/5 * * * *"
            do = "fan toggle"
            catch_up = "10m"
            """)
        var runs = 0
        rig.agent.executor.observeCommands { _, context, _ in if context.frontEnd == "schedule often" { runs += 1 } }
        Self.suspend(rig, for: 3_600_000 + 2 * 60_000)
        // The timer for 13:05 fires at 14:07: twelve runs were missed, the latest (14:05) runs, once.
        rig.loop.advance(by: 5 * 60_000)
        #expect(runs == 1)
        #expect(rig.log.lines.contains { $0.contains("schedule often: the run of 2026-03-28 14:05 was missed while the timer was late (the system suspended or busy); running it now, 2 min late (catch_up 10 min)") }, "\(rig.log.lines.filter { $0.contains("schedule") })")
        rig.loop.advance(by: 3 * 60_000)
        #expect(runs == 2, "14:10 on time")
    }

    /// A loop busy for a few seconds is not a suspend: the run goes, on time.
    @Test func aTimerAFewSecondsLateStillRuns() throws {
        let rig = try AutomationRig("""
            [[schedule]]
            name = "noon"
            at = "13:30"
            do = "fan toggle"
            """)
        Self.suspend(rig, for: 5_000)
        rig.loop.advance(by: 31 * 60_000)
        #expect(rig.fan() == "1")
        #expect(!rig.log.lines.contains { $0.contains("skipped") }, "\(rig.log.lines.filter { $0.contains("schedule") })")
    }

    @Test func aLastRunSavedFarAheadIsClampedToNow() throws {
        let ahead = "noon\t\(AutomationRig.start + 3 * 86_400_000)\n"
        let rig = try AutomationRig("""
            [[schedule]]
            name = "noon"
            at = "13:30"
            do = "fan toggle"
            """, stateFile: ("schedules", ahead))
        #expect(rig.log.lines.contains { $0.contains("schedule noon: its last run is saved as 2026-03-31 14:00, more than a day ahead of the clock") }, "\(rig.log.lines.filter { $0.contains("schedule") })")
        rig.loop.advance(by: 31 * 60_000)
        #expect(rig.fan() == "1", "today's 13:30 runs")
    }

    /// The clock, not the file, was wrong (a board without a real-time clock before NTP): once it is
    /// set, the saved last run holds again, and a run already done is not caught up again.
    @Test func aLastRunSavedAheadHoldsAgainWhenTheClockIsSetToIt() throws {
        // 2026-03-31 14:00 Berlin (CEST): that day's 13:30 was run.
        let ahead = "noon\t\(AutomationRig.start + 3 * 86_400_000)\n"
        let rig = try AutomationRig("""
            [[schedule]]
            name = "noon"
            at = "13:30"
            do = "fan toggle"
            catch_up = "2h"
            """, stateFile: ("schedules", ahead))
        // NTP sets the clock to 2026-03-31 14:20 CEST.
        rig.loop.jumpWall(by: 3 * 86_400_000 + 20 * 60_000)
        rig.loop.advance(by: 1_000)
        #expect(rig.fan() != "1", "the 13:30 run of that day was done: \(rig.log.lines.filter { $0.contains("schedule") })")
        #expect(!rig.log.lines.contains { $0.contains("was missed") })
        #expect(rig.agent.automation.schedules.entries.first?.next == AutomationRig.start + 4 * 86_400_000 - 30 * 60_000, "next: 2026-04-01 13:30 CEST")
    }
}
