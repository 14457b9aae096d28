import PerchConfig
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore

/// The device in group chat rooms (XEP-0045): commands addressed to it (`greenhouse: status`,
/// `@greenhouse read`) or to every board (`all: status`), judged by the sender's real JID through
/// `[access]`; private messages from occupants; invitations from owners; `rooms`, `join`, `leave`.
extension Agent {
    func installRooms() {
        client.router.messages(ofType: [.groupchat]) { [unowned self] stanza in
            self.roomMessage(stanza)
            return .handled
        }
        client.router.messages(carrying: MUC.conference) { [unowned self] stanza in
            self.invitation(stanza) ? .handled : .pass
        }
        // The room's own notices and our private messages from occupants carry muc#user too: only an
        // invitation is taken here.
        client.router.messages(carrying: MUC.user) { [unowned self] stanza in
            stanza.messageType != .groupchat && self.invitation(stanza) ? .handled : .pass
        }
        client.observeStatus { [unowned self] status in self.rooms.statusChanged(status) }
        client.observePresence { [unowned self] show, status in self.rooms.presenceChanged(show: show, status: status) }
        executor.roomCommand = { [unowned self] command in self.roomCommand(command) }
    }

    /// Leaves the rooms before the session closes.
    public func leaveRooms() {
        rooms.leaveAll()
    }

    // MARK: - Lines in a room

    func roomMessage(_ stanza: XMLElement) {
        guard let (room, line) = rooms.line(stanza), let e = rooms.entry(room) else { return }
        // History, the subject, anything delayed, the room's notices: never a command.
        guard case .said(let nick, let body, let occupantID) = line else { return }
        let m = e.membership
        guard m.isJoined, m.live else {
            logger.debug("room \(room): a line from \(logQuoted(nick)) before the join settled; not a command")
            return
        }
        // Our own lines come back from the room, and other boards' replies are marked.
        if nick == m.nick || stanza.child(Self.replyMarkerName, namespace: Self.replyMarkerNamespace) != nil { return }
        let address = RoomAddress.parse(body, nick: m.nick)
        let text: String
        let addressed: Bool
        switch address {
        case .notForUs: return
        case .addressed(let t): text = t; addressed = true
        case .broadcast(let t): text = t; addressed = false
        }
        guard e.commands else {
            logger.debug("room \(room): \(logQuoted(nick)) gave a command, but this room takes none (commands = false)")
            return
        }
        guard let real = m.realJID(of: nick, occupantID: occupantID) else {
            logger.info("room \(room): \(logQuoted(nick)) gave a command, but the room does not show the device who that is; refused (the room must show real JIDs to the device: whois = anyone, or the device a moderator)")
            if addressed, rooms.mayRefuse(room, "hidden") {
                say(in: room, to: nick, "I take commands only from people I can identify, and this room hides real JIDs from me: make it non-anonymous (whois: anyone), or make me a moderator.", error: .forbidden)
            }
            return
        }
        if executor.policy.isBlocked(real) { return }
        let role = executor.policy.role(of: real)
        guard role > .stranger else {
            let reply = addressed && rooms.mayRefuse(room, "stranger")
            if executor.strangers.refuse(real, "command in the room \(room)", wantsReply: reply), reply {
                say(in: room, to: nick, "I take commands only from the people my owner allows.", error: .forbidden)
            }
            return
        }
        guard !text.isEmpty else {
            if addressed { say(in: room, to: nick, "send \(m.nick): help for the list of commands", error: .badRequest) }
            return
        }
        switch ChatParser.parse(text, outputs: chatOutputs, readings: chatReadings) {
        case .failure(.unknown(let word)):
            logger.info("room \(room): \(real) (\(role)): unknown command \(logQuoted(String(word.prefix(40))))")
            say(in: room, to: nick, "unknown command \"\(word.prefix(40))\"; send \(m.nick): help", error: .badRequest)
        case .failure(.badArgument(let why)):
            logger.info("room \(room): \(real) (\(role)): \(logQuoted(String(text.prefix(60)))) refused: \(why)")
            say(in: room, to: nick, why, error: .badRequest)
        case .success(let command):
            executor.execute(command, CommandContext(from: real, role: role, frontEnd: "room \(room)")) { [weak self] outcome in
                self?.say(in: room, to: nick, outcome.text, error: outcome.error?.condition)
            }
        }
    }

    /// A reply in the room, naming the asker.
    func say(in room: JID, to nick: String, _ text: String, error: StanzaError.Condition? = nil) {
        guard rooms.entry(room)?.membership.isJoined == true else { return }
        transmit(Self.marked(MUC.groupchat(room, body: "\(nick): \(text)", id: client.makeID("g")), error: error))
    }

    /// Who sent a private message through a room (`room@service/nick`): the occupant's real JID
    /// when the room shows it, else the occupant JID itself (a stranger, whatever access says of the
    /// room).
    func sender(of stanza: XMLElement, from: JID) -> JID {
        guard let e = rooms.entry(from.bare), let nick = from.resourcepart else { return from }
        return e.membership.realJID(of: nick, occupantID: MUC.occupantID(of: stanza)) ?? from
    }

    // MARK: - Invitations

    /// An invitation (XEP-0249 direct, or XEP-0045 mediated): an owner's is accepted; false when the
    /// message carries none.
    func invitation(_ stanza: XMLElement) -> Bool {
        guard let invite = MUC.invitation(stanza) else { return false }
        let inviter = invite.inviter.bare
        let how = invite.kind == .direct ? "a direct invitation" : "an invitation through the room"
        guard executor.policy.role(of: inviter) == .owner, !executor.policy.isBlocked(inviter) else {
            logger.notice("ignored \(how) to \(invite.room) from \(inviter): only owners can invite the device to rooms")
            return true
        }
        // A mediated invitation's inviter is what the room's service says: believed only from a
        // service on the owner's own server, else any service could claim an owner sent it.
        if invite.kind == .mediated, !Self.isServiceOf(invite.room.domainpart, inviter.domainpart) {
            logger.notice("ignored an invitation to \(invite.room) said to be from \(inviter): the room's service is not on \(inviter.domainpart), so it cannot vouch for that; \(inviter) can send a direct invitation or say \"join \(invite.room)\"")
            return true
        }
        switch rooms.join(invite.room, nick: nil, password: invite.password) {
        case .joining(let nick):
            logger.notice("\(inviter) invited the device to \(invite.room)\(invite.reason.map { " (\"\($0.prefix(100))\")" } ?? ""); joining as \(nick), and remembering it until an owner says leave \(invite.room)")
        case .alreadyIn:
            logger.info("\(inviter) invited the device to \(invite.room), where it already is")
        case .tooMany:
            logger.warning("\(inviter) invited the device to \(invite.room), but it is in \(RoomManager.maxRemembered) rooms already; an owner can say leave ROOM first")
        }
        return true
    }

    /// Whether `service` (a MUC service's domain) belongs to `domain`'s server: a subdomain of it
    /// (conference.example.org for example.org). Not the domain itself: there, any account of the
    /// owner's server (bob@example.org) could relay an "invitation" said to be from the owner.
    static func isServiceOf(_ service: String, _ domain: String) -> Bool {
        service.lowercased().hasSuffix("." + domain.lowercased())
    }

    // MARK: - rooms, join, leave

    func roomCommand(_ command: DeviceCommand) -> CommandOutcome {
        switch command {
        case .rooms:
            return .ok(rooms.summary())
        case .join(let room, let nick):
            if let nick, let why = RoomConfiguration.problem(withNick: nick, in: room) {
                return .fail(.badRequest, "nick \(nick): \(why)")
            }
            switch rooms.join(room, nick: nick, password: nil) {
            case .joining(let n): return .ok("joining \(room) as \(n); it stays joined across restarts until leave \(room)")
            case .alreadyIn(let n): return .ok("already in \(room) as \(n)")
            case .tooMany: return .fail(.resourceConstraint, "the device is in \(RoomManager.maxRemembered) rooms already; leave one first")
            }
        case .leave(let room):
            switch rooms.leave(room) {
            case nil: return .fail(.itemNotFound, "not in \(room); rooms lists the rooms")
            case .configured?: return .ok("left \(room); it is in the configuration ([[room]]), so it is joined again at the next start: remove it there to leave for good")
            case .remembered?: return .ok("left \(room), and forgot it")
            }
        default:
            return .fail(.badRequest, "not a room command")
        }
    }
}
