import Glibc
import Testing
@testable import PerchIO

@Suite struct LoopClockTests {
    /// Timers fire in deadline order, each at its own deadline, including one a fired timer schedules
    /// inside the window; a timer past the window waits.
    @Test func advanceFiresDueTimersInOrderAtTheirDeadlines() throws {
        let loop = try EventLoop(clock: LoopClock(manualAt: 1_700_000_000_000))
        let start = loop.now
        var fired: [(String, Int64)] = []
        loop.schedule(after: 300) { fired.append(("c", loop.now - start)) }
        loop.schedule(after: 100) {
            fired.append(("a", loop.now - start))
            loop.schedule(after: 50) { fired.append(("b", loop.now - start)) }
        }
        loop.schedule(after: 5_000) { fired.append(("late", loop.now - start)) }
        loop.advance(by: 1_000)
        #expect(fired.map(\.0) == ["a", "b", "c"])
        #expect(fired.map(\.1) == [100, 150, 300])
        #expect(loop.now - start == 1_000)
        loop.advance(by: 4_000)
        #expect(fired.last?.0 == "late")
        #expect(fired.last?.1 == 5_000)
    }

    /// A day passes in a test in no time: the wall clock moves with the monotonic one.
    @Test func wallTimeMovesWithTheManualClock() throws {
        let loop = try EventLoop(clock: LoopClock(manualAt: 1_700_000_000_000))
        var ticks = 0
        var tick: (() -> Void)!
        tick = { ticks += 1; loop.schedule(after: 60_000, tick) }
        loop.schedule(after: 60_000, tick)
        let before = Instant.now()
        loop.advance(by: 86_400_000)
        #expect(ticks == 1_440)
        #expect(loop.wallMilliseconds == 1_700_000_000_000 + 86_400_000)
        #expect(Instant.now() - before < 5_000, "a manual day takes no real day")
    }

    /// A wall-clock jump tells the observers and moves no timer: timers run on the monotonic clock.
    @Test func aWallJumpTellsObserversAndLeavesTimersAlone() throws {
        let loop = try EventLoop(clock: LoopClock(manualAt: 1_000_000_000_000))
        var seen: [Int64] = []
        loop.observeWallClockChanges { seen.append(loop.wallMilliseconds) }
        var fired = false
        loop.schedule(after: 1_000) { fired = true }
        loop.jumpWall(by: 3_600_000)
        #expect(seen == [1_000_000_000_000 + 3_600_000])
        #expect(!fired)
        loop.advance(by: 1_000)
        #expect(fired)
        #expect(loop.wallMilliseconds == 1_000_000_000_000 + 3_601_000)
    }

    /// run(until:) on a manual clock still ends at its timeout in real time (the clock standing
    /// still must not hang a test), and runs timers that are due now.
    @Test func runUntilTimesOutInRealTimeOnAManualClock() throws {
        let loop = try EventLoop(clock: LoopClock(manualAt: 0))
        var now = false
        var later = false
        loop.schedule(after: 0) { now = true }
        loop.schedule(after: 10) { later = true }
        let started = Instant.now()
        #expect(loop.run(until: { later }, timeout: 200) == false)
        #expect(now)
        #expect(!later, "10 ms of a manual clock never pass by themselves")
        #expect(Instant.now() - started >= 200)
    }

    /// The kernel reports a set wall clock through the timerfd; a real jump needs root and would move
    /// the machine's clock, so this only checks that watching costs no wake-up while nothing happens.
    @Test func watchingTheSystemWallClockCostsNoWakeups() throws {
        let loop = try EventLoop()
        var changes = 0
        loop.observeWallClockChanges { changes += 1 }
        let before = loop.wakeups
        loop.schedule(after: 300) { loop.stop() }
        loop.run()
        #expect(changes == 0)
        #expect(loop.wakeups - before <= 2)
    }
}
