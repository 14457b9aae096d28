import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore

/// One group chat room the device is in, or trying to be in: a state machine of the join, the
/// room's answers and the device's own exits, with no sockets or timers of its own. Each event
/// returns what to do (send a join, wait, give up), and ``RoomManager`` does it.
struct RoomMembership {
    enum State: Sendable, Equatable {
        /// No session, or not yet asked to join.
        case idle
        /// The join presence is out, as `nick`.
        case joining
        /// In the room (our self-presence arrived).
        case joined
        /// Out for now; a join is due after `retryIn` ms (the manager holds the timer).
        case waiting
        /// Out for good, until an owner joins it again: the reason, for `rooms` and the log.
        case gaveUp(String)
    }

    enum Action: Sendable, Equatable {
        /// Send the join presence for `nick`.
        case join(nick: String)
        /// Accept the default configuration of the room we created.
        case configureInstantRoom
        /// Join again after `ms` milliseconds.
        case retry(after: Int64)
        case log(LogLevel, String)
        /// Join this room instead (a destroyed room's alternate venue, where allowed).
        case move(to: JID)
    }

    /// An occupant, as the room's presences describe them.
    struct Occupant: Sendable, Equatable {
        var realJID: JID?
        var occupantID: String?
        var role: String?
    }

    let room: JID
    /// The configured (or invited) nick; conflicts add `-2`, `-3`, …
    let baseNick: String
    let followAlternate: Bool
    private(set) var nick: String
    private(set) var state: State = .idle
    /// The subject arrived: what comes after it is said live (history comes before it).
    private(set) var live = false
    private(set) var occupants: [String: Occupant] = [:]
    /// Whether the service gives occupant ids (our own presence carried one), so that an id in a
    /// message is the service's, not the sender's.
    private(set) var occupantIDs = false
    /// Whether the room shows us real JIDs (status 100, or an occupant's item carried one).
    private(set) var seesRealJIDs = false
    /// Failed joins or exits in a row (the back-off), and nick conflicts on this join.
    private var failures = 0
    private var conflicts = 0
    /// The last wait was for a kick: the join after it keeps the back-off, since a kick always
    /// follows a join that worked, and a room that kicks the device each time it comes in must see
    /// it back less and less often.
    private var afterKick = false

    static let maxOccupants = 2_000
    static let maxNickSuffix = 9
    static let firstRetry: Int64 = 15_000
    static let maxRetry: Int64 = 600_000

    init(room: JID, nick: String, followAlternate: Bool = false) {
        self.room = room
        self.baseNick = nick
        self.nick = nick
        self.followAlternate = followAlternate
    }

    var occupantJID: JID? { try? room.withResource(nick) }
    var isJoined: Bool { state == .joined }
    /// In the room, or on the way in: what a leave or a presence from our nick concerns.
    var isInOrJoining: Bool { state == .joined || state == .joining }

    // MARK: - Events

    /// A session began; `resumed`: the server kept it, and us in the room.
    mutating func sessionStarted(resumed: Bool) -> [Action] {
        if case .gaveUp = state { return [] }
        if resumed && state == .joined { return [] }
        return startJoin(resetNick: false)
    }

    /// The session ended: whatever the room knew of us, we join again on the next one.
    mutating func sessionEnded() {
        if case .gaveUp = state { return }
        state = .idle
        live = false
        occupants = [:]
    }

    /// It is time to join again (the retry timer, or an owner's `join`).
    mutating func retryDue() -> [Action] {
        guard state == .waiting || state == .idle else { return [] }
        return startJoin(resetNick: true)
    }

    /// An owner asked to join a room the device gave up on.
    mutating func rejoin() -> [Action] {
        failures = 0
        afterKick = false
        state = .idle
        return startJoin(resetNick: true)
    }

    private mutating func startJoin(resetNick: Bool) -> [Action] {
        if resetNick { nick = baseNick; conflicts = 0 }
        state = .joining
        live = false
        occupants = [:]
        return [.join(nick: nick)]
    }

    /// The room's presence about an occupant (us among them).
    mutating func presence(_ p: MUC.OccupantPresence) -> [Action] {
        // Our own presence has status 110, but not from every service in every case (ejabberd's
        // presence for a destroyed room has none): the room's nicks are unique, so ours is us.
        if p.isSelf || (p.nick == nick && isInOrJoining) {
            return selfPresence(p)
        }
        if p.available {
            if p.realJID != nil { seesRealJIDs = true }
            if occupants[p.nick] != nil || occupants.count < Self.maxOccupants {
                occupants[p.nick] = Occupant(realJID: p.realJID?.bare, occupantID: p.occupantID, role: p.role)
            }
        } else {
            let was = occupants.removeValue(forKey: p.nick)
            if p.codes.contains(303), let new = p.newNick, let was { occupants[new] = was }
        }
        return []
    }

    private mutating func selfPresence(_ p: MUC.OccupantPresence) -> [Action] {
        if p.available {
            let first = state != .joined
            let asked = nick
            // The service may have changed our nick (210): the presence is from the one we have.
            nick = p.nick
            state = .joined
            occupantIDs = p.occupantID != nil
            if p.codes.contains(100) || p.realJID != nil { seesRealJIDs = true }
            var actions: [Action] = []
            if first {
                if afterKick { afterKick = false } else { failures = 0 }
                let role = p.role.map { " (\($0))" } ?? ""
                let conflictNote = nick != asked ? " (the service changed \(asked) to it)" : nick == baseNick ? "" : " (\(baseNick) was taken)"
                actions.append(.log(.notice, "joined the room \(room) as \(nick)\(conflictNote)\(role)"))
            }
            if p.codes.contains(201) {
                actions.append(.log(.notice, "the room \(room) did not exist: created it, showing real JIDs to its occupants (whois: anyone) so that every board in it can tell who gives a command; make it persistent from a client, or it goes when it empties or its service restarts"))
                actions.append(.configureInstantRoom)
            } else if first, !seesRealJIDs {
                actions.append(.log(.warning, "the room \(room) hides real JIDs from the device, so it takes no commands there: make the room non-anonymous (whois: anyone), or the device a moderator"))
            }
            return actions
        }
        if p.codes.contains(303), let new = p.newNick {
            // Our nick was changed by the service: we are still in, under the new one, with the
            // same occupants, and what is said is still live.
            nick = new
            return []
        }
        // Our own unavailable presence: out of the room.
        live = false
        occupants = [:]
        switch MUC.exit(p) {
        case .left:
            state = .idle
            return []
        case .kicked(let reason):
            afterKick = true
            return wait("was kicked from the room \(room)\(because(reason))", level: .warning)
        case .shutdown:
            return wait("the room \(room)'s service is shutting down", level: .notice)
        case .removedAfterError:
            // Not a kick: our session went away and the room noticed; the next session (or this
            // one, shortly) joins again, and the kick back-off is not touched.
            state = .waiting
            return [.log(.info, "the room \(room) removed the device after an error reaching it (333, usually a lost session); joining again in 2 s"), .retry(after: 2_000)]
        case .membershipLost:
            return giveUp("the room \(room) is members-only now and the device is not a member: an owner of the room must make the device a member, then say \"join \(room)\"")
        case .banned(let reason):
            return giveUp("banned from the room \(room)\(because(reason)); not joining it again (an owner can say \"join \(room)\" once the ban is lifted)")
        case .destroyed(let d):
            let why = "the room \(room) was destroyed\(because(d.reason))"
            if let alt = d.alternate, followAlternate {
                state = .gaveUp(why)
                return [.log(.warning, "\(why); joining its alternate venue \(alt) (follow_alternate)"), .move(to: alt)]
            }
            let altNote = d.alternate.map { "; it names \($0) as its alternate venue (set follow_alternate = true in its [[room]] to follow, or an owner can say \"join \($0)\")" } ?? ""
            return giveUp("\(why)\(altNote); not joining it again (an owner can say \"join \(room)\" once it exists again)")
        }
    }

    /// The room refused our join.
    mutating func refused(_ r: MUC.Refusal) -> [Action] {
        guard state == .joining else { return [] }
        switch r {
        case .nickTaken:
            conflicts += 1
            if conflicts < Self.maxNickSuffix {
                let taken = nick
                nick = "\(baseNick)-\(conflicts + 1)"
                return [.log(.notice, "the nick \(taken) is taken in \(room); trying \(nick)"), .join(nick: nick)]
            }
            return wait("the nicks \(baseNick) to \(nick) are all taken in \(room)", level: .warning)
        case .password:
            return giveUp("the room \(room) refused the join: it needs a password (set password_file in its [[room]], or check the one it names); not joining it again until an owner says \"join \(room)\" or perch restarts")
        case .membersOnly:
            return giveUp("the room \(room) is members-only: an owner of the room must make the device a member (or set password_file if it is password-protected); not joining it again until an owner says \"join \(room)\"")
        case .banned:
            return giveUp("the room \(room) refused the join: the device is banned there; not joining it again (an owner can say \"join \(room)\" once the ban is lifted)")
        case .full:
            return wait("the room \(room) is full", level: .warning)
        case .cannotCreate(let e):
            let why = e.condition == .itemNotFound
                ? "the room \(room) does not exist, or is locked until its creator configures it (item-not-found); create or unlock it, or fix the [[room]] jid"
                : "the room \(room) does not exist and the service will not let the device create it (\(e.condition.rawValue)); create it, or fix the [[room]] jid"
            return wait(why, level: .warning)
        case .badNick(let e):
            return giveUp("the room \(room) refused the nick \(nick) (\(e)): set another nick in its [[room]] and restart perch; not joining it again until then")
        case .unreachable(let e):
            return wait("the room \(room)'s server cannot be reached (\(e.condition.rawValue))", level: .warning)
        case .other(let e):
            return wait("the room \(room) refused the join: \(e)", level: .warning)
        }
    }

    /// No answer to our join in time.
    mutating func joinTimedOut() -> [Action] {
        guard state == .joining else { return [] }
        return wait("the room \(room) did not answer the join", level: .warning)
    }

    /// The answer to a self-ping.
    mutating func selfPinged(_ r: MUC.SelfPing) -> [Action] {
        guard state == .joined, r == .notJoined else { return [] }
        return [.log(.warning, "the room \(room) no longer has the device in it (self-ping); joining again")] + startJoin(resetNick: true)
    }

    /// Lines are said live from here on: the subject arrived (history comes before it), or none
    /// came a while after the join (a service that sends none).
    mutating func markLive() {
        if state == .joined { live = true }
    }

    /// The real JID of whoever said a line as `nick` (with the occupant id the message carried),
    /// when the room showed it: nil when the room hides it, or the message's occupant id is not the
    /// one the occupant's presence had (the nick changed hands).
    func realJID(of nick: String, occupantID: String?) -> JID? {
        guard let o = occupants[nick], let jid = o.realJID else { return nil }
        if occupantIDs, o.occupantID != occupantID { return nil }
        return jid
    }

    // MARK: -

    private mutating func wait(_ why: String, level: LogLevel) -> [Action] {
        state = .waiting
        failures += 1
        let delay = min(Self.maxRetry, Self.firstRetry << min(failures - 1, 10))
        return [.log(level, "\(why); joining again in \(describeDuration(delay))"), .retry(after: delay)]
    }

    private mutating func giveUp(_ why: String) -> [Action] {
        state = .gaveUp(why)
        return [.log(.warning, why)]
    }

    private func because(_ reason: String?) -> String {
        reason.map { " (\"\($0.prefix(200))\")" } ?? ""
    }
}
