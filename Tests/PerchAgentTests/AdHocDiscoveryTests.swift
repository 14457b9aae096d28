import Testing
import PerchConfig
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore
@testable import PerchAgent

/// What XEP-0050 clients need to reach and use the commands: the commands node in the device's own
/// disco#items (Gajim's service discovery browses from there), each output's own pulse limit in the
/// form, and refusals that come back as a completed command with an error note (Psi closes its form
/// on an iq error and says nothing).
@Suite struct AdHocDiscoveryTests {
    static let commands = "http://jabber.org/protocol/commands"

    /// An ad-hoc front-end on a client that never connects; what it sends later is recorded.
    final class Front {
        let rig: Rig
        let client: XMPPClient
        let adHoc: AdHocFrontEnd
        var sent: [XMLElement] = []

        init(_ rig: Rig) throws {
            self.rig = rig
            var c = ClientConfiguration(jid: try JID("board@example.org/perch"), password: "x")
            c.host = "127.0.0.1"
            c.port = 1
            c.transport = .plain
            client = XMPPClient(loop: rig.loop, config: c, logger: Logger(label: "xmpp", level: .error, format: .bare, sink: { _ in }))
            adHoc = AdHocFrontEnd(executor: rig.executor, client: client, hardware: rig.hardware)
            adHoc.install()
            adHoc.send = { [unowned self] in self.sent.append($0) }
        }

        /// The answer to an iq: returned by the handler, or sent by it (a command's outcome).
        func answer(_ handling: IQHandling) -> XMLElement? {
            if case .reply(let r) = handling { return r }
            return sent.popLast()
        }

        func items(from: String, node: String? = nil) -> IQHandling {
            adHoc.items(XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "get", "id": "i1", "from": from], children: [
                XMLElement("query", namespace: XMPPNamespace.discoItems, attrs: ["node": node])
            ]))
        }

        func execute(from: String, _ node: String) -> XMLElement? {
            answer(adHoc.command(XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "set", "id": "c1", "from": from], children: [
                XMLElement("command", namespace: AdHocDiscoveryTests.commands, attrs: ["node": node, "action": "execute"])
            ])))
        }

        /// Starts `node` and submits its form with `values`; the final answer.
        func submit(from: String, _ node: String, _ values: [(String, String)], extra: [XMLElement] = []) -> XMLElement? {
            guard let sid = execute(from: from, node)?.child("command", namespace: AdHocDiscoveryTests.commands)?[attribute: "sessionid"] else { return nil }
            let x = XMLElement("x", namespace: DataForm.ns, attrs: ["type": "submit"], children: values.map {
                XMLElement("field", namespace: DataForm.ns, attrs: ["var": $0.0], children: [.text("value", namespace: DataForm.ns, $0.1)])
            })
            return answer(adHoc.command(XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "set", "id": "c2", "from": from], children: [
                XMLElement("command", namespace: AdHocDiscoveryTests.commands, attrs: ["node": node, "sessionid": sid, "action": "complete"], children: [x])
            ] + extra)))
        }
    }

    func itemList(_ handling: IQHandling) -> [XMLElement]? {
        guard case .reply(let r) = handling, r.stanzaType == "result" else { return nil }
        return r.child("query", namespace: XMPPNamespace.discoItems)?.elements.filter { $0.name == "item" }
    }

    /// The status and the error note of a command answer that is an iq result; nil for an iq error.
    func errorNote(_ answer: XMLElement?) -> (status: String?, note: String?)? {
        guard let answer, answer.stanzaType == "result", let command = answer.child("command", namespace: Self.commands) else { return nil }
        let note = command.elements.first { $0.name == "note" && $0[attribute: "type"] == "error" }
        return (command[attribute: "status"], note?.text)
    }

    // MARK: Discovery

    @Test func theDevicesOwnItemsListTheCommandsNode() throws {
        let front = try Front(try Rig())
        for who in ["vic@example.org/phone", "bob@ops.example.org/laptop", "alice@example.org/x"] {
            let items = try #require(itemList(front.items(from: who)), "\(who)")
            #expect(items.count == 1)
            #expect(items.first?[attribute: "node"] == Self.commands)
            #expect(items.first?[attribute: "name"] == "Commands")
            #expect(items.first?[attribute: "jid"] == "board@example.org/perch")
        }
    }

    @Test func discoInfoAdvertisesItemsAndTheCommandsNodeIsBrowsable() throws {
        let front = try Front(try Rig())
        let root = front.client.advertised.element(node: nil).elements.compactMap { $0[attribute: "var"] }
        #expect(root.contains(XMPPNamespace.discoItems), "\(root)")
        #expect(root.contains(Self.commands))
        let iq = XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "get", "id": "n1", "from": "bob@ops.example.org/laptop"])
        let list = try #require(front.adHoc.info(Self.commands, iq))
        #expect(list.elements.contains { $0.name == "identity" && $0[attribute: "category"] == "automation" && $0[attribute: "type"] == "command-list" })
        let features = list.elements.compactMap { $0[attribute: "var"] }
        #expect(features.contains(XMPPNamespace.discoItems), "a browser walks into the list")
        #expect(features.contains(Self.commands), "and offers to execute from it")
        let node = try #require(front.adHoc.info("pulse-output", iq))
        #expect(node.elements.contains { $0[attribute: "type"] == "command-node" })
        #expect(Set(node.elements.compactMap { $0[attribute: "var"] }) == [Self.commands, DataForm.ns])
    }

    @Test func aStrangerGetsAnEmptyListWhateverItAsksAndNothingPastTheBudget() throws {
        let front = try Front(try Rig())
        for node in [nil, Self.commands, "status", "no-such-node"] {
            #expect(itemList(front.items(from: "eve@example.net/x", node: node)) == [], "\(node ?? "no node"): empty, not item-not-found")
        }
        for _ in 0..<front.rig.executor.strangers.replyBurst {
            _ = front.items(from: "eve@example.net/x")
        }
        if case .handled = front.items(from: "eve@example.net/x") {} else { Issue.record("answered past the strangers' budget") }
        #expect(!front.rig.audit.lines.contains { $0.contains("command from eve@example.net") })
    }

    // MARK: The pulse form

    @Test func eachOutputShowsItsOwnPulseLimit() throws {
        let front = try Front(try Rig())
        let form = try #require(front.execute(from: "bob@ops.example.org/laptop", "pulse-output")?.child("command", namespace: Self.commands)?.child("x", namespace: DataForm.ns))
        let fields = form.elements.filter { $0.name == "field" }
        let output = try #require(fields.first { $0[attribute: "var"] == "output" })
        let options = output.elements.filter { $0.name == "option" }
        #expect(options.map { $0[attribute: "label"] } == ["pump (at most 5 s)", "fill (at most 60 s)", "drain (at most 60 s)"])
        #expect(options.map { $0.child("value", namespace: DataForm.ns)?.text } == ["pump", "fill", "drain"], "the values stay the names")
        let duration = try #require(fields.first { $0[attribute: "var"] == "duration" })
        let desc = duration.child("desc", namespace: DataForm.ns)?.text ?? ""
        #expect(!desc.contains("at most 60 s"), "no single limit for all outputs: \(desc)")
    }

    // MARK: Refusals a person sees

    @Test func aPulseOverTheOutputsLimitCompletesWithAnErrorNote() throws {
        let front = try Front(try Rig())
        let answer = try #require(errorNote(front.submit(from: "bob@ops.example.org/laptop", "pulse-output", [("output", "pump"), ("duration", "10s")])),
                                  "an iq error: Psi would close the form without a word")
        #expect(answer.status == "completed")
        #expect(answer.note == "Not done: pump: a pulse of 10 s is longer than this output's max_pulse of 5 s", "\(answer.note ?? "no note")")
        #expect(front.rig.scratch.read("pump") == "0")
        #expect(front.rig.audit.lines.contains { $0.contains("via adhoc: pulse pump 10 s → refused (not-allowed)") }, "\(front.rig.audit.lines)")
    }

    @Test func aRateLimitedCommandCompletesWithAnErrorNote() throws {
        let front = try Front(try Rig(rateLimit: 1))
        _ = front.submit(from: "bob@ops.example.org/laptop", "set-output", [("output", "pump"), ("state", "on")])
        let answer = try #require(errorNote(front.submit(from: "bob@ops.example.org/laptop", "set-output", [("output", "pump"), ("state", "off")])))
        #expect(answer.status == "completed")
        #expect(answer.note?.hasPrefix("Not done: too many commands; try again in") == true, "\(answer.note ?? "no note")")
        #expect(front.rig.scratch.read("pump") == "1")
    }

    @Test func anInterlockRefusalCompletesWithAnErrorNote() throws {
        let front = try Front(try Rig())
        _ = front.submit(from: "bob@ops.example.org/laptop", "set-output", [("output", "fill"), ("state", "on")])
        // drain on: fill goes off first, then the group waits (100 ms) before drain comes on.
        let waiting = front.submit(from: "bob@ops.example.org/laptop", "set-output", [("output", "drain"), ("state", "on")])
        #expect(waiting == nil, "no answer until the wait is over")
        let answer = try #require(errorNote(front.submit(from: "bob@ops.example.org/laptop", "set-output", [("output", "fill"), ("state", "on")])))
        #expect(answer.status == "completed")
        #expect(answer.note?.hasPrefix("Not done: interlock valves is switching") == true, "\(answer.note ?? "no note")")
    }

    @Test func tooLowARoleCompletesWithAnErrorNoteAndAnAuditLine() throws {
        let front = try Front(try Rig())
        let answer = try #require(errorNote(front.execute(from: "vic@example.org/phone", "set-output")))
        #expect(answer.status == "completed")
        #expect(answer.note == "Not done: Switch an output needs the operator role; you are a viewer here")
        #expect(front.rig.audit.lines.contains { $0.contains("command from vic@example.org (viewer) via adhoc: Switch an output → refused (forbidden)") }, "\(front.rig.audit.lines)")
    }

    @Test func aValueTheFormDoesNotTakeCompletesWithAnErrorNote() throws {
        let front = try Front(try Rig())
        let answer = try #require(errorNote(front.submit(from: "bob@ops.example.org/laptop", "pulse-output", [("output", "pump"), ("duration", "soon")])))
        #expect(answer.status == "completed")
        #expect(answer.note == "Not done: \"soon\" is not a duration: write it like 500ms, 5s, 1.5s, 2m or 1h")
        #expect(front.rig.scratch.read("pump") == "0")
    }

    @Test func aStaleSubmissionSaysNotDoneOnce() throws {
        let front = try Front(try Rig())
        let stamp = WallClock.iso8601(milliseconds: WallClock.milliseconds() - 3_600_000)
        let delay = XMLElement("delay", namespace: XMPPNamespace.delay, attrs: ["stamp": stamp, "from": "ops.example.org"])
        let answer = try #require(errorNote(front.submit(from: "bob@ops.example.org/laptop", "set-output", [("output", "pump"), ("state", "on")], extra: [delay])))
        #expect(answer.note?.hasPrefix("Not done: this command was sent 60 min ago") == true, "\(answer.note ?? "no note")")
        #expect(front.rig.scratch.read("pump") == "0")
    }

    @Test func aStrangerStillGetsTheSameIQRefusal() throws {
        let front = try Front(try Rig())
        let answer = try #require(front.execute(from: "eve@example.net/x", "set-output"))
        #expect(StanzaError(stanza: answer)?.condition == .forbidden, "no note, no form: the gate's refusal")
        #expect(answer.child("command", namespace: Self.commands) == nil)
    }
}
