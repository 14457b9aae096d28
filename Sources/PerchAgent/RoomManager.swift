import Glibc
import PerchConfig
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore

/// The group chat rooms the device is in: the configured `[[room]]`s and those an owner invited it
/// to (remembered in `state_dir/rooms`). Joins at login and after every session that was not resumed,
/// follows each room's answers through its ``RoomMembership``, carries the device's presence into the
/// rooms, self-pings a quiet room (XEP-0410) to notice being dropped silently, and leaves at shutdown.
final class RoomManager {
    /// How a room came to be joined.
    enum Origin: Sendable, Equatable {
        /// A `[[room]]` of the configuration.
        case configured
        /// An owner's invitation or `join` (kept in `state_dir/rooms`).
        case remembered
    }

    struct Entry {
        var membership: RoomMembership
        var origin: Origin
        var commands: Bool
        var alerts: Bool
        var passwordFile: String?
        var password: String?
        var retry: EventLoop.Timer?
        var joinTimer: EventLoop.Timer?
        var settleTimer: EventLoop.Timer?
        /// When a stanza last came from the room (monotonic ms).
        var lastHeard: Int64 = 0
        /// A self-ping is out and unanswered (one at a time per room).
        var pingOut = false
        /// When the room last got a refusal of each kind (monotonic ms), so it gets one an hour.
        var refusedAt: [String: Int64] = [:]
    }

    let client: XMPPClient
    let loop: EventLoop
    let logger: Logger
    let defaultNick: String
    /// The file remembered rooms are kept in.
    let path: String
    /// A room quiet this long gets a self-ping (ms).
    let selfPingInterval: Int64
    static let joinTimeout: Int64 = 30_000
    /// How long after joining a room that sends no subject its lines count as live.
    static let settleDelay: Int64 = 5_000
    static let maxRemembered = 64

    private(set) var entries: [JID: Entry] = [:]
    /// The rooms in the order they were added (configured first), for `rooms` and for joins.
    private(set) var order: [JID] = []
    private var pingTimer: EventLoop.Timer?
    private var online = false
    /// Called when the device is in a room (after a join or a rejoin): alerts kept for it go out.
    var onJoined: ((JID) -> Void)?
    /// Called when the device left a room and forgot it (an owner's `leave`): alerts kept for it go.
    var onLeft: ((JID) -> Void)?
    /// How stanzas and iq requests go out (the client; a test records them instead).
    var transmit: (XMLElement) -> Void
    var request: (_ iq: XMLElement, _ timeout: Int64, _ completion: @escaping (Result<XMLElement, StanzaError>) -> Void) -> Void

    init(rooms: [RoomConfiguration], defaultNick: String, client: XMPPClient, loop: EventLoop, logger: Logger, path: String, selfPingInterval: Int64 = 600_000) {
        self.client = client
        self.loop = loop
        self.logger = logger
        self.defaultNick = defaultNick
        self.path = path
        self.selfPingInterval = selfPingInterval
        transmit = { [client] in client.send($0) }
        request = { [client] iq, timeout, completion in client.sendIQ(iq, timeout: timeout, completion: completion) }
        for r in rooms {
            add(r.jid, nick: r.nick ?? defaultNick, origin: .configured, followAlternate: r.followAlternate,
                commands: r.commands, alerts: r.alerts, passwordFile: r.passwordFile, password: nil)
        }
        loadRemembered()
    }

    var isEmpty: Bool { order.isEmpty }

    private func add(_ room: JID, nick: String, origin: Origin, followAlternate: Bool = false, commands: Bool = true, alerts: Bool = true, passwordFile: String? = nil, password: String?) {
        guard entries[room] == nil else { return }
        entries[room] = Entry(membership: RoomMembership(room: room, nick: nick, followAlternate: followAlternate), origin: origin,
                              commands: commands, alerts: alerts, passwordFile: passwordFile, password: password)
        order.append(room)
    }

    // MARK: - Session

    func statusChanged(_ status: XMPPClient.Status) {
        switch status {
        case .online(let session):
            online = true
            // A resumed session is still in its rooms; a new one is in none of them.
            if !session.resumed { for room in order { entries[room]?.membership.sessionEnded() } }
            for room in order { perform(room) { $0.sessionStarted(resumed: session.resumed) } }
            schedulePings()
        case .offline, .stopped, .connecting:
            guard online else { return }
            online = false
            pingTimer?.cancel()
            pingTimer = nil
            // The memberships stay as they are until the next session says whether it was resumed.
            for room in order {
                entries[room]?.joinTimer?.cancel()
                entries[room]?.settleTimer?.cancel()
                entries[room]?.pingOut = false
            }
        }
    }

    /// The device's presence changed: the rooms it is in see the same status.
    func presenceChanged(show: String?, status: String?) {
        guard online else { return }
        for room in order {
            guard let e = entries[room], e.membership.isJoined, let occupant = e.membership.occupantJID else { continue }
            transmit(MUC.presence(to: occupant, show: show, status: status))
        }
    }

    /// Leaves every room (shutdown), before the session closes.
    func leaveAll() {
        guard online else { return }
        for room in order {
            guard let e = entries[room], e.membership.isInOrJoining, let occupant = e.membership.occupantJID else { continue }
            transmit(MUC.leave(occupant, status: "going offline"))
        }
    }

    // MARK: - Stanzas from rooms

    /// Takes a presence from one of our rooms; false when it is from elsewhere.
    func presence(_ p: XMLElement) -> Bool {
        guard let from = p.from, from.localpart != nil, entries[from.bare] != nil else { return false }
        let room = from.bare
        heard(room)
        if p.stanzaType == "error" {
            // Only a refusal of our own join (to our occupant JID) says anything about us.
            guard from.resourcepart == entries[room]?.membership.nick else { return true }
            perform(room) { $0.refused(MUC.refusal(p)) }
            return true
        }
        guard let o = MUC.occupant(p) else { return true }
        let wasJoined = entries[room]?.membership.isJoined ?? false
        perform(room) { $0.presence(o) }
        if !wasJoined, entries[room]?.membership.isJoined == true {
            entries[room]?.joinTimer?.cancel()
            entries[room]?.settleTimer = loop.schedule(after: Self.settleDelay) { [weak self] in
                self?.entries[room]?.membership.markLive()
            }
            onJoined?(room)
        }
        return true
    }

    /// Whether the device is in `room` now (what is posted there arrives).
    /// Whether the device has `room` (configured or remembered), joined or not.
    func knows(_ room: JID) -> Bool { entries[room.bare] != nil }

    func isJoined(_ room: JID) -> Bool { entries[room.bare]?.membership.isJoined ?? false }

    /// Whether `room` is one of ours.
    func has(_ room: JID) -> Bool { entries[room.bare] != nil }

    func entry(_ room: JID) -> Entry? { entries[room.bare] }

    /// A groupchat message from one of our rooms, read: nil when it is from elsewhere.
    func line(_ m: XMLElement) -> (room: JID, line: MUC.Line)? {
        guard let from = m.from, entries[from.bare] != nil else { return nil }
        let room = from.bare
        heard(room)
        let line = MUC.line(m)
        if line == .subject {
            entries[room]?.membership.markLive()
            entries[room]?.settleTimer?.cancel()
        }
        return (room, line)
    }

    /// True (and noted) when `room` may get a refusal of `kind` now: one an hour.
    func mayRefuse(_ room: JID, _ kind: String) -> Bool {
        let now = Instant.now().milliseconds
        if let last = entries[room]?.refusedAt[kind], now - last < 3_600_000 { return false }
        entries[room]?.refusedAt[kind] = now
        return true
    }

    private func heard(_ room: JID) {
        entries[room]?.lastHeard = Instant.now().milliseconds
    }

    // MARK: - Owner commands

    enum JoinResult: Sendable, Equatable {
        case joining(String)
        case alreadyIn(String)
        case tooMany
    }

    /// Joins `room` (an owner's invitation or `join`) and remembers it.
    func join(_ room: JID, nick: String?, password: String?) -> JoinResult {
        if let e = entries[room] {
            switch e.membership.state {
            case .joined: return .alreadyIn(e.membership.nick)
            case .gaveUp:
                // Perhaps the owner now gives what was missing (a password, another nick).
                if nick != nil || password != nil {
                    entries[room]?.membership = RoomMembership(room: room, nick: nick ?? e.membership.baseNick, followAlternate: e.membership.followAlternate)
                    if let password { entries[room]?.password = password }
                    if e.origin == .remembered { saveRemembered() }
                }
                perform(room) { $0.rejoin() }
                return .joining(entries[room]?.membership.nick ?? defaultNick)
            default:
                return .joining(e.membership.nick)
            }
        }
        guard order.count < Self.maxRemembered else { return .tooMany }
        let n = nick ?? defaultNick
        add(room, nick: n, origin: .remembered, password: password)
        saveRemembered()
        if online { perform(room) { $0.rejoin() } }
        return .joining(n)
    }

    /// Takes the `[[room]]`s of a reloaded configuration: a room no longer listed is left (one an
    /// owner invited the device to stays); a new one is joined; one whose nick, password file or
    /// `follow_alternate` changed is left and joined again; `commands` and `alerts` change in place.
    /// Returns a line per room touched, for the log.
    func reconfigure(_ rooms: [RoomConfiguration]) -> [String] {
        var said: [String] = []
        let wanted = Set(rooms.map(\.jid.bare))
        for room in order where entries[room]?.origin == .configured && !wanted.contains(room) {
            _ = leave(room)
            said.append("left \(room) (no longer in the configuration)")
        }
        for r in rooms {
            let room = r.jid.bare
            let nick = r.nick ?? defaultNick
            if let e = entries[room] {
                if e.membership.baseNick == nick && e.membership.followAlternate == r.followAlternate && e.passwordFile == r.passwordFile {
                    entries[room]?.commands = r.commands
                    entries[room]?.alerts = r.alerts
                    if e.origin == .remembered {
                        entries[room]?.origin = .configured
                        saveRemembered()
                    }
                    continue
                }
                _ = leave(room, rejoining: true)
                said.append("joining \(room) again as \(nick) (its settings changed)")
            } else {
                said.append("joining \(room) as \(nick)")
            }
            add(room, nick: nick, origin: .configured, followAlternate: r.followAlternate, commands: r.commands, alerts: r.alerts,
                passwordFile: r.passwordFile, password: nil)
            if online { perform(room) { $0.rejoin() } }
        }
        return said
    }

    /// Leaves `room` and forgets it; nil when the device is not in it. `rejoining`: it is added again
    /// at once (a reload changed its nick), so what waits for it stays.
    func leave(_ room: JID, rejoining: Bool = false) -> Origin? {
        guard let e = entries[room] else { return nil }
        if online, let occupant = e.membership.occupantJID, e.membership.isInOrJoining {
            transmit(MUC.leave(occupant))
        }
        e.retry?.cancel()
        e.joinTimer?.cancel()
        e.settleTimer?.cancel()
        entries[room] = nil
        order.removeAll { $0 == room }
        if e.origin == .remembered { saveRemembered() }
        if !rejoining { onLeft?(room) }
        return e.origin
    }

    /// One line per room, for `rooms`.
    func summary() -> String {
        guard !order.isEmpty else { return "in no rooms; an owner can invite the device, or say join ROOM" }
        return order.map { room in
            let e = entries[room]!
            let m = e.membership
            let state: String
            switch m.state {
            case .joined: state = "joined as \(m.nick)\(m.seesRealJIDs ? "" : ", real JIDs hidden")"
            case .joining: state = "joining as \(m.nick)"
            case .waiting: state = "out, joining again soon"
            case .idle: state = "not joined (offline)"
            case .gaveUp(let why): state = "not joined: \(why)"
            }
            let flags = (e.commands ? "" : ", no commands") + (e.origin == .remembered ? ", invited" : "")
            return "\(room): \(state)\(flags)"
        }.joined(separator: "\n")
    }

    // MARK: - Doing what a membership says

    private func perform(_ room: JID, _ event: (inout RoomMembership) -> [RoomMembership.Action]) {
        guard var e = entries[room] else { return }
        let actions = event(&e.membership)
        entries[room] = e
        for action in actions { run(action, room) }
    }

    private func run(_ action: RoomMembership.Action, _ room: JID) {
        guard var e = entries[room] else { return }
        switch action {
        case .join(let nick):
            guard online else { return }
            var password = e.password
            if password == nil, let file = e.passwordFile {
                guard let text = readTextFile(file, limit: 4096) else {
                    logger.error("cannot read the password of the room \(room) from \(file): \(String(cString: strerror(errno))); not joining it")
                    return
                }
                password = String(text.prefix { $0 != "\n" && $0 != "\r" })
            }
            guard let p = MUC.join(room, nick: nick, password: password, show: client.presenceShow, status: client.presenceStatus) else {
                logger.error("cannot join \(room) as \(logQuoted(nick)): not a valid nick")
                return
            }
            logger.info("joining the room \(room) as \(nick)")
            e.retry?.cancel()
            e.joinTimer?.cancel()
            e.joinTimer = loop.schedule(after: Self.joinTimeout) { [weak self] in self?.perform(room) { $0.joinTimedOut() } }
            entries[room] = e
            transmit(p)
        case .configureInstantRoom:
            request(MUC.instantRoom(room, id: client.makeID("muc"), fields: MUC.createdRoomFields), 30_000) { [weak self] result in
                guard let self, case .failure(let first) = result else { return }
                // A service that refuses the field: its defaults, so the room is at least unlocked.
                self.request(MUC.instantRoom(room, id: self.client.makeID("muc")), 30_000) { [weak self] result in
                    if case .failure(let error) = result {
                        self?.logger.warning("the room \(room) would not take a configuration (\(first); then \(error)); it may stay locked until configured from a client")
                    } else {
                        self?.logger.warning("the room \(room) would not show real JIDs (\(first)); it has the service's default configuration, and boards that are not moderators take no commands there if it hides them")
                    }
                }
            }
        case .retry(let after):
            e.joinTimer?.cancel()
            e.retry?.cancel()
            e.retry = loop.schedule(after: after) { [weak self] in self?.perform(room) { $0.retryDue() } }
            entries[room] = e
        case .log(let level, let text):
            logger.log(level, text)
        case .move(let alternate):
            // Leaving cancels the room's timers.
            let nick = e.membership.baseNick
            _ = leave(room)
            if entries[alternate] == nil {
                add(alternate, nick: nick, origin: .remembered, followAlternate: e.membership.followAlternate, commands: e.commands, alerts: e.alerts, password: nil)
                saveRemembered()
                if online { perform(alternate) { $0.rejoin() } }
            }
        }
    }

    // MARK: - Self-ping

    private func schedulePings() {
        pingTimer?.cancel()
        guard online, !order.isEmpty else { return }
        pingTimer = loop.schedule(after: selfPingInterval) { [weak self] in self?.pingQuietRooms() }
    }

    private func pingQuietRooms() {
        let now = Instant.now().milliseconds
        for room in order {
            guard let e = entries[room], e.membership.isJoined, !e.pingOut, now - e.lastHeard >= selfPingInterval,
                  let occupant = e.membership.occupantJID else { continue }
            entries[room]?.pingOut = true
            logger.debug("the room \(room) has been quiet for \(describeDuration(now - e.lastHeard)); self-ping")
            request(MUC.selfPing(occupant, id: client.makeID("sp")), 60_000) { [weak self] result in
                guard let self, self.entries[room] != nil else { return }
                self.entries[room]?.pingOut = false
                let verdict = MUC.selfPing(result)
                if verdict == .joined { self.heard(room) }
                self.perform(room) { $0.selfPinged(verdict) }
            }
        }
        schedulePings()
    }

    // MARK: - Remembered rooms

    /// Reads `state_dir/rooms`: one room a line, `JID<TAB>NICK[<TAB>PASSWORD]`.
    private func loadRemembered() {
        guard let text = readTextFile(path, limit: 256 * 1024) else { return }
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 2, let room = try? JID(parts[0]), room.localpart != nil, room.resourcepart == nil, !parts[1].isEmpty else {
                logger.warning("\(path): skipped a line that is not JID<TAB>NICK")
                continue
            }
            guard entries[room.bare] == nil else { continue }
            guard order.count < Self.maxRemembered else { break }
            add(room.bare, nick: parts[1], origin: .remembered, password: parts.count > 2 && !parts[2].isEmpty ? parts[2] : nil)
        }
    }

    private func saveRemembered() {
        var text = "# rooms owners invited the device to (perch rewrites this file; an owner's \"leave ROOM\" removes one)\n"
        for room in order {
            guard let e = entries[room], e.origin == .remembered else { continue }
            text += "\(room)\t\(e.membership.baseNick)\t\(e.password ?? "")\n"
        }
        do {
            try writeFileAtomically(path, Array(text.utf8), mode: 0o600)
        } catch {
            logger.warning("cannot keep the rooms owners invited the device to in \(path) (\(error.message)); they are forgotten at the next restart")
        }
    }
}
