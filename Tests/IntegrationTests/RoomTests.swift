import Foundation
import Testing
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore

/// The device in group chat rooms (XEP-0045) on each server's MUC service (conference.perch.test):
/// the daemons run as board1 and board2 (not server admins, so they see what any occupant sees), the
/// owner is peer, in the room as "owner".
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct RoomTests {
    static var servers: [ITServer] { (IT.prosody ? [ITServer.prosody] : []) + (IT.ejabberd ? [ITServer.ejabberd] : []) }

    /// A fresh room name, so tests never meet each other's rooms.
    static func room(_ server: ITServer, _ label: String) -> String {
        "\(label)-\(UUID().uuidString.prefix(8).lowercased())@conference.\(server.domain)"
    }

    /// A daemon for `account` (board1, board2) with an output pump and `rooms` as [[room]] tables.
    static func board(_ server: ITServer, _ account: String, rooms: [(jid: String, nick: String?)] = [], port: Int? = nil, extra: String = "") throws -> DaemonProcess {
        let d = server.domain
        var roomTables = ""
        for r in rooms {
            roomTables += "[[room]]\njid = \"\(r.jid)\"\n" + (r.nick.map { "nick = \"\($0)\"\n" } ?? "")
        }
        let config = """
        [account]
        jid = "\(account)@\(d)/board"
        password_file = "@DIR@/password"
        [server]
        host = "127.0.0.1"
        port = \(port ?? server.port)
        ca_file = "\(IT.caFile)"
        [access]
        owners = ["peer@\(d)"]
        operators = ["operator@\(d)"]
        [telemetry]
        min_interval = "1s"
        [device]
        name = "\(account)"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        [[output]]
        name = "pump"
        line = "pump"
        min_switch_interval = "0ms"
        \(extra)
        \(roomTables)
        """
        let daemon = try DaemonProcess(config: config, password: "\(account)-secret")
        #expect(daemon.waitFor("online as \(account)@\(d)/board"), "log:\n\(daemon.log)")
        return daemon
    }

    @Test(arguments: servers)
    func addressedBroadcastAndUnaddressedLines(_ server: ITServer) throws {
        let room = Self.room(server, "fleet")
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        try owner.createRoom(room, nick: "owner", whois: "anyone")
        let daemon = try Self.board(server, "board1", rooms: [(room, nil)])
        #expect(daemon.waitFor("joined the room \(room) as board1"), "log:\n\(daemon.log)")
        // The device's presence in the room carries its status line.
        let presence = owner.waitFor { $0.name == "presence" && $0.from?.description == "\(room)/board1" && $0.child("status") != nil }
        #expect(presence?.child("status")?.text.contains("pump off") == true, "\(String(describing: presence))")

        try owner.expectReply(in: room, "board1: pump on", expectFrom: "board1", "owner: pump on")
        #expect(daemon.gpioLine("pump") == "1")
        try owner.expectReply(in: room, "@BOARD1 pump off", expectFrom: "board1", "owner: pump off")
        #expect(daemon.gpioLine("pump") == "0")
        try owner.expectReply(in: room, "board1, status", expectFrom: "board1", startingWith: "owner: pump off")
        try owner.expectReply(in: room, "all: pump on", expectFrom: "board1", "owner: pump on")
        try owner.expectReply(in: room, "@all pump off", expectFrom: "board1", "owner: pump off")
        // Chatter, and lines for other nicks, get no answer and change nothing.
        for line in ["pump on", "board2: pump on", "board1 pump on", "hello board1: pump on"] {
            try owner.expectReply(in: room, line, expectFrom: "board1", timeout: 1_500, nil)
        }
        #expect(daemon.gpioLine("pump") == "0")
        try owner.expectReply(in: room, "board1: fly", expectFrom: "board1", startingWith: "owner: unknown command")
        #expect(daemon.log.contains("via room \(room): pump on"), "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
        // Leaving at shutdown: the room sees the device go.
        #expect(owner.waitFor { $0.name == "presence" && $0.from?.description == "\(room)/board1" && $0.stanzaType == "unavailable" } != nil)
    }

    @Test(arguments: servers)
    func historyAndDelayedLinesNeverRun(_ server: ITServer) throws {
        let room = Self.room(server, "history")
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        try owner.createRoom(room, nick: "owner", whois: "anyone")
        // Said before the device came: in the room's history.
        _ = try owner.sayInRoom(room, "board1: pump on", expectFrom: "nobody", timeout: 300)
        _ = try owner.sayInRoom(room, "all: pump on", expectFrom: "nobody", timeout: 300)
        let daemon = try Self.board(server, "board1", rooms: [(room, nil)])
        #expect(daemon.waitFor("joined the room \(room) as board1"), "log:\n\(daemon.log)")
        owner.idle(3_000)
        #expect(daemon.gpioLine("pump") != "1", "log:\n\(daemon.log)")
        // A line that reaches the room's occupants stamped with a delay is not live. (Prosody strips a
        // delay its sender added: there the line is live, and runs.)
        let delay = XMLElement("delay", namespace: "urn:xmpp:delay", attrs: ["stamp": "2026-01-01T00:00:00Z", "from": room])
        let seen = owner.received.count
        let delayedReply = try owner.sayInRoom(room, "board1: pump on", extra: delay, expectFrom: "board1", timeout: 2_000)
        let reflected = owner.received[seen...].first { $0.name == "message" && $0.from?.description == "\(room)/owner" }
        if reflected?.child("delay", namespace: "urn:xmpp:delay") != nil {
            #expect(delayedReply == nil, "log:\n\(daemon.log)")
            #expect(daemon.gpioLine("pump") != "1")
        } else {
            #expect(server.name == "Prosody", "\(server.name) delivered the line without its delay: \(String(describing: reflected))")
            _ = try owner.sayInRoom(room, "board1: pump off", expectFrom: "board1")
        }
        try owner.expectReply(in: room, "board1: pump on", expectFrom: "board1", "owner: pump on")
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func strangersAndHiddenJIDsGetOneRefusal(_ server: ITServer) throws {
        let open = Self.room(server, "open")
        let hidden = Self.room(server, "hidden")
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        try owner.createRoom(open, nick: "owner", whois: "anyone")
        try owner.createRoom(hidden, nick: "owner", whois: "moderators")
        let stranger = try Peer.connected("stranger", server)
        defer { stranger.disconnect() }
        try stranger.joinRoom(open, nick: "mallory")
        let daemon = try Self.board(server, "board1", rooms: [(open, nil), (hidden, nil)])
        #expect(daemon.waitFor("joined the room \(open) as board1"), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("joined the room \(hidden) as board1"), "log:\n\(daemon.log)")
        owner.idle(500)

        // A stranger: one short refusal, then silence; nothing switches.
        try stranger.expectReply(in: open, "board1: pump on", expectFrom: "board1", "mallory: I take commands only from the people my owner allows.")
        try stranger.expectReply(in: open, "board1: pump on", expectFrom: "board1", timeout: 1_500, nil)
        try stranger.expectReply(in: open, "all: pump on", expectFrom: "board1", timeout: 1_500, nil)
        #expect(daemon.gpioLine("pump") != "1")
        // The owner in the same room is known by the real JID the room shows.
        try owner.expectReply(in: open, "board1: status", expectFrom: "board1", startingWith: "owner: pump off")

        // A semi-anonymous room hides the owner's JID from the device: one refusal saying why.
        let why = try owner.sayInRoom(hidden, "board1: pump on", expectFrom: "board1")
        #expect(why?.hasPrefix("owner: I take commands only from people I can identify") == true, "\(String(describing: why))")
        try owner.expectReply(in: hidden, "board1: pump on", expectFrom: "board1", timeout: 1_500, nil)
        #expect(daemon.gpioLine("pump") != "1")
        // A private message through the hidden room: the sender is a stranger to the device.
        let pm = try owner.say("pump on", to: "\(hidden)/board1")
        #expect(pm?.contains("only takes commands from the people its owner allows") == true, "\(String(describing: pm))")
        // Through the open room, the real JID decides: the owner may.
        #expect(try owner.say("pump on", to: "\(open)/board1") == "pump on")
        #expect(daemon.gpioLine("pump") == "1")
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func aTakenNickGetsASuffix(_ server: ITServer) throws {
        let room = Self.room(server, "nicks")
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        try owner.createRoom(room, nick: "owner", whois: "anyone")
        let squatter = try Peer.connected("operator", server)
        defer { squatter.disconnect() }
        try squatter.joinRoom(room, nick: "board1")
        let daemon = try Self.board(server, "board1", rooms: [(room, nil)])
        #expect(daemon.waitFor("joined the room \(room) as board1-2"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("the nick board1 is taken in \(room); trying board1-2"), "log:\n\(daemon.log)")
        try owner.expectReply(in: room, "board1-2: pump on", expectFrom: "board1-2", "owner: pump on")
        try owner.expectReply(in: room, "board1: pump off", expectFrom: "board1-2", timeout: 1_500, nil)
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func ownersInvitationsAreJoinedAndRemembered(_ server: ITServer) throws {
        let direct = Self.room(server, "direct")
        let mediated = Self.room(server, "mediated")
        let other = Self.room(server, "other")
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        let stranger = try Peer.connected("stranger", server)
        defer { stranger.disconnect() }
        for r in [direct, mediated] { try owner.createRoom(r, nick: "owner", whois: "anyone") }
        try stranger.createRoom(other, nick: "mallory", whois: "anyone")
        let daemon = try Self.board(server, "board1")
        let device = "board1@\(server.domain)"

        stranger.send(RoomPeer.directInvitation(to: device, room: other))
        #expect(daemon.waitFor("ignored a direct invitation to \(other) from stranger@\(server.domain)"), "log:\n\(daemon.log)")
        owner.send(RoomPeer.directInvitation(to: device, room: direct))
        #expect(daemon.waitFor("joined the room \(direct) as board1"), "log:\n\(daemon.log)")
        owner.send(RoomPeer.mediatedInvitation(to: device, room: mediated))
        #expect(daemon.waitFor("joined the room \(mediated) as board1"), "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("joined the room \(other)"))
        try owner.expectReply(in: direct, "board1: pump on", expectFrom: "board1", "owner: pump on")

        let list = try owner.say("rooms", to: "\(device)/board")
        #expect(list?.contains("\(direct): joined as board1") == true, "\(String(describing: list))")
        #expect(list?.contains("\(mediated): joined as board1") == true, "\(String(describing: list))")
        // Remembered across a restart.
        #expect(daemon.terminate() == 0)
        try daemon.restart()
        #expect(daemon.waitFor("joined the room \(direct) as board1", count: 2), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("joined the room \(mediated) as board1", count: 2), "log:\n\(daemon.log)")
        #expect(try owner.say("leave \(direct)", to: "\(device)/board") == "left \(direct), and forgot it")
        #expect(owner.waitFor { $0.name == "presence" && $0.from?.description == "\(direct)/board1" && $0.stanzaType == "unavailable" } != nil)
        let remembered = (try? String(contentsOfFile: "\(daemon.dir)/state/rooms", encoding: .utf8)) ?? ""
        #expect(!remembered.contains(direct) && remembered.contains(mediated), "\(remembered)")
        // join ROOM from chat.
        let joined = try owner.say("join \(other) spare", to: "\(device)/board")
        #expect(joined == "joining \(other) as spare; it stays joined across restarts until leave \(other)")
        #expect(daemon.waitFor("joined the room \(other) as spare"), "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func kickedRejoinsBannedAndDestroyedStop(_ server: ITServer) throws {
        let room = Self.room(server, "kick")
        let doomed = Self.room(server, "doomed")
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        try owner.createRoom(room, nick: "owner", whois: "anyone")
        try owner.createRoom(doomed, nick: "owner", whois: "anyone")
        let daemon = try Self.board(server, "board1", rooms: [(room, nil), (doomed, nil)])
        #expect(daemon.waitFor("joined the room \(room) as board1"), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("joined the room \(doomed) as board1"), "log:\n\(daemon.log)")

        #expect(try owner.admin(room, item: ["nick": "board1", "role": "none"], reason: "cleaning up") != nil)
        #expect(daemon.waitFor("was kicked from the room \(room) (\"cleaning up\"); joining again in 15 s"), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("joined the room \(room) as board1", count: 2, timeout: 30), "log:\n\(daemon.log)")
        #expect(try owner.sayInRoom(room, "board1: status", expectFrom: "board1") != nil)

        #expect(try owner.admin(room, item: ["jid": "board1@\(server.domain)", "affiliation": "outcast"], reason: "enough") != nil)
        #expect(daemon.waitFor("banned from the room \(room)"), "log:\n\(daemon.log)")

        #expect(try owner.destroy(doomed, reason: "moving on") != nil)
        #expect(daemon.waitFor("the room \(doomed) was destroyed (\"moving on\")"), "log:\n\(daemon.log)")
        owner.idle(16_000)
        #expect(!daemon.waitFor("joined the room \(room) as board1", count: 3, timeout: 0.1), "log:\n\(daemon.log)")
        #expect(!daemon.waitFor("joined the room \(doomed) as board1", count: 2, timeout: 0.1), "log:\n\(daemon.log)")
        let list = try owner.say("rooms", to: "board1@\(server.domain)/board")
        #expect(list?.contains("\(room): not joined: banned") == true, "\(String(describing: list))")
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func twoBoardsEachAnswerTheirOwnNameAndBothAnswerAll(_ server: ITServer) throws {
        let room = Self.room(server, "pair")
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        try owner.createRoom(room, nick: "owner", whois: "anyone")
        let one = try Self.board(server, "board1", rooms: [(room, nil)])
        let two = try Self.board(server, "board2", rooms: [(room, nil)])
        #expect(one.waitFor("joined the room \(room) as board1"), "log:\n\(one.log)")
        #expect(two.waitFor("joined the room \(room) as board2"), "log:\n\(two.log)")
        owner.idle(500)
        try owner.expectReply(in: room, "board1: pump on", expectFrom: "board1", "owner: pump on")
        try owner.expectReply(in: room, "board2: status", expectFrom: "board2", startingWith: "owner: pump off")
        #expect(one.gpioLine("pump") == "1" && two.gpioLine("pump") == "0")
        let seen = owner.received.count
        owner.send(MUC.groupchat(try JID(room), body: "all: status", id: "all-1"))
        let both = owner.waitFor(timeout: 10_000) { _ in
            let replies = owner.received[seen...].filter { $0.name == "message" && $0.stanzaType == "groupchat" && $0.child("body")?.text.hasPrefix("owner: ") == true }
            return Set(replies.compactMap { $0.from?.resourcepart }) == ["board1", "board2"]
        }
        #expect(both != nil)
        owner.idle(1_000)
        let replies = owner.received[seen...].filter { $0.name == "message" && $0.stanzaType == "groupchat" && $0.child("body")?.text.hasPrefix("owner: ") == true }
        #expect(replies.count == 2, "\(replies)")
        #expect(one.terminate() == 0 && two.terminate() == 0)
    }

    /// A connection cut and a resumed session: the server kept the device in its rooms, so it joins
    /// nothing again, and the room's commands still reach it.
    @Test(arguments: servers)
    func aResumedSessionStaysInItsRooms(_ server: ITServer) throws {
        let proxyPort = server.name == "Prosody" ? 15440 : 15441
        let proxy = try TCPProxy(port: proxyPort, target: server.port)
        defer { proxy.stop() }
        let room = Self.room(server, "resume")
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        try owner.createRoom(room, nick: "owner", whois: "anyone")
        let daemon = try Self.board(server, "board1", rooms: [(room, nil)], port: proxyPort)
        #expect(daemon.waitFor("joined the room \(room) as board1"), "log:\n\(daemon.log)")
        proxy.cut(for: 1)
        #expect(daemon.waitFor("resumed as board1@\(server.domain)/board", timeout: 30), "log:\n\(daemon.log)")
        try owner.expectReply(in: room, "board1: pump on", expectFrom: "board1", "owner: pump on")
        #expect(!daemon.log.contains("joining the room \(room) as board1 ") && daemon.log.components(separatedBy: "joining the room \(room)").count == 2, "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
    }

    /// Prosody restarted, then killed: each time a new session, and the room joined again.
    @Test(.enabled(if: IT.prosody, "set PERCH_IT_PROSODY=1 (scripts/integration/run)"))
    func rejoinsAfterProsodyRestartAndKill() throws {
        try rejoins(.prosody, port: 15410)
    }

    @Test(.enabled(if: IT.ejabberd, "set PERCH_IT_EJABBERD=1 (scripts/integration/run)"))
    func rejoinsAfterEjabberdRestartAndKill() throws {
        try rejoins(.ejabberd, port: 15420)
    }

    func rejoins(_ kind: ServerProcess.Kind, port: Int) throws {
        let server = try ServerProcess(kind, port: port)
        try server.start()
        let it = ITServer(name: kind.rawValue, domain: "perch.test", port: port, directTLSPort: port + 1, mechanism: "SCRAM-SHA-1")
        let room = Self.room(it, "restart")
        let daemon = try Self.board(it, "board1", rooms: [(room, nil)])
        #expect(daemon.waitFor("joined the room \(room) as board1"), "log:\n\(daemon.log)")
        try server.stop()
        try server.start()
        #expect(daemon.waitFor("joined the room \(room) as board1", count: 2, timeout: 60), "log:\n\(daemon.log)")
        try server.crash()
        try server.start()
        #expect(daemon.waitFor("joined the room \(room) as board1", count: 3, timeout: 60), "log:\n\(daemon.log)")
        let owner = try Peer.connected("peer", it)
        defer { owner.disconnect() }
        try owner.joinRoom(room, nick: "owner")
        try owner.expectReply(in: room, "board1: pump on", expectFrom: "board1", "owner: pump on")
        #expect(daemon.terminate() == 0)
    }
}

/// What a person's client does in a room, for the tests.
enum RoomPeer {
    static func directInvitation(to device: String, room: String) -> XMLElement {
        XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": device], children: [
            XMLElement("x", namespace: MUC.conference, attrs: ["jid": room, "reason": "join us"]),
        ])
    }

    static func mediatedInvitation(to device: String, room: String) -> XMLElement {
        let invite = XMLElement("invite", namespace: MUC.user, attrs: ["to": device], children: [.text("reason", namespace: MUC.user, "join us")])
        return XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": room], children: [XMLElement("x", namespace: MUC.user, attrs: [:], children: [invite])])
    }
}

extension Peer {
    /// Joins `room` as `nick` and waits for our own presence.
    @discardableResult
    func joinRoom(_ room: String, nick: String) throws -> XMLElement {
        let occupant = "\(room)/\(nick)"
        var p = XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["to": occupant])
        p.append(XMLElement("x", namespace: MUC.namespace, attrs: [:], children: [XMLElement("history", namespace: MUC.namespace, attrs: ["maxstanzas": "0"])]))
        send(p)
        guard let own = waitFor(timeout: 10_000, { $0.name == "presence" && $0.from?.description == occupant && ($0.stanzaType == nil || $0.stanzaType == "error") }) else {
            throw ITError("no presence from \(occupant)")
        }
        guard own.stanzaType == nil else { throw ITError("\(occupant): join refused: \(own)") }
        return own
    }

    /// Creates `room` (joins it first, as its owner) with `muc#roomconfig_whois` = `whois`.
    func createRoom(_ room: String, nick: String, whois: String) throws {
        try joinRoom(room, nick: nick)
        func field(_ v: String, _ value: String) -> XMLElement {
            XMLElement("field", namespace: "jabber:x:data", attrs: ["var": v], children: [.text("value", namespace: "jabber:x:data", value)])
        }
        let form = XMLElement("x", namespace: "jabber:x:data", attrs: ["type": "submit"], children: [
            field("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
            field("muc#roomconfig_whois", whois),
        ])
        let answer = try ask(room, XMLElement("query", namespace: MUC.owner, attrs: [:], children: [form]), type: "set")
        guard case .success? = answer else { throw ITError("configuring \(room): \(String(describing: answer))") }
    }

    /// A line in `room`; waits for a groupchat line from `expectFrom` (a nick) that is not ours.
    func sayInRoom(_ room: String, _ body: String, extra: XMLElement? = nil, expectFrom nick: String, timeout: Int64 = 10_000) throws -> String? {
        // What the room said while this peer was not listening (another peer's exchange) is not a reply.
        idle(200)
        let seen = received.count
        var m = MUC.groupchat(try JID(room), body: body, id: client.makeID("g"))
        if let extra { m.append(extra) }
        send(m)
        let from = "\(room)/\(nick)"
        var reply: String?
        loop.run(until: { [unowned self] in
            reply = self.received[seen...].first { $0.name == "message" && $0.stanzaType == "groupchat" && $0.from?.description == from && $0.child("body") != nil }?.child("body")?.text
            return reply != nil
        }, timeout: timeout)
        return reply
    }

    /// A muc#admin change (kick: role none; ban: affiliation outcast).
    func admin(_ room: String, item: KeyValuePairs<String, String?>, reason: String) throws -> XMLElement? {
        let i = XMLElement("item", namespace: "http://jabber.org/protocol/muc#admin", attrs: item, children: [.text("reason", namespace: "http://jabber.org/protocol/muc#admin", reason)])
        let answer = try ask(room, XMLElement("query", namespace: "http://jabber.org/protocol/muc#admin", attrs: [:], children: [i]), type: "set")
        if case .success(let e)? = answer { return e }
        return nil
    }

    /// Destroys `room` (§10.9).
    func destroy(_ room: String, reason: String) throws -> XMLElement? {
        let d = XMLElement("destroy", namespace: MUC.owner, attrs: [:], children: [.text("reason", namespace: MUC.owner, reason)])
        let answer = try ask(room, XMLElement("query", namespace: MUC.owner, attrs: [:], children: [d]), type: "set")
        if case .success(let e)? = answer { return e }
        return nil
    }
}

extension Peer {
    /// Says `body` in `room` and expects a reply from `nick` that starts with `prefix`.
    func expectReply(in room: String, _ body: String, expectFrom nick: String, startingWith prefix: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let got = try sayInRoom(room, body, expectFrom: nick)
        #expect(got?.hasPrefix(prefix) == true, "\(body) → \(String(describing: got))", sourceLocation: sourceLocation)
    }

    /// Says `body` in `room` and expects `reply` from `nick` (nil: no reply within `timeout`).
    func expectReply(in room: String, _ body: String, extra: XMLElement? = nil, expectFrom nick: String, timeout: Int64? = nil, _ reply: String?,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let got = try sayInRoom(room, body, extra: extra, expectFrom: nick, timeout: timeout ?? (reply == nil ? 1_500 : 10_000))
        #expect(got == reply, "\(body) → \(String(describing: got))", sourceLocation: sourceLocation)
    }
}
