import PerchIO
import Testing
@testable import PerchRules

/// Drives an alert on `air` the way the agent does: a value at a time, ticks at the deadlines.
struct AlertDriver {
    var tracker: AlertTracker
    let when: Condition
    let clear: Condition?
    var now: Int64 = 0
    var told: [(Int64, AlertTracker.Event)] = []
    let wall0: Int64 = 1_790_000_000_000

    init(_ when: String, clear: String? = nil, _ policy: AlertPolicy = AlertPolicy()) throws {
        self.when = try Condition.parse(when).get()
        self.clear = try clear.map { try Condition.parse($0).get() }
        var p = policy
        p.hasClear = clear != nil
        tracker = AlertTracker(policy: p)
    }

    /// Time passes to `t` (ms), ticking at each deadline on the way.
    mutating func wait(until t: Int64) {
        while let d = tracker.nextDeadline, d.milliseconds - 1_000_000 <= t {
            now = max(now, d.milliseconds - 1_000_000)
            record(tracker.tick(now: PerchRulesClock.at(now), wall: wall0 + now))
        }
        now = t
    }

    mutating func read(_ o: Observation, at t: Int64) {
        wait(until: t)
        let observe: (String) -> Observation = { _ in o }
        record(tracker.update(when: when.evaluate(observe), clear: clear?.evaluate(observe), failing: when.failing(observe), now: PerchRulesClock.at(t), wall: wall0 + t))
    }

    mutating func record(_ events: [AlertTracker.Event]) { told += events.map { (now, $0) } }

    var kinds: [String] {
        told.map {
            switch $0.1 {
            case .started: "started"
            case .ended: "ended"
            case .reminder: "reminder"
            }
        }
    }
}

@Suite struct AlertTrackerTests {
    @Test func oneMessageAtTheStartAndOneAtTheEndNoRepeats() throws {
        var a = try AlertDriver("air > 30")
        a.read(.number(25), at: 0)
        a.read(.number(31), at: 1_000)
        for t in stride(from: Int64(2_000), to: 60_000, by: 1_000) { a.read(.number(32), at: t) }
        a.read(.number(29), at: 60_000)
        a.read(.number(28), at: 61_000)
        #expect(a.kinds == ["started", "ended"])
        #expect(a.told[0].1 == .started(.condition, wall: a.wall0 + 1_000))
        #expect(a.told[1].1 == .ended(.condition, wallSince: a.wall0 + 1_000, lasted: 59_000))
    }

    @Test func clearGivesHysteresis() throws {
        var a = try AlertDriver("air > 30", clear: "air < 28")
        a.read(.number(31), at: 0)
        a.read(.number(29), at: 1_000)
        a.read(.number(30.5), at: 2_000)
        a.read(.number(28.5), at: 3_000)
        #expect(a.kinds == ["started"], "between 28 and 30 it stays on, and does not start again")
        a.read(.number(27.9), at: 4_000)
        #expect(a.kinds == ["started", "ended"])
    }

    @Test func forHoldsTheStartBackAndFlappingNeverStarts() throws {
        var a = try AlertDriver("air > 30", AlertPolicy(holdFor: 120_000))
        for t in stride(from: Int64(0), to: 600_000, by: 60_000) {
            a.read(.number(31), at: t)
            a.read(.number(29), at: t + 30_000)
        }
        #expect(a.kinds.isEmpty, "never held for two minutes")
        a.read(.number(31), at: 600_000)
        a.wait(until: 719_999)
        #expect(a.kinds.isEmpty)
        a.wait(until: 720_000)
        #expect(a.kinds == ["started"], "started by the timer at the end of for, without another reading")
        #expect(a.told[0].0 == 720_000)
        #expect(a.told[0].1 == .started(.condition, wall: a.wall0 + 600_000), "stamped when it began to hold")
    }

    @Test func repeatRemindsWhileItHolds() throws {
        var a = try AlertDriver("air > 30", AlertPolicy(repeatEvery: 3_600_000))
        a.read(.number(31), at: 0)
        a.wait(until: 3 * 3_600_000 + 10)
        #expect(a.kinds == ["started", "reminder", "reminder", "reminder"])
        #expect(a.told.map(\.0) == [0, 3_600_000, 7_200_000, 10_800_000])
        a.read(.number(20), at: 3 * 3_600_000 + 20)
        #expect(a.kinds.last == "ended")
        a.wait(until: 5 * 3_600_000)
        #expect(a.kinds.count == 5, "no reminders after the end")
    }

    @Test func aSensorInErrorStartsNothingAndEndsNothing() throws {
        var a = try AlertDriver("air > 30")
        a.read(.failed, at: 0)
        #expect(a.kinds.isEmpty)
        a.read(.number(31), at: 1_000)
        a.read(.failed, at: 2_000)
        a.read(.unknown, at: 3_000)
        #expect(a.kinds == ["started"], "an error does not end it")
        a.read(.number(31), at: 4_000)
        #expect(a.kinds == ["started"], "nor does reading again start it twice")
    }

    @Test func onErrorStartsWhenTheSensorKeepsFailingAndEndsWhenItReads() throws {
        var a = try AlertDriver("air > 30", AlertPolicy(holdFor: 300_000, onError: true))
        a.read(.number(20), at: 0)
        a.read(.failed, at: 10_000)
        a.read(.number(20), at: 100_000)
        a.read(.failed, at: 200_000)
        a.wait(until: 499_999)
        #expect(a.kinds.isEmpty, "a sensor failing for less than for starts nothing")
        a.read(.failed, at: 500_000)
        #expect(a.kinds == ["started"])
        #expect(a.told[0].1 == .started(.failing(["air"]), wall: a.wall0 + 200_000))
        a.read(.number(20), at: 600_000)
        #expect(a.kinds == ["started", "ended"])
    }

    @Test func aMuteTellsNothingThenSetsThePictureRight() throws {
        var a = try AlertDriver("air > 30", AlertPolicy(repeatEvery: 600_000))
        a.tracker.mute(until: PerchRulesClock.at(3_600_000))
        a.read(.number(31), at: 0)
        a.wait(until: 1_800_000)
        #expect(a.kinds.isEmpty, "muted: no start, no reminders")
        a.wait(until: 3_600_000)
        #expect(a.kinds == ["started"], "still on when the mute ends: told once")
        // Told, then muted, then over: the end is told when the mute ends.
        a.tracker.mute(until: PerchRulesClock.at(7_200_000))
        a.read(.number(20), at: 4_000_000)
        #expect(a.kinds == ["started"])
        a.wait(until: 7_200_000)
        #expect(a.kinds == ["started", "ended"])
        // Started and ended within a mute: nothing at all.
        a.tracker.mute(until: PerchRulesClock.at(9_000_000))
        a.read(.number(31), at: 8_000_000)
        a.read(.number(20), at: 8_100_000)
        a.wait(until: 9_500_000)
        #expect(a.kinds == ["started", "ended"])
    }

    @Test func unmutingByHandTellsAtOnce() throws {
        var a = try AlertDriver("air > 30")
        a.tracker.mute(until: PerchRulesClock.at(3_600_000))
        a.read(.number(31), at: 0)
        a.record(a.tracker.unmute(now: PerchRulesClock.at(60_000), wall: a.wall0 + 60_000))
        #expect(a.kinds == ["started"])
        #expect(a.tracker.nextDeadline == nil)
    }
}
