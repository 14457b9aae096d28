import Glibc
import Testing
import PerchConfig
import PerchHardware
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
@testable import XMPPClient
@testable import PerchAgent

/// An agent on a client that never connects; what it would send is recorded instead.
final class AccessRig {
    let scratch: Scratch
    let loop: EventLoop
    let log = AuditLog()
    let agent: Agent
    var sent: [XMLElement] = []

    init(access: String = "", scratch: Scratch = Scratch(), jid: String = "board@example.org/board") throws {
        self.scratch = scratch
        loop = try EventLoop()
        let toml = """
        [account]
        jid = "\(jid)"
        [access]
        owners = ["owner@example.org"]
        operators = ["op@example.org"]
        viewers = ["viewer@example.org"]
        \(access)
        [commands]
        rate_limit = 0
        """
        var config = try ConfigurationLoader(file: "test.toml", environment: ["PERCH_PASSWORD": "x"]).parse(toml)
        config.device.backend = .simulated
        config.device.simulatedDirectory = "\(scratch.path)/gpio"
        config.device.stateDirectory = "\(scratch.path)/state"
        _ = system("mkdir -p '\(scratch.path)/state'")
        let log = self.log
        let logger = Logger(label: "t", level: .debug, format: .bare, sink: { log.lines.append($0) })
        var c = ClientConfiguration(jid: try JID(jid), password: "x")
        c.host = "127.0.0.1"
        c.port = 1
        c.transport = .plain
        let client = XMPPClient(loop: loop, config: c, logger: logger)
        let hardware = Hardware(config: config.device, loop: loop, logger: logger)
        agent = Agent(config: config, client: client, hardware: hardware, loop: loop, logger: logger)
        agent.start()
        agent.transmit = { [unowned self] in self.sent.append($0) }
    }

    func message(from: String, _ body: String, type: String? = "chat", extra: [XMLElement] = []) {
        var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": from, "to": "board@example.org/board", "type": type, "id": "m\(sent.count)-\(Int.random(in: 0..<1_000_000_000))"])
        m.append(.text("body", namespace: XMPPNamespace.client, body))
        for e in extra { m.append(e) }
        agent.message(m)
    }

    func presence(from: String, _ type: String) {
        agent.presenceStanza(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["from": from, "to": "board@example.org", "type": type]))
    }

    /// Loads a roster (jid, subscription) as the login result would.
    func roster(_ items: [(String, String)]) {
        var q = XMLElement("query", namespace: XMPPNamespace.roster)
        for (jid, sub) in items { q.append(XMLElement("item", namespace: XMPPNamespace.roster, attrs: ["jid": jid, "subscription": sub])) }
        agent.client.roster.load(q)
        agent.revokeUnwanted(Array(agent.client.roster.items.values))
    }

    func bound(_ jid: String) throws {
        agent.statusChanged(.online(NegotiatedSession(jid: try JID(jid), streamID: nil, mechanism: "PLAIN", tls: true, features: XMLElement("features", namespace: "http://etherx.jabber.org/streams"))))
    }

    var messages: [XMLElement] { sent.filter { $0.name == "message" } }
    func presences(_ type: String, to: String? = nil) -> [XMLElement] {
        sent.filter { $0.name == "presence" && $0.stanzaType == type && (to == nil || $0[attribute: "to"] == to) }
    }
    func lines(_ text: String) -> [String] { log.lines.filter { $0.contains(text) } }
}

@Suite struct AgentStrangerTests {
    /// 20,000 chat messages from 2,000 invented stranger JIDs: replies within the gate's budget, and
    /// the log has one line about them (the summary comes a minute later).
    @Test func aChatFloodFromStrangersIsBounded() throws {
        let rig = try AccessRig()
        let start = Instant.now()
        for i in 0..<20_000 { rig.message(from: "s\(i % 2_000)@evil.example/r\(i)", "pump on") }
        // The burst, and what the bucket refills (30 a minute) while the flood is handled: about 2 s
        // alone, much longer on a loaded machine.
        let refilled = Int((Instant.now() - start) * 30 / 60_000)
        #expect(rig.messages.count <= rig.agent.executor.strangers.replyBurst + refilled, "\(rig.messages.count) replies")
        #expect(rig.messages.count >= 1, "the first stranger is told off")
        #expect(rig.lines("evil.example").count <= 1, "\(rig.log.lines.prefix(5))")
        #expect(rig.agent.executor.strangers.remembered <= rig.agent.executor.strangers.capacity)
        // The owner is still answered at once.
        rig.message(from: "owner@example.org/phone", "help")
        #expect(rig.messages.last?[attribute: "to"] == "owner@example.org/phone")
    }

    /// One stranger, many messages: one telling-off an hour.
    @Test func oneStrangerIsToldOffOnce() throws {
        let rig = try AccessRig()
        for i in 0..<50 { rig.message(from: "s@evil.example/r\(i)", "status") }
        #expect(rig.messages.count == 1)
        #expect(rig.messages.first?.child("body")?.text.contains("only takes commands") == true)
    }

    /// A stranger's repeats do not spend the replies other strangers' first messages need.
    @Test func repeatsDoNotSpendTheReplyBudget() throws {
        let rig = try AccessRig()
        for i in 0..<30 { rig.message(from: "s@evil.example/r\(i)", "status") }
        for i in 0..<9 { rig.message(from: "t\(i)@evil.example/r", "status") }
        #expect(rig.messages.count == 10, "\(rig.messages.count) told off")
    }

    @Test func aSubscriptionFloodFromStrangersIsBounded() throws {
        let rig = try AccessRig()
        for i in 0..<5_000 { rig.presence(from: "s\(i % 50)@evil.example/x", "subscribe") }
        #expect(rig.presences("unsubscribed").count <= rig.agent.executor.strangers.replyBurst)
        #expect(rig.presences("unsubscribed").count >= 1)
        #expect(rig.presences("subscribed").isEmpty)
        #expect(rig.lines("evil.example").count <= 1, "\(rig.log.lines.prefix(5))")
    }

    /// ask-owners: 100 strangers ask; at most 32 wait, the owners get a few asks, then one message
    /// that requests are refused, and the rest are refused within the reply budget.
    @Test func askOwnersKeepsFewAsksAndFewMessages() throws {
        let rig = try AccessRig(access: "strangers = \"ask-owners\"")
        for i in 0..<100 { rig.presence(from: "s\(i)@evil.example/x", "subscribe") }
        for i in 0..<100 { rig.presence(from: "s\(i)@evil.example/x", "subscribe") }
        #expect(rig.agent.asks.waiting.count == 32)
        let toOwner = rig.messages.filter { $0[attribute: "to"] == "owner@example.org" }
        #expect(toOwner.count == 4, "\(toOwner.map { $0.child("body")?.text ?? "" })")
        #expect(toOwner.last?.child("body")?.text.contains("32 subscription requests") == true)
        #expect(rig.presences("unsubscribed").count <= rig.agent.executor.strangers.replyBurst)
        #expect(rig.lines("32 subscription requests wait").count == 1)
        // The ones past the per-minute asks go to the owners together.
        rig.agent.tellUntold()
        let batch = rig.messages.filter { $0[attribute: "to"] == "owner@example.org" }.last?.child("body")?.text ?? ""
        #expect(batch.hasPrefix("29 more ask to see"), "\(batch)")
        rig.agent.tellUntold()
        #expect(rig.messages.filter { $0[attribute: "to"] == "owner@example.org" }.count == 5, "nothing left to tell")
        // An owner decides: one fewer waits, and the next request is asked again.
        #expect(rig.agent.decide(try JID("s3@evil.example"), false) == "refused s3@evil.example")
        #expect(rig.agent.asks.waiting.count == 31)
    }

    /// Repeated asks from a stranger already waiting are recorded without spending the reply budget.
    @Test func recordingWithoutAReplyLeavesTheBudget() throws {
        let log = AuditLog()
        let gate = StrangerGate(logger: Logger(label: "t", level: .info, format: .bare, sink: { log.lines.append($0) })) { _, _ in }
        let jid = try JID("s@evil.example")
        for _ in 0..<100 { #expect(!gate.refuse(jid, "repeated subscription request", wantsReply: false, now: 0)) }
        var replies = 0
        for _ in 0..<100 where gate.refuse(jid, "subscription request", now: 0) { replies += 1 }
        #expect(replies == gate.replyBurst)
        #expect(log.lines.count == 1)
    }

    @Test func pendingAsksExpireAndCoalesce() throws {
        var asks = SubscriptionAsks(capacity: 2, lifetime: 1_000, asksPerMinute: 1)
        let a = try JID("a@x"), b = try JID("b@x"), c = try JID("c@x")
        #expect(asks.request(a, now: 0) == .askNow)
        #expect(asks.request(a, now: 10) == .alreadyWaiting)
        #expect(asks.request(b, now: 20) == .later)
        #expect(asks.request(c, now: 30) == .full(tellOwners: true))
        #expect(asks.request(c, now: 40) == .full(tellOwners: false))
        #expect(asks.takeUntold(now: 50) == [b])
        #expect(asks.takeUntold(now: 60) == [])
        // After the lifetime they are forgotten: room again, and the full notice may come again.
        #expect(asks.request(c, now: 1_100) == .later, "the minute's ask was used")
        #expect(asks.waiting.keys.sorted { $0.description < $1.description } == [c])
        #expect(asks.request(a, now: 61_000) == .askNow, "c expired, a new minute")
        #expect(asks.request(b, now: 61_001) == .later)
        #expect(asks.request(c, now: 61_001) == .full(tellOwners: true))
        let removed = asks.remove(a, now: 61_002)
        let again = asks.remove(a, now: 61_003)
        #expect(removed && !again)
    }
}

@Suite struct AgentSelfTests {
    /// Bound to another resource than configured (after a conflict): our own replies come back from
    /// it and are not commands; no ping-pong.
    @Test func ownRepliesFromAnotherBoundResourceAreNotCommands() throws {
        let rig = try AccessRig()
        try rig.bound("board@example.org/board-x1")
        rig.message(from: "owner@example.org/phone", "help")
        let reply = try #require(rig.messages.last)
        #expect(reply.child("perch", namespace: "urn:perch:reply") != nil, "replies are marked")
        let n = rig.messages.count
        // The reply, come back to us from the resource we are bound to.
        var echo = reply
        echo[attribute: "from"] = "board@example.org/board-x1"
        echo[attribute: "to"] = "board@example.org/board-x1"
        rig.agent.message(echo)
        rig.message(from: "board@example.org/board-x1", "help")
        rig.message(from: "board@example.org/board", "help")
        #expect(rig.messages.count == n, "\(rig.messages.dropFirst(n).map { $0.child("body")?.text ?? "" })")
    }

    /// Another Perch on the account: its marked replies and its normal messages are not commands;
    /// a person chatting from another resource of the account is an owner.
    @Test func otherResourcesOfTheAccount() throws {
        let rig = try AccessRig()
        rig.message(from: "board@example.org/other", "unknown command \"x\"; send help for the list", extra: [XMLElement("perch", namespace: "urn:perch:reply")])
        rig.message(from: "board@example.org/other", "help", type: "normal")
        rig.message(from: "board@example.org/other", "help", type: nil)
        #expect(rig.messages.isEmpty)
        rig.message(from: "board@example.org/laptop", "help")
        #expect(rig.messages.count == 1)
        // A marked message from an owner is not a command either.
        rig.message(from: "owner@example.org/phone", "help", extra: [XMLElement("perch", namespace: "urn:perch:reply")])
        #expect(rig.messages.count == 1)
        // The asks to owners are marked too.
        let ask = try AccessRig(access: "strangers = \"ask-owners\"")
        ask.presence(from: "s@evil.example/x", "subscribe")
        #expect(ask.messages.first?.child("perch", namespace: "urn:perch:reply") != nil)
    }

    /// What already held: nothing answers a missing or foreign sender, other message types, carbons
    /// and forwarded payloads, bodies in another namespace, or blocked JIDs.
    @Test func whatHeldUpStaysSilent() throws {
        let rig = try AccessRig()
        rig.agent.executor.policy.blocked.insert(try JID("op@example.org"))
        rig.message(from: "op@example.org/x", "help")
        for type in ["groupchat", "headline", "error"] { rig.message(from: "owner@example.org/phone", "help", type: type) }
        var noFrom = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["type": "chat"])
        noFrom.append(.text("body", namespace: XMPPNamespace.client, "help"))
        rig.agent.message(noFrom)
        var foreign = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": "owner@example.org/phone", "type": "chat"])
        foreign.append(.text("body", namespace: "urn:example:other", "help"))
        rig.agent.message(foreign)
        // A carbon: the owner's command inside <sent><forwarded>, no body of its own.
        var inner = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": "owner@example.org/phone", "type": "chat"])
        inner.append(.text("body", namespace: XMPPNamespace.client, "help"))
        let forwarded = XMLElement("forwarded", namespace: "urn:xmpp:forward:0", attrs: [:], children: [inner])
        let carbon = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": "board@example.org", "type": "chat"], children: [XMLElement("received", namespace: "urn:xmpp:carbons:2", attrs: [:], children: [forwarded])])
        rig.agent.message(carbon)
        let wrapped = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": "mallory@evil.example/x", "type": "chat"], children: [forwarded])
        rig.agent.message(wrapped)
        #expect(rig.messages.isEmpty, "\(rig.messages.map { $0.child("body")?.text ?? "" })")
        #expect(rig.log.lines.filter { $0.contains("command from") }.isEmpty)
    }
}

@Suite struct AgentRevocationTests {
    /// At login: contacts with no role (removed from the configuration) or blocked lose the
    /// subscription both ways; the lists' members keep it; a push repeats nothing.
    @Test func theRosterLosesWhoHasNoRole() throws {
        let rig = try AccessRig()
        rig.agent.executor.policy.blocked.insert(try JID("op@example.org"))
        rig.roster([("viewer@example.org", "both"), ("former@example.org", "both"), ("hand@example.org", "from"), ("op@example.org", "from"), ("owner@example.org", "both"), ("wanted@example.org", "to"), ("board@example.org", "both")])
        #expect(Set(rig.presences("unsubscribed").compactMap { $0[attribute: "to"] }) == ["former@example.org", "hand@example.org", "op@example.org"])
        #expect(Set(rig.presences("unsubscribe").compactMap { $0[attribute: "to"] }) == ["former@example.org"])
        #expect(rig.lines("took back the presence subscription of former@example.org: it has no role here (no longer in the access lists").count == 1)
        #expect(rig.lines("took back the presence subscription of op@example.org: it is blocked").count == 1)
        #expect(rig.lines("took back the presence subscription of hand@example.org: it has no role here").count == 1)
        let n = rig.sent.count
        rig.agent.revokeUnwanted([Roster.Item(jid: try JID("former@example.org"), subscription: "both", groups: [])])
        #expect(rig.sent.count == n, "revoked once")
    }

    /// An owner's `block`: the blocked JID loses the subscription at once.
    @Test func blockTakesTheSubscriptionBack() throws {
        let rig = try AccessRig()
        rig.roster([("viewer@example.org", "both")])
        #expect(rig.sent.isEmpty)
        var outcome: String?
        rig.agent.executor.execute(.block(try JID("viewer@example.org")), CommandContext(from: try JID("owner@example.org/phone"), role: .owner, frontEnd: "chat")) { outcome = $0.text }
        #expect(outcome?.hasPrefix("blocked viewer@example.org") == true)
        #expect(rig.presences("unsubscribed", to: "viewer@example.org").count == 1)
        #expect(rig.presences("unsubscribe", to: "viewer@example.org").count == 1)
        #expect(rig.lines("took back the presence subscription of viewer@example.org: it is blocked").count == 1)
    }

    /// `allow` lasts: the guest is kept in state_dir/allowed (0600) and is a viewer after a restart;
    /// `deny` takes it back and removes it from the file.
    @Test func allowedGuestsSurviveARestart() throws {
        let scratch = Scratch()
        do {
            let rig = try AccessRig(access: "strangers = \"ask-owners\"", scratch: scratch)
            rig.presence(from: "guest@else.example/x", "subscribe")
            #expect(rig.agent.decide(try JID("guest@else.example"), true)?.contains("may now see") == true)
            #expect(rig.presences("subscribed", to: "guest@else.example").count == 1)
        }
        var st = stat()
        #expect(stat("\(scratch.path)/state/allowed", &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(readTextFile("\(scratch.path)/state/allowed")?.contains("\nguest@else.example\n") == true)
        let rig = try AccessRig(access: "strangers = \"ask-owners\"", scratch: scratch)
        #expect(rig.agent.executor.policy.role(of: try JID("guest@else.example/y")) == .viewer)
        rig.roster([("guest@else.example", "both")])
        #expect(rig.sent.isEmpty, "an allowed guest keeps its subscription")
        #expect(rig.agent.decide(try JID("guest@else.example"), false) == "guest@else.example may no longer see board")
        #expect(rig.presences("unsubscribed", to: "guest@else.example").count == 1)
        #expect(rig.agent.executor.policy.role(of: try JID("guest@else.example")) == .stranger)
        #expect(readTextFile("\(scratch.path)/state/allowed")?.contains("guest@") == false)
    }

    /// Blocking an allowed guest removes it from the file too.
    @Test func blockingAGuestForgetsIt() throws {
        let scratch = Scratch()
        let rig = try AccessRig(access: "strangers = \"ask-owners\"", scratch: scratch)
        rig.presence(from: "guest@else.example/x", "subscribe")
        _ = rig.agent.decide(try JID("guest@else.example"), true)
        rig.agent.executor.execute(.block(try JID("else.example")), CommandContext(from: try JID("owner@example.org"), role: .owner, frontEnd: "chat")) { _ in }
        #expect(readTextFile("\(scratch.path)/state/allowed")?.contains("guest@") == false)
        #expect(rig.agent.guests.jids.isEmpty)
    }

    /// The file is written through a fresh temporary file: a symbolic link planted at its name is not
    /// followed, and a link at the file's own name is not read.
    @Test func theGuestFileFollowsNoLinks() throws {
        let scratch = Scratch()
        let path = "\(scratch.path)/allowed"
        _ = system("echo secret > '\(scratch.path)/target'; ln -s '\(scratch.path)/target' '\(path).tmp-\(getpid())'")
        var guests = AllowedGuests(path: path)
        try guests.add(try JID("a@example.org"))
        #expect(readTextFile("\(scratch.path)/target") == "secret\n")
        var again = AllowedGuests(path: path)
        try again.load()
        #expect(again.jids == [try JID("a@example.org")])
        _ = system("rm -f '\(path)'; ln -s '\(scratch.path)/target' '\(path)'")
        var linked = AllowedGuests(path: path)
        #expect(throws: IOError.self) { try linked.load() }
    }
}

@Suite struct AgentReusedIDTests {
    func owner(_ rig: AccessRig, _ body: String, id: String) {
        var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": "owner@example.org/phone", "to": "board@example.org/board", "type": "chat", "id": id])
        m.append(.text("body", namespace: XMPPNamespace.client, body))
        rig.agent.message(m)
    }

    /// A client that gives every message the id "0": another body is another command, the same body
    /// again under that id is a re-delivery, answered without running again.
    @Test func anotherBodyUnderTheSameIDIsAnotherCommand() throws {
        let rig = try AccessRig()
        owner(rig, "help", id: "0")
        owner(rig, "status", id: "0")
        owner(rig, "status", id: "0")
        let bodies = rig.messages.compactMap { $0.child("body")?.text }
        #expect(bodies.count == 3)
        #expect(bodies[0].contains("commands"), "\(bodies)")
        #expect(bodies[1] != bodies[0], "status under help's id got help's answer: \(bodies)")
        #expect(bodies[2] == bodies[1])
        #expect(rig.lines("via chat: status").count == 1, "\(rig.log.lines)")
        #expect(rig.lines("arrived again").count == 1)
        // help again under "0", after status: a new command, not a repeat of the first.
        owner(rig, "help", id: "0")
        #expect(rig.lines("via chat: help").count == 2, "\(rig.log.lines)")
        #expect(rig.lines("arrived again").count == 1)
    }
}
