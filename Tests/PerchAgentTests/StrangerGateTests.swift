import Testing
import PerchLog
import XMPPAddress
@testable import PerchAgent

/// A gate whose timers are collected, to be fired by hand.
final class GateRig {
    let audit = AuditLog()
    var timers: [(Int64, () -> Void)] = []
    lazy var gate = StrangerGate(
        repliesPerMinute: 30, replyBurst: 10, summaryInterval: 60_000, capacity: 100,
        logger: Logger(label: "access", format: .bare, sink: { [audit] in audit.lines.append($0) }),
        schedule: { [unowned self] ms, action in self.timers.append((ms, action)) })

    func fire() {
        let due = timers
        timers = []
        for (_, action) in due { action() }
    }
}

@Suite struct StrangerGateTests {
    let a = try! JID("mallory@evil.example/x")

    @Test func aFloodIsLoggedOnceAndSummarisedOnce() {
        let rig = GateRig()
        for _ in 0..<20_000 { _ = rig.gate.refuse(a, "XEP-0325 set", now: 0) }
        #expect(rig.audit.lines.count == 1)
        #expect(rig.audit.lines[0].contains("mallory@evil.example"))
        #expect(rig.timers.count == 1)
        rig.fire()
        #expect(rig.audit.lines.count == 2)
        #expect(rig.audit.lines[1].contains("refused 19999 more requests"))
        #expect(rig.audit.lines[1].contains("19990 got no answer"))
        // A quiet interval ends the summaries, and the timer with them.
        rig.fire()
        #expect(rig.audit.lines.count == 2)
        #expect(rig.timers.isEmpty)
        // The next stranger after the quiet spell is logged at once again.
        _ = rig.gate.refuse(a, "chat command", now: 600_000)
        #expect(rig.audit.lines.count == 3)
    }

    @Test func repliesShareOneBucket() {
        let rig = GateRig()
        var answered = 0
        for i in 0..<1000 {
            let jid = try! JID("s\(i)@evil.example")
            if rig.gate.refuse(jid, "subscription request", now: 0) { answered += 1 }
        }
        #expect(answered == 10)
        // Thirty a minute after the burst.
        #expect(rig.gate.refuse(a, "chat command", now: 2_000))
        #expect(!rig.gate.refuse(a, "chat command", now: 2_000))
    }

    @Test func firstContactIsBoundedAndEvictsTheOldest() {
        let rig = GateRig()
        #expect(rig.gate.firstContact(a, within: 3_600_000, now: 0))
        #expect(!rig.gate.firstContact(a, within: 3_600_000, now: 1000))
        for i in 0..<80_000 {
            _ = rig.gate.firstContact(try! JID("s\(i)@evil.example"), within: 3_600_000, now: Int64(i))
        }
        #expect(rig.gate.remembered == 100)
        // The oldest were evicted, so `a` counts as new again; the newest are still remembered.
        #expect(rig.gate.firstContact(a, within: 3_600_000, now: 90_000))
        #expect(!rig.gate.firstContact(try! JID("s79999@evil.example"), within: 3_600_000, now: 90_000))
    }

    @Test func aSenderSeenAgainIsNotEvictedByItsOldPlace() {
        let rig = GateRig()
        let b = try! JID("b@x.example")
        _ = rig.gate.firstContact(b, within: 10, now: 0)
        for i in 0..<99 { _ = rig.gate.firstContact(try! JID("s\(i)@x.example"), within: 10, now: 50) }
        _ = rig.gate.firstContact(b, within: 10, now: 100)  // expired: seen again, moves to the back
        _ = rig.gate.firstContact(try! JID("last@x.example"), within: 10, now: 200)  // 101 → evicts s0, not b
        #expect(rig.gate.firstContact(try! JID("s0@x.example"), within: 1000, now: 300))
        #expect(!rig.gate.firstContact(b, within: 1000, now: 300))
    }
}

@Suite struct StrangerGateAnswerTests {
    @Test func answersSpendTheBudgetAndTheirRefusalsAreSummarised() {
        let rig = GateRig()
        let a = try! JID("mallory@evil.example/x")
        var answered = 0
        for _ in 0..<100 where rig.gate.mayAnswer(a, "ping", now: 0) { answered += 1 }
        #expect(answered == 10)
        // Answers are not refusals: the first line comes with the first ping refused.
        #expect(rig.audit.lines.count == 1)
        #expect(rig.audit.lines[0].contains("refused a ping"))
        rig.fire()
        #expect(rig.audit.lines.last?.contains("refused 89 more requests") == true)
        #expect(rig.audit.lines.last?.contains("90 got no answer") == true)
    }
}
