import Testing
import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import XMPPCore
@testable import PerchAgent

/// A reload while an interlock waits to switch an output on: the wait was for the old groups.
@Suite struct ReloadDuringWaitTests {
    @Test func anOutputMovedToAnotherGroupDuringTheWaitStaysOff() throws {
        let rig = try Rig()
        #expect(try rig.run(.set(output: "fill", on: true)).error == nil)
        #expect(try rig.run(.set(output: "pump", on: true)).error == nil)
        var outcome: CommandOutcome?
        rig.executor.execute(.set(output: "drain", on: true), try rig.context("alice@example.org/p")) { outcome = $0 }
        #expect(rig.scratch.read("fill") == "0")
        // Meanwhile drain joins pump (which is on) in a new group.
        var d = rig.hardware.config
        d.interlocks = [InterlockGroup(name: "water", outputs: ["pump", "drain"], wait: 100)]
        rig.hardware.reload(d, rerequest: [])
        #expect(rig.loop.run(until: { outcome != nil }, timeout: 2_000))
        #expect(outcome?.error?.condition == .conflict, "\(String(describing: outcome))")
        #expect(outcome?.text == "drain stays off: the configuration was reloaded while interlock valves was switching; send the command again")
        #expect(rig.scratch.read("drain") == "0")
        #expect(rig.scratch.read("pump") == "1")
        // Sent again, it goes through the new group.
        let again = try rig.run(.set(output: "drain", on: true))
        #expect(again.text == "drain on (after switching pump off)")
        #expect(rig.scratch.read("pump") == "0")
    }

    @Test func anUnchangedGroupStillSwitchesAfterTheWait() throws {
        let rig = try Rig()
        #expect(try rig.run(.set(output: "fill", on: true)).error == nil)
        var outcome: CommandOutcome?
        rig.executor.execute(.set(output: "drain", on: true), try rig.context("alice@example.org/p")) { outcome = $0 }
        var d = rig.hardware.config
        d.outputs[0].maxPulse = 9_000
        rig.hardware.reload(d, rerequest: [])
        #expect(rig.loop.run(until: { outcome != nil }, timeout: 2_000))
        #expect(outcome?.text == "drain on (after switching fill off)")
    }
}
