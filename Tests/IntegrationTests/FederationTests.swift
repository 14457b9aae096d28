import Foundation
import Testing
import XMPPAddress
import XMPPClient
import XMPPCore

/// The two federated servers scripts/integration/federation starts inside a private namespace.
enum FedIT {
    static var enabled: Bool { IT.env["PERCH_IT_FEDERATION"] == "1" }
    static let prosody = ITServer(name: "Prosody perch.test", domain: "perch.test", port: 15422, directTLSPort: 0, mechanism: "SCRAM-SHA-1")
    static let ejabberd = ITServer(name: "ejabberd other.test", domain: "other.test", port: 15432, directTLSPort: 0, mechanism: "SCRAM-SHA-1")
}

/// Where the board logs in and where its owner does: different domains on different servers.
struct FedRoute: Sendable, CustomTestStringConvertible {
    let board: ITServer
    let owner: ITServer
    var testDescription: String { "board on \(board.name), owner on \(owner.name)" }

    static let all = [FedRoute(board: FedIT.prosody, owner: FedIT.ejabberd), FedRoute(board: FedIT.ejabberd, owner: FedIT.prosody)]
}

/// An owner on another server commands the board: every stanza between them crosses s2s TLS.
@Suite(.serialized, .enabled(if: FedIT.enabled, "set PERCH_IT_FEDERATION=1 (scripts/integration/federation starts two federating servers in a private network namespace; it needs root and unshare)"))
struct FederationTests {
    let ps = "http://jabber.org/protocol/pubsub"
    let readings = "urn:xmpp:perch:readings:0"

    /// - Parameter viaSRV: no host in the configuration: the board finds its server by DNS SRV
    ///   (`_xmpp-client._tcp`, from the namespace's dnsmasq), as one in the field does.
    func fedStart(_ route: FedRoute, viaSRV: Bool = false, telemetry: String = "pubsub = \"pep\"\naccess_model = \"presence\"") throws -> DaemonProcess {
        let d = route.board.domain
        let server = viaSRV ? "" : "host = \"127.0.0.1\"\nport = \(route.board.port)\n"
        let config = """
        [account]
        jid = "perch@\(d)/board"
        password_file = "@DIR@/password"
        [server]
        \(server)ca_file = "\(IT.caFile)"
        [access]
        owners = ["boss@\(route.owner.domain)"]
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
        try #require(daemon.waitFor("online as perch@\(d)/board"), "log:\n\(daemon.log)")
        return daemon
    }

    /// The (name, value) pairs of the numeric and boolean fields anywhere in `e`.
    func fedFields(_ e: XMLElement) -> [(String, String)] {
        var out: [(String, String)] = []
        func walk(_ e: XMLElement) {
            if e.name == "numeric" || e.name == "boolean", let n = e[attribute: "name"], let v = e[attribute: "value"] { out.append((n, v)) }
            for c in e.elements { walk(c) }
        }
        walk(e)
        return out
    }

    @Test(arguments: FedRoute.all)
    func anOwnerOnAnotherServerCommandsTheBoard(_ route: FedRoute) throws {
        let daemon = try fedStart(route, viaSRV: true)
        #expect(daemon.log.contains("candidates: xmpp.\(route.board.domain):\(route.board.port)"), "found by SRV:\n\(daemon.log)")
        let bare = "perch@\(route.board.domain)"
        let board = bare + "/board"
        // The owner's caps ask for the readings node's notifications (XEP-0163 +notify).
        let owner = try Peer(user: "boss", domain: route.owner.domain, port: route.owner.port)
        owner.client.discoInfo.features.append(readings + "+notify")
        try #require(owner.connect(), "boss@\(route.owner.domain) could not log in")

        // Subscription across the servers: the board approves its owner and subscribes back.
        owner.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": bare]))
        let approved = owner.waitFor(timeout: 15_000) { $0.name == "presence" && $0.stanzaType == "subscribed" && $0.from?.bare.description == bare }
        // Nothing else can work when this did not cross: stop here rather than wait out every step.
        try #require(approved != nil, "the board approved the owner over s2s; log:\n\(daemon.log)")
        #expect(owner.waitFor { $0.name == "presence" && $0.stanzaType == "subscribe" && $0.from?.bare.description == bare } != nil, "the board subscribed back")
        owner.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribed", "to": bare]))
        owner.client.setPresence(show: nil, status: nil)
        let online = owner.waitFor { $0.name == "presence" && $0.stanzaType == nil && $0.from?.bare.description == bare && $0.child("status")?.text.contains("tank 12 cm") == true }
        #expect(online != nil, "the board's presence, with its status line, reached the other server")

        // Chat.
        #expect(try owner.say("status", to: board)?.hasPrefix("pump off · door off · tank 12 cm") == true, "log:\n\(daemon.log)")
        #expect(try owner.say("pump on", to: board) == "pump on")
        #expect(daemon.gpioLine("pump") == "1")
        #expect(daemon.log.contains("command from boss@\(route.owner.domain) (owner) via chat: pump on → ok"))

        // Ad-hoc command (XEP-0050), in one stage.
        let commands = "http://jabber.org/protocol/commands"
        let status = try owner.ask(board, XMLElement("command", namespace: commands, attrs: ["node": "status", "action": "execute"]), type: "set")
        let done = try #require(try status?.get().child("command", namespace: commands), "no ad-hoc answer over s2s; log:\n\(daemon.log)")
        #expect(done[attribute: "status"] == "completed")
        #expect(done.child("note", namespace: commands)?.text.hasPrefix("pump on") == true)

        // XEP-0323 momentary readout: accepted, then the fields by message.
        let data = "urn:xmpp:iot:sensordata"
        let accepted = try owner.ask(board, XMLElement("req", namespace: data, attrs: ["id": "fed1", "momentary": "true"]))
        #expect(try accepted?.get().child("accepted", namespace: data)?[attribute: "id"] == "fed1")
        let fields = owner.waitFor { $0.name == "message" && $0.child("fields", namespace: data)?[attribute: "id"] == "fed1" }
        let values = try #require(fields.map(fedFields), "no readout fields over s2s")
        #expect(values.contains { $0 == ("tank", "12") })
        #expect(values.contains { $0 == ("pump", "true") })

        // Pubsub (PEP): the node's items, read across the servers, and a new reading pushed to the owner.
        func items() throws -> [(String, String)] {
            let query = XMLElement("pubsub", namespace: ps, children: [.element(XMLElement("items", namespace: ps, attrs: ["node": readings]))])
            guard case .success(let iq)? = try owner.ask(bare, query) else { return [] }
            return fedFields(iq)
        }
        var found = false
        for _ in 0..<20 where !found {
            found = try items().contains { $0 == ("tank", "12") }
            if !found { owner.idle(250) }
        }
        #expect(found, "the owner reads the PEP node of the board; log:\n\(daemon.log)")
        try "20\n".write(toFile: "\(daemon.dir)/tank", atomically: true, encoding: .utf8)
        let event = owner.waitFor(timeout: 10_000) { m in
            m.name == "message" && m.child("event", namespace: "http://jabber.org/protocol/pubsub#event") != nil && self.fedFields(m).contains { $0 == ("tank", "20") }
        }
        #expect(event != nil, "a PEP notification with the new reading crossed to the owner's server; log:\n\(daemon.log)")

        owner.disconnect()
        #expect(daemon.terminate() == 0)
        #expect(daemon.gpioLine("pump") == "0", "the safe state at shutdown")
    }

    @Test(arguments: FedRoute.all)
    func anOwnerOnAnotherServerFollowsAServiceNode(_ route: FedRoute) throws {
        let service = "pubsub.\(route.board.domain)"
        let node = "testbed/readings"
        let daemon = try fedStart(route, telemetry: "pubsub = \"service\"\nservice = \"\(service)\"\nnode = \"\(node)\"\naccess_model = \"open\"")
        let owner = try Peer.connected("boss", route.owner)
        // The board's own server hosts the node; the owner subscribes from the other one.
        let me = "boss@\(route.owner.domain)/tester"
        let subscribe = XMLElement("pubsub", namespace: ps, children: [.element(XMLElement("subscribe", namespace: ps, attrs: ["node": node, "jid": me]))])
        var subscribed = try owner.ask(service, subscribe, type: "set")
        for _ in 0..<20 {
            if case .success? = subscribed { break }
            owner.idle(250)
            subscribed = try owner.ask(service, subscribe, type: "set")
        }
        try #require(try subscribed?.get() != nil, "subscribed to \(node) on \(service) over s2s; log:\n\(daemon.log)")
        // A sampled reading and an input event both arrive as notifications from the service.
        try "25\n".write(toFile: "\(daemon.dir)/tank", atomically: true, encoding: .utf8)
        let reading = owner.waitFor(timeout: 10_000) { m in
            m.name == "message" && m.from?.description == service && self.fedFields(m).contains { $0 == ("tank", "25") }
        }
        #expect(reading != nil, "the reading crossed to the owner's server; log:\n\(daemon.log)")
        try "1\n".write(toFile: "\(daemon.dir)/gpio/door", atomically: true, encoding: .utf8)
        let event = owner.waitFor(timeout: 10_000) { m in
            m.name == "message" && m.from?.description == service && self.fedFields(m).contains { $0 == ("door", "true") }
        }
        #expect(event != nil, "the door event crossed to the owner's server")
        // The owner sees its subscription by chat, and removes it.
        let board = "perch@\(route.board.domain)/board"
        #expect(try owner.say("subscribers", to: board)?.contains("boss@\(route.owner.domain)") == true)
        #expect(try owner.say("unsubscribe \(me)", to: board)?.contains("no longer receives") == true)
        owner.disconnect()
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: FedRoute.all)
    func aStrangerOnAnotherServerIsRefused(_ route: FedRoute) throws {
        let daemon = try fedStart(route)
        let bare = "perch@\(route.board.domain)"
        let board = bare + "/board"
        let stranger = try Peer.connected("stranger", route.owner)
        // Subscription: refused.
        stranger.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": bare]))
        let refused = stranger.waitFor(timeout: 15_000) { $0.name == "presence" && $0.stanzaType == "unsubscribed" && $0.from?.bare.description == bare }
        try #require(refused != nil, "the board refused the subscription over s2s; log:\n\(daemon.log)")
        // iq: forbidden, for an ad-hoc command and a readout.
        let commands = "http://jabber.org/protocol/commands"
        if case .failure(let e)? = try stranger.ask(board, XMLElement("command", namespace: commands, attrs: ["node": "status", "action": "execute"]), type: "set") {
            #expect(e.condition == .forbidden)
        } else { Issue.record("a stranger on another server ran status") }
        if case .failure(let e)? = try stranger.ask(board, XMLElement("req", namespace: "urn:xmpp:iot:sensordata", attrs: ["id": "s1", "momentary": "true"])) {
            #expect(e.condition == .forbidden)
        } else { Issue.record("a stranger on another server read the sensors") }
        let control = "urn:xmpp:iot:control"
        let set = XMLElement("set", namespace: control, children: [.element(XMLElement("boolean", namespace: control, attrs: ["name": "pump", "value": "true"]))])
        if case .failure(let e)? = try stranger.ask(board, set, type: "set") {
            #expect(e.condition == .forbidden)
        } else { Issue.record("a stranger on another server switched the pump") }
        // The readings node is for presence subscribers: the board's server refuses the stranger.
        let query = XMLElement("pubsub", namespace: ps, children: [.element(XMLElement("items", namespace: ps, attrs: ["node": readings]))])
        switch try stranger.ask(bare, query) {
        // Prosody says forbidden, ejabberd not-authorized (presence-subscription-required); not a
        // missing node, which would prove nothing.
        case .failure(let e)?: #expect(e.condition == .forbidden || e.condition == .notAuthorized, "\(e)")
        case .success(let iq)?: Issue.record("a stranger on another server read the PEP node: \(fedFields(iq))")
        case nil: Issue.record("no answer to the stranger's items query")
        }
        // Chat: one short refusal, and nothing switches.
        #expect(try stranger.say("pump on", to: board)?.contains("only takes commands") == true, "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("pump") == "0")
        stranger.disconnect()
        #expect(daemon.terminate() == 0)
    }
}

/// XEP-0156 in the field's shape: a board with transport = "websocket" or "bosh" and no url finds the
/// endpoint in https://other.test/.well-known/host-meta (ejabberd's mod_host_meta on port 443 in the
/// federation namespace, the name from its DNS) and logs in there; its owner on the other server
/// commands it.
@Suite(.serialized, .enabled(if: FedIT.enabled, "set PERCH_IT_FEDERATION=1 (scripts/integration/federation)"))
struct HostMetaDiscoveryTests {
    @Test(arguments: ["websocket", "bosh"])
    func aBoardWithoutURLFindsItsEndpointInHostMeta(_ transport: String) throws {
        let config = """
        [account]
        jid = "perch@other.test/board"
        password_file = "@DIR@/password"
        [server]
        transport = "\(transport)"
        ca_file = "\(IT.caFile)"
        [access]
        owners = ["boss@perch.test"]
        [device]
        name = "testbed"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        [[output]]
        name = "pump"
        line = "pump"
        """
        let daemon = try DaemonProcess(config: config, password: "perch-secret")
        #expect(daemon.waitFor("online as perch@other.test/board", timeout: 20), "log:\n\(daemon.log)")
        let found = transport == "websocket" ? "wss://other.test:443/ws" : "https://other.test:443/bosh"
        #expect(daemon.log.contains("https://other.test:443/.well-known/host-meta names \(found) for \(transport == "websocket" ? "WebSocket" : "BOSH")"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("connecting to \(found)"), "log:\n\(daemon.log)")
        let owner = try Peer.connected("boss", FedIT.prosody)
        #expect(try owner.say("pump on", to: "perch@other.test/board", timeout: 20_000) == "pump on", "log:\n\(daemon.log)")
        owner.disconnect()
        #expect(daemon.terminate() == 0)
    }
}
