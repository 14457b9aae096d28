import Foundation
import Testing
import PerchBoard
import PerchGPIO
import PerchSensors
@testable import PerchConfig

func device(_ text: String) throws(ConfigurationError) -> DeviceConfiguration {
    try load("[account]\njid = \"dev@example.org\"\n[device]\nprofiles_dir = \"\(repoRoot)/devices\"\n" + text).device
}

/// The error a configuration gives, as printed.
func deviceError(_ text: String) -> String {
    do {
        _ = try device(text)
        return "no error"
    } catch {
        return error.description
    }
}

@Suite struct DeviceConfigurationTests {
    @Test func linesByBoardNamePinChipLabelAndOffset() throws {
        let d = try device("""
        board = "raspberry-pi-4b"
        [[output]]
        name = "pump"
        line = "GPIO17"
        [[output]]
        name = "fan"
        line = "pin12"
        active_low = true
        initial = "restore"
        safe_state = "keep"
        max_pulse = "10s"
        [[output]]
        name = "lamp"
        chip = "pinctrl-bcm2711"
        line = 22
        [[input]]
        name = "door"
        line = "DOOR_SENSOR"
        bias = "pull-up"
        debounce = "50ms"
        """)
        #expect(d.board?.id == "raspberry-pi-4b")
        #expect(d.outputs.map(\.name) == ["pump", "fan", "lamp"])
        #expect(d.outputs[0].line == LineAddress(chip: .label("pinctrl-bcm2711"), line: .offset(17), name: "GPIO17"))
        #expect(d.outputs[1].line == LineAddress(chip: .label("pinctrl-bcm2711"), line: .offset(18), name: "GPIO18"))
        #expect(d.outputs[1].activeLow && d.outputs[1].initial == .restore && d.outputs[1].safeState == nil && d.outputs[1].maxPulse == 10_000)
        #expect(d.outputs[2].line == LineAddress(chip: .label("pinctrl-bcm2711"), line: .offset(22)))
        #expect(d.outputs[0].safeState == false)
        // Not a profile name: a device-tree line name looked up on every chip.
        #expect(d.inputs[0].line == LineAddress(chip: nil, line: .name("DOOR_SENSOR")))
        #expect(d.inputs[0].bias == .pullUp && d.inputs[0].debounce == 50)
        #expect(d.usesGPIO)
    }

    @Test func sensorsOfEveryKind() throws {
        let d = try device("""
        board = "raspberry-pi-4b"
        allow_commands = true
        [[input]]
        name = "door"
        line = "GPIO27"
        [[sensor]]
        name = "cpu"
        source = "thermal"
        [[sensor]]
        name = "board_temp"
        source = "hwmon"
        chip = "cpu_thermal"
        attribute = "temp1_input"
        [[sensor]]
        name = "air"
        source = "iio"
        device = "bme280"
        channel = "temp"
        interval = "30s"
        precision = 2
        deadband = 0.2
        heartbeat = "15m"
        [[sensor]]
        name = "water"
        source = "w1"
        id = "28-0316a2795bff"
        [[sensor]]
        name = "door_open"
        source = "gpio"
        input = "DOOR"
        [[sensor]]
        name = "load"
        source = "system"
        figure = "load1"
        unit = ""
        [[sensor]]
        name = "tank"
        source = "file"
        path = "/run/tank-level"
        scale = 0.1
        unit = "cm"
        [[sensor]]
        name = "ups"
        source = "command"
        command = ["/usr/local/bin/ups-status", "--json"]
        timeout = "5s"
        key = "battery.charge"
        """)
        #expect(d.sensors.map(\.name) == ["cpu", "board_temp", "air", "water", "door_open", "load", "tank", "ups"])
        #expect(d.sensors[0].source == .thermal(zone: "cpu-thermal"), "the board's own zone")
        #expect(d.sensors[2].interval == 30_000 && d.sensors[2].precision == 2 && d.sensors[2].deadband == 0.2 && d.sensors[2].heartbeat == 900_000)
        #expect(d.sensors[4].source == .gpio(input: "door"))
        #expect(d.sensors[5].unit == "")
        #expect(d.sensors[6].source == .file(path: "/run/tank-level", scale: 0.1))
        #expect(d.sensors[7].source == .command(argv: ["/usr/local/bin/ups-status", "--json"], timeout: 5_000, key: "battery.charge"))
    }

    @Test(arguments: [
        ("board = \"raspberry-pi-9\"", "perch.toml:5: device.board: no board profile \"raspberry-pi-9\""),
        ("board = \"raspberry-pi-4b\"\n[[output]]\nname = \"x\"\nline = \"pin6\"", "perch.toml:8: output[0].line: pin6 on the Raspberry Pi 4 Model B is GND, not a GPIO line"),
        ("board = \"raspberry-pi-4b\"\n[[output]]\nname = \"x\"\nline = \"GPIO99\"", "perch.toml:8: output[0].line: the Raspberry Pi 4 Model B has no line \"GPIO99\" (its lines: GPIO0 … GPIO27, 28 in all); see perch gpio list --board raspberry-pi-4b"),
        ("board = \"raspberry-pi-4b\"\n[[input]]\nname = \"x\"\nline = \"GPIO28\"", "perch.toml:8: input[0].line: the Raspberry Pi 4 Model B has no line \"GPIO28\""),
        ("[[output]]\nname = \"x\"\nline = \"pin11\"", "perch.toml:7: output[0].line: \"pin11\" is a header pin: set [device] board"),
        ("[[output]]\nname = \"x\"\nline = 4", "perch.toml:7: output[0].line: an offset needs chip"),
        ("[[output]]\nname = \"x\"", "perch.toml:5: output[0].line: is required"),
        ("[[output]]\nname = \"Pump\"\nline = \"A\"\n[[input]]\nname = \"pump\"\nline = \"B\"", "perch.toml:9: input[0].name: \"pump\" is already the name of output[0] \"Pump\""),
        ("[[output]]\nname = \"status\"\nline = \"A\"", "perch.toml:6: output[0].name: \"status\" is a chat command word"),
        // Every word of the chat table, the synonyms too: `state on` would run status.
        ("[[output]]\nname = \"state\"\nline = \"A\"", "perch.toml:6: output[0].name: \"state\" is a chat command word (\"state …\" is the status command)"),
        ("[[output]]\nname = \"Allow\"\nline = \"A\"", "perch.toml:6: output[0].name: \"Allow\" is a chat command word"),
        ("[[output]]\nname = \"switch\"\nline = \"A\"", "perch.toml:6: output[0].name: \"switch\" is a chat command word"),
        ("[[input]]\nname = \"subscribers\"\nline = \"A\"", "perch.toml:6: input[0].name: \"subscribers\" is a chat command word"),
        ("[[sensor]]\nname = \"get\"\nsource = \"thermal\"", "perch.toml:6: sensor[0].name: \"get\" is a chat command word"),
        ("[[output]]\nname = \"my pump\"\nline = \"A\"", "perch.toml:6: output[0].name: \"my pump\" must start with a letter"),
        ("[[output]]\nname = \"a\"\nline = \"X\"\n[[output]]\nname = \"b\"\nline = \"X\"", "perch.toml:10: output[1].line: line \"X\" is already used by output[0] \"a\""),
        ("[[output]]\nname = \"a\"\nline = \"X\"\ninitial = \"maybe\"", "perch.toml:8: output[0].initial: must be one of \"off\", \"on\", \"restore\""),
        ("[[output]]\nname = \"a\"\nline = \"X\"\nmax_pulse = \"2d\"", "perch.toml:8: output[0].max_pulse: must be between"),
        ("[[input]]\nname = \"a\"\nline = \"X\"\nbias = \"up\"", "perch.toml:8: input[0].bias: must be one of \"as-is\", \"disabled\", \"pull-up\", \"pull-down\""),
        ("[[sensor]]\nname = \"s\"", "perch.toml:5: sensor[0].source: is required"),
        ("[[sensor]]\nname = \"s\"\nsource = \"hwmon\"\nchip = \"x\"", "perch.toml:5: sensor[0].attribute: is required for source = \"hwmon\""),
        ("[[sensor]]\nname = \"s\"\nsource = \"gpio\"\ninput = \"door\"", "perch.toml:8: sensor[0].input: no [[input]] is named \"door\""),
        ("[[sensor]]\nname = \"s\"\nsource = \"command\"\ncommand = [\"/bin/true\"]", "perch.toml:7: sensor[0].source: command sensors run programs and are opt-in"),
        ("allow_commands = true\n[[sensor]]\nname = \"s\"\nsource = \"command\"\ncommand = [\"true\"]", "perch.toml:6: sensor[0].command: must be an array starting with an absolute path"),
        ("[[sensor]]\nname = \"s\"\nsource = \"thermal\"\ninterval = \"1m\"\nheartbeat = \"30s\"", "perch.toml:9: sensor[0].heartbeat: is shorter than the interval"),
        ("[[sensor]]\nname = \"s\"\nsource = \"thermal\"\nprecision = 9", "perch.toml:8: sensor[0].precision: must be between 0 and 6"),
        ("[[sensor]]\nname = \"s\"\nsource = \"system\"\nfigure = \"cpu\"", "perch.toml:8: sensor[0].figure: must be one of"),
        ("[[sensor]]\nname = \"s\"\nsource = \"thermal\"\nchip = \"x\"", "perch.toml:8: sensor[0].chip: unknown key"),
        ("[output]\nname = \"a\"", "perch.toml:5: output: must be written as [[output]] tables"),
    ])
    func mistakesNameTheFileLineAndKey(_ text: String, _ expected: String) {
        let message = deviceError(text)
        #expect(message.hasPrefix(expected), "got: \(message)")
    }

    @Test func noDeviceSectionMeansNoHardware() throws {
        let c = try load("[account]\njid = \"dev@example.org\"\n")
        #expect(!c.device.usesGPIO)
        #expect(c.device.sensors.isEmpty)
        #expect(c.device.backend == .libgpiod)
    }
}
