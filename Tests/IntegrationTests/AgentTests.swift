import Foundation
import Testing
import XMPPAddress
import XMPPClient
import XMPPCore

/// The agent end to end: the daemon as its own process on the simulated GPIO chip with a `file`
/// sensor, and clients acting as owner (peer), operator, viewer and stranger, against each server.
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct AgentTests {
    static var servers: [ITServer] { (IT.prosody ? [ITServer.prosody] : []) + (IT.ejabberd ? [ITServer.ejabberd] : []) }

    /// A daemon with outputs pump (max_pulse 2 s), fill and drain (an interlock with a 300 ms wait),
    /// an input door, and a sensor tank read from DIR/tank every second.
    func start(_ server: ITServer, rateLimit: Int = 100, telemetry: String = "", access: String = "") throws -> DaemonProcess {
        let d = server.domain
        let config = """
        [account]
        jid = "perch@\(d)/board"
        password_file = "@DIR@/password"
        [server]
        host = "127.0.0.1"
        port = \(server.port)
        ca_file = "\(IT.caFile)"
        [access]
        owners = ["peer@\(d)"]
        operators = ["operator@\(d)"]
        viewers = ["viewer@\(d)"]
        \(access)
        [commands]
        rate_limit = \(rateLimit)
        [telemetry]
        min_interval = "1s"
        \(telemetry)
        [device]
        name = "testbed"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        [[output]]
        name = "pump"
        line = "pump"
        max_pulse = "2s"
        [[output]]
        name = "fill"
        line = "fill"
        [[output]]
        name = "drain"
        line = "drain"
        [[interlock]]
        name = "valves"
        outputs = ["fill", "drain"]
        wait = "300ms"
        [[input]]
        name = "door"
        line = "door"
        debounce = "0ms"
        [[sensor]]
        name = "tank"
        source = "file"
        path = "@DIR@/tank"
        unit = "cm"
        interval = "1s"
        precision = 0
        """
        let daemon = try DaemonProcess(config: config, password: "perch-secret", setup: { dir in
            try "12\n".write(toFile: "\(dir)/tank", atomically: true, encoding: .utf8)
        })
        #expect(daemon.waitFor("online as perch@\(d)/board"), "log:\n\(daemon.log)")
        return daemon
    }



    @Test(arguments: servers)
    func chatCommandsByRole(_ server: ITServer) throws {
        let daemon = try start(server)
        let board = "perch@\(server.domain)/board"
        let owner = try Peer.connected("peer", server)
        let operator_ = try Peer.connected("operator", server)
        let viewer = try Peer.connected("viewer", server)
        let stranger = try Peer.connected("stranger", server)

        #expect(try owner.say("pump on", to: board) == "pump on", "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("pump") == "1")
        #expect(try owner.say("status", to: board)?.hasPrefix("pump on · fill off · drain off · door off · tank 12 cm") == true)
        #expect(try owner.say("help", to: board)?.contains("pulse <output> <duration>") == true)
        #expect(try owner.say("fly away", to: board) == "unknown command \"fly\"; send help for the list")

        // A viewer reads but does not switch.
        #expect(try viewer.say("read tank", to: board) == "tank: 12 cm")
        #expect(try viewer.say("pump off", to: board)?.contains("needs the operator role") == true)
        #expect(daemon.gpioLine("pump") == "1")

        // A stranger gets one short refusal, then silence, and changes nothing.
        #expect(try stranger.say("pump off", to: board)?.contains("only takes commands") == true)
        #expect(try stranger.say("pump off", to: board, timeout: 1_000) == nil)
        #expect(daemon.gpioLine("pump") == "1")

        // Limits and interlocks hold for an operator.
        #expect(try operator_.say("pulse pump 5s", to: board)?.contains("max_pulse of 2 s") == true)
        #expect(try operator_.say("fill on", to: board) == "fill on")
        #expect(try operator_.say("drain on", to: board) == "drain on (after switching fill off)")
        #expect(daemon.gpioLine("fill") == "0")
        #expect(daemon.gpioLine("drain") == "1")

        // A command delivered late (offline storage) is refused, with the reason.
        let tenMinutesAgo = Date().addingTimeInterval(-600)
        let stamp = ISO8601DateFormatter().string(from: tenMinutesAgo)
        let delay = XMLElement("delay", namespace: XMPPNamespace.delay, attrs: ["stamp": stamp, "from": server.domain])
        #expect(try owner.say("pump off", to: board, extra: delay)?.contains("sent 10 min ago") == true)
        #expect(daemon.gpioLine("pump") == "1")

        // The audit log has one line per command.
        #expect(daemon.log.contains("command from peer@\(server.domain) (owner) via chat: pump on → ok"))
        #expect(daemon.log.contains("command from viewer@\(server.domain) (viewer) via chat: pump off → refused (forbidden)"))
        for p in [owner, operator_, viewer, stranger] { p.disconnect() }
        #expect(daemon.terminate() == 0)
        #expect(daemon.gpioLine("pump") == "0", "the safe state at shutdown")
    }

    @Test(arguments: servers)
    func rateLimitsHold(_ server: ITServer) throws {
        let daemon = try start(server, rateLimit: 3)
        let board = "perch@\(server.domain)/board"
        let operator_ = try Peer.connected("operator", server)
        for _ in 0..<3 { #expect(try operator_.say("pump toggle", to: board)?.hasPrefix("pump ") == true) }
        #expect(try operator_.say("pump toggle", to: board)?.hasPrefix("too many commands") == true)
        operator_.disconnect()
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func iotControlAndReadout(_ server: ITServer) throws {
        let daemon = try start(server)
        let board = "perch@\(server.domain)/board"
        let owner = try Peer.connected("peer", server)
        let stranger = try Peer.connected("stranger", server)
        let control = "urn:xmpp:iot:control"
        let data = "urn:xmpp:iot:sensordata"

        func set(_ p: Peer, _ type: String, _ name: String, _ value: String) throws -> Result<XMLElement, StanzaError>? {
            try p.ask(board, XMLElement("set", namespace: control, children: [.element(XMLElement(type, namespace: control, attrs: ["name": name, "value": value]))]), type: "set")
        }
        let on = try set(owner, "boolean", "pump", "true")
        #expect(try on?.get().child("setResponse", namespace: control) != nil)
        #expect(daemon.gpioLine("pump") == "1")
        if case .failure(let e)? = try set(owner, "boolean", "heater", "true") { #expect(e.condition == .itemNotFound) } else { Issue.record("unknown output accepted") }
        if case .failure(let e)? = try set(owner, "double", "pump", "0.5") { #expect(e.condition == .badRequest) } else { Issue.record("a double accepted") }
        if case .failure(let e)? = try set(owner, "duration", "pump", "PT10S") { #expect(e.condition == .notAllowed) } else { Issue.record("a too-long pulse accepted") }
        if case .failure(let e)? = try set(stranger, "boolean", "pump", "false") { #expect(e.condition == .forbidden) } else { Issue.record("a stranger switched") }
        #expect(daemon.gpioLine("pump") == "1")

        // Momentary readout: accepted, then the fields by message.
        let accepted = try owner.ask(board, XMLElement("req", namespace: data, attrs: ["id": "r1", "momentary": "true"]))
        #expect(try accepted?.get().child("accepted", namespace: data)?[attribute: "id"] == "r1")
        let fields = owner.waitFor { $0.name == "message" && $0.child("fields", namespace: data) != nil }
        let node = try #require(fields?.child("fields", namespace: data)?.child("node", namespace: data))
        let values = node.elements.flatMap(\.elements)
        let tank = values.first { $0[attribute: "name"] == "tank" }
        #expect(tank?.name == "numeric")
        #expect(tank?[attribute: "value"] == "12")
        #expect(tank?[attribute: "unit"] == "cm")
        #expect(values.first { $0[attribute: "name"] == "pump" }?[attribute: "value"] == "true")
        if case .failure(let e)? = try stranger.ask(board, XMLElement("req", namespace: data, attrs: ["id": "r2", "momentary": "true"])) {
            #expect(e.condition == .forbidden)
        } else { Issue.record("a stranger read the sensors") }
        owner.disconnect()
        stranger.disconnect()
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func presenceFollowsTheSensorsForSubscribers(_ server: ITServer) throws {
        let daemon = try start(server)
        let bare = "perch@\(server.domain)"
        let viewer = try Peer.connected("viewer", server)
        let stranger = try Peer.connected("stranger", server)
        // A viewer subscribes: approved, and the device subscribes back.
        viewer.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": bare]))
        #expect(viewer.waitFor { $0.name == "presence" && $0.stanzaType == "subscribed" && $0.from?.bare.description == bare } != nil)
        #expect(viewer.waitFor { $0.name == "presence" && $0.stanzaType == "subscribe" && $0.from?.bare.description == bare } != nil)
        let first = viewer.waitFor { $0.name == "presence" && $0.stanzaType == nil && $0.from?.bare.description == bare && $0.child("status")?.text.contains("tank 12 cm") == true }
        #expect(first != nil, "presence with the status line")
        // The sensor moves: the status follows.
        try "20\n".write(toFile: "\(daemon.dir)/tank", atomically: true, encoding: .utf8)
        let moved = viewer.waitFor(timeout: 8_000) { $0.name == "presence" && $0.from?.bare.description == bare && $0.child("status")?.text.contains("tank 20 cm") == true }
        #expect(moved != nil, "log:\n\(daemon.log)")
        // A stranger's request is refused.
        stranger.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": bare]))
        #expect(stranger.waitFor { $0.name == "presence" && $0.stanzaType == "unsubscribed" && $0.from?.bare.description == bare } != nil)
        viewer.disconnect()
        stranger.disconnect()
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func adHocCommandsListAndRunByRole(_ server: ITServer) throws {
        let daemon = try start(server)
        let board = "perch@\(server.domain)/board"
        let commands = "http://jabber.org/protocol/commands"
        let forms = "jabber:x:data"
        let operator_ = try Peer.connected("operator", server)
        let viewer = try Peer.connected("viewer", server)
        let stranger = try Peer.connected("stranger", server)

        func list(_ p: Peer) throws -> [String] {
            let r = try p.ask(board, XMLElement("query", namespace: XMPPNamespace.discoItems, attrs: ["node": commands]))
            return try r?.get().child("query", namespace: XMPPNamespace.discoItems)?.elements.compactMap { $0[attribute: "node"] } ?? []
        }
        #expect(try list(operator_) == ["status", "read", "set-output", "pulse-output"])
        #expect(try list(viewer) == ["status", "read"])
        #expect(try list(stranger) == [])
        let info = try operator_.ask(board, XMLElement("query", namespace: XMPPNamespace.discoInfo))
        #expect(try info?.get().child("query", namespace: XMPPNamespace.discoInfo)?.elements.contains { $0[attribute: "var"] == commands } == true)

        // Two stages: the form, then the submitted values.
        let first = try operator_.ask(board, XMLElement("command", namespace: commands, attrs: ["node": "set-output", "action": "execute"]), type: "set")
        let form = try #require(try first?.get().child("command", namespace: commands))
        #expect(form[attribute: "status"] == "executing")
        let sid = try #require(form[attribute: "sessionid"])
        let options = form.child("x", namespace: forms)?.elements.first { $0[attribute: "var"] == "output" }?.elements.filter { $0.name == "option" }.count
        #expect(options == 3)
        func submit(_ node: String, _ sid: String, _ values: [String: String]) -> XMLElement {
            var x = XMLElement("x", namespace: forms, attrs: ["type": "submit"])
            for (k, v) in values.sorted(by: { $0.key < $1.key }) {
                x.append(XMLElement("field", namespace: forms, attrs: ["var": k], children: [.text("value", namespace: forms, v)]))
            }
            return XMLElement("command", namespace: commands, attrs: ["node": node, "sessionid": sid, "action": "complete"], children: [x])
        }
        let done = try operator_.ask(board, submit("set-output", sid, ["output": "pump", "state": "on"]), type: "set")
        let completed = try #require(try done?.get().child("command", namespace: commands))
        #expect(completed[attribute: "status"] == "completed")
        #expect(completed.child("note", namespace: commands)?.text == "pump on")
        #expect(daemon.gpioLine("pump") == "1")

        // A pulse over the limit is refused: completed, with an error note that gives the limit.
        let pulse = try operator_.ask(board, XMLElement("command", namespace: commands, attrs: ["node": "pulse-output"]), type: "set")
        let psid = try #require(try pulse?.get().child("command", namespace: commands)?[attribute: "sessionid"])
        let refused = try #require(try operator_.ask(board, submit("pulse-output", psid, ["output": "pump", "duration": "10s"]), type: "set")?.get().child("command", namespace: commands))
        #expect(refused[attribute: "status"] == "completed")
        #expect(refused.child("note", namespace: commands).map { $0[attribute: "type"] == "error" && $0.text.contains("max_pulse of 2 s") } == true)

        // One stage for status; strangers and viewers cannot switch.
        let status = try viewer.ask(board, XMLElement("command", namespace: commands, attrs: ["node": "status", "action": "execute"]), type: "set")
        #expect(try status?.get().child("command", namespace: commands)?.child("note", namespace: commands)?.text.hasPrefix("pump on") == true)
        let viewerSwitch = try #require(try viewer.ask(board, XMLElement("command", namespace: commands, attrs: ["node": "set-output"]), type: "set")?.get().child("command", namespace: commands))
        #expect(viewerSwitch.child("x", namespace: forms) == nil, "a viewer gets no switch form")
        #expect(viewerSwitch.child("note", namespace: commands)?[attribute: "type"] == "error")
        if case .failure(let e)? = try stranger.ask(board, XMLElement("command", namespace: commands, attrs: ["node": "status"]), type: "set") {
            #expect(e.condition == .forbidden)
        } else { Issue.record("a stranger ran status") }
        // A session belongs to whoever started it (a viewer is told the role it lacks, in a note).
        switch try viewer.ask(board, submit("set-output", sid, ["output": "pump", "state": "off"]), type: "set") {
        case .failure(let e)?: #expect(e.condition == .forbidden || e.condition == .badRequest)
        case .success(let r)?: #expect(r.child("command", namespace: commands)?.child("note", namespace: commands)?[attribute: "type"] == "error")
        case nil: Issue.record("no answer")
        }
        #expect(daemon.gpioLine("pump") == "1")
        for p in [operator_, viewer, stranger] { p.disconnect() }
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func ownersBlockAndUnblock(_ server: ITServer) throws {
        let daemon = try start(server)
        let board = "perch@\(server.domain)/board"
        let owner = try Peer.connected("peer", server)
        let viewer = try Peer.connected("viewer", server)
        #expect(try viewer.say("read tank", to: board) == "tank: 12 cm")
        #expect(try owner.say("block viewer@\(server.domain)", to: board)?.hasPrefix("blocked viewer@\(server.domain)") == true)
        #expect(try viewer.say("read tank", to: board, timeout: 1_500) == nil, "a blocked JID gets nothing")
        #expect(try owner.say("unblock viewer@\(server.domain)", to: board) == "unblocked viewer@\(server.domain)")
        owner.idle(300)
        #expect(try viewer.say("read tank", to: board) == "tank: 12 cm")
        #expect(!daemon.log.contains("did not take the block"), "the server accepted XEP-0191: \(daemon.log)")
        owner.disconnect()
        viewer.disconnect()
        #expect(daemon.terminate() == 0)
    }

    /// The items of a pubsub node, as (name, value) pairs of their fields.
    func items(_ p: Peer, at service: String, node: String) throws -> [(String, String)] {
        let query = XMLElement("pubsub", namespace: "http://jabber.org/protocol/pubsub", children: [.element(XMLElement("items", namespace: "http://jabber.org/protocol/pubsub", attrs: ["node": node]))])
        guard case .success(let iq)? = try p.ask(service, query) else { return [] }
        return fieldValues(iq)
    }

    func fieldValues(_ e: XMLElement) -> [(String, String)] {
        var out: [(String, String)] = []
        func walk(_ e: XMLElement) {
            if (e.name == "numeric" || e.name == "boolean"), let n = e[attribute: "name"], let v = e[attribute: "value"] { out.append((n, v)) }
            for c in e.elements { walk(c) }
        }
        walk(e)
        return out
    }

    @Test(arguments: servers)
    func readingsArePublishedToPEP(_ server: ITServer) throws {
        let node = "urn:xmpp:perch:readings:0"
        let daemon = try start(server, telemetry: "pubsub = \"pep\"\naccess_model = \"presence\"")
        let bare = "perch@\(server.domain)"
        // The viewer's caps say it wants notifications from the node (XEP-0163 +notify).
        let viewer = try Peer(user: "viewer", domain: server.domain, port: server.port)
        viewer.client.discoInfo.features.append(node + "+notify")
        #expect(viewer.connect())
        // Presence access: the viewer subscribes (it may be subscribed already from another test).
        viewer.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": bare]))
        viewer.idle(500)
        // Accept the device's subscription back, so our presence (with the caps) reaches its PEP service.
        viewer.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribed", "to": bare]))
        viewer.client.setPresence(show: nil, status: nil)
        var found = false
        for _ in 0..<20 where !found {
            found = try items(viewer, at: bare, node: node).contains { $0 == ("tank", "12") }
            if !found { viewer.idle(250) }
        }
        #expect(found, "the tank reading is on the PEP node; log:\n\(daemon.log)")
        try "20\n".write(toFile: "\(daemon.dir)/tank", atomically: true, encoding: .utf8)
        found = false
        for _ in 0..<30 where !found {
            found = try items(viewer, at: bare, node: node).contains { $0 == ("tank", "20") }
            if !found { viewer.idle(250) }
        }
        #expect(found, "the new reading is published")
        // And it arrived by itself, as a PEP notification.
        let pushed = viewer.waitFor(timeout: 5_000) { m in
            m.name == "message" && m.child("event", namespace: "http://jabber.org/protocol/pubsub#event") != nil && self.fieldValues(m).contains { $0 == ("tank", "20") }
        }
        #expect(pushed != nil, "a PEP notification with the new reading")
        viewer.disconnect()
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func readingsAndEventsReachAServiceNodeSubscriber(_ server: ITServer) throws {
        let service = "pubsub.\(server.domain)"
        let node = "testbed/readings"
        let daemon = try start(server, telemetry: "pubsub = \"service\"\nservice = \"\(service)\"\nnode = \"\(node)\"\naccess_model = \"open\"")
        let board = "perch@\(server.domain)/board"
        #expect(daemon.waitFor("pubsub node \(node)", timeout: 10) || daemon.log.contains("created pubsub node"), "log:\n\(daemon.log)")
        let viewer = try Peer.connected("viewer", server)
        let owner = try Peer.connected("peer", server)
        let ps = "http://jabber.org/protocol/pubsub"
        let subscribe = XMLElement("pubsub", namespace: ps, children: [.element(XMLElement("subscribe", namespace: ps, attrs: ["node": node, "jid": "viewer@\(server.domain)/tester"]))])
        var subscribed = try viewer.ask(service, subscribe, type: "set")
        for _ in 0..<20 {
            if case .success? = subscribed { break }
            viewer.idle(250)
            subscribed = try viewer.ask(service, subscribe, type: "set")
        }
        #expect(try subscribed?.get() != nil, "subscribed to the node; log:\n\(daemon.log)")
        // A sampled reading and an input event both arrive as notifications.
        try "25\n".write(toFile: "\(daemon.dir)/tank", atomically: true, encoding: .utf8)
        let reading = viewer.waitFor(timeout: 8_000) { m in m.name == "message" && self.fieldValues(m).contains { $0 == ("tank", "25") } }
        #expect(reading != nil, "log:\n\(daemon.log)")
        try "1\n".write(toFile: "\(daemon.dir)/gpio/door", atomically: true, encoding: .utf8)
        let event = viewer.waitFor(timeout: 5_000) { m in m.name == "message" && self.fieldValues(m).contains { $0 == ("door", "true") } }
        #expect(event != nil, "the door event")
        // The owner sees and removes the subscription by chat.
        #expect(try owner.say("subscribers", to: board)?.contains("viewer@\(server.domain)") == true)
        #expect(try owner.say("unsubscribe viewer@\(server.domain)/tester", to: board)?.contains("no longer receives") == true)
        viewer.disconnect()
        owner.disconnect()
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func strangersCanBePutToTheOwners(_ server: ITServer) throws {
        let daemon = try start(server, access: "strangers = \"ask-owners\"")
        let board = "perch@\(server.domain)/board"
        let bare = "perch@\(server.domain)"
        let owner = try Peer.connected("peer", server)
        let stranger = try Peer.connected("stranger", server)
        stranger.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": bare]))
        let ask = owner.waitFor { $0.name == "message" && $0.child("body")?.text.contains("stranger@\(server.domain) asks to see testbed") == true }
        #expect(ask != nil, "log:\n\(daemon.log)")
        #expect(try owner.say("allow stranger@\(server.domain)", to: board)?.contains("may now see testbed") == true)
        #expect(stranger.waitFor { $0.name == "presence" && $0.stanzaType == "subscribed" && $0.from?.bare.description == bare } != nil)
        // As a viewer now, the former stranger may read.
        #expect(try stranger.say("read tank", to: board) == "tank: 12 cm")
        #expect(try owner.say("allow stranger@\(server.domain)", to: board) == "stranger@\(server.domain) has not asked to subscribe")
        // Leave the accounts as they were: the other tests count on a stranger without a subscription.
        stranger.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribe", "to": bare]))
        stranger.idle(300)
        owner.disconnect()
        stranger.disconnect()
        #expect(daemon.terminate() == 0)
    }
}
