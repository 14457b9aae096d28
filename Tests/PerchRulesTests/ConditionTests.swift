import PerchIO
import Testing
@testable import PerchRules

@Suite struct ConditionTests {
    func parse(_ text: String) throws -> Condition { try Condition.parse(text).get() }

    func refusal(_ text: String) -> String? {
        if case .failure(let e) = Condition.parse(text) { return e.message }
        return nil
    }

    @Test func readsComparisonsWithAndWithoutSpaces() throws {
        #expect(try parse("air > 30").description == "air > 30")
        #expect(try parse("air>=30.5").comparisons == [.init(name: "air", op: .greaterOrEqual, value: .number(30.5))])
        #expect(try parse("temp < -4").comparisons.first?.value == .number(-4))
        #expect(try parse("door == open").comparisons.first?.value == .word("open"))
        #expect(try parse("door!=closed").comparisons.first?.op == .notEqual)
        let both = try parse("air > 30 and door == closed or water <= 2")
        #expect(both.anyOf.count == 2)
        #expect(both.anyOf[0].count == 2)
        #expect(both.names == ["air", "door", "water"])
        #expect(both.description == "air > 30 and door == closed or water <= 2")
    }

    @Test func refusesWhatIsNoComparisonWithAReason() {
        #expect(refusal("")?.contains("empty") == true)
        #expect(refusal("air")?.contains("not a comparison") == true)
        #expect(refusal("air = 30")?.contains("write == to compare") == true)
        #expect(refusal("air > hot")?.contains("compared with == or != only") == true)
        #expect(refusal("air > 30 and")?.contains("another comparison must follow") == true)
        #expect(refusal("air > 30 door == open")?.contains("join comparisons with and / or") == true)
        #expect(refusal("> 30")?.contains("starts with a sensor or an input") == true)
        #expect(refusal("air == 5°C")?.contains("neither a number nor a state") == true)
        #expect(refusal("air > inf")?.contains("compared with == or != only") == true)
    }

    @Test func unknownIsNeverTrue() throws {
        let c = try parse("air > 30")
        #expect(c.evaluate { _ in .number(31) } == .yes)
        #expect(c.evaluate { _ in .number(30) } == .no)
        #expect(c.evaluate { _ in .failed } == .unknown)
        #expect(c.evaluate { _ in .unknown } == .unknown)
        // Kleene: a false side decides an and; a true side decides an or.
        let and = try parse("air > 30 and water < 5")
        #expect(and.evaluate { $0 == "air" ? .failed : .number(9) } == .no)
        #expect(and.evaluate { $0 == "air" ? .failed : .number(1) } == .unknown)
        let or = try parse("air > 30 or water < 5")
        #expect(or.evaluate { $0 == "air" ? .failed : .number(1) } == .yes)
        #expect(or.evaluate { $0 == "air" ? .failed : .number(9) } == .unknown)
        #expect(or.failing { $0 == "air" ? .failed : .number(9) } == ["air"])
    }

    @Test func inputsCompareByTheirWordsAndByOnOff() throws {
        let door = Observation.state(true, on: "open", off: "closed")
        #expect(try parse("door == open").evaluate { _ in door } == .yes)
        #expect(try parse("door == OPEN").evaluate { _ in door } == .yes)
        #expect(try parse("door == closed").evaluate { _ in door } == .no)
        #expect(try parse("door != closed").evaluate { _ in door } == .yes)
        #expect(try parse("door == on").evaluate { _ in door } == .yes)
        #expect(try parse("door == 1").evaluate { _ in door } == .yes)
        #expect(try parse("door == ajar").evaluate { _ in door } == .unknown)
        // A sensor copying an input reads 1/0 and answers to on/off.
        #expect(try parse("motion == on").evaluate { _ in .number(1) } == .yes)
    }
}

@Suite struct RuleTrackerTests {
    @Test func actsOnTheFirstKnownAnswerAndOnChangesOnly() {
        var r = RuleTracker()
        #expect(r.update(.unknown) == nil)
        #expect(r.update(.no) == .revert, "the first known answer brings the outputs in line")
        #expect(r.update(.no) == nil)
        #expect(r.update(.yes) == .apply)
        #expect(r.update(.unknown) == nil, "a sensor in error changes nothing")
        #expect(r.update(.yes) == nil, "and the same answer after it does nothing again")
        #expect(r.update(.no) == .revert)
        #expect(r.current == .revert)
    }

    @Test func aManualSwitchHoldsAnOutputForTheOverride() {
        var m = ManualSwitches()
        let t0 = PerchRulesClock.at(0)
        #expect(m.heldUntil("fan", override: 1_800_000, now: t0) == nil)
        m.switched("Fan", now: t0)
        #expect(m.heldUntil("fan", override: 1_800_000, now: t0 + 60_000) == t0 + 1_800_000)
        #expect(m.heldUntil("fan", override: 1_800_000, now: t0 + 1_800_000) == nil)
        #expect(m.heldUntil("fan", override: 0, now: t0) == nil, "override = 0s: rules take it back at once")
    }
}
