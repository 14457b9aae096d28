import Glibc
import Testing
import PerchConfig
import PerchGPIO
import PerchIO
import PerchLog
import PerchSensors
@testable import PerchHardware

/// A reload of the device's part of the configuration: lines kept, requested again, released, added.
@Suite struct HardwareReloadTests {
    let scratch = Scratch()
    let loop: EventLoop
    init() throws { loop = try EventLoop() }

    func device() -> DeviceConfiguration {
        var d = DeviceConfiguration()
        d.backend = .simulated
        d.simulatedDirectory = "\(scratch.path)/gpio"
        d.stateDirectory = "\(scratch.path)/state"
        d.sysfsRoot = fixtureSys
        var fan = OutputSpec(name: "fan", line: LineAddress(chip: nil, line: .name("fan")))
        fan.safeState = false
        d.outputs = [fan, OutputSpec(name: "pump", line: LineAddress(chip: nil, line: .name("pump")))]
        var door = InputSpec(name: "door", line: LineAddress(chip: nil, line: .name("door")))
        door.debounce = 0
        d.inputs = [door]
        d.sensors = [SensorSpec(name: "cpu", source: .thermal(zone: "cpu-thermal"))]
        return d
    }

    func level(_ file: String) -> String? { readTextFile("\(scratch.path)/gpio/\(file)") }

    @Test func anUnchangedLineKeepsItsStateAndTakesItsOtherSettings() throws {
        let hw = Hardware(config: device(), loop: loop, logger: quietLogger(LogBox()))
        let fan = try #require(hw.output(named: "fan"))
        try fan.set(true)
        var d = device()
        d.outputs[0].maxPulse = 90_000
        hw.reload(d, rerequest: [])
        #expect(hw.output(named: "fan") === fan, "the same line request")
        #expect(fan.state && level("fan") == "1\n")
        #expect(fan.spec.maxPulse == 90_000)
    }

    @Test func aMovedOutputReleasesItsOldLineThroughItsSafeStateAndRequestsTheNewOne() throws {
        let log = LogBox()
        let hw = Hardware(config: device(), loop: loop, logger: quietLogger(log))
        try #require(hw.output(named: "fan")).set(true)
        try #require(hw.output(named: "pump")).set(true)
        // fan moves to pump's line and pump to a new one: the release comes before any request.
        var d = device()
        d.outputs[0].line = LineAddress(chip: nil, line: .name("pump"))
        d.outputs[1].line = LineAddress(chip: nil, line: .name("pump2"))
        hw.reload(d, rerequest: ["fan", "pump"])
        #expect(hw.unavailable.isEmpty, "\(hw.unavailable)")
        #expect(hw.outputs.map(\.name) == ["fan", "pump"])
        #expect(hw.output(named: "fan")?.spec.line.line == .name("pump"))
        #expect(level("fan") == "0\n", "released through its safe state")
        // Requested again as at start: initial off.
        #expect(level("pump") == "0\n" && level("pump2") == "0\n")
        #expect(log.lines.contains("info: output fan: off (safe state) before its line is released"))
        try #require(hw.output(named: "fan")).set(true)
        #expect(level("pump") == "1\n")
    }

    @Test func removedLinesAreReleasedAndAddedOnesObserved() throws {
        let hw = Hardware(config: device(), loop: loop, logger: quietLogger(LogBox()))
        var changed: [String] = []
        hw.observeOutputs { changed.append("\($0.name) \($0.state)") }
        var d = device()
        d.outputs.removeLast()
        d.outputs.append(OutputSpec(name: "lamp", line: LineAddress(chip: nil, line: .name("lamp"))))
        hw.reload(d, rerequest: [])
        #expect(hw.outputs.map(\.name) == ["fan", "lamp"])
        try #require(hw.output(named: "lamp")).set(true)
        #expect(changed == ["lamp true"], "an observer added before the reload sees the new output")
        // The removed output's line is free: another request of it succeeds.
        let backend = try #require(hw.backend)
        let again = try backend.requestOutput(LineAddress(chip: nil, line: .name("pump")), consumer: "test", activeLow: false, initial: true)
        again.release()
    }

    @Test func aLineThatWasUnavailableIsTriedAgain() throws {
        var bad = device()
        bad.outputs[1].line = LineAddress(chip: nil, line: .name("../escape"))
        let hw = Hardware(config: bad, loop: loop, logger: quietLogger(LogBox()))
        #expect(hw.unavailable["pump"] != nil)
        hw.reload(device(), rerequest: ["pump"])
        #expect(hw.unavailable.isEmpty)
        #expect(hw.output(named: "pump") != nil)
    }

    @Test func anInputsNewWordsKeepItsLineAndValue() throws {
        let hw = Hardware(config: device(), loop: loop, logger: quietLogger(LogBox()))
        let door = try #require(hw.input(named: "door"))
        var d = device()
        d.inputs[0].onWord = "open"
        d.inputs[0].offWord = "closed"
        hw.reload(d, rerequest: [])
        #expect(hw.input(named: "door") === door)
        #expect(door.spec.word(false) == "closed")
        var changes: [Bool] = []
        hw.observeInputs { _, c in changes.append(c.value) }
        try writeFileAtomically("\(scratch.path)/gpio/door", Array("1\n".utf8), sync: false)
        #expect(loop.run(until: { changes == [true] }, timeout: 2_000))
    }

    @Test func aRenamedSensorReadsUnderItsNewName() throws {
        let hw = Hardware(config: device(), loop: loop, logger: quietLogger(LogBox()))
        var readings: [String] = []
        hw.observeReadings { readings.append($0.sensor) }
        hw.start()
        #expect(readings == ["cpu"])
        var d = device()
        d.sensors[0].name = "soc"
        hw.reload(d, rerequest: [])
        #expect(hw.sensors.order == ["soc"])
        #expect(readings == ["cpu"], "not in the reload's own turn: the agent takes the configuration first")
        _ = loop.run(until: { readings.count == 2 }, timeout: 1_000)
        #expect(readings == ["cpu", "soc"], "sampled on the next turn under the new name")
        hw.shutdown()
    }

    @Test func aPulseWithoutASafeStateEndsBeforeItsLineIsReleased() throws {
        var d = device()
        d.outputs[1].safeState = nil
        let hw = Hardware(config: d, loop: loop, logger: quietLogger(LogBox()))
        try #require(hw.output(named: "pump")).pulse(milliseconds: 5_000)
        #expect(level("pump") == "1\n")
        var moved = d
        moved.outputs[1].line = LineAddress(chip: nil, line: .name("pump2"))
        hw.reload(moved, rerequest: ["pump"])
        #expect(level("pump") == "0\n", "the old line is not left at the pulse's level")
    }
}
