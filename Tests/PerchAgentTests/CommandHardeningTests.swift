import Testing
import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore
@testable import PerchAgent

/// The front-ends' and the executor's answers to hostile requests: strangers refused first and
/// cheaply, no names leaked, sets that would chatter a relay, forged and future delays.
@Suite struct CommandHardeningTests {
    static let control = "urn:xmpp:iot:control"
    static let sensorData = "urn:xmpp:iot:sensordata"
    static let commands = "http://jabber.org/protocol/commands"

    /// A client whose server refuses connections: what the front-ends send is dropped, what they
    /// return is the answer the client would send.
    func offlineClient(_ loop: EventLoop) throws -> XMPPClient {
        var c = ClientConfiguration(jid: try JID("board@example.org/perch"), password: "x")
        c.host = "127.0.0.1"
        c.port = 1
        c.transport = .plain
        return XMPPClient(loop: loop, config: c, logger: Logger(label: "xmpp", level: .error, format: .bare, sink: { _ in }))
    }

    func iot(_ rig: Rig) throws -> IoTFrontEnd {
        IoTFrontEnd(executor: rig.executor, client: try offlineClient(rig.loop), hardware: rig.hardware)
    }

    func setIQ(from: String, _ parameters: [(String, String, String)], id: String = "s1", extra: [XMLElement] = []) -> XMLElement {
        let payload = XMLElement("set", namespace: Self.control, children: parameters.map { .element(XMLElement($0.0, namespace: Self.control, attrs: ["name": $0.1, "value": $0.2])) })
        var iq = XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "set", "id": id, "from": from, "to": "board@example.org/perch"], children: [payload])
        for e in extra { iq.append(e) }
        return iq
    }

    /// The stanza error of a reply, or nil when the handler sent (or will send) nothing itself.
    func condition(_ handling: IQHandling) -> StanzaError.Condition? {
        if case .reply(let r) = handling { return StanzaError(stanza: r)?.condition }
        return nil
    }

    func isSilent(_ handling: IQHandling) -> Bool {
        if case .handled = handling { return true }
        return false
    }

    // MARK: Strangers

    @Test func aStrangerLearnsNoOutputNamesAndIsNotAuditedOneByOne() throws {
        let rig = try Rig()
        let front = try iot(rig)
        let real = front.set(setIQ(from: "eve@example.net/x", [("boolean", "pump", "true")]))
        let missing = front.set(setIQ(from: "eve@example.net/x", [("boolean", "heater", "true")]))
        let malformed = front.set(setIQ(from: "eve@example.net/x", [("double", "pump", "0.5")]))
        #expect(condition(real) == .forbidden)
        #expect(condition(missing) == .forbidden, "the same answer for an output that does not exist")
        #expect(condition(malformed) == .forbidden, "the role is checked before the payload")
        #expect(rig.scratch.read("pump") == "0")
        #expect(!rig.audit.lines.contains { $0.contains("command from eve@example.net") }, "\(rig.audit.lines)")
        // The gate logged the first refusal; the rest go into its summary.
        #expect(rig.audit.lines.filter { $0.contains("refused a XEP-0325 set from \"eve@example.net\"") }.count == 1, "\(rig.audit.lines)")
    }

    @Test func aStrangerFloodGetsNoAnswersOnceTheBudgetIsSpent() throws {
        let rig = try Rig()
        let front = try iot(rig)
        var answered = 0
        for i in 0..<200 {
            let h = front.set(setIQ(from: "eve@example.net/x", [("boolean", "pump", "true")], id: "f\(i)"))
            if !isSilent(h) { answered += 1 }
        }
        #expect(answered == rig.executor.strangers.replyBurst, "replies to strangers are bounded by the gate")
        // A readout and an ad-hoc command from a stranger draw on the same, spent, budget.
        let req = XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "get", "id": "r1", "from": "eve@example.net/x"], children: [XMLElement("req", namespace: Self.sensorData, attrs: ["id": "r1", "momentary": "true"])])
        #expect(isSilent(front.readout(req)))
        let adHoc = AdHocFrontEnd(executor: rig.executor, client: try offlineClient(rig.loop), hardware: rig.hardware)
        let cmd = XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "set", "id": "c1", "from": "eve@example.net/x"], children: [XMLElement("command", namespace: Self.commands, attrs: ["node": "set-output"])])
        #expect(isSilent(adHoc.command(cmd)))
        // A role holder is not affected, and keeps one audit line per command.
        let owner = front.set(setIQ(from: "alice@example.org/phone", [("boolean", "pump", "true")], id: "o1"))
        #expect(isSilent(owner), "run, answered by the front-end itself")
        #expect(rig.scratch.read("pump") == "1")
        #expect(rig.audit.lines.filter { $0.contains("command from alice@example.org (owner) via iot: pump on → ok") }.count == 1)
        #expect(rig.audit.lines.filter { $0.contains("command from") }.count == 1, "\(rig.audit.lines)")
    }

    @Test func aStrangerLearnsNoFieldNamesOrCommandNodes() throws {
        let rig = try Rig()
        let front = try iot(rig)
        func req(_ field: String) -> XMLElement {
            XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "get", "id": "r-\(field)", "from": "eve@example.net/x"], children: [
                XMLElement("req", namespace: Self.sensorData, attrs: ["id": "1", "momentary": "true"], children: [XMLElement("field", namespace: Self.sensorData, attrs: ["name": field])])
            ])
        }
        #expect(condition(front.readout(req("cpu"))) == .forbidden)
        #expect(condition(front.readout(req("nothing"))) == .forbidden)
        let adHoc = AdHocFrontEnd(executor: rig.executor, client: try offlineClient(rig.loop), hardware: rig.hardware)
        func command(_ node: String) -> XMLElement {
            XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "set", "id": "c-\(node)", "from": "eve@example.net/x"], children: [XMLElement("command", namespace: Self.commands, attrs: ["node": node])])
        }
        #expect(condition(adHoc.command(command("set-output"))) == .forbidden)
        #expect(condition(adHoc.command(command("self-destruct"))) == .forbidden, "not item-not-found")
    }

    @Test func theExecutorSendsAStrangerNothingPastTheBudget() throws {
        let rig = try Rig()
        var outcomes = 0
        for _ in 0..<50 {
            rig.executor.execute(.set(output: "pump", on: true), try rig.context("eve@example.net/x")) { _ in outcomes += 1 }
        }
        #expect(outcomes == rig.executor.strangers.replyBurst)
        #expect(rig.scratch.read("pump") == "0")
        #expect(!rig.audit.lines.contains { $0.contains("command from eve@example.net") })
    }

    // MARK: One set, many switches

    @Test func aSetNamingAnOutputTwiceIsRefusedBeforeAnythingRuns() throws {
        let rig = try Rig()
        let front = try iot(rig)
        let twice = front.set(setIQ(from: "alice@example.org/p", [("boolean", "fill", "true"), ("boolean", "pump", "true"), ("boolean", "PUMP", "false")]))
        guard case .reply(let reply) = twice else { Issue.record("accepted"); return }
        #expect(StanzaError(stanza: reply)?.condition == .badRequest)
        #expect(reply.child("setResponse", namespace: Self.control)?.child("parameter", namespace: Self.control)?[attribute: "name"] == "PUMP")
        #expect(rig.scratch.read("pump") == "0" && rig.scratch.read("fill") == "0", "nothing ran")
    }

    @Test func aSetCarriesAtMostOneParameterPerOutput() throws {
        let rig = try Rig()
        let front = try iot(rig)
        // Three outputs: four parameters are too many, whatever they name.
        let four = front.set(setIQ(from: "alice@example.org/p", [("boolean", "pump", "true"), ("boolean", "fill", "true"), ("boolean", "drain", "false"), ("boolean", "x", "true")]))
        #expect(condition(four) == .badRequest)
        let forty = front.set(setIQ(from: "alice@example.org/p", (0..<40).map { ("boolean", "pump", $0 % 2 == 0 ? "true" : "false") }))
        #expect(condition(forty) == .badRequest)
        #expect(rig.scratch.read("pump") == "0")
        #expect(!rig.audit.lines.contains { $0.contains("→ ok") }, "refused before any command")
        #expect(rig.audit.lines.filter { $0.contains("via iot: XEP-0325 set → refused (bad-request)") }.count == 2, "\(rig.audit.lines)")
    }

    @Test func switchesComeNoFasterThanTheMinimumInterval() throws {
        let rig = try Rig(minSwitchInterval: 200)
        #expect(try rig.run(.set(output: "pump", on: true)).error == nil)
        let soon = try rig.run(.set(output: "pump", on: false))
        #expect(soon.error?.condition == .resourceConstraint)
        #expect(soon.text.hasPrefix("pump switched "), "\(soon.text)")
        #expect(soon.text.contains("relays need 200 ms between switches"))
        #expect(rig.scratch.read("pump") == "1")
        // Asking for the state it is in switches nothing and is fine.
        #expect(try rig.run(.set(output: "pump", on: true)).error == nil)
        // A toggle and a pulse switch too.
        #expect(try rig.run(.toggle(output: "pump")).error?.condition == .resourceConstraint)
        #expect(try rig.run(.pulse(output: "pump", milliseconds: 50)).error?.condition == .resourceConstraint)
        rig.loop.run(until: { false }, timeout: 250)
        #expect(try rig.run(.set(output: "pump", on: false)).error == nil)
        #expect(rig.scratch.read("pump") == "0")
    }

    @Test func theEndOfAPulseIsNeverHeldBack() throws {
        let rig = try Rig(minSwitchInterval: 200)
        // A pulse shorter than the interval still ends on time.
        #expect(try rig.run(.pulse(output: "pump", milliseconds: 50)).error == nil)
        #expect(rig.scratch.read("pump") == "1")
        #expect(rig.loop.run(until: { rig.scratch.read("pump") == "0" }, timeout: 150))
        // Its end was a switch: a command right after it waits its turn.
        #expect(try rig.run(.set(output: "pump", on: true)).error?.condition == .resourceConstraint)
    }

    @Test func aRefusedInterlockSwitchChangesNothing() throws {
        let rig = try Rig(minSwitchInterval: 200)
        #expect(try rig.run(.set(output: "drain", on: true)).error == nil)
        #expect(try rig.run(.set(output: "drain", on: false)).error?.condition == .resourceConstraint)
        rig.loop.run(until: { false }, timeout: 250)
        #expect(try rig.run(.set(output: "drain", on: false)).error == nil)
        // fill on now: drain (just switched) need not switch, fill may; the group's wait follows.
        #expect(try rig.run(.set(output: "fill", on: true)).text == "fill on")
        // drain on: fill would go off (the interlock's step is not held back), but drain itself
        // switched within the interval, so nothing happens at all.
        let drain = try rig.run(.set(output: "drain", on: true))
        #expect(drain.error?.condition == .resourceConstraint)
        #expect(rig.scratch.read("fill") == "1" && rig.scratch.read("drain") == "0")
    }

    @Test func theIntervalIsAConfigurationKeyWithADefault() throws {
        func load(_ output: String) throws -> [OutputSpec] {
            let text = "[account]\njid = \"board@example.org\"\n[device]\ngpio = \"simulated\"\n[[output]]\nname = \"pump\"\nline = \"pump\"\n" + output
            return try ConfigurationLoader(file: "t.toml", environment: ["PERCH_PASSWORD": "x"]).parse(text).device.outputs
        }
        #expect(try load("").first?.minSwitchInterval == 100)
        #expect(try load("min_switch_interval = \"2s\"").first?.minSwitchInterval == 2_000)
        #expect(try load("min_switch_interval = \"0ms\"").first?.minSwitchInterval == 0)
        #expect(throws: ConfigurationError.self) { try load("min_switch_interval = \"2m\"") }
    }

    // MARK: Delays

    func delay(_ stamp: Int64, from: String) -> XMLElement {
        XMLElement("delay", namespace: XMPPNamespace.delay, attrs: ["stamp": WallClock.iso8601(milliseconds: stamp), "from": from])
    }

    @Test func theOldestDelayDecidesTheAge() {
        let now: Int64 = 1_800_000_000_000
        var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": "alice@example.org/p"])
        #expect(CommandAge.from(stanza: m, now: now) == nil, "no delay: sent live")
        // A fresh delay forged by the sender before the one the server wrote when it stored the message.
        m.append(delay(now - 1_000, from: "evil"))
        m.append(delay(now - 3_600_000, from: "example.org"))
        #expect(CommandAge.from(stanza: m, now: now) == 3_600_000)
        // The order does not matter, nor who claims to have stamped it.
        var n = XMLElement("message", namespace: XMPPNamespace.client)
        n.append(delay(now - 3_600_000, from: "example.org"))
        n.append(delay(now + 60_000, from: "example.org"))
        #expect(CommandAge.from(stanza: n, now: now) == 3_600_000)
        // A stamp in the future is a negative age; an unreadable one is ignored.
        var f = XMLElement("message", namespace: XMPPNamespace.client)
        f.append(XMLElement("delay", namespace: XMPPNamespace.delay, attrs: ["stamp": "yesterday"]))
        f.append(delay(now + 3_600_000, from: "alice@example.org"))
        #expect(CommandAge.from(stanza: f, now: now) == -3_600_000)
    }

    @Test func futureStampsBeyondTheSkewAreRefused() throws {
        let rig = try Rig()
        let future = try rig.run(.set(output: "pump", on: true), age: -3_600_000)
        #expect(future.error?.condition == .notAllowed)
        #expect(future.text.contains("stamped 60 min in the future"), "\(future.text)")
        #expect(rig.scratch.read("pump") == "0")
        #expect(try rig.run(.set(output: "pump", on: true), age: -60_000).error == nil, "a clock a minute ahead passes")
        #expect(try rig.run(.status, age: -3_600_000).error == nil, "reading is never refused for its age")
    }

    @Test func anIoTSetHonoursItsDelays() throws {
        let rig = try Rig()
        let front = try iot(rig)
        let now = WallClock.milliseconds()
        let stale = setIQ(from: "alice@example.org/p", [("boolean", "pump", "true")], extra: [delay(now - 1_000, from: "evil"), delay(now - 3_600_000, from: "alice@example.org")])
        #expect(isSilent(front.set(stale)))
        #expect(rig.scratch.read("pump") == "0", "an hour-old set does not run")
        #expect(rig.audit.lines.contains { $0.contains("via iot: pump on → refused (not-allowed): not done: this command was sent 60 min ago") }, "\(rig.audit.lines)")
    }

    // MARK: Ad-hoc sessions

    @Test func anAdHocSessionRunsOnlyForWhoeverStartedIt() throws {
        let rig = try Rig()
        let adHoc = AdHocFrontEnd(executor: rig.executor, client: try offlineClient(rig.loop), hardware: rig.hardware)
        let start = XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "set", "id": "c1", "from": "bob@ops.example.org/laptop"], children: [XMLElement("command", namespace: Self.commands, attrs: ["node": "set-output"])])
        guard case .reply(let form) = adHoc.command(start), let sid = form.child("command", namespace: Self.commands)?[attribute: "sessionid"] else {
            Issue.record("no form"); return
        }
        func submit(_ from: String, _ node: String) -> XMLElement {
            let x = XMLElement("x", namespace: DataForm.ns, attrs: ["type": "submit"], children: [
                XMLElement("field", namespace: DataForm.ns, attrs: ["var": "output"], children: [.text("value", namespace: DataForm.ns, "pump")]),
                XMLElement("field", namespace: DataForm.ns, attrs: ["var": "state"], children: [.text("value", namespace: DataForm.ns, "on")]),
            ])
            return XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "set", "id": "c2", "from": from], children: [
                XMLElement("command", namespace: Self.commands, attrs: ["node": node, "sessionid": sid, "action": "complete"], children: [x])
            ])
        }
        // Another operator, another resource of a stranger, the owner: none may complete it.
        for hijacker in ["carol@ops.example.org/x", "alice@example.org/phone", "bob@ops.example.org/other"] {
            #expect(condition(adHoc.command(submit(hijacker, "set-output"))) == .badRequest, "\(hijacker)")
        }
        #expect(condition(adHoc.command(submit("bob@ops.example.org/laptop", "pulse-output"))) == .badRequest, "nor another node")
        #expect(rig.scratch.read("pump") == "0")
        // Its owner can, once.
        #expect(isSilent(adHoc.command(submit("bob@ops.example.org/laptop", "set-output"))))
        #expect(rig.scratch.read("pump") == "1")
        #expect(condition(adHoc.command(submit("bob@ops.example.org/laptop", "set-output"))) == .badRequest, "a finished session is gone")
    }
}

/// An XEP-0323 readout stamps what it reads "now" from one reading of the wall clock: seconds and
/// milliseconds from two readings may straddle a second boundary and jump back almost a second.
@Suite struct IoTReadoutClockTests {
    @Test func theStampOfNowComesFromOneClockReading() throws {
        let rig = try Rig()
        var c = ClientConfiguration(jid: try JID("board@example.org/perch"), password: "x")
        c.host = "127.0.0.1"
        c.port = 1
        c.transport = .plain
        let client = XMPPClient(loop: rig.loop, config: c, logger: Logger(label: "xmpp", level: .error, format: .bare, sink: { _ in }))
        var front = IoTFrontEnd(executor: rig.executor, client: client, hardware: rig.hardware)
        // A clock that is read at 12:00:00.999 and, on its next reading, at 12:00:01.000.
        nonisolated(unsafe) var readings: [(seconds: Int64, millis: Int)] = [(43_200, 999), (43_201, 0)]
        front.wallClock = { readings.count > 1 ? readings.removeFirst() : readings[0] }
        let m = front.fieldsMessage(to: try JID("alice@example.org/phone"), key: "id", seq: "1", wanted: ["pump"])
        let stamps = m.elements.first?.elements.first?.elements.filter { $0.name == "timestamp" }.compactMap { $0[attribute: "value"] } ?? []
        #expect(stamps == ["1970-01-01T12:00:00.999Z"], "\(m)")
    }
}
