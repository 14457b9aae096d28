import Glibc
import Testing
import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import PerchRules
import XMPPAddress
import XMPPCore
@testable import XMPPClient
@testable import PerchAgent

/// An agent whose configuration a test reloads: the TOML of its access lists and device, changed.
final class ReloadRig {
    let scratch = Scratch()
    let loop: EventLoop
    let log = AuditLog()
    let agent: Agent
    let hardware: Hardware
    var sent: [XMLElement] = []
    private(set) var config: Configuration

    static func toml(owners: String = "\"owner@example.org\"", viewers: String = "\"viewer@example.org\"", extra: String = "") -> String {
        """
        [account]
        jid = "board@example.org/board"
        [access]
        owners = [\(owners)]
        viewers = [\(viewers)]
        [commands]
        rate_limit = 0
        [device]
        gpio = "simulated"
        [[output]]
        name = "fan"
        line = "fan"
        \(extra)
        """
    }

    func parse(_ toml: String) throws -> Configuration {
        var c = try ConfigurationLoader(file: "test.toml", environment: ["PERCH_PASSWORD": "x"]).parse(toml)
        c.device.simulatedDirectory = "\(scratch.path)/gpio"
        c.device.stateDirectory = "\(scratch.path)/state"
        return c
    }

    init(_ toml: String = ReloadRig.toml()) throws {
        loop = try EventLoop()
        _ = system("mkdir -p '\(scratch.path)/state'")
        var c = try ConfigurationLoader(file: "test.toml", environment: ["PERCH_PASSWORD": "x"]).parse(toml)
        c.device.simulatedDirectory = "\(scratch.path)/gpio"
        c.device.stateDirectory = "\(scratch.path)/state"
        config = c
        let log = self.log
        let logger = Logger(label: "t", level: .debug, format: .bare, sink: { log.lines.append($0) })
        var cc = ClientConfiguration(jid: try JID("board@example.org/board"), password: "x")
        cc.host = "127.0.0.1"
        cc.port = 1
        cc.transport = .plain
        let client = XMPPClient(loop: loop, config: cc, logger: logger)
        hardware = Hardware(config: config.device, loop: loop, logger: logger)
        agent = Agent(config: config, client: client, hardware: hardware, loop: loop, logger: logger)
        agent.start()
        agent.transmit = { [unowned self] in self.sent.append($0) }
    }

    /// Reloads as the daemon does: the hardware, then the agent.
    @discardableResult
    func reload(_ toml: String) throws -> ConfigurationChanges {
        let new = try parse(toml)
        let changes = ConfigurationChanges(from: config, to: new)
        config = new
        hardware.reload(new.device, rerequest: changes.rerequested)
        agent.reload(new, changes)
        return changes
    }

    /// A chat message; returns the reply's body and whether it was marked as an error.
    func chat(from: String, _ body: String) -> (text: String?, error: String?) {
        sent = []
        var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": from, "to": "board@example.org/board", "type": "chat", "id": "m\(Int.random(in: 0..<1_000_000_000))"])
        m.append(.text("body", namespace: XMPPNamespace.client, body))
        agent.message(m)
        _ = loop.run(until: { self.sent.contains { $0.name == "message" } }, timeout: 1_000)
        let reply = sent.first { $0.name == "message" }
        return (reply?.child("body")?.text, reply?.child(Agent.replyMarkerName, namespace: Agent.replyMarkerNamespace)?[attribute: "error"])
    }

    func online() throws {
        agent.client.status = .online(NegotiatedSession(jid: try JID("board@example.org/board"), streamID: nil, mechanism: "PLAIN", tls: true,
                                                        features: XMLElement("features", namespace: "http://etherx.jabber.org/streams")))
    }
}

@Suite struct AgentReloadTests {
    @Test func anAddedOwnerCommandsAtOnce() throws {
        let rig = try ReloadRig()
        #expect(rig.chat(from: "new@example.org/phone", "fan on").error == "forbidden")
        let changes = try rig.reload(ReloadRig.toml(owners: "\"owner@example.org\", \"new@example.org\""))
        #expect(changes.lines == ["owners: +new@example.org"])
        let answer = rig.chat(from: "new@example.org/phone", "fan on")
        #expect(answer.error == nil, "\(answer)")
        #expect(rig.hardware.output(named: "fan")?.state == true)
    }

    @Test func aRemovedViewerLosesThePresenceSubscriptionAndBlocksAndGuestsStay() throws {
        let rig = try ReloadRig()
        try rig.online()
        var q = XMLElement("query", namespace: XMPPNamespace.roster)
        for jid in ["viewer@example.org", "guest@example.org"] { q.append(XMLElement("item", namespace: XMPPNamespace.roster, attrs: ["jid": jid, "subscription": "both"])) }
        rig.agent.client.roster.load(q)
        try rig.agent.guests.add(try JID("guest@example.org"))
        rig.agent.executor.policy.viewers.append(.jid(try JID("guest@example.org")))
        rig.agent.executor.policy.blocked.insert(try JID("pest@example.org"))
        rig.sent = []
        try rig.reload(ReloadRig.toml(viewers: "\"pest@example.org\""))
        let unsubscribed = rig.sent.filter { $0.name == "presence" && $0.stanzaType == "unsubscribed" }.map { $0[attribute: "to"] }
        #expect(unsubscribed == ["viewer@example.org"], "\(rig.sent.map { $0[attribute: "to"] ?? "" })")
        #expect(rig.log.lines.contains { $0.contains("took back the presence subscription of viewer@example.org") })
        let policy = rig.agent.executor.policy
        #expect(policy.role(of: try JID("guest@example.org")) == .viewer, "an owner's allow survives the reload")
        #expect(policy.role(of: try JID("pest@example.org")) == .stranger, "a block survives the reload")
    }

    @Test func alertsAndRulesComeAndGoWithTheirAdHocCommands() throws {
        let rig = try ReloadRig()
        #expect(!rig.agent.adHoc.commands.contains { $0.node == "alerts" })
        try rig.reload(ReloadRig.toml(extra: """
            [[input]]
            name = "door"
            line = "door"
            states = { on = "open", off = "closed" }
            [[alert]]
            name = "open"
            when = "door == open"
            [[rule]]
            name = "air"
            when = "door == open"
            do = "fan on"
            else = "fan off"
            """))
        #expect(rig.agent.adHoc.commands.contains { $0.node == "alerts" })
        #expect(rig.agent.adHoc.commands.contains { $0.node == "rules" })
        #expect(rig.agent.automation.alerts.map(\.config.name) == ["open"])
        // The new rule acts on the input it watches.
        _ = system("echo 1 > '\(rig.scratch.path)/gpio/door'")
        #expect(rig.loop.run(until: { rig.hardware.output(named: "fan")?.state == true }, timeout: 3_000))
        #expect(rig.chat(from: "owner@example.org/phone", "rules").text?.contains("air") == true)

        try rig.reload(ReloadRig.toml())
        #expect(rig.agent.automation.isEmpty)
        #expect(!rig.agent.adHoc.commands.contains { $0.node == "alerts" })
        let help = rig.chat(from: "owner@example.org/phone", "alerts")
        #expect(help.text != nil)
    }

    @Test func aSwitchByAPersonStillHoldsAfterAReload() throws {
        let toml = ReloadRig.toml(extra: """
            [[input]]
            name = "door"
            line = "door"
            states = { on = "open", off = "closed" }
            [[rule]]
            name = "air"
            when = "door == open"
            do = "fan on"
            else = "fan off"
            """)
        let rig = try ReloadRig(toml)
        _ = system("echo 1 > '\(rig.scratch.path)/gpio/door'")
        #expect(rig.loop.run(until: { rig.hardware.output(named: "fan")?.state == true }, timeout: 3_000), "the rule switches the fan on")
        _ = rig.loop.run(until: { false }, timeout: 150)  // min_switch_interval
        let off = rig.chat(from: "owner@example.org/phone", "fan off")
        #expect(off.error == nil, "\(off)")
        // A new automation's rule sees the door open at its start: it wants the fan on, and must
        // leave the person's switch alone all the same.
        let changes = try rig.reload(toml.replacing("else = \"fan off\"", with: "else = \"fan off\"\noverride = \"20m\""))
        #expect(changes.lines == ["rule air changed"])
        _ = rig.loop.run(until: { false }, timeout: 200)
        #expect(rig.hardware.output(named: "fan")?.state == false)
        #expect(rig.log.lines.filter { $0.contains("via rule air: fan on") }.count == 1, "\(rig.log.lines.suffix(5))")
    }

    static let toggleRule = ReloadRig.toml(extra: """
        [[input]]
        name = "door"
        line = "door"
        states = { on = "open", off = "closed" }
        [[rule]]
        name = "flip"
        when = "door == open"
        do = "fan toggle"
        [[alert]]
        name = "open"
        when = "door == open"
        """)

    /// An unchanged rule keeps its last answer across a reload: its `do` (a toggle here) does not
    /// run again; an unchanged alert keeps its mute.
    @Test func unchangedRulesAndAlertsKeepTheirStateAcrossAReload() throws {
        let rig = try ReloadRig(Self.toggleRule)
        _ = system("echo 1 > '\(rig.scratch.path)/gpio/door'")
        #expect(rig.loop.run(until: { rig.hardware.output(named: "fan")?.state == true }, timeout: 3_000))
        #expect(rig.chat(from: "owner@example.org/phone", "mute open 1h").error == nil)
        let changes = try rig.reload(Self.toggleRule + "\n[[alert]]\nname = \"open2\"\nwhen = \"door == open\"\n")
        #expect(changes.lines == ["alert open2 added"])
        _ = rig.loop.run(until: { false }, timeout: 300)
        #expect(rig.hardware.output(named: "fan")?.state == true, "the toggle did not run again")
        #expect(rig.log.lines.filter { $0.contains("via rule flip: fan toggle") }.count == 1, "\(rig.log.lines.suffix(6))")
        let open = try #require(rig.agent.automation.alerts.first { $0.config.name == "open" })
        #expect(open.tracker.mutedUntil != nil, "the mute outlives the reload")
        #expect(rig.agent.automation.alerts.first { $0.config.name == "open2" }?.tracker.isActive == true, "the new alert sees the open door at once")
        // A changed rule starts afresh, as at a restart: its do runs on the first answer.
        try rig.reload(Self.toggleRule.replacing("do = \"fan toggle\"", with: "do = \"fan toggle\"\noverride = \"0s\""))
        #expect(rig.loop.run(until: { rig.log.lines.filter { $0.contains("via rule flip: fan toggle") }.count == 2 }, timeout: 3_000))
    }

    /// Roles taken away by a reload while offline: the next session, even a resumed one (which
    /// fetches no roster), takes the subscription back.
    @Test func aRoleTakenAwayWhileOfflineIsRevokedAtTheNextSession() throws {
        let rig = try ReloadRig()
        var q = XMLElement("query", namespace: XMPPNamespace.roster)
        q.append(XMLElement("item", namespace: XMPPNamespace.roster, attrs: ["jid": "viewer@example.org", "subscription": "both"]))
        rig.agent.client.roster.load(q)
        try rig.reload(ReloadRig.toml(viewers: ""))
        #expect(!rig.sent.contains { $0.stanzaType == "unsubscribed" }, "offline: nothing sent")
        var session = NegotiatedSession(jid: try JID("board@example.org/board"), streamID: "s", mechanism: "PLAIN", tls: true,
                                        features: XMLElement("features", namespace: "http://etherx.jabber.org/streams"))
        session.resumed = true
        rig.agent.statusChanged(.online(session))
        #expect(rig.sent.filter { $0.stanzaType == "unsubscribed" }.map { $0[attribute: "to"] } == ["viewer@example.org"])
    }
}
