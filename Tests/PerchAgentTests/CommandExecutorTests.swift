import Glibc
import Testing
import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import PerchSensors
import XMPPAddress
import XMPPCore
@testable import PerchAgent

let fixtureSys = "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/") + "/Tests/Fixtures/sysfs/raspberry-pi-4b/sys"

final class Scratch {
    let path: String
    init() {
        var template = Array("/tmp/perch-agent-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
    func read(_ name: String) -> String? { readTextFile("\(path)/gpio/\(name)").map { String($0.prefix(1)) } }
    deinit { _ = system("rm -rf '\(path)'") }
}

final class AuditLog: @unchecked Sendable {
    var lines: [String] = []
}

/// A simulated device: outputs pump, fill, drain (an interlock with a 100 ms wait), input door,
/// sensors cpu and air.
struct Rig {
    let scratch = Scratch()
    let loop: EventLoop
    let hardware: Hardware
    let executor: CommandExecutor
    let audit = AuditLog()

    init(rateLimit: Int = 30, maxAge: Int64 = 60_000, minSwitchInterval: Int64 = 0) throws {
        loop = try EventLoop()
        var d = DeviceConfiguration()
        d.backend = .simulated
        d.simulatedDirectory = "\(scratch.path)/gpio"
        d.stateDirectory = "\(scratch.path)/state"
        d.sysfsRoot = fixtureSys
        var pump = OutputSpec(name: "pump", line: LineAddress(chip: nil, line: .name("pump")))
        pump.maxPulse = 5_000
        d.outputs = [pump, OutputSpec(name: "fill", line: LineAddress(chip: nil, line: .name("fill"))), OutputSpec(name: "drain", line: LineAddress(chip: nil, line: .name("drain")))]
        for i in d.outputs.indices { d.outputs[i].minSwitchInterval = minSwitchInterval }
        var door = InputSpec(name: "door", line: LineAddress(chip: nil, line: .name("door")))
        door.debounce = 0
        d.inputs = [door]
        d.sensors = [SensorSpec(name: "cpu", source: .thermal(zone: "cpu-thermal")), SensorSpec(name: "air", source: .iio(device: "bme280", channel: "temp"))]
        d.interlocks = [InterlockGroup(name: "valves", outputs: ["fill", "drain"], wait: 100)]
        let audit = self.audit
        let logger = Logger(label: "agent", level: .info, format: .bare, sink: { audit.lines.append($0) })
        hardware = Hardware(config: d, loop: loop, logger: logger.with(label: "hw"))
        hardware.start()
        var access = Configuration.Access(owners: [.jid(try JID("alice@example.org"))], operators: [.domain("ops.example.org")], viewers: [.jid(try JID("vic@example.org"))])
        access.strangers = .refuse
        var settings = Configuration.Commands()
        settings.rateLimit = rateLimit
        settings.maxAge = maxAge
        executor = CommandExecutor(
            hardware: hardware, policy: AccessPolicy(access, selfJID: try JID("board@example.org/perch")), settings: settings,
            deviceName: "greenhouse", loop: loop, logger: logger)
    }

    func context(_ jid: String, age: Int64? = nil) throws -> CommandContext {
        let j = try JID(jid)
        return CommandContext(from: j, role: executor.policy.role(of: j), frontEnd: "test", age: age)
    }

    /// Runs a command and waits for its outcome.
    func run(_ command: DeviceCommand, as jid: String = "alice@example.org/phone", age: Int64? = nil) throws -> CommandOutcome {
        var outcome: CommandOutcome?
        executor.execute(command, try context(jid, age: age)) { outcome = $0 }
        loop.run(until: { outcome != nil }, timeout: 3_000)
        return try #require(outcome)
    }
}

@Suite struct CommandExecutorTests {
    @Test func rolesDecideWhoMayDoWhat() throws {
        let rig = try Rig()
        #expect(rig.executor.policy.role(of: try JID("alice@example.org/x")) == .owner)
        #expect(rig.executor.policy.role(of: try JID("bob@ops.example.org")) == .operator)
        #expect(rig.executor.policy.role(of: try JID("vic@example.org")) == .viewer)
        #expect(rig.executor.policy.role(of: try JID("eve@example.net")) == .stranger)
        #expect(rig.executor.policy.role(of: try JID("board@example.org/other")) == .owner, "our own account's other resources")

        #expect(try rig.run(.set(output: "pump", on: true), as: "bob@ops.example.org/laptop").error == nil)
        #expect(rig.scratch.read("pump") == "1")
        let viewer = try rig.run(.set(output: "pump", on: false), as: "vic@example.org/phone")
        #expect(viewer.error?.condition == .forbidden)
        #expect(viewer.text.contains("needs the operator role"))
        #expect(rig.scratch.read("pump") == "1")
        #expect(try rig.run(.status, as: "vic@example.org/phone").error == nil)
        #expect(try rig.run(.status, as: "eve@example.net/x").error?.condition == .forbidden)
        #expect(try rig.run(.block(try JID("eve@example.net")), as: "bob@ops.example.org/laptop").error?.condition == .forbidden)
    }

    @Test func everyCommandIsAudited() throws {
        let rig = try Rig()
        _ = try rig.run(.set(output: "pump", on: true))
        _ = try rig.run(.set(output: "nope", on: true), as: "bob@ops.example.org/l")
        let audit = rig.audit.lines.filter { $0.hasPrefix("notice: command from") }
        #expect(audit.count == 2)
        #expect(audit[0].hasPrefix("notice: command from alice@example.org (owner) via test: pump on → ok ["))
        #expect(audit[1].contains("bob@ops.example.org (operator) via test: nope on → refused (item-not-found): no output \"nope\"; outputs: pump, fill, drain"))
    }

    @Test func outputsAreSwitchedToggledAndPulsedWithinTheirLimits() throws {
        let rig = try Rig()
        #expect(try rig.run(.set(output: "PUMP", on: true)).text == "pump on")
        #expect(try rig.run(.toggle(output: "pump")).text == "pump off")
        let tooLong = try rig.run(.pulse(output: "pump", milliseconds: 10_000))
        #expect(tooLong.error?.condition == .notAllowed)
        #expect(tooLong.text.contains("longer than this output's max_pulse of 5 s"))
        let pulse = try rig.run(.pulse(output: "pump", milliseconds: 100))
        #expect(pulse.error == nil)
        #expect(pulse.text.hasPrefix("pump on for "))
        #expect(rig.scratch.read("pump") == "1")
        rig.loop.run(until: { rig.scratch.read("pump") == "0" }, timeout: 2_000)
        #expect(rig.scratch.read("pump") == "0")
        #expect(try rig.run(.set(output: "door", on: true)).error?.condition == .notAllowed)
        #expect(try rig.run(.set(output: "heater", on: true)).error?.condition == .itemNotFound)
    }

    @Test func interlocksNeverLetTwoOnTogether() throws {
        let rig = try Rig()
        #expect(try rig.run(.set(output: "fill", on: true)).text == "fill on")
        // drain on: fill goes off at once, drain comes on after the group's wait.
        var outcome: CommandOutcome?
        rig.executor.execute(.set(output: "drain", on: true), try rig.context("alice@example.org/p")) { outcome = $0 }
        #expect(rig.scratch.read("fill") == "0")
        #expect(rig.scratch.read("drain") == "0", "not before the wait")
        // Meanwhile nothing in the group may come on; off is fine.
        let meanwhile = try rig.run(.set(output: "fill", on: true))
        #expect(meanwhile.error?.condition == .notAllowed)
        #expect(meanwhile.text.contains("interlock valves is switching"))
        #expect(try rig.run(.set(output: "fill", on: false)).error == nil)
        #expect(rig.loop.run(until: { outcome != nil }, timeout: 2_000))
        #expect(outcome?.text == "drain on (after switching fill off)")
        #expect(rig.scratch.read("drain") == "1")
        #expect(rig.scratch.read("fill") == "0")
    }

    @Test func aPulsedMemberCountsAsOnForItsInterlock() throws {
        let rig = try Rig()
        _ = try rig.run(.set(output: "fill", on: true))
        // A pulse from on turns fill off for a while; it would come back on by itself.
        _ = try rig.run(.pulse(output: "fill", milliseconds: 300))
        #expect(rig.scratch.read("fill") == "0")
        _ = try rig.run(.set(output: "drain", on: true))
        rig.loop.run(until: { false }, timeout: 500)
        #expect(rig.scratch.read("drain") == "1")
        #expect(rig.scratch.read("fill") == "0", "the pulse's end must not switch fill back on beside drain")
    }

    @Test func staleCommandsAreRefusedWithTheReason() throws {
        let rig = try Rig()
        let stale = try rig.run(.set(output: "pump", on: true), age: 5 * 60_000)
        #expect(stale.error?.condition == .notAllowed)
        #expect(stale.text.contains("sent 5 min ago"))
        #expect(rig.scratch.read("pump") == "0")
        #expect(try rig.run(.set(output: "pump", on: true), age: 2_000).error == nil)
        #expect(try rig.run(.status, age: 5 * 60_000).error == nil, "reading is never stale")
    }

    @Test func actionsAreRateLimitedPerJID() throws {
        let rig = try Rig(rateLimit: 3)
        for _ in 0..<3 { #expect(try rig.run(.toggle(output: "pump")).error == nil) }
        let limited = try rig.run(.toggle(output: "pump"))
        #expect(limited.error?.condition == .resourceConstraint)
        #expect(limited.text.hasPrefix("too many commands; try again in"))
        #expect(try rig.run(.toggle(output: "pump"), as: "bob@ops.example.org/x").error == nil, "another JID has its own budget")
        #expect(try rig.run(.status).error == nil, "reading is not limited")
    }

    @Test func statusReadAndHelpAreShortPlainText() throws {
        let rig = try Rig()
        _ = try rig.run(.set(output: "pump", on: true))
        #expect(try rig.run(.status).text == "pump on · fill off · drain off · door off · cpu 47.2 °C · air 21.4 °C")
        #expect(try rig.run(.read(sensor: "AIR")).text == "air: 21.4 °C")
        #expect(try rig.run(.read(sensor: "door")).text == "door: off")
        #expect(try rig.run(.read(sensor: nil)).text == "door: off\ncpu: 47.2 °C\nair: 21.4 °C")
        #expect(try rig.run(.read(sensor: "rain")).error?.condition == .itemNotFound)
        let viewerHelp = rig.executor.help(for: .viewer)
        #expect(!viewerHelp.contains("pulse"))
        #expect(rig.executor.help(for: .owner).contains("block|unblock <jid>"))
        #expect(try ChatParser.parse("allow bob@example.org").get() == .allow(try JID("bob@example.org")))
        #expect(rig.executor.help(for: .operator).contains("outputs: pump, fill, drain"))
    }

    @Test func ownersBlockAndUnblock() throws {
        let rig = try Rig()
        var sent: [(JID, Bool)] = []
        rig.executor.sendBlock = { sent.append(($0, $1)) }
        let eve = try JID("eve@example.net")
        rig.executor.policy.viewers.append(.jid(eve))
        #expect(try rig.run(.block(eve)).error == nil)
        #expect(rig.executor.policy.role(of: try JID("eve@example.net/phone")) == .stranger)
        #expect(try rig.run(.unblock(eve)).error == nil)
        #expect(rig.executor.policy.role(of: try JID("eve@example.net/phone")) == .viewer)
        #expect(sent.map(\.1) == [true, false])
    }
}

@Suite struct ChatParserTests {
    @Test func commandsPeopleType() throws {
        #expect(try ChatParser.parse("help").get() == .help)
        #expect(try ChatParser.parse("  Status ").get() == .status)
        #expect(try ChatParser.parse("pump on").get() == .set(output: "pump", on: true))
        #expect(try ChatParser.parse("Pump OFF").get() == .set(output: "Pump", on: false))
        #expect(try ChatParser.parse("set lamp 1").get() == .set(output: "lamp", on: true))
        #expect(try ChatParser.parse("lamp toggle").get() == .toggle(output: "lamp"))
        #expect(try ChatParser.parse("pulse pump 5s").get() == .pulse(output: "pump", milliseconds: 5_000))
        #expect(try ChatParser.parse("pulse pump 500ms").get() == .pulse(output: "pump", milliseconds: 500))
        #expect(try ChatParser.parse("pulse pump 1.5s").get() == .pulse(output: "pump", milliseconds: 1_500))
        #expect(try ChatParser.parse("read").get() == .read(sensor: nil))
        #expect(try ChatParser.parse("read air").get() == .read(sensor: "air"))
        #expect(try ChatParser.parse("block Eve@Example.net/phone").get() == .block(try JID("eve@example.net")))
    }

    @Test func mistakesGetAHint() {
        #expect(ChatParser.parse("hello there friend") == .failure(.unknown("hello")))
        #expect(ChatParser.parse("fly away", outputs: ["pump"]) == .failure(.unknown("fly")))
        #expect(ChatParser.parse("heater on", outputs: ["pump"]) == .success(.set(output: "heater", on: true)), "the executor names the outputs")
        #expect(ChatParser.parse("") == .failure(.unknown("")))
        guard case .failure(.badArgument(let m)) = ChatParser.parse("pulse pump soon") else { Issue.record("accepted"); return }
        #expect(m.contains("not a duration"))
        guard case .failure(.badArgument) = ChatParser.parse("pump maybe") else { Issue.record("accepted"); return }
        guard case .failure(.badArgument) = ChatParser.parse("block not a jid@@") else { Issue.record("accepted"); return }
    }

    func hint(_ text: String, outputs: Set<String>? = ["pump"], readings: Set<String> = ["cpu", "door"]) -> String? {
        if case .failure(.badArgument(let m)) = ChatParser.parse(text, outputs: outputs, readings: readings) { return m }
        return nil
    }

    /// Words after a complete command are refused with a hint, for every command alike.
    @Test func trailingWordsAreRefusedEverywhere() throws {
        #expect(hint("pump on please") == "\"please\" is more than pump on takes: send pump on alone")
        #expect(hint("pump on for a minute")?.contains("send pump on alone") == true, "never on for good")
        #expect(hint("status please") == "status takes nothing after it: send status alone")
        #expect(hint("help me") == "help takes nothing after it: send help alone")
        #expect(hint("subscribers now") != nil)
        #expect(hint("read cpu now")?.hasPrefix("usage: read [sensor]") == true)
        #expect(hint("pulse pump 5s twice")?.hasPrefix("usage: pulse") == true)
        #expect(hint("set pump on now")?.hasPrefix("usage: set") == true)
        #expect(ChatParser.parse("fly away now", outputs: ["pump"]) == .failure(.unknown("fly")))
    }

    /// A name alone: an output's state and what can be done; a sensor's or an input's reading.
    @Test func aNameAloneAnswers() {
        #expect(ChatParser.parse("pump", outputs: ["pump"]) == .success(.describe(output: "pump")))
        #expect(ChatParser.parse("Pump", outputs: ["pump"]) == .success(.describe(output: "Pump")))
        #expect(ChatParser.parse("cpu", outputs: ["pump"], readings: ["cpu"]) == .success(.read(sensor: "cpu")))
        #expect(ChatParser.parse("hello", outputs: ["pump"], readings: ["cpu"]) == .failure(.unknown("hello")))
    }

    /// The one duration grammar: a unit is needed, 0 is not a pulse, and the hints say what to write.
    @Test func pulseDurations() throws {
        #expect(hint("pulse pump 0s") == "a pulse needs a duration above 0, e.g. pulse pump 5s")
        #expect(hint("pulse pump 5")?.contains("\"5\" has no unit: write 5s") == true, "\(hint("pulse pump 5") ?? "")")
        #expect(hint("pulse pump -5s")?.contains("is not a duration") == true)
        #expect(hint("pulse pump 1e3s")?.contains("is not a duration") == true)
        #expect(try ChatParser.parse("pulse pump 2min").get() == .pulse(output: "pump", milliseconds: 120_000))
        #expect(try ChatParser.parse("pulse pump 250MS").get() == .pulse(output: "pump", milliseconds: 250))
    }

    /// Every first word and every action word is a reserved name, from the table the parser uses.
    @Test func theReservedNamesAreTheParsersWords() {
        for word in ["state", "get", "switch", "turn", "allow", "deny", "commands", "subscribers", "unsubscribe", "on", "toggle", "all"] {
            #expect(DeviceConfiguration.reservedNames.contains(word), "\(word)")
        }
        for (word, _) in ChatWords.verbs where word != "?" {
            // A name that is a first word never reaches the output branch of the parser.
            guard case .success(let c) = ChatParser.parse("\(word) on", outputs: [word]) else { continue }
            if case .set = c { Issue.record("\(word) on switched an output called \(word)") }
        }
    }
}
