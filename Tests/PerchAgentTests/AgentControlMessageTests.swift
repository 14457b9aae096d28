import Glibc
import Testing
import PerchConfig
import PerchHardware
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore
@testable import PerchAgent

/// XEP-0325 §3.1: a `<set>` in a `<message>` is fire and forget. It runs with the iq form's checks;
/// success sends nothing, an error goes back as a message of type `error` under the request's id.
@Suite struct AgentControlMessageTests {
    static let control = "urn:xmpp:iot:control"

    final class ControlRig {
        let scratch = Scratch()
        let loop: EventLoop
        let log = AuditLog()
        let agent: Agent
        var sent: [XMLElement] = []

        init(rateLimit: Int = 0, maxAge: String = "5m") throws {
            loop = try EventLoop()
            let toml = """
            [account]
            jid = "board@example.org/board"
            [access]
            owners = ["owner@example.org"]
            operators = ["op@example.org"]
            viewers = ["viewer@example.org"]
            [commands]
            rate_limit = \(rateLimit)
            max_age = "\(maxAge)"
            [[output]]
            name = "pump"
            line = "pump"
            max_pulse = "5s"
            min_switch_interval = "0ms"
            [[output]]
            name = "fill"
            line = "fill"
            min_switch_interval = "0ms"
            [[output]]
            name = "drain"
            line = "drain"
            min_switch_interval = "0ms"
            [[interlock]]
            name = "valves"
            outputs = ["fill", "drain"]
            wait = "100ms"
            """
            var config = try ConfigurationLoader(file: "test.toml", environment: ["PERCH_PASSWORD": "x"]).parse(toml)
            config.device.backend = .simulated
            config.device.simulatedDirectory = "\(scratch.path)/gpio"
            config.device.stateDirectory = "\(scratch.path)/state"
            _ = system("mkdir -p '\(scratch.path)/state'")
            let log = self.log
            let logger = Logger(label: "t", level: .debug, format: .bare, sink: { log.lines.append($0) })
            var c = ClientConfiguration(jid: try JID("board@example.org/board"), password: "x")
            c.host = "127.0.0.1"
            c.port = 1
            c.transport = .plain
            let client = XMPPClient(loop: loop, config: c, logger: logger)
            let hardware = Hardware(config: config.device, loop: loop, logger: logger)
            hardware.start()
            agent = Agent(config: config, client: client, hardware: hardware, loop: loop, logger: logger)
            agent.start()
            agent.transmit = { [unowned self] in self.sent.append($0) }
        }

        /// Delivers `<message><set>…</set></message>` from `from`, and runs the loop a little so that
        /// what the set started can finish.
        func set(from: String = "owner@example.org/phone", _ parameters: [(String, String, String)], id: String? = "c1", type: String? = nil, extra: [XMLElement] = [], settle: Int64 = 20) {
            let payload = XMLElement("set", namespace: AgentControlMessageTests.control, children: parameters.map { .element(XMLElement($0.0, namespace: AgentControlMessageTests.control, attrs: ["name": $0.1, "value": $0.2])) })
            var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": from, "to": "board@example.org/board", "id": id, "type": type], children: [payload])
            for e in extra { m.append(e) }
            agent.message(m)
            let until = Instant.now().milliseconds + settle
            _ = loop.run(until: { Instant.now().milliseconds >= until }, timeout: settle + 1_000)
        }

        func line(_ name: String) -> String? { scratch.read(name) }

        /// The error messages sent, as (id, condition, parameter named in setResponse).
        var errors: [(id: String?, condition: StanzaError.Condition?, parameter: String?)] {
            sent.filter { $0.name == "message" && $0.stanzaType == "error" }.map { m in
                (m.stanzaID, StanzaError(stanza: m)?.condition, m.child("setResponse", namespace: AgentControlMessageTests.control)?.elements.first?[attribute: "name"])
            }
        }

        func lines(_ text: String) -> [String] { log.lines.filter { $0.contains(text) } }
    }

    @Test func anOperatorsSetRunsAndNothingIsSentBack() throws {
        let rig = try ControlRig()
        rig.set(from: "op@example.org/tablet", [("boolean", "pump", "true")], id: "m1")
        #expect(rig.line("pump") == "1", "\(rig.log.lines)")
        #expect(rig.sent.isEmpty, "fire and forget: \(rig.sent)")
        #expect(rig.lines("command from op@example.org (operator) via iot message: pump on → ok").count == 1, "\(rig.log.lines)")
        // Another set under the same id (a client that reuses ids) is another request.
        rig.set(from: "op@example.org/tablet", [("boolean", "pump", "false")], id: "m1")
        #expect(rig.line("pump") == "0")
        // No type (normal) and chat both work; a body beside the set is only the fallback text.
        rig.set([("int", "pump", "1")], id: "m2", type: "chat", extra: [.text("body", namespace: XMPPNamespace.client, "pump on")])
        #expect(rig.line("pump") == "1")
        #expect(rig.lines("via chat").isEmpty, "the body did not run as a chat command too: \(rig.log.lines)")
        #expect(rig.sent.isEmpty, "\(rig.sent)")
    }

    @Test func aReDeliveredSetRunsOnce() throws {
        let rig = try ControlRig()
        rig.set([("boolean", "pump", "true")], id: "r1")
        // The device switches it off by chat meanwhile; the re-delivered set must not switch it on again.
        var off = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": "owner@example.org/phone", "to": "board@example.org/board", "type": "chat", "id": "x1"])
        off.append(.text("body", namespace: XMPPNamespace.client, "pump off"))
        rig.agent.message(off)
        _ = rig.loop.run(until: { rig.line("pump") == "0" }, timeout: 1_000)
        rig.set([("boolean", "pump", "true")], id: "r1")
        #expect(rig.line("pump") == "0", "\(rig.log.lines)")
        #expect(rig.lines("arrived again; it runs once").count == 1, "\(rig.log.lines)")
    }

    @Test func aViewerGetsAForbiddenErrorMessageUnderTheRequestsID() throws {
        let rig = try ControlRig()
        rig.set(from: "viewer@example.org/x", [("boolean", "pump", "true")], id: "v1")
        #expect(rig.line("pump") == "0")
        #expect(rig.errors.count == 1)
        #expect(rig.errors.first?.id == "v1")
        #expect(rig.errors.first?.condition == .forbidden)
        #expect(rig.errors.first?.parameter == "pump")
        #expect(rig.sent.first?.to == (try JID("viewer@example.org/x")))
    }

    @Test func aStrangerIsRefusedThroughTheGateAndLearnsNothing() throws {
        let rig = try ControlRig()
        rig.set(from: "eve@example.net/x", [("boolean", "pump", "true")], id: "e1")
        rig.set(from: "eve@example.net/x", [("boolean", "heater", "true")], id: "e2")
        #expect(rig.line("pump") == "0")
        #expect(rig.errors.map(\.condition) == [.forbidden, .forbidden], "the same answer for an output that does not exist")
        #expect(rig.errors.allSatisfy { $0.parameter == nil }, "no output names leak to a stranger")
        #expect(rig.lines("refused a XEP-0325 set message from \"eve@example.net\"").count == 1, "\(rig.log.lines)")
        #expect(rig.lines("command from eve").isEmpty)
        // Past the gate's budget, nothing more is sent.
        for i in 0..<100 { rig.set(from: "eve@example.net/x", [("boolean", "pump", "true")], id: "f\(i)", settle: 0) }
        #expect(rig.errors.count <= rig.agent.executor.strangers.replyBurst)
    }

    @Test func aStaleSetIsRefusedByItsDelay() throws {
        let rig = try ControlRig(maxAge: "1m")
        let stamp = WallClock.iso8601(milliseconds: WallClock.milliseconds() - 3_600_000)
        rig.set([("boolean", "pump", "true")], id: "old", extra: [XMLElement("delay", namespace: XMPPNamespace.delay, attrs: ["stamp": stamp, "from": "example.org"])])
        #expect(rig.line("pump") == "0")
        #expect(rig.errors.first?.condition == .notAllowed, "\(rig.sent)")
        #expect(rig.errors.first?.id == "old")
    }

    @Test func theRateLimitHoldsForMessages() throws {
        let rig = try ControlRig(rateLimit: 2)
        for i in 0..<4 { rig.set([("boolean", "pump", i % 2 == 0 ? "true" : "false")], id: "rl\(i)") }
        #expect(rig.errors.map(\.condition) == [.resourceConstraint, .resourceConstraint], "\(rig.log.lines)")
        #expect(rig.errors.map(\.id) == ["rl2", "rl3"])
    }

    @Test func maxPulseAndBadParametersAreRefusedBeforeAnythingRuns() throws {
        let rig = try ControlRig()
        rig.set([("duration", "pump", "PT10S")], id: "p1")
        #expect(rig.errors.first?.condition == .notAllowed, "\(rig.sent)")
        #expect(rig.errors.first?.parameter == "pump")
        #expect(rig.line("pump") == "0")
        #expect(rig.lines("max_pulse").count == 1, "\(rig.log.lines)")
        rig.set([("boolean", "pump", "true"), ("boolean", "nothing", "true")], id: "p2")
        #expect(rig.errors.last?.condition == .itemNotFound)
        #expect(rig.errors.last?.parameter == "nothing")
        #expect(rig.lines("command from owner@example.org (owner) via iot message: XEP-0325 set → refused (item-not-found): no output \"nothing\"").count == 1, "\(rig.log.lines)")
        #expect(rig.line("pump") == "0", "every parameter is checked before any runs")
    }

    @Test func anInterlockHoldsForMessages() throws {
        let rig = try ControlRig()
        rig.set([("boolean", "fill", "true"), ("boolean", "drain", "true")], id: "i1", settle: 400)
        // fill opens; drain's turn closes fill first, waits the group's 100 ms, then opens drain.
        #expect(rig.line("fill") == "0" && rig.line("drain") == "1", "\(rig.log.lines)")
        #expect(rig.errors.isEmpty, "\(rig.sent)")
    }

    @Test func errorMessagesAreNeverAnswered() throws {
        let rig = try ControlRig()
        rig.set([("boolean", "pump", "true")], id: "e1", type: "error")
        #expect(rig.line("pump") == "0")
        #expect(rig.sent.isEmpty)
    }
}

/// The chat grammar as a person meets it: a name alone answers, trailing words are refused with a
/// hint, and what was not understood is in the log.
@Suite struct AgentChatGrammarTests {
    func say(_ rig: AgentControlMessageTests.ControlRig, _ body: String, from: String = "op@example.org/tablet") -> String? {
        var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": from, "to": "board@example.org/board", "type": "chat", "id": "g\(rig.sent.count)"])
        m.append(.text("body", namespace: XMPPNamespace.client, body))
        let before = rig.sent.count
        rig.agent.message(m)
        _ = rig.loop.run(until: { rig.sent.count > before }, timeout: 1_000)
        return rig.sent.count > before ? rig.sent.last?.child("body")?.text : nil
    }

    @Test func anOutputNameAloneAnswersItsStateAndWhatItTakes() throws {
        let rig = try AgentControlMessageTests.ControlRig()
        #expect(say(rig, "pump") == "pump off; send pump on, pump off, pump toggle or pulse pump 5s (at most 5 s)")
        #expect(say(rig, "pump", from: "viewer@example.org/x") == "pump off", "a viewer is told the state only")
        #expect(rig.line("pump") == "0")
    }

    @Test func trailingWordsAreRefusedAndNothingRuns() throws {
        let rig = try AgentControlMessageTests.ControlRig()
        #expect(say(rig, "pump on please") == "\"please\" is more than pump on takes: send pump on alone")
        #expect(rig.line("pump") == "0")
        #expect(rig.sent.last?.child("perch", namespace: "urn:perch:reply")?[attribute: "error"] == "bad-request")
        #expect(rig.lines("chat from op@example.org (operator): \"pump on please\" refused").count == 1, "\(rig.log.lines)")
    }

    @Test func unknownCommandsAreLogged() throws {
        let rig = try AgentControlMessageTests.ControlRig()
        #expect(say(rig, "fly away")?.hasPrefix("unknown command \"fly\"") == true)
        #expect(rig.lines("chat from op@example.org (operator): unknown command \"fly\"").count == 1, "\(rig.log.lines)")
        #expect(rig.sent.last?.child("perch", namespace: "urn:perch:reply")?[attribute: "error"] == "bad-request")
        #expect(say(rig, "pump on") == "pump on")
        #expect(rig.sent.last?.child("perch", namespace: "urn:perch:reply")?[attribute: "error"] == nil, "a command done carries no error")
    }
}
