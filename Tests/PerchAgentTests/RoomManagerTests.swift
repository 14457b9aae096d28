import Glibc
import Testing
import PerchConfig
import PerchIO
import PerchLog
import XMPPAddress
@testable import XMPPClient
import XMPPCore
@testable import PerchAgent

/// The room manager on the loop, without a server: what it sends at a session's start, the XEP-0410
/// self-ping of a quiet room and what its answer leads to, leaving, and the rooms it remembers.
@Suite struct RoomManagerTests {
    final class Rig {
        let loop: EventLoop
        let client: XMPPClient
        let manager: RoomManager
        let scratch = Scratch()
        var sent: [XMLElement] = []
        var asked: [(iq: XMLElement, completion: (Result<XMLElement, StanzaError>) -> Void)] = []
        let log = AuditLog()

        init(rooms: [RoomConfiguration] = [RoomConfiguration(jid: try! JID("fleet@conference.example.org"), nick: "greenhouse")], selfPing: Int64 = 100) throws {
            loop = try EventLoop()
            let logger = Logger(label: "t", level: .debug, format: .bare, sink: { [log] in log.lines.append($0) })
            var c = ClientConfiguration(jid: try JID("board@example.org/x"), password: "x")
            c.host = "127.0.0.1"
            c.port = 1
            client = XMPPClient(loop: loop, config: c, logger: logger)
            manager = RoomManager(rooms: rooms, defaultNick: "board", client: client, loop: loop, logger: logger,
                                  path: scratch.path + "/rooms", selfPingInterval: selfPing)
            manager.transmit = { [unowned self] in self.sent.append($0) }
            manager.request = { [unowned self] iq, _, done in self.asked.append((iq, done)) }
        }

        func online(resumed: Bool = false) throws {
            var s = NegotiatedSession(jid: try JID("board@example.org/x"), streamID: "s", mechanism: "SCRAM-SHA-1", tls: true,
                                      features: XMLElement("features", namespace: "http://etherx.jabber.org/streams"))
            s.resumed = resumed
            manager.statusChanged(.online(s))
        }

        /// The join presences sent so far, by occupant JID.
        var joins: [String] {
            sent.filter { $0.name == "presence" && $0.stanzaType == nil && $0.child("x", namespace: MUC.namespace) != nil }.compactMap { $0[attribute: "to"] }
        }

        /// The room's self-presence for `nick`.
        func selfPresence(_ room: String = "fleet@conference.example.org", _ nick: String = "greenhouse", type: String? = nil, codes: [Int] = [110]) -> Bool {
            var x = XMLElement("x", namespace: MUC.user, attrs: [:], children: [XMLElement("item", namespace: MUC.user, attrs: ["affiliation": "member", "role": "participant"])])
            for c in codes { x.append(XMLElement("status", namespace: MUC.user, attrs: ["code": String(c)])) }
            return manager.presence(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["from": "\(room)/\(nick)", "type": type], children: [x]))
        }

        func idle(_ ms: Int64) { loop.run(until: { false }, timeout: ms) }
    }

    @Test func aSessionJoinsEveryRoomAskingForNoHistory() throws {
        let rig = try Rig()
        try rig.online()
        #expect(rig.joins == ["fleet@conference.example.org/greenhouse"])
        let x = rig.sent.last?.child("x", namespace: MUC.namespace)
        #expect(x?.child("history", namespace: MUC.namespace)?[attribute: "maxstanzas"] == "0")
        #expect(rig.selfPresence())
        #expect(rig.manager.entry(try JID("fleet@conference.example.org"))?.membership.isJoined == true)
        #expect(rig.log.lines.contains { $0.contains("joined the room fleet@conference.example.org as greenhouse (participant)") }, "\(rig.log.lines)")
    }

    /// A quiet room gets a self-ping; `not-acceptable` (the room does not know us) means join again.
    @Test func aQuietRoomIsSelfPingedAndJoinedAgainWhenItForgotUs() throws {
        let rig = try Rig()
        try rig.online()
        #expect(rig.selfPresence())
        rig.idle(250)
        let ping = try #require(rig.asked.first)
        #expect(ping.iq[attribute: "to"] == "fleet@conference.example.org/greenhouse")
        #expect(ping.iq.child("ping", namespace: "urn:xmpp:ping") != nil)
        #expect(rig.asked.count == 1, "one self-ping out at a time")
        ping.completion(.failure(StanzaError(.notAcceptable)))
        #expect(rig.joins.count == 2, "joined again: \(rig.joins)")
        #expect(rig.log.lines.contains { $0.contains("no longer has the device in it (self-ping); joining again") }, "\(rig.log.lines)")
    }

    /// A room that answers the self-ping keeps the device as it is; a room that keeps talking gets none.
    @Test func aRoomThatAnswersOrTalksIsLeftAlone() throws {
        let rig = try Rig()
        try rig.online()
        #expect(rig.selfPresence())
        rig.idle(250)
        let ping = try #require(rig.asked.first)
        ping.completion(.success(XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "result"])))
        #expect(rig.joins.count == 1)
        // A line every 40 ms: never quiet for 100 ms, so no further self-ping.
        let before = rig.asked.count
        for _ in 0..<8 {
            _ = rig.manager.line(MUC.groupchat(try JID("fleet@conference.example.org"), body: "hello", id: "x").appending(XMLElement("x", namespace: "urn:example", attrs: [:])).withFrom("fleet@conference.example.org/alice"))
            rig.idle(40)
        }
        #expect(rig.asked.count == before, "\(rig.asked.map(\.iq))")
    }

    /// A resumed session is still in its rooms: nothing is sent; a new session joins again.
    @Test func aResumedSessionJoinsNothingANewOneJoinsAgain() throws {
        let rig = try Rig(selfPing: 60_000)
        try rig.online()
        #expect(rig.selfPresence())
        rig.manager.statusChanged(.offline)
        try rig.online(resumed: true)
        #expect(rig.joins.count == 1)
        rig.manager.statusChanged(.offline)
        try rig.online(resumed: false)
        #expect(rig.joins.count == 2)
    }

    @Test func leavingAtShutdownAndOnAnOwnersWord() throws {
        let rig = try Rig(selfPing: 60_000)
        try rig.online()
        #expect(rig.selfPresence())
        rig.manager.leaveAll()
        #expect(rig.sent.last?.stanzaType == "unavailable" && rig.sent.last?[attribute: "to"] == "fleet@conference.example.org/greenhouse")
        #expect(rig.manager.leave(try JID("fleet@conference.example.org")) == .configured)
        #expect(rig.manager.leave(try JID("fleet@conference.example.org")) == nil)
        #expect(rig.manager.isEmpty)
    }

    /// Rooms an owner adds are kept in state_dir/rooms (with their password, in a private file) and
    /// joined by the next process; `leave` forgets them.
    @Test func rememberedRoomsOutliveTheProcess() throws {
        let rig = try Rig(selfPing: 60_000)
        let lab = try JID("lab@conference.example.org")
        #expect(rig.manager.join(lab, nick: "bench", password: "s3cret") == .joining("bench"))
        var st = stat()
        #expect(stat(rig.scratch.path + "/rooms", &st) == 0 && st.st_mode & 0o777 == 0o600)
        let next = RoomManager(rooms: [], defaultNick: "board", client: rig.client, loop: rig.loop, logger: Logger(label: "t", level: .error),
                               path: rig.scratch.path + "/rooms")
        var sent: [XMLElement] = []
        next.transmit = { sent.append($0) }
        var s = NegotiatedSession(jid: try JID("board@example.org/x"), streamID: "s", mechanism: "SCRAM-SHA-1", tls: true,
                                  features: XMLElement("features", namespace: "http://etherx.jabber.org/streams"))
        s.resumed = false
        next.statusChanged(.online(s))
        #expect(sent.compactMap { $0[attribute: "to"] } == ["lab@conference.example.org/bench"])
        #expect(sent.first?.child("x", namespace: MUC.namespace)?.child("password", namespace: MUC.namespace)?.text == "s3cret")
        #expect(next.leave(lab) == .remembered)
        let again = RoomManager(rooms: [], defaultNick: "board", client: rig.client, loop: rig.loop, logger: Logger(label: "t", level: .error),
                                path: rig.scratch.path + "/rooms")
        #expect(again.isEmpty)
    }
}

extension XMLElement {
    fileprivate func withFrom(_ from: String) -> XMLElement {
        var e = self
        e[attribute: "from"] = from
        return e
    }
}
