import Testing
import PerchHardware
import PerchIO
import XMPPAddress
import XMPPCore
@testable import PerchAgent

/// An alert on when the daemon stopped that the next configuration no longer has (renamed or removed):
/// its end is told to those who were told its start, or the log says why nobody is.
@Suite struct AlertGoneTests {
    static let hot = "[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\nto = [\"owners\", \"op@example.org\"]\n"

    /// A first daemon with `hot` on and told, stopped.
    static func hotAndStopped() throws -> AutomationRig {
        let first = try AutomationRig(hot)
        first.online()
        first.air(31)
        first.loop.advance(by: 1_000)
        #expect(first.bodies.count == 2)
        first.hardware.shutdown()
        return first
    }

    @Test func aRenamedAlertOnAcrossARestartIsToldOverToWhoItHad() throws {
        let first = try Self.hotAndStopped()
        first.air(20)
        // Renamed, and op@example.org is no longer named: only the owner is told.
        let second = try AutomationRig("[[alert]]\nname = \"heat\"\nwhen = \"air > 30\"\n", at: AutomationRig.start + 600_000, reusing: first.scratch)
        #expect(second.log.lines.contains { $0.contains("alert hot was on (since 13:00) and is no longer configured (renamed or removed); its end is told to owner@example.org; not to op@example.org") }, "\(second.log.lines)")
        second.online()
        #expect(second.bodies == ["✓ greenhouse: hot is over: it is no longer configured (renamed or removed); it was on since 13:00 (9 min 59 s)"], "\(second.bodies)")
        #expect(second.sent.first?.to?.description == "owner@example.org")
        #expect(readTextFile("\(first.scratch.path)/state/alerts.active") == nil, "told: the file keeps only configured alerts")
    }

    @Test func anAlertRemovedWithEveryOtherIsStillToldOver() throws {
        let first = try Self.hotAndStopped()
        let second = try AutomationRig("", at: AutomationRig.start + 600_000, reusing: first.scratch)
        second.online()
        #expect(second.bodies.count == 1 && second.bodies[0].hasPrefix("✓ greenhouse: hot is over: it is no longer configured"), "\(second.bodies) \(second.log.lines)")
        #expect(second.sent.first?.to?.description == "owner@example.org", "owners: the default to")
    }

    @Test func anOlderFileWithoutRecipientsSaysNobodyIsTold() throws {
        let active = "cold\t\(AutomationRig.start - 600_000)\t1\t\n"
        let rig = try AutomationRig(AlertQueueTests.hot, stateFile: ("alerts.active", active))
        rig.online()
        #expect(rig.bodies.isEmpty)
        #expect(rig.log.lines.contains { $0.contains("alert cold was on (since 12:50) and is no longer configured (renamed or removed); nobody is told its end:") }, "\(rig.log.lines)")
    }
}
