import Foundation
import Testing
import XMPPAddress
import XMPPClient
import XMPPCore

/// Access under attack, through each server: subscriptions taken back when a JID loses its role,
/// floods from strangers kept cheap and quiet, and no device answering its own (or another Perch's)
/// messages.
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct HostileAccessTests {
    static var servers: [ITServer] { (IT.prosody ? [ITServer.prosody] : []) + (IT.ejabberd ? [ITServer.ejabberd] : []) }

    /// A daemon with one output and a tank sensor read from DIR/tank every second.
    func haConfig(_ server: ITServer, resource: String = "board", owners: String? = nil, viewers: String? = nil, access: String = "") -> String {
        let d = server.domain
        return """
        [account]
        jid = "perch@\(d)/\(resource)"
        password_file = "@DIR@/password"
        [server]
        host = "127.0.0.1"
        port = \(server.port)
        ca_file = "\(IT.caFile)"
        [access]
        owners = \(owners ?? "[\"peer@\(d)\"]")
        viewers = \(viewers ?? "[\"viewer@\(d)\"]")
        \(access)
        [telemetry]
        min_interval = "1s"
        [device]
        name = "testbed"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        [[output]]
        name = "pump"
        line = "pump"
        [[sensor]]
        name = "tank"
        source = "file"
        path = "@DIR@/tank"
        unit = "cm"
        interval = "1s"
        precision = 0
        """
    }

    func haStart(_ server: ITServer, _ config: String, resource: String = "board") throws -> DaemonProcess {
        let daemon = try DaemonProcess(config: config, password: "perch-secret", setup: { dir in
            try "12\n".write(toFile: "\(dir)/tank", atomically: true, encoding: .utf8)
        })
        #expect(daemon.waitFor("online as perch@\(server.domain)/\(resource)"), "log:\n\(daemon.log)")
        return daemon
    }


    func haPresence(_ type: String, to: String) -> XMLElement {
        XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": type, "to": to])
    }

    func haFrom(_ e: XMLElement, _ bare: String) -> Bool { e.from?.bare.description == bare }

    /// The peer subscribes to the device and accepts the device's subscription back: both ways.
    /// Other tests may have left a subscription: it is cancelled both ways first, so that the device
    /// (not the server, on its behalf or not) answers the request.
    func haSubscribeBothWays(_ p: Peer, _ bare: String) {
        p.send(haPresence("unsubscribe", to: bare))
        p.send(haPresence("unsubscribed", to: bare))
        p.idle(500)
        p.received = []
        p.send(haPresence("subscribe", to: bare))
        #expect(p.waitFor { $0.name == "presence" && $0.stanzaType == "subscribed" && self.haFrom($0, bare) } != nil, "the device approved")
        // The device subscribes back unless it is already subscribed.
        _ = p.waitFor(timeout: 2_000) { $0.name == "presence" && $0.stanzaType == "subscribe" && self.haFrom($0, bare) }
        p.send(haPresence("subscribed", to: bare))
        p.idle(300)
    }

    /// Restarts the daemon on its directory with a new configuration.
    func haRestart(_ daemon: DaemonProcess, _ config: String, _ server: ITServer, resource: String = "board") throws {
        #expect(daemon.terminate() == 0)
        try config.replacingOccurrences(of: "@DIR@", with: daemon.dir).write(toFile: "\(daemon.dir)/perch.toml", atomically: true, encoding: .utf8)
        try daemon.restart()
        #expect(daemon.waitFor("online as perch@\(server.domain)/\(resource)", count: 2), "log:\n\(daemon.log)")
    }

    // MARK: Access is taken back

    /// A viewer subscribed both ways while in the configuration; the daemon restarts without it: the
    /// viewer gets `unsubscribed` (and `unsubscribe`) and no presence updates after that.
    @Test(arguments: servers)
    func aViewerRemovedFromTheConfigLosesThePresence(_ server: ITServer) throws {
        let d = server.domain
        let bare = "perch@\(d)"
        let daemon = try haStart(server, haConfig(server))
        let viewer = try Peer.connected("viewer", server)
        haSubscribeBothWays(viewer, bare)
        #expect(viewer.waitFor { $0.name == "presence" && $0.stanzaType == nil && self.haFrom($0, bare) && $0.child("status")?.text.contains("tank 12 cm") == true } != nil)

        viewer.received = []
        try haRestart(daemon, haConfig(server, viewers: "[]"), server)
        let gone = viewer.waitFor { $0.name == "presence" && $0.stanzaType == "unsubscribed" && self.haFrom($0, bare) }
        #expect(gone != nil, "log:\n\(daemon.log)")
        #expect(viewer.waitFor(timeout: 3_000) { $0.name == "presence" && $0.stanzaType == "unsubscribe" && self.haFrom($0, bare) } != nil)
        #expect(daemon.waitFor("took back the presence subscription of viewer@\(d): it has no role here"), "log:\n\(daemon.log)")
        // No more presence from the device: the status changes, nothing arrives.
        viewer.idle(500)
        let seen = viewer.received.count
        try "30\n".write(toFile: "\(daemon.dir)/tank", atomically: true, encoding: .utf8)
        viewer.idle(4_000)
        let after = viewer.received[seen...].filter { $0.name == "presence" && self.haFrom($0, bare) && $0.stanzaType == nil }
        #expect(after.isEmpty, "\(after.map { $0.child("status")?.text ?? "" })")
        viewer.disconnect()
        #expect(daemon.terminate() == 0)
    }

    /// An owner's `block`: the subscription goes at once (before the block takes effect on the server).
    @Test(arguments: servers)
    func blockTakesTheSubscriptionBackAtOnce(_ server: ITServer) throws {
        let d = server.domain
        let bare = "perch@\(d)"
        let board = "\(bare)/board"
        let daemon = try haStart(server, haConfig(server))
        let viewer = try Peer.connected("viewer", server)
        let owner = try Peer.connected("peer", server)
        haSubscribeBothWays(viewer, bare)
        viewer.received = []
        #expect(try owner.say("block viewer@\(d)", to: board)?.hasPrefix("blocked viewer@\(d)") == true)
        let gone = viewer.waitFor(timeout: 3_000) { $0.name == "presence" && $0.stanzaType == "unsubscribed" && self.haFrom($0, bare) }
        #expect(gone != nil, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("took back the presence subscription of viewer@\(d): it is blocked"))
        // Leave the server's blocklist as it was.
        #expect(try owner.say("unblock viewer@\(d)", to: board) == "unblocked viewer@\(d)")
        owner.disconnect()
        viewer.disconnect()
        #expect(daemon.terminate() == 0)
    }

    /// `allow` lasts: the guest is still a viewer after a restart (kept in state_dir), and an owner's
    /// `deny` takes it back.
    @Test(arguments: servers)
    func anAllowedGuestSurvivesARestart(_ server: ITServer) throws {
        let d = server.domain
        let bare = "perch@\(d)"
        let board = "\(bare)/board"
        let config = haConfig(server, access: "strangers = \"ask-owners\"")
        let daemon = try haStart(server, config)
        let owner = try Peer.connected("peer", server)
        let guest = try Peer.connected("stranger", server)
        guest.send(haPresence("subscribe", to: bare))
        #expect(owner.waitFor { $0.name == "message" && $0.child("body")?.text.contains("stranger@\(d) asks to see testbed") == true } != nil, "log:\n\(daemon.log)")
        #expect(try owner.say("allow stranger@\(d)", to: board)?.contains("may now see testbed") == true)
        #expect(guest.waitFor { $0.name == "presence" && $0.stanzaType == "subscribed" && self.haFrom($0, bare) } != nil)
        guest.send(haPresence("subscribed", to: bare))
        guest.idle(300)

        owner.disconnect()
        guest.received = []
        try haRestart(daemon, config, server)
        let owner2 = try Peer.connected("peer", server)
        #expect(try guest.say("read tank", to: board) == "tank: 12 cm", "log:\n\(daemon.log)")
        #expect(!guest.received.contains { $0.name == "presence" && $0.stanzaType == "unsubscribed" }, "kept its subscription")
        #expect(!daemon.log.contains("took back the presence subscription of stranger@"))
        // deny takes it back, and the account is left without a subscription for the other tests.
        #expect(try owner2.say("deny stranger@\(d)", to: board) == "stranger@\(d) may no longer see testbed")
        #expect(guest.waitFor { $0.name == "presence" && $0.stanzaType == "unsubscribed" && self.haFrom($0, bare) } != nil)
        #expect(try guest.say("read tank", to: board)?.contains("only takes commands") == true)
        guest.send(haPresence("unsubscribe", to: bare))
        guest.idle(300)
        owner2.disconnect()
        guest.disconnect()
        #expect(daemon.terminate() == 0)
    }

    // MARK: Floods from strangers

    /// 2,000 subscription requests and 2,000 chat messages from a stranger: a handful of log lines,
    /// replies within the budget, and the owner is still answered at once.
    @Test(arguments: servers)
    func aStrangerFloodIsQuietAndCheap(_ server: ITServer) throws {
        let d = server.domain
        let bare = "perch@\(d)"
        let board = "\(bare)/board"
        let daemon = try haStart(server, haConfig(server))
        let owner = try Peer.connected("peer", server)
        let stranger = try Peer.connected("stranger", server)
        let start = Date()
        for i in 0..<2_000 {
            stranger.send(haPresence("subscribe", to: bare))
            stranger.send(Stanza.message(to: try JID(board), body: "pump on \(i)", id: "f\(i)"))
            if i % 200 == 199 { stranger.idle(10) }
        }
        stranger.idle(1_000)
        let asked = Date()
        #expect(try owner.say("status", to: board, timeout: 10_000)?.hasPrefix("pump off") == true, "log:\n\(daemon.log.suffix(3000))")
        #expect(Date().timeIntervalSince(asked) < 8, "answered promptly")
        stranger.idle(2_000)
        let fromDevice = stranger.received.filter { haFrom($0, bare) && ($0.name == "message" || $0.stanzaType == "unsubscribed") }
        // 10 at once, then 30 a minute.
        let budget = 10 + Int(Date().timeIntervalSince(start) / 2) + 1
        #expect(fromDevice.count <= budget, "\(fromDevice.count) replies in \(Int(Date().timeIntervalSince(start))) s")
        #expect(fromDevice.filter { $0.name == "message" }.count == 1, "one telling-off")
        let lines = daemon.log.split(separator: "\n").filter { $0.contains("stranger@\(d)") }
        #expect(lines.count <= 5, "\(lines.count) lines:\n\(lines.prefix(10).joined(separator: "\n"))")
        #expect(daemon.log.contains("refused a "), "the first refusal is logged")
        #expect(daemon.log.split(separator: "\n").count < 200, "the log stays short")
        #expect(daemon.terminate() == 0)
        // Leave no pending subscription behind.
        stranger.send(haPresence("unsubscribe", to: bare))
        stranger.idle(300)
        owner.disconnect()
        stranger.disconnect()
    }

    /// ask-owners: one stranger asks 300 times; the owners get one ask.
    @Test(arguments: servers)
    func repeatedAsksReachTheOwnersOnce(_ server: ITServer) throws {
        let d = server.domain
        let bare = "perch@\(d)"
        let daemon = try haStart(server, haConfig(server, access: "strangers = \"ask-owners\""))
        let owner = try Peer.connected("peer", server)
        let stranger = try Peer.connected("stranger", server)
        for _ in 0..<300 { stranger.send(haPresence("subscribe", to: bare)) }
        stranger.idle(500)
        #expect(owner.waitFor { $0.name == "message" && $0.child("body")?.text.contains("asks to see testbed") == true } != nil, "log:\n\(daemon.log)")
        owner.idle(2_000)
        let asks = owner.received.filter { $0.name == "message" && self.haFrom($0, bare) }
        #expect(asks.count == 1, "\(asks.map { $0.child("body")?.text ?? "" })")
        #expect(asks.first?.child("perch", namespace: "urn:perch:reply") != nil, "marked as Perch's")
        #expect(daemon.log.split(separator: "\n").filter { $0.contains("stranger@\(d)") }.count <= 3, "log:\n\(daemon.log)")
        stranger.send(haPresence("unsubscribe", to: bare))
        stranger.idle(300)
        owner.disconnect()
        stranger.disconnect()
        #expect(daemon.terminate() == 0)
    }

    // MARK: No ping-pong

    /// Another Perch on the device's account, standing in as a client that answers every message it
    /// gets from the device with a Perch reply: the device does not answer back, and a `normal`
    /// message from the account is not a command; a person chatting from the account is an owner.
    @Test(arguments: servers)
    func theDeviceDoesNotAnswerAnotherPerchOnItsAccount(_ server: ITServer) throws {
        let d = server.domain
        let board = "perch@\(d)/board"
        let daemon = try haStart(server, haConfig(server))
        let twin = try Peer.connected("perch", server)
        var fromDevice = 0
        twin.client.onStanza = { [unowned twin] m in
            twin.received.append(m)
            guard m.name == "message", m.from?.description == board, m.child("body") != nil else { return }
            fromDevice += 1
            var answer = Stanza.message(to: try! JID(board), body: "unknown command \"x\"; send help for the list", id: twin.client.makeID("t"))
            answer.append(XMLElement("perch", namespace: "urn:perch:reply"))
            twin.send(answer)
        }
        var start = Stanza.message(to: try JID(board), body: "unknown command \"x\"; send help for the list", id: "t0")
        start.append(XMLElement("perch", namespace: "urn:perch:reply"))
        twin.send(start)
        twin.send(Stanza.message(to: try JID(board), body: "status", type: "normal", id: "t1"))
        twin.idle(3_000)
        #expect(fromDevice == 0, "the device answered \(fromDevice) Perch replies or normal messages")
        // A person on the account, chatting: answered, and the answer is marked.
        twin.send(Stanza.message(to: try JID(board), body: "status", id: "t2"))
        twin.idle(3_000)
        let answers = twin.received.filter { $0.name == "message" && $0.from?.description == board && $0.child("body") != nil }
        #expect(answers.count == 1, "\(answers.map { $0.child("body")?.text ?? "" })")
        #expect(answers.first?.child("body")?.text.hasPrefix("pump off") == true)
        #expect(answers.first?.child("perch", namespace: "urn:perch:reply") != nil)
        #expect(fromDevice == 1, "the twin's answer to the status was not answered")
        twin.disconnect()
        #expect(daemon.terminate() == 0)
    }

    /// Two daemons on one account (resources board and board2), each an owner of the other through
    /// the account: a stranger's request makes both ask the owners, the account's bare JID included;
    /// each gets the other's ask and lets it be, instead of answering it back and forth.
    @Test(arguments: servers)
    func twoDevicesOnOneAccountDoNotPingPong(_ server: ITServer) throws {
        let d = server.domain
        let bare = "perch@\(d)"
        let owners = "[\"peer@\(d)\", \"perch@\(d)\"]"
        let a = try haStart(server, haConfig(server, owners: owners, access: "strangers = \"ask-owners\""))
        let b = try haStart(server, haConfig(server, resource: "board2", owners: owners, access: "strangers = \"ask-owners\""), resource: "board2")
        let owner = try Peer.connected("peer", server)
        let stranger = try Peer.connected("stranger", server)
        stranger.send(haPresence("subscribe", to: bare))
        #expect(owner.waitFor { $0.name == "message" && $0.child("body")?.text.contains("asks to see testbed") == true } != nil, "log:\n\(a.log)")
        owner.idle(4_000)
        #expect(b.log.contains("ignored a message from \"perch@\(d)/board\": a Perch reply") || b.log.contains("ignored a message from \"perch@\(d)/board\": sent by"), "log B:\n\(b.log)")
        #expect(a.log.contains("ignored a message from \"perch@\(d)/board2\": a Perch reply"), "log A:\n\(a.log)")
        for log in [a.log, b.log] {
            let ignored = log.split(separator: "\n").filter { $0.contains("ignored a message from") }.count
            #expect(ignored <= 4, "\(ignored) messages between the devices")
        }
        // Both still answer the owner.
        #expect(try owner.say("status", to: "\(bare)/board")?.hasPrefix("pump off") == true)
        #expect(try owner.say("status", to: "\(bare)/board2")?.hasPrefix("pump off") == true)
        stranger.send(haPresence("unsubscribe", to: bare))
        stranger.idle(300)
        owner.disconnect()
        stranger.disconnect()
        #expect(a.terminate() == 0)
        #expect(b.terminate() == 0)
    }

    // MARK: What held up

    /// Through the server: a `from` forged as the owner's, an owner's command forwarded inside a forged
    /// carbon or a plain <forwarded/>, groupchat and headline messages from the owner, a body in a
    /// foreign namespace: the pump stays off and nothing but the stranger's one telling-off comes back.
    @Test(arguments: servers)
    func forgedAndWrappedCommandsChangeNothing(_ server: ITServer) throws {
        let d = server.domain
        let board = "perch@\(d)/board"
        let daemon = try haStart(server, haConfig(server))
        let owner = try Peer.connected("peer", server)
        let stranger = try Peer.connected("stranger", server)
        func message(_ from: String?, _ type: String, _ body: String?, _ extra: [XMLElement] = []) -> XMLElement {
            var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": board, "type": type, "from": from, "id": stranger.client.makeID("h")])
            if let body { m.append(.text("body", namespace: XMPPNamespace.client, body)) }
            for e in extra { m.append(e) }
            return m
        }
        let inner = message("peer@\(d)/tester", "chat", "pump on")
        let forwarded = XMLElement("forwarded", namespace: "urn:xmpp:forward:0", attrs: [:], children: [inner])
        stranger.send(message("peer@\(d)/tester", "chat", "pump on"))
        stranger.send(message(nil, "chat", nil, [XMLElement("received", namespace: "urn:xmpp:carbons:2", attrs: [:], children: [forwarded])]))
        stranger.send(message(nil, "chat", nil, [XMLElement("sent", namespace: "urn:xmpp:carbons:2", attrs: [:], children: [forwarded])]))
        stranger.send(message(nil, "chat", nil, [forwarded]))
        for type in ["groupchat", "headline"] { owner.send(message(nil, type, "pump on")) }
        owner.send(message(nil, "chat", nil, [XMLElement.text("body", namespace: "urn:example:other", "pump on")]))
        owner.idle(2_000)
        stranger.idle(500)
        let pump = daemon.gpioLine("pump")
        #expect(pump == "0", "log:\n\(daemon.log)")
        #expect(!owner.received.contains { $0.name == "message" && $0.from?.description == board && $0.stanzaType != "error" }, "the owner's wrapped commands got no answer")
        let toStranger = stranger.received.filter { $0.name == "message" && $0.from?.description == board }
        #expect(toStranger.count <= 1, "\(toStranger.map { $0.child("body")?.text ?? "" })")
        #expect(!daemon.log.contains("command from"), "no command ran:\n\(daemon.log)")
        // The owner's plain command still works.
        #expect(try owner.say("status", to: board)?.hasPrefix("pump off") == true)
        owner.disconnect()
        stranger.disconnect()
        #expect(daemon.terminate() == 0)
    }
}
