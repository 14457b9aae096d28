public import PerchConfig
import PerchGPIO
import PerchIO
import PerchLog
import PerchRules
import PerchSensors
import XMPPAddress
import XMPPCore

/// The checks of the rules' and schedules' commands that need the chat command language (the
/// configuration loader reads them as text): each must parse, switch an output that exists, and stay
/// within what an operator may do and the output allows (max_pulse).
public enum AutomationCheck {
    /// Throws the first problem, with FILE:LINE: KEY.
    public static func check(_ config: Configuration) throws(ConfigurationError) {
        let outputs = Set(config.device.outputs.map { $0.name.lowercased() })
        let readings = Set(config.device.sensors.map { $0.name.lowercased() } + config.device.inputs.map { $0.name.lowercased() })
        for c in config.automationCommands {
            func fail(_ why: String) -> ConfigurationError { ConfigurationError(file: config.file, line: c.line, key: c.key, why) }
            let command: DeviceCommand
            switch ChatParser.parse(c.text, outputs: outputs, readings: readings) {
            case .success(let parsed): command = parsed
            case .failure(.unknown(let word)):
                throw fail("\"\(c.text)\" is not a command (\"\(word)\" is no output or command word); write one an operator would send, such as \(config.device.outputs.first.map { "\($0.name) on" } ?? "pump on")")
            case .failure(.badArgument(let why)):
                throw fail("\"\(c.text)\": \(why)")
            }
            guard let name = Automation.output(of: command) else {
                throw fail("\"\(c.text)\" switches no output; a \(c.owner.split(separator: " ")[0]) runs on, off, toggle or pulse commands")
            }
            guard let output = config.device.outputs.first(where: { $0.name.lowercased() == name.lowercased() }) else {
                let names = config.device.outputs.map(\.name)
                throw fail("no output \"\(name)\"" + (names.isEmpty ? " (none is configured)" : "; outputs: \(names.joined(separator: ", "))"))
            }
            if case .pulse(_, let ms) = command, ms > output.maxPulse {
                throw fail("pulse \(output.name) \(describeDuration(ms)) is longer than its max_pulse \(describeDuration(output.maxPulse))")
            }
        }
    }
}
