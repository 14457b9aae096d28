import Glibc
import Testing
import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import PerchRules
import PerchSensors
import XMPPAddress
import XMPPClient
import XMPPCore
@testable import PerchAgent

/// A device on a manual clock: air (a file the test writes), the output fan, the input door, an
/// offline client, and every stanza the agent sends recorded.
final class AutomationRig {
    let scratch: Scratch
    let loop: EventLoop
    let log = AuditLog()
    let logger: Logger
    let config: Configuration
    let hardware: Hardware
    let client: XMPPClient
    let agent: Agent
    var sent: [XMLElement] = []
    /// Whether the client takes alert messages (false: it refuses them, as when the session just ended).
    var accepting = true
    var presences: [(String?, String)] = []

    /// 2026-03-28 12:00 UTC, the day before Europe/Berlin springs forward.
    static let start: Int64 = 1_774_699_200_000

    init(_ automation: String, at wall: Int64 = AutomationRig.start, zone: String = "Europe/Berlin", stateFile: (String, String)? = nil, outputExtra: String = "", reusing: Scratch? = nil) throws {
        scratch = reusing ?? Scratch()
        loop = try EventLoop(clock: LoopClock(manualAt: wall))
        if reusing == nil { _ = system("mkdir -p '\(scratch.path)/state' '\(scratch.path)/gpio'; echo 20 > '\(scratch.path)/air'") }
        if let (name, text) = stateFile { _ = writeFileInPlaceOrDie("\(scratch.path)/state/\(name)", text) }
        let text = """
            [account]
            jid = "board@example.org"
            [access]
            owners = ["owner@example.org"]
            operators = ["op@example.org"]
            [device]
            name = "greenhouse"
            gpio = "simulated"
            simulated_dir = "\(scratch.path)/gpio"
            state_dir = "\(scratch.path)/state"
            [[output]]
            name = "fan"
            line = "fan"
            \(outputExtra)[[input]]
            name = "door"
            line = "door"
            states = { on = "open", off = "closed" }
            [[sensor]]
            name = "air"
            source = "file"
            path = "\(scratch.path)/air"
            unit = "°C"
            interval = "1s"

            """ + automation
        let c = try ConfigurationLoader(file: "test.toml", environment: ["PERCH_PASSWORD": "x"]).parse(text)
        try AutomationCheck.check(c)
        config = c
        let log = self.log
        logger = Logger(label: "t", level: .info, format: .bare, sink: { log.lines.append($0) })
        hardware = Hardware(config: config.device, loop: loop, logger: logger)
        var cc = ClientConfiguration(jid: try JID("board@example.org/x"), password: "x")
        cc.host = "127.0.0.1"
        cc.port = 1
        cc.transport = .plain
        client = XMPPClient(loop: loop, config: cc, logger: logger)
        agent = Agent(config: config, client: client, hardware: hardware, loop: loop, logger: logger, zone: try TimeZoneRules.named(zone))
        agent.transmit = { [unowned self] in self.sent.append($0) }
        agent.presence.send = { [unowned self] show, status in self.presences.append((show, status)) }
        agent.start()
        // Alert messages go through the client's answer (taken or not), recorded here like the rest.
        agent.alertDelivery.transmit = { [unowned self] in
            guard self.accepting else { return false }
            self.sent.append($0)
            return true
        }
        hardware.start()
    }

    /// The rule most tests use: the fan on above 28, off below.
    static let coolRule = "[[rule]]\nname = \"cool\"\nwhen = \"air > 28\"\ndo = \"fan on\"\nelse = \"fan off\"\n"

    /// Lets an input change through: the loop's turns read the line file, the manual clock runs the
    /// debounce, until `done` (4 s of the manual clock at most).
    func settle(until done: () -> Bool) {
        for _ in 0..<40 where !done() {
            loop.run(until: { false }, timeout: 20)
            loop.advance(by: 100)
        }
    }

    /// The session is up (no server: the test says so) and what waited goes out.
    func online() {
        agent.alertDelivery.online = true
        agent.alertDelivery.flush()
    }

    func air(_ value: Double) {
        _ = system("echo \(value) > '\(scratch.path)/air'")
    }

    func fan() -> String? { scratch.read("fan") }
    var bodies: [String] { sent.compactMap { $0.child("body")?.text } }

    /// A person's command, as chat would run it.
    func person(_ text: String, from: String = "owner@example.org", role: Role = .owner) throws -> CommandOutcome {
        guard case .success(let command) = ChatParser.parse(text) else { throw ParseFailure() }
        var outcome: CommandOutcome?
        agent.executor.execute(command, CommandContext(from: try JID(from), role: role, frontEnd: "chat")) { outcome = $0 }
        return try #require(outcome)
    }

    struct ParseFailure: Error {}
}

private func writeFileInPlaceOrDie(_ path: String, _ text: String) -> Bool {
    (try? writeFileAtomically(path, Array(text.utf8), mode: 0o600, sync: false)) != nil
}

@Suite struct AlertDeliveryTests {
    @Test func anAlertIsToldOnceAtItsStartAndOnceAtItsEndWithPresenceBetween() throws {
        let rig = try AutomationRig("""
            [[alert]]
            name = "hot"
            when = "air > 30"
            clear = "air < 28"
            for = "2m"
            to = ["owners", "operators"]
            """)
        rig.online()
        rig.loop.advance(by: 5_000)
        #expect(rig.sent.isEmpty)
        rig.air(31.5)
        rig.loop.advance(by: 60_000)
        #expect(rig.sent.isEmpty, "for = 2m: not yet")
        rig.loop.advance(by: 61_000)
        #expect(rig.bodies.count == 2, "one to the owner, one to the operator: \(rig.bodies)")
        let start = try #require(rig.sent.first)
        #expect(start.to?.description == "owner@example.org")
        #expect(start.stanzaType == "chat")
        #expect(start.child("store", namespace: "urn:xmpp:hints") != nil)
        #expect(start.child("perch", namespace: Agent.replyMarkerNamespace) != nil, "never a command to another Perch")
        #expect(start.child("delay", namespace: "urn:xmpp:delay") == nil, "sent as it happened: no delay")
        // 12:00 UTC is 13:00 in Berlin (CET); the alert began to hold at the first reading over 30.
        #expect(rig.bodies[0].hasPrefix("⚠ greenhouse: hot: air 31.5 °C (air > 30) since 13:0"), "\(rig.bodies[0])")
        rig.loop.advance(by: 200)
        #expect(rig.presences.last?.0 == "away", "\(rig.presences)")
        #expect(rig.presences.last?.1.hasPrefix("⚠ hot · ") == true, "\(String(describing: rig.presences.last))")
        // Nothing more while nothing changes, hysteresis between 28 and 30.
        rig.air(29)
        rig.loop.advance(by: 3_600_000)
        #expect(rig.bodies.count == 2)
        rig.air(27)
        rig.loop.advance(by: 1_200)
        #expect(rig.bodies.count == 4)
        #expect(rig.bodies[2].hasPrefix("✓ greenhouse: hot is over: air 27 °C; it lasted 1 h 2 min (13:00–14:02)"), "\(rig.bodies[2])")
        #expect(rig.presences.last?.0 == nil)
        #expect(rig.presences.last?.1.hasPrefix("⚠") == false)
        #expect(rig.log.lines.contains { $0.contains("alert hot started: ⚠ greenhouse: hot: air 31.5 °C") })
    }

    @Test func offlineAlertsWaitOnDiskAndGoOutWithTheirTimeOnceOnline() throws {
        let rig = try AutomationRig("""
            [[alert]]
            name = "hot"
            when = "air > 30"
            [[alert]]
            name = "open"
            when = "door == open"
            """)
        rig.loop.advance(by: 1_000)
        rig.air(35)
        rig.loop.advance(by: 1_000)
        let raised = rig.loop.wallMilliseconds
        rig.loop.advance(by: 600_000)
        rig.air(20)
        rig.loop.advance(by: 1_000)
        #expect(rig.sent.isEmpty, "offline: nothing can go")
        #expect(rig.agent.alertDelivery.pending.count == 1, "started and over: one message")
        #expect(readTextFile("\(rig.scratch.path)/state/alerts")?.hasPrefix("was\thot\tjid:owner@example.org\t") == true)
        // Another process (the next start) finds it.
        let reloaded = AlertDelivery(path: "\(rig.scratch.path)/state/alerts", selfJID: try JID("board@example.org"), logger: rig.logger, policy: { rig.agent.executor.policy })
        #expect(reloaded.pending == rig.agent.alertDelivery.pending)
        rig.online()
        #expect(rig.bodies.count == 1)
        #expect(rig.bodies.first?.hasPrefix("⚠ greenhouse: was hot 13:") == true, "\(rig.bodies)")
        #expect(rig.bodies.first?.contains("(10 min") == true, "\(rig.bodies)")
        let delay = try #require(rig.sent.first?.child("delay", namespace: "urn:xmpp:delay"))
        #expect(delay[attribute: "stamp"] == WallClock.iso8601(milliseconds: raised), "stamped with the crossing")
        #expect(delay[attribute: "from"] == "board@example.org")
        #expect(!fileExists("\(rig.scratch.path)/state/alerts"), "sent: the file goes")
    }

    @Test func aSensorInErrorStartsNoAlertButOnErrorDoes() throws {
        let rig = try AutomationRig("""
            [[alert]]
            name = "hot"
            when = "air > 30"
            [[alert]]
            name = "blind"
            when = "air > 30"
            on_error = true
            for = "5m"
            """)
        rig.online()
        _ = system("rm -f '\(rig.scratch.path)/air'")
        rig.loop.advance(by: 240_000)
        #expect(rig.sent.isEmpty)
        rig.loop.advance(by: 600_000)
        #expect(rig.bodies.count == 1, "\(rig.bodies)")
        #expect(rig.bodies.first?.hasPrefix("⚠ greenhouse: blind: air cannot be read") == true, "\(rig.bodies)")
        rig.air(25)
        rig.loop.advance(by: 400_000)
        #expect(rig.bodies.count == 2)
        #expect(rig.bodies.last?.hasPrefix("✓ greenhouse: blind: air reads again (air 25 °C)") == true, "\(rig.bodies)")
    }

    /// A state says itself (no "(door == open)" after "door open"); a short alert's times go to the second.
    @Test func anInputsAlertReadsNaturally() throws {
        let rig = try AutomationRig("""
            [[alert]]
            name = "open"
            when = "door == open"
            """)
        rig.online()
        _ = system("echo 1 > '\(rig.scratch.path)/gpio/door'")
        rig.settle { rig.bodies.count == 1 }
        #expect(rig.bodies.first == "⚠ greenhouse: open: door open since 13:00", "\(rig.bodies)")
        rig.loop.advance(by: 20_000)
        _ = system("echo 0 > '\(rig.scratch.path)/gpio/door'")
        rig.settle { rig.bodies.count == 2 }
        let end = try #require(rig.bodies.last)
        #expect(end.hasPrefix("✓ greenhouse: open is over: door closed; it lasted 20 s (13:00:00–13:00:20)"), "\(end)")
        #expect(end.contains("(13:00:0"), "to the second within one minute: \(end)")
    }

    @Test func muteSilencesAnAlertForAWhileAndUnmuteTellsWhatIsOn() throws {
        let rig = try AutomationRig("""
            [[alert]]
            name = "hot"
            when = "air > 30"
            repeat = "10m"
            """)
        rig.online()
        let muted = try rig.person("mute hot 1h", from: "op@example.org", role: .operator)
        #expect(muted.error == nil)
        #expect(muted.text.hasPrefix("hot muted for everyone for 1 h, until 14:00; unmuting ends it sooner"), "\(muted.text)")
        let viewer = try rig.person("mute hot", from: "v@example.org", role: .viewer)
        #expect(viewer.error?.condition == .forbidden)
        rig.air(31)
        rig.loop.advance(by: 30 * 60_000)
        #expect(rig.sent.isEmpty)
        #expect(rig.presences.last?.0 == "away", "presence shows it muted or not")
        let list = try rig.person("alerts")
        #expect(list.text.contains("hot: ON since 13:0"), "\(list.text)")
        #expect(list.text.contains("muted until"), "\(list.text)")
        #expect(try rig.person("unmute hot").text == "hot unmuted")
        #expect(rig.bodies.count == 1)
        #expect(rig.bodies.first?.hasPrefix("⚠ greenhouse: hot: air 31 °C") == true)
        rig.loop.advance(by: 10 * 60_000 + 1_000)
        #expect(rig.bodies.count == 2)
        #expect(rig.bodies.last?.hasPrefix("⚠ greenhouse: still hot: air 31 °C (air > 30) since 13:") == true, "\(rig.bodies)")
        #expect(try rig.person("mute cold 1h").error?.condition == .itemNotFound)
    }
}

@Suite struct RuleAutomationTests {
    @Test func aRuleSwitchesAndAPersonTakesPrecedenceForTheOverride() throws {
        let rig = try AutomationRig("""
            [[rule]]
            name = "cool"
            when = "air > 28"
            do = "fan on"
            else = "fan off"
            override = "30m"
            """)
        #expect(rig.fan() == "0")
        rig.air(29)
        rig.loop.advance(by: 1_000)
        #expect(rig.fan() == "1")
        #expect(rig.log.lines.contains { $0.contains("command from board@example.org (operator) via rule cool: fan on → ok") }, "\(rig.log.lines)")
        rig.loop.advance(by: 200)  // min_switch_interval (100 ms by default) holds a person back too
        let off = try rig.person("fan off")
        #expect(off.error == nil, "\(off.text)")
        #expect(rig.fan() == "0")
        rig.loop.advance(by: 29 * 60_000)
        #expect(rig.fan() == "0", "a person's switch holds for the override")
        let rules = try rig.person("rules")
        #expect(rules.text.contains("rule cool: when air > 28 → fan on, else fan off; holds now (fan is a person's until"), "\(rules.text)")
        rig.loop.advance(by: 61_000)
        #expect(rig.fan() == "1", "then the rule takes it back")
        rig.air(20)
        rig.loop.advance(by: 1_000)
        #expect(rig.fan() == "0")
    }

    @Test func anUnknownConditionSwitchesNothing() throws {
        let rig = try AutomationRig(AutomationRig.coolRule)
        rig.air(29)
        rig.loop.advance(by: 1_000)
        #expect(rig.fan() == "1")
        _ = system("rm -f '\(rig.scratch.path)/air'")
        rig.loop.advance(by: 600_000)
        #expect(rig.fan() == "1", "a sensor in error is not a reason to switch")
    }

    @Test func rulesOnAnInputActAtStartAndOnItsChanges() throws {
        let rig = try AutomationRig("""
            [[rule]]
            name = "light"
            when = "door == open"
            do = "fan on"
            else = "fan off"
            """)
        #expect(rig.fan() == "0")
        _ = system("echo 1 > '\(rig.scratch.path)/gpio/door'")
        rig.settle { rig.fan() == "1" }
        #expect(rig.fan() == "1")
    }
}

@Suite struct ScheduleAutomationTests {
    /// 02:30 does not exist in Berlin on 2026-03-29: the run comes at 03:00 CEST (01:00 UTC), once.
    @Test func aDailyTimeInTheSpringForwardGapRunsWhenTheGapEnds() throws {
        let rig = try AutomationRig("""
            [[schedule]]
            name = "night"
            at = "02:30"
            do = "pulse fan 5s"
            """)
        var runs: [Int64] = []
        rig.agent.executor.observeCommands { _, context, _ in if context.frontEnd == "schedule night" { runs.append(rig.loop.wallMilliseconds) } }
        rig.loop.advance(by: 2 * 86_400_000)
        #expect(runs.count == 2, "\(runs)")
        #expect(runs.first == 1_774_746_000_000, "2026-03-29T01:00:00Z: \(runs)")
        #expect(runs.last == 1_774_830_600_000, "2026-03-30T00:30:00Z (02:30 CEST)")
        #expect(rig.log.lines.contains { $0.contains("via schedule night: pulse fan 5 s → ok") }, "\(rig.log.lines.filter { $0.contains("schedule") })")
        #expect(try rig.person("rules").text.contains("schedule night: every day at 02:30 → pulse fan 5s; next 2026-03-31 02:30"))
    }

    /// On 2026-10-25 02:30 comes twice in Berlin: it runs at the first (00:30 UTC), not again at 01:30.
    @Test func aRepeatedTimeOnTheFallBackDayRunsOnce() throws {
        let rig = try AutomationRig("""
            [[schedule]]
            name = "night"
            at = "02:30"
            do = "fan toggle"
            """, at: 1_792_843_200_000)  // 2026-10-24T12:00:00Z
        var runs: [Int64] = []
        rig.agent.executor.observeCommands { _, context, _ in if context.frontEnd == "schedule night" { runs.append(rig.loop.wallMilliseconds) } }
        rig.loop.advance(by: 86_400_000)
        #expect(runs == [1_792_888_200_000], "2026-10-25T00:30:00Z only: \(runs)")
    }

    /// NTP sets the clock forward over a run: with catch_up the run happens once, late; set back, no
    /// run repeats.
    @Test func aClockJumpOverARunCatchesUpOnceAndAJumpBackRepeatsNothing() throws {
        let rig = try AutomationRig("""
            [[schedule]]
            name = "lunch"
            at = "13:30"
            do = "fan toggle"
            catch_up = "10m"
            [[schedule]]
            name = "tea"
            at = "13:40"
            do = "fan toggle"
            """)
        var runs: [String] = []
        rig.agent.executor.observeCommands { _, context, _ in runs.append(context.frontEnd) }
        // 13:00 Berlin; the clock jumps to 13:35.
        rig.loop.jumpWall(by: 35 * 60_000)
        #expect(runs == ["schedule lunch"], "5 min late, within catch_up")
        #expect(rig.log.lines.contains { $0.contains("schedule lunch: the run of 2026-03-28 13:30 was missed when the clock jumped; running it now, 5 min late (catch_up 10 min)") }, "\(rig.log.lines)")
        // To 13:50: tea was jumped over and has no catch_up.
        rig.loop.jumpWall(by: 15 * 60_000)
        #expect(runs == ["schedule lunch"])
        #expect(rig.log.lines.contains { $0.contains("schedule tea: skipped the run of 2026-03-28 13:40, missed when the clock jumped (set catch_up to run a missed run late)") })
        // Back to 13:20: neither runs again today.
        rig.loop.jumpWall(by: -30 * 60_000)
        rig.loop.advance(by: 60 * 60_000)
        #expect(runs == ["schedule lunch"], "\(runs)")
    }

    /// A run missed while the daemon was down runs at start only within catch_up.
    @Test func aRunMissedWhileDownRunsLateOnlyWithinCatchUp() throws {
        // Last run yesterday 13:00 Berlin; started today at 13:05 (5 min after 13:00) and 13:20.
        let yesterday = "noon\t\(AutomationRig.start - 86_400_000)\n"
        let early = try AutomationRig("""
            [[schedule]]
            name = "noon"
            at = "13:00"
            do = "fan toggle"
            catch_up = "10m"
            """, at: AutomationRig.start + 5 * 60_000, stateFile: ("schedules", yesterday))
        #expect(early.log.lines.contains { $0.contains("schedule noon: the run of 2026-03-28 13:00 was missed while the daemon was down; running it now, 5 min late") }, "\(early.log.lines)")
        #expect(early.fan() == "1")
        let late = try AutomationRig("""
            [[schedule]]
            name = "noon"
            at = "13:00"
            do = "fan toggle"
            catch_up = "10m"
            """, at: AutomationRig.start + 20 * 60_000, stateFile: ("schedules", yesterday))
        #expect(late.fan() == "0")
        #expect(late.log.lines.contains { $0.contains("schedule noon: skipped the run of 2026-03-28 13:00, missed while the daemon was down (it is 20 min late, more than catch_up 10 min)") }, "\(late.log.lines)")
    }
}

@Suite struct AutomationCheckTests {
    func problem(_ automation: String) -> String? {
        let text = """
            [account]
            jid = "board@example.org"
            [device]
            gpio = "simulated"
            [[output]]
            name = "fan"
            line = "fan"
            max_pulse = "10s"
            [[sensor]]
            name = "air"
            source = "file"
            path = "/tmp/air"

            """ + automation
        do {
            try AutomationCheck.check(try ConfigurationLoader(file: "perch.toml", environment: ["PERCH_PASSWORD": "x"]).parse(text))
            return nil
        } catch {
            return error.description
        }
    }

    @Test func theCommandsOfRulesAndSchedulesAreCheckedInTheChatLanguage() {
        #expect(problem("[[rule]]\nname = \"r\"\nwhen = \"air > 1\"\ndo = \"fan on\"\nelse = \"fan off\"\n") == nil)
        #expect(problem("[[rule]]\nname = \"r\"\nwhen = \"air > 1\"\ndo = \"pump on\"\n") == "perch.toml:16: rule[0].do: no output \"pump\"; outputs: fan")
        #expect(problem("[[rule]]\nname = \"r\"\nwhen = \"air > 1\"\ndo = \"fly away now\"\n")?.contains("rule[0].do: \"fly away now\" is not a command") == true)
        #expect(problem("[[rule]]\nname = \"r\"\nwhen = \"air > 1\"\ndo = \"fan on\"\nelse = \"status\"\n")?.contains("rule[0].else: \"status\" switches no output") == true)
        let long = problem("[[schedule]]\nname = \"s\"\nat = \"06:00\"\ndo = \"pulse fan 1m\"\n")
        #expect(long?.contains("schedule[0].do: pulse fan 60 s is longer than its max_pulse 10 s") == true, "\(String(describing: long))")
        #expect(problem("[[schedule]]\nname = \"s\"\nat = \"06:00\"\ndo = \"fan sideways\"\n")?.contains("schedule[0].do: \"fan sideways\": \"sideways\" is not on, off or toggle") == true)
    }
}

@Suite struct AutomationAdHocTests {
    static let commands = "http://jabber.org/protocol/commands"

    func command(_ rig: AutomationRig, from: String, _ node: String, sid: String? = nil, values: [(String, String)] = []) -> XMLElement? {
        var children: [XMLElement] = []
        if !values.isEmpty {
            children.append(XMLElement("x", namespace: DataForm.ns, attrs: ["type": "submit"], children: values.map {
                XMLElement("field", namespace: DataForm.ns, attrs: ["var": $0.0], children: [.text("value", namespace: DataForm.ns, $0.1)])
            }))
        }
        let iq = XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "set", "id": "c1", "from": from], children: [
            XMLElement("command", namespace: Self.commands, attrs: ["node": node, "sessionid": sid, "action": sid == nil ? "execute" : "complete"], children: children)
        ])
        var sent: XMLElement?
        rig.agent.adHoc.send = { sent = $0 }
        if case .reply(let r) = rig.agent.adHoc.command(iq) { return r }
        return sent
    }

    func note(_ answer: XMLElement?) -> String? {
        answer?.child("command", namespace: Self.commands)?.elements.first { $0.name == "note" }?.text
    }

    @Test func alertsRulesMuteAndUnmuteAsAdHocCommands() throws {
        let rig = try AutomationRig("""
            [[alert]]
            name = "hot"
            when = "air > 30"
            [[rule]]
            name = "cool"
            when = "air > 28"
            do = "fan on"
            """)
        rig.air(31)
        rig.loop.advance(by: 1_000)
        let owner = "owner@example.org/phone"
        #expect(note(command(rig, from: owner, "alerts"))?.contains("hot: ON since 13:00") == true)
        #expect(note(command(rig, from: owner, "rules"))?.contains("rule cool: when air > 28 → fan on; holds now") == true)
        let form = try #require(command(rig, from: owner, "mute-alert"))
        let sid = try #require(form.child("command", namespace: Self.commands)?[attribute: "sessionid"])
        let options = form.child("command", namespace: Self.commands)?.child("x", namespace: DataForm.ns)?.elements
            .first { $0[attribute: "var"] == "alert" }?.elements.filter { $0.name == "option" }.map { $0.child("value")?.text ?? "" }
        #expect(options == ["hot", "all"])
        let muted = command(rig, from: owner, "mute-alert", sid: sid, values: [("alert", "hot"), ("duration", "2h")])
        #expect(note(muted)?.hasPrefix("hot muted for everyone for 2 h, until 15:00") == true, "\(String(describing: note(muted)))")
        let unmuteForm = try #require(command(rig, from: owner, "unmute-alert")?.child("command", namespace: Self.commands)?[attribute: "sessionid"])
        #expect(note(command(rig, from: owner, "unmute-alert", sid: unmuteForm, values: [("alert", "hot")])) == "hot unmuted")
        // A viewer sees the alerts but cannot mute.
        rig.agent.executor.policy.viewers.append(.jid(try JID("v@example.org")))
        #expect(note(command(rig, from: "v@example.org/x", "mute-alert"))?.hasPrefix("Not done: Mute an alert needs the operator role") == true)
        #expect(rig.log.lines.contains { $0.contains("command from owner@example.org (owner) via adhoc: mute hot 2 h → ok") }, "\(rig.log.lines.filter { $0.contains("adhoc") })")
    }
}

@Suite struct AutomationStateFileTests {
    /// A damaged state_dir/alerts loses only its damaged lines, says so, and the rest still goes out.
    @Test func aDamagedAlertQueueKeepsWhatCanBeRead() throws {
        let good = "started\thot\tjid:owner@example.org\t1774699200000\tgreenhouse: hot: air 31 °C\\nsecond line\n"
        let bad = "garbage\n\t\t\t\t\nstarted\thot\tjid:not a jid\t1\tx\nstarted\thot\tmailto:owner@example.org\t1\tx\n" + String(repeating: "\u{0}", count: 100) + "\n"
        let rig = try AutomationRig("[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\n", stateFile: ("alerts", bad + good))
        #expect(rig.agent.alertDelivery.pending.count == 1)
        #expect(rig.log.lines.contains { $0.contains("skipped 5 unreadable lines in \(rig.scratch.path)/state/alerts; the other waiting alert messages are kept") }, "\(rig.log.lines)")
        rig.online()
        #expect(rig.bodies == ["greenhouse: hot: air 31 °C\nsecond line"], "escapes come back as written")
        #expect(rig.sent.first?.child("delay", namespace: "urn:xmpp:delay")?[attribute: "stamp"] == "2026-03-28T12:00:00.000Z")
    }

    /// A damaged state_dir/schedules is skipped line by line; the schedules still run.
    @Test func aDamagedScheduleFileStillRunsTheSchedules() throws {
        let rig = try AutomationRig("[[schedule]]\nname = \"noon\"\nat = \"13:30\"\ndo = \"fan toggle\"\n", stateFile: ("schedules", "noon\tsoon\n\u{1}\u{2}\nnoon\n"))
        #expect(rig.log.lines.contains { $0.contains("skipped 3 unreadable lines in \(rig.scratch.path)/state/schedules") }, "\(rig.log.lines)")
        rig.loop.advance(by: 31 * 60_000)
        #expect(rig.fan() == "1")
        #expect(readTextFile("\(rig.scratch.path)/state/schedules")?.hasPrefix("noon\t") == true, "rewritten clean")
    }
}

@Suite struct RuleRetryTests {
    /// A rule's command held back by min_switch_interval is tried again, so the output does not stay
    /// against the rule until the next crossing.
    @Test func aHeldBackCommandIsTriedAgain() throws {
        let rig = try AutomationRig(AutomationRig.coolRule, outputExtra: "min_switch_interval = \"20s\"\n")
        rig.air(29)
        rig.loop.advance(by: 1_000)
        #expect(rig.fan() == "1")
        rig.air(20)
        rig.loop.advance(by: 1_000)
        #expect(rig.fan() == "1", "too soon after the last switch")
        #expect(rig.log.lines.contains { $0.contains("rule cool: fan off was not done (resource-constraint)") && $0.contains("trying again in 5 s") }, "\(rig.log.lines)")
        rig.loop.advance(by: 20_000)
        #expect(rig.fan() == "0", "done once the interval allowed it")
    }
}

@Suite struct AlertRestartTests {
    static let hot = "[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\n"

    /// An alert on when the daemon stops is not told again at the next start, and its end is told
    /// with how long it lasted since it really started.
    @Test func anAlertOnAcrossARestartIsNeitherRepeatedNorForgotten() throws {
        let first = try AutomationRig(Self.hot)
        first.online()
        first.air(31)
        first.loop.advance(by: 1_000)
        #expect(first.bodies.count == 1)
        #expect(readTextFile("\(first.scratch.path)/state/alerts.active")?.hasPrefix("hot\t") == true)
        first.hardware.shutdown()
        // Ten minutes later, still hot.
        let second = try AutomationRig(Self.hot, at: AutomationRig.start + 600_000, reusing: first.scratch)
        second.online()
        second.loop.advance(by: 2_000)
        #expect(second.bodies.isEmpty, "still on: not told again")
        #expect(second.log.lines.contains { $0.contains("alerts still on: hot (since 13:00)") }, "\(second.log.lines)")
        #expect(second.presences.last?.0 == "away")
        second.air(20)
        second.loop.advance(by: 1_000)
        #expect(second.bodies.count == 1)
        #expect(second.bodies.first?.hasPrefix("✓ greenhouse: hot is over: air 20 °C; it lasted 10 min") == true, "\(second.bodies)")
        #expect(!fileExists("\(first.scratch.path)/state/alerts.active"))
    }

    /// One that ended while the daemon was stopped is said to be over at the first reading.
    @Test func anAlertThatEndedWhileStoppedIsToldOver() throws {
        let first = try AutomationRig(Self.hot)
        first.online()
        first.air(31)
        first.loop.advance(by: 1_000)
        first.hardware.shutdown()
        first.air(20)
        let second = try AutomationRig(Self.hot, at: AutomationRig.start + 3_600_000, reusing: first.scratch)
        second.online()
        second.loop.advance(by: 1_000)
        #expect(second.bodies.count == 1)
        #expect(second.bodies.first?.hasPrefix("✓ greenhouse: hot is over: air 20 °C; it lasted 59 min (13:00–14:00)") == true, "\(second.bodies)")
    }

    /// What a mute holds back is still in the log.
    @Test func aMutedStartAndEndAreLogged() throws {
        let rig = try AutomationRig(Self.hot)
        rig.online()
        _ = try rig.person("mute hot 1h")
        rig.air(31)
        rig.loop.advance(by: 1_000)
        rig.air(20)
        rig.loop.advance(by: 1_000)
        #expect(rig.bodies.isEmpty)
        #expect(rig.log.lines.contains { $0.contains("alert hot started while muted: not told (air 31 °C)") }, "\(rig.log.lines)")
        #expect(rig.log.lines.contains { $0.contains("alert hot ended while muted: not told (air 20 °C)") })
    }
}

@Suite struct AlertRecipientTests {
    /// `to` names roles, JIDs and rooms; a JID an owner blocked gets no alert, whatever names it.
    @Test func rolesAndJIDsWithoutTheBlocked() throws {
        let rig = try AutomationRig("""
            [[alert]]
            name = "hot"
            when = "air > 30"
            to = ["owners", "operators", "alice@example.org", "op@example.org"]
            """)
        rig.online()
        _ = try rig.person("block op@example.org")
        rig.air(31)
        rig.loop.advance(by: 1_000)
        #expect(rig.sent.filter { $0.name == "message" }.compactMap { $0.to?.description }.sorted() == ["alice@example.org", "owner@example.org"], "\(rig.sent.map { $0.to?.description ?? "" })")
    }
}

@Suite struct AutomationReviewTests {
    /// Down for four days with a cron every five minutes: catch_up is judged by the latest missed run
    /// (three minutes ago), not by the thousandth after the last one.
    @Test func catchUpJudgesTheLatestMissedRunAfterALongOutage() throws {
        let last = "often\t\(AutomationRig.start - 4 * 86_400_000)\n"
        let rig = try AutomationRig("""
            [[schedule]]
            name = "often"
            cron = "*/5 * * * *"
            do = "fan toggle"
            catch_up = "10m"
            """, at: AutomationRig.start + 3 * 60_000, stateFile: ("schedules", last))
        #expect(rig.fan() == "1", "\(rig.log.lines.filter { $0.contains("schedule") })")
        #expect(rig.log.lines.contains { $0.contains("schedule often: the run of 2026-03-28 13:00 was missed while the daemon was down; running it now, 3 min late") })
    }

    /// An alert that started while muted is on across a restart (the mute is not): its start is told
    /// then, so no reminder or end ever comes without it.
    @Test func anUntoldAlertOnAcrossARestartIsToldAtStart() throws {
        let hot = "[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\nrepeat = \"1h\"\n"
        let first = try AutomationRig(hot)
        first.online()
        _ = try first.person("mute hot 1h")
        first.air(31)
        first.loop.advance(by: 1_000)
        #expect(first.bodies.isEmpty)
        first.hardware.shutdown()
        let second = try AutomationRig(hot, at: AutomationRig.start + 600_000, reusing: first.scratch)
        second.online()
        second.loop.advance(by: 1_000)
        #expect(second.bodies.count == 1, "\(second.bodies)")
        #expect(second.bodies.first?.hasPrefix("⚠ greenhouse: hot: air 31 °C (air > 30) since 13:00") == true, "\(second.bodies)")
    }

    /// Messages that waited from before a restart go out even when the new configuration has no alerts.
    @Test func waitingMessagesGoEvenWithoutAlertsConfigured() throws {
        let waiting = "started\thot\tjid:owner@example.org\t1774699200000\tgreenhouse: hot: air 31 °C\n"
        let rig = try AutomationRig("", stateFile: ("alerts", waiting))
        rig.online()
        #expect(rig.bodies == ["greenhouse: hot: air 31 °C"], "\(rig.bodies)")
    }
}
