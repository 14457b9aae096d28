import Glibc
import Testing
import PerchBoard
import PerchConfig
import PerchGPIO
import PerchGPIOD
import PerchIO
import PerchLog
import PerchSensors
@testable import PerchHardware

let root = "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
let fixtureSys = "\(root)/Tests/Fixtures/sysfs/raspberry-pi-4b/sys"

final class Scratch {
    let path: String
    init() {
        var template = Array("/tmp/perch-hw-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
    deinit { _ = system("rm -rf '\(path)'") }
}

/// A backend that only describes chips, as a real board's kernel would.
final class DescribedBackend: GPIOBackend {
    let name = "described"
    let list: [ChipInfo]
    init(_ list: [ChipInfo]) { self.list = list }
    func chips() throws(GPIOError) -> [ChipInfo] { list }
    func requestOutput(_ line: LineAddress, consumer: String, activeLow: Bool, initial: Bool) throws(GPIOError) -> any OutputLine {
        throw .failed(line, operation: "request", message: "not in this test")
    }
    func requestInput(_ line: LineAddress, consumer: String, activeLow: Bool, bias: Bias, onEdges: (([LineEvent]) -> Void)?) throws(GPIOError) -> any InputLine {
        throw .failed(line, operation: "request", message: "not in this test")
    }
}

func quietLogger(_ lines: LogBox) -> Logger { Logger(label: "hw", level: .debug, format: .bare, sink: { lines.append($0) }) }

final class LogBox: @unchecked Sendable {
    var lines: [String] = []
    func append(_ s: String) { lines.append(s) }
}

@Suite struct HardwareTests {
    let scratch = Scratch()
    let loop: EventLoop
    init() throws { loop = try EventLoop() }

    func device() -> DeviceConfiguration {
        var d = DeviceConfiguration()
        d.backend = .simulated
        d.simulatedDirectory = "\(scratch.path)/gpio"
        d.stateDirectory = "\(scratch.path)/state"
        d.sysfsRoot = fixtureSys
        var pump = OutputSpec(name: "pump", line: LineAddress(chip: .label("pinctrl-bcm2711"), line: .offset(17), name: "GPIO17"))
        pump.safeState = false
        var lamp = OutputSpec(name: "lamp", line: LineAddress(chip: nil, line: .name("lamp")))
        lamp.initial = .on
        lamp.safeState = nil
        d.outputs = [pump, lamp, OutputSpec(name: "broken", line: LineAddress(chip: nil, line: .name("../escape")))]
        var door = InputSpec(name: "door", line: LineAddress(chip: nil, line: .name("door")))
        door.debounce = 0
        d.inputs = [door]
        d.sensors = [SensorSpec(name: "cpu", source: .thermal(zone: "cpu-thermal")), SensorSpec(name: "door_open", source: .gpio(input: "door"))]
        return d
    }

    @Test func opensWhatItCanAndReportsTheRest() throws {
        let log = LogBox()
        let hw = Hardware(config: device(), loop: loop, logger: quietLogger(log))
        #expect(hw.outputs.map(\.name) == ["pump", "lamp"])
        #expect(hw.unavailable["broken"] != nil)
        #expect(log.lines.contains { $0.hasPrefix("error: output broken is unavailable") })
        #expect(readTextFile("\(scratch.path)/gpio/GPIO17") == "0\n")
        #expect(readTextFile("\(scratch.path)/gpio/lamp") == "1\n")
        #expect(hw.output(named: "PUMP") === hw.outputs[0], "names are case-insensitive")
        var changes: [Bool] = []
        hw.onInputChange = { _, c in changes.append(c.value) }
        try writeFileAtomically("\(scratch.path)/gpio/door", Array("1\n".utf8), sync: false)
        #expect(loop.run(until: { changes == [true] }, timeout: 2_000))
        #expect(log.lines.contains("info: input door: on"))
        #expect(hw.inputState(named: "door") == true)
        // The opening line says who debounces (door has debounce = 0).
        #expect(log.lines.contains("info: input door on line \"door\": off (no debounce)"), "\(log.lines)")
    }

    @Test func anInputsLineSaysWhoDebouncesIt() throws {
        var d = device()
        d.inputs[0].debounce = 25
        let log = LogBox()
        _ = Hardware(config: d, loop: loop, logger: quietLogger(log))
        // The simulated chip has no kernel debounce: Perch's own applies, once.
        #expect(log.lines.contains("info: input door on line \"door\": off (debounce 25 ms in software)"), "\(log.lines)")
    }

    @Test func shutdownAppliesSafeStatesAndKeepsTheOthers() throws {
        let hw = Hardware(config: device(), loop: loop, logger: quietLogger(LogBox()))
        try hw.outputs[0].set(true)
        hw.shutdown()
        #expect(readTextFile("\(scratch.path)/gpio/GPIO17") == "0\n")
        #expect(readTextFile("\(scratch.path)/gpio/lamp") == "1\n", "safe_state = keep")
        #expect(hw.outputs.isEmpty)
    }

    @Test func readOnlyToolsNeverDriveOutputs() throws {
        let hw = Hardware(config: device(), loop: loop, logger: quietLogger(LogBox()), openOutputs: false)
        #expect(hw.outputs.isEmpty)
        #expect(!fileExists("\(scratch.path)/gpio/GPIO17"))
        #expect(hw.inputs.count == 1)
    }

    @Test func sensorsAreSampledAndGPIOSensorsReadInputs() throws {
        let hw = Hardware(config: device(), loop: loop, logger: quietLogger(LogBox()))
        var readings: [String: String] = [:]
        hw.onReading = { readings[$0.sensor] = $0.text }
        hw.start()
        #expect(readings["cpu"] == "47.2 °C")
        #expect(readings["door_open"] == "0")
        hw.shutdown()
    }

    @Test func sensorsReadPrintsValuesAndErrors() {
        var d = device()
        d.sensors.append(SensorSpec(name: "gone", source: .w1(id: "28-000000000000")))
        let monitor = SensorMonitor(loop: loop, specs: d.sensors, reader: d.sysfsReader)
        let (text, failures) = HardwareCommands.sensorsRead(monitor) { _ in false }
        #expect(failures == 1)
        #expect(text.contains("cpu              47.2 °C        thermal zone cpu-thermal"))
        #expect(text.contains("door_open        0"))
        #expect(text.contains("gone             ERROR"))
        #expect(text.contains("no 1-Wire device 28-000000000000; found: 28-0316a2795bff, 28-0416b0a1c2ff"))
    }

    @Test func gpioListShowsProfileNamesPinsHoldersAndUses() throws {
        let profile = try BoardProfile.find("raspberry-pi-4b", in: ["\(root)/devices"])
        let backend = DescribedBackend([ChipInfo(name: "gpiochip0", label: "pinctrl-bcm2711", path: "/dev/gpiochip0", lines: [
            LineInfo(offset: 16, name: "GPIO16", consumer: nil, isOutput: false),
            LineInfo(offset: 17, name: "GPIO17", consumer: "perch", isOutput: true),
            LineInfo(offset: 42, name: "STATUS_LED", consumer: "led0", isOutput: true),
        ])])
        var d = DeviceConfiguration()
        d.outputs = [OutputSpec(name: "pump", line: LineAddress(chip: .label("pinctrl-bcm2711"), line: .offset(17), name: "GPIO17"))]
        let text = try HardwareCommands.gpioList(backend, profile: profile, device: d)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "gpiochip0 [pinctrl-bcm2711] 3 lines (/dev/gpiochip0)")
        #expect(lines[1] == "  16   GPIO16           GPIO16 pin36       input")
        #expect(lines[2] == "  17   GPIO17           GPIO17 pin11       output  held by \"perch\" ← output pump")
        #expect(lines[3] == "  42   STATUS_LED                          output  held by \"led0\"")
    }

    /// A configured output not driven yet reads as an input in the kernel: the list says output.
    @Test func gpioListShowsAConfiguredOutputAsAnOutput() throws {
        let backend = DescribedBackend([ChipInfo(name: "gpiochip0", label: "pinctrl-bcm2711", path: "/dev/gpiochip0", lines: [
            LineInfo(offset: 17, name: "GPIO17", consumer: nil, isOutput: false),
            LineInfo(offset: 27, name: "GPIO27", consumer: nil, isOutput: false),
        ])])
        var d = DeviceConfiguration()
        d.outputs = [OutputSpec(name: "pump", line: LineAddress(chip: .label("pinctrl-bcm2711"), line: .offset(17), name: "GPIO17"))]
        d.inputs = [InputSpec(name: "door", line: LineAddress(chip: .label("pinctrl-bcm2711"), line: .offset(27), name: "GPIO27"))]
        let lines = try HardwareCommands.gpioList(backend, profile: nil, device: d).split(separator: "\n").map(String.init)
        #expect(lines[1] == "  17   GPIO17           output  ← output pump", "\(lines)")
        #expect(lines[2] == "  27   GPIO27           input   ← input door", "\(lines)")
    }

    /// Without GPIO chips (a laptop, a container), a board's header map is still shown.
    @Test func gpioListWithoutChipsShowsTheBoardsHeader() throws {
        let profile = try BoardProfile.find("raspberry-pi-4b", in: ["\(root)/devices"])
        let text = try HardwareCommands.gpioList(DescribedBackend([]), profile: profile, device: nil)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("no GPIO chips found"), "\(text)")
        #expect(lines[0].hasSuffix("the Raspberry Pi 4 Model B's header, from its profile:"))
        #expect(lines[1] == "J8 (pin1 … pin40)")
        #expect(lines[2] == "     3V3  pin1 | pin2  5V")
        #expect(lines[7] == "  GPIO17 pin11 | pin12 GPIO18")
        #expect(lines.count == 22)
    }

    @Test func doctorSaysWhatToFix() throws {
        var d = device()
        d.outputs.removeLast()
        d.sensors.append(SensorSpec(name: "water", source: .w1(id: "28-000000000000")))
        d.stateDirectory = "\(scratch.path)/missing"
        let config = try ConfigurationLoader(file: "/etc/perch/perch.toml", environment: ["PERCH_PASSWORD": "x"]).parse("[account]\njid = \"a@example.org\"\n")
        var c = config
        c.device = d
        let (text, problems) = HardwareCommands.doctor(c, loop: loop)
        #expect(problems == 1, "\(text)")
        #expect(text.contains("ok    output pump"))
        // Which libgpiod API the binary was built for, by the library's own version call.
        #expect(text.contains("ok    built for libgpiod v\(LibgpiodBackend.apiVersion) API (library \(LibgpiodBackend.libraryVersion))\n"), "\(text)")
        // One offset per line: the line as configured, then where it is.
        #expect(!text.split(separator: "\n").contains(where: { String($0).splitText(separator: "offset").count > 2 }), "\(text)")
        #expect(text.contains("ok    sensor cpu: 47.2 °C"))
        #expect(text.contains("FAIL  sensor water (1-Wire 28-000000000000)\n      → no 1-Wire device 28-000000000000"))
        // perch run creates a missing state directory: only an unwritable parent is a problem.
        #expect(text.contains("ok    state directory \(scratch.path)/missing does not exist yet: perch run creates it (\(scratch.path) is writable)"), "\(text)")
        #expect(text.hasSuffix("1 problem found\n"))
        _ = system("touch '\(scratch.path)/plain'")
        c.device.stateDirectory = "\(scratch.path)/plain/state"
        let (blocked, _) = HardwareCommands.doctor(c, loop: loop)
        #expect(blocked.contains("FAIL  state directory \(scratch.path)/plain/state cannot be created: \(scratch.path)/plain is a file, not a folder"), "\(blocked)")
        if getuid() != 0 {
            c.device.stateDirectory = "/proc/perch-state"
            let (unwritable, _) = HardwareCommands.doctor(c, loop: loop)
            #expect(unwritable.contains("FAIL  state directory /proc/perch-state does not exist and /proc is not writable"), "\(unwritable)")
        }
    }

    @Test func theVersionSaysWhichLibgpiodAPI() {
        let text = HardwareCommands.versionText("9.9.9")
        #expect(text == "perch 9.9.9\nbuilt for libgpiod v\(LibgpiodBackend.apiVersion) API (library \(LibgpiodBackend.libraryVersion))\n")
        #expect(LibgpiodBackend.libraryVersion.hasPrefix("\(LibgpiodBackend.apiVersion)."), "the library's version matches the API compiled for")
    }

    @Test func permissionHintsNameTheGroup() {
        // /dev/null belongs to root; the hint then points at the udev rule.
        #expect(HardwareCommands.permissionHint("/dev/null").contains("60-perch-gpio.rules"))
    }
}
