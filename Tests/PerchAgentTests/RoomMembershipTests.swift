import Testing
import PerchLog
import XMPPAddress
import XMPPCore
@testable import XMPPClient
@testable import PerchAgent

/// One room's state machine, driven by hand: joins, nick conflicts, refusals, exits, nick changes,
/// the occupants' real JIDs, and when lines count as live.
@Suite struct RoomMembershipTests {
    typealias Action = RoomMembership.Action
    let room = try! JID("fleet@conference.example.org")
    let me = try! JID("board@example.org/perch")

    func jid(_ s: String) -> JID { try! JID(s) }

    func membership(nick: String = "greenhouse", followAlternate: Bool = false) -> RoomMembership {
        RoomMembership(room: room, nick: nick, followAlternate: followAlternate)
    }

    func presence(_ nick: String, codes: Set<Int> = [], available: Bool = true, jid: String? = nil, occupantID: String? = nil,
                  role: String? = "participant", newNick: String? = nil, destroyed: MUC.Destroyed? = nil, reason: String? = nil) -> MUC.OccupantPresence {
        MUC.OccupantPresence(room: room, nick: nick, available: available, realJID: jid.map { try! JID($0) }, affiliation: nil, role: role,
                             occupantID: occupantID, codes: codes, newNick: newNick, destroyed: destroyed, reason: reason)
    }

    /// Our own self-presence (110), as the room sends it at the end of the join.
    func selfPresence(_ nick: String = "greenhouse", codes: Set<Int> = [], occupantID: String? = nil) -> MUC.OccupantPresence {
        presence(nick, codes: codes.union([110]), jid: me.description, occupantID: occupantID)
    }

    /// Our own unavailable presence with `codes`.
    func exit(_ codes: Set<Int>, nick: String = "greenhouse", newNick: String? = nil, destroyed: MUC.Destroyed? = nil, reason: String? = nil) -> MUC.OccupantPresence {
        presence(nick, codes: codes.union([110]), available: false, role: "none", newNick: newNick, destroyed: destroyed, reason: reason)
    }

    /// A membership in the room, as `nick`, with the subject arrived.
    func joined(nick: String = "greenhouse", followAlternate: Bool = false, occupantID: String? = nil) -> RoomMembership {
        var m = membership(nick: nick, followAlternate: followAlternate)
        _ = m.sessionStarted(resumed: false)
        _ = m.presence(selfPresence(nick, occupantID: occupantID))
        m.markLive()
        return m
    }

    func logs(_ actions: [Action]) -> [String] {
        actions.compactMap { if case .log(_, let text) = $0 { text } else { nil } }
    }

    func retries(_ actions: [Action]) -> [Int64] {
        actions.compactMap { if case .retry(let ms) = $0 { ms } else { nil } }
    }

    // MARK: - Joining

    @Test func joinsAtSessionStart() {
        var m = membership()
        #expect(m.state == .idle)
        #expect(m.sessionStarted(resumed: false) == [.join(nick: "greenhouse")])
        #expect(m.state == .joining)
        #expect(m.occupantJID == jid("fleet@conference.example.org/greenhouse"))
        let actions = m.presence(selfPresence(codes: [100]))
        #expect(actions == [.log(.notice, "joined the room fleet@conference.example.org as greenhouse (participant)")])
        #expect(m.state == .joined)
        #expect(m.isJoined)
        #expect(m.seesRealJIDs)
    }

    @Test func aResumedSessionWhileJoinedSendsNothing() {
        var m = joined()
        _ = m.presence(presence("alice", jid: "alice@example.org/phone"))
        #expect(m.sessionStarted(resumed: true) == [])
        #expect(m.state == .joined)
        #expect(m.live, "the room still has us: what it says is still live")
        #expect(m.realJID(of: "alice", occupantID: nil) == jid("alice@example.org"))
        // Resumed, but not joined (the join was still out): join.
        var n = membership()
        _ = n.sessionStarted(resumed: false)
        #expect(n.sessionStarted(resumed: true) == [.join(nick: "greenhouse")])
    }

    @Test func aSessionThatEndedJoinsAgainOnTheNext() {
        var m = joined()
        _ = m.presence(presence("alice", jid: "alice@example.org/phone"))
        m.sessionEnded()
        #expect(m.state == .idle)
        #expect(!m.live)
        #expect(m.occupants.isEmpty)
        #expect(m.realJID(of: "alice", occupantID: nil) == nil)
        #expect(m.sessionStarted(resumed: false) == [.join(nick: "greenhouse")])
        #expect(m.state == .joining)
    }

    @Test func aCreatedRoomIsConfiguredAsAnInstantRoom() {
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        let actions = m.presence(selfPresence(codes: [201]))
        #expect(actions.contains(.configureInstantRoom))
        #expect(logs(actions).contains { $0.contains("did not exist: created it") })
        #expect(m.isJoined)
        // An update of our presence later is not a new join: nothing is logged or configured.
        #expect(m.presence(selfPresence()) == [])
    }

    @Test func theServiceMayChangeTheNickAtJoin() {
        // 210: the service joined us under another nick (a reserved one, or folded): that is ours.
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        let actions = m.presence(selfPresence("Greenhouse", codes: [210]))
        #expect(m.nick == "Greenhouse")
        #expect(m.occupantJID == jid("fleet@conference.example.org/Greenhouse"))
        // The line says the service chose it, not that the nick asked for was taken.
        #expect(logs(actions) == ["joined the room fleet@conference.example.org as Greenhouse (the service changed greenhouse to it) (participant)"])
        // After a conflict, the same: the nick asked for was greenhouse-2.
        var n = membership()
        _ = n.sessionStarted(resumed: false)
        _ = n.refused(.nickTaken)
        #expect(logs(n.presence(selfPresence("board", codes: [210]))) == ["joined the room fleet@conference.example.org as board (the service changed greenhouse-2 to it) (participant)"])
    }

    @Test func aServiceWithoutStatus110IsStillUnderstood() {
        // Old services mark no self-presence: the presence of our own nick while joining is ours.
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        _ = m.presence(presence("alice", jid: "alice@example.org/phone"))
        #expect(m.state == .joining)
        _ = m.presence(presence("greenhouse"))
        #expect(m.isJoined)
        // Once joined, someone else's presence does not count as ours.
        _ = m.presence(presence("bob", available: false))
        #expect(m.isJoined)
    }

    // MARK: - Nick conflicts

    @Test func aTakenNickTriesNick2Nick3ThenWaits() {
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        var first = m.refused(.nickTaken)
        #expect(first == [.log(.notice, "the nick greenhouse is taken in fleet@conference.example.org; trying greenhouse-2"), .join(nick: "greenhouse-2")])
        #expect(m.nick == "greenhouse-2")
        #expect(m.state == .joining)
        first = m.refused(.nickTaken)
        #expect(first == [.log(.notice, "the nick greenhouse-2 is taken in fleet@conference.example.org; trying greenhouse-3"), .join(nick: "greenhouse-3")])
        for n in 4...RoomMembership.maxNickSuffix {
            #expect(m.refused(.nickTaken).last == .join(nick: "greenhouse-\(n)"))
        }
        // All taken: wait, then start again from the configured nick.
        let last = m.refused(.nickTaken)
        #expect(last == [.log(.warning, "the nicks greenhouse to greenhouse-9 are all taken in fleet@conference.example.org; joining again in 15 s"),
                         .retry(after: RoomMembership.firstRetry)])
        #expect(m.state == .waiting)
        #expect(m.retryDue() == [.join(nick: "greenhouse")])
        #expect(m.nick == "greenhouse")
        // Taken again: the back-off doubles.
        for _ in 1..<RoomMembership.maxNickSuffix { _ = m.refused(.nickTaken) }
        #expect(retries(m.refused(.nickTaken)) == [2 * RoomMembership.firstRetry])
    }

    @Test func joinedUnderASuffixSaysSo() {
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        _ = m.refused(.nickTaken)
        _ = m.refused(.nickTaken)
        let actions = m.presence(selfPresence("greenhouse-3"))
        #expect(logs(actions) == ["joined the room fleet@conference.example.org as greenhouse-3 (greenhouse was taken) (participant)"])
        #expect(m.nick == "greenhouse-3")
    }

    @Test func aRefusalOutsideAJoinIsIgnored() {
        var m = joined()
        #expect(m.refused(.nickTaken) == [])
        #expect(m.refused(.banned) == [])
        #expect(m.isJoined)
        var idle = membership()
        #expect(idle.refused(.password) == [])
        #expect(idle.state == .idle)
    }

    // MARK: - Refusals

    /// A refusal of the join: the state it leaves, and its one log line.
    func refusal(_ r: MUC.Refusal) -> (RoomMembership.State, [Action]) {
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        let actions = m.refused(r)
        return (m.state, actions)
    }

    @Test(arguments: [
        // What the refusal is, what the line must tell the operator to do.
        (MUC.Refusal.password, ["password", "password_file", "[[room]]"]),
        (.membersOnly, ["members-only", "member"]),
        (.banned, ["banned"]),
        (.badNick(StanzaError(.notAcceptable)), ["refused the nick greenhouse", "not-acceptable", "set another nick in its [[room]]"]),
        (.badNick(StanzaError(.jidMalformed)), ["jid-malformed", "nick"]),
    ])
    func refusalsThatGiveUp(_ r: MUC.Refusal, _ says: [String]) throws {
        let (state, actions) = refusal(r)
        guard case .gaveUp(let why) = state else {
            Issue.record("\(r): \(state)")
            return
        }
        #expect(retries(actions).isEmpty)
        #expect(actions.count == 1)
        let line = try #require(logs(actions).first)
        #expect(actions.first == .log(.warning, line))
        #expect(line == why, "the reason `rooms` shows is the line logged")
        #expect(line.hasPrefix("the room fleet@conference.example.org "))
        for word in says { #expect(line.contains(word), "\(line) should say \(word)") }
        // It says that it stops, and how to make it try again.
        #expect(line.contains("not joining it again"), "\(line)")
        #expect(line.contains("join fleet@conference.example.org") || line.contains("restart perch"), "\(line)")
    }

    @Test(arguments: [
        (MUC.Refusal.full, "the room fleet@conference.example.org is full; joining again in 15 s"),
        (.cannotCreate(StanzaError(.itemNotFound)), "the room fleet@conference.example.org does not exist, or is locked until its creator configures it (item-not-found); create or unlock it, or fix the [[room]] jid; joining again in 15 s"),
        (.cannotCreate(StanzaError(.notAllowed)), "the room fleet@conference.example.org does not exist and the service will not let the device create it (not-allowed); create it, or fix the [[room]] jid; joining again in 15 s"),
        (.unreachable(StanzaError(.remoteServerNotFound)), "the room fleet@conference.example.org's server cannot be reached (remote-server-not-found); joining again in 15 s"),
        (.other(StanzaError(.resourceConstraint, text: "too many rooms")), "the room fleet@conference.example.org refused the join: resource-constraint (too many rooms); joining again in 15 s"),
    ])
    func refusalsThatRetry(_ r: MUC.Refusal, _ line: String) {
        let (state, actions) = refusal(r)
        #expect(state == .waiting)
        #expect(actions == [.log(.warning, line), .retry(after: 15_000)])
    }

    @Test func noAnswerToTheJoinRetries() {
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        #expect(m.joinTimedOut() == [.log(.warning, "the room fleet@conference.example.org did not answer the join; joining again in 15 s"), .retry(after: 15_000)])
        #expect(m.state == .waiting)
        // Only a join can time out.
        var j = joined()
        #expect(j.joinTimedOut() == [])
        #expect(j.isJoined)
    }

    @Test func failedJoinsBackOffDoublingUpToTheCap() {
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        var delays: [Int64] = []
        for _ in 0..<12 {
            delays += retries(m.joinTimedOut())
            _ = m.retryDue()
        }
        #expect(delays == [15_000, 30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000, 600_000, 600_000, 600_000, 600_000])
        // A join that succeeds starts the back-off over.
        _ = m.presence(selfPresence())
        m.sessionEnded()
        _ = m.sessionStarted(resumed: false)
        #expect(retries(m.joinTimedOut()) == [15_000])
    }

    @Test func retryDueOnlyWhenOut() {
        var m = joined()
        #expect(m.retryDue() == [])
        var g = membership()
        _ = g.sessionStarted(resumed: false)
        _ = g.refused(.banned)
        #expect(g.retryDue() == [], "a room given up on is not joined by a stale timer")
        #expect(g.sessionStarted(resumed: false) == [], "nor by a new session")
        g.sessionEnded()
        if case .gaveUp = g.state {} else { Issue.record("a session's end forgets why: \(g.state)") }
        // An owner's join tries again.
        #expect(g.rejoin() == [.join(nick: "greenhouse")])
        #expect(g.state == .joining)
    }

    // MARK: - Exits

    @Test func kickedRetriesWithABackOffThatDoublesAndIsCapped() {
        var m = joined()
        var delays: [Int64] = []
        var lines: [String] = []
        for i in 0..<8 {
            let actions = m.presence(exit([307], reason: i == 0 ? "too chatty" : nil))
            #expect(m.state == .waiting)
            #expect(!m.live)
            delays += retries(actions)
            lines += logs(actions)
            // The retry joins, and the room kicks the device again.
            #expect(m.retryDue() == [.join(nick: "greenhouse")])
            _ = m.presence(selfPresence())
            m.markLive()
        }
        #expect(lines.first == "was kicked from the room fleet@conference.example.org (\"too chatty\"); joining again in 15 s")
        #expect(delays == [15_000, 30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000])
        // An owner's join starts over.
        _ = m.rejoin()
        _ = m.presence(selfPresence())
        #expect(retries(m.presence(exit([307]))) == [15_000])
    }

    @Test func aKickAfterAQuietRejoinStartsOver() {
        // Kicked once, rejoined, then a new session: the next kick waits the first delay again.
        var m = joined()
        _ = m.presence(exit([307]))
        _ = m.retryDue()
        _ = m.presence(selfPresence())
        m.sessionEnded()
        _ = m.sessionStarted(resumed: false)
        _ = m.presence(selfPresence())
        #expect(retries(m.presence(exit([307]))) == [15_000])
    }

    @Test func aLongKickReasonIsCut() throws {
        var m = joined()
        let actions = m.presence(exit([307], reason: String(repeating: "x", count: 5000)))
        let line = try #require(logs(actions).first)
        #expect(line.count < 400)
    }

    @Test func shutdownRetries() {
        var m = joined()
        let actions = m.presence(exit([332]))
        #expect(actions == [.log(.notice, "the room fleet@conference.example.org's service is shutting down; joining again in 15 s"), .retry(after: 15_000)])
        #expect(m.state == .waiting)
    }

    @Test func membershipLostGivesUpSayingWhatToDo() throws {
        for code in [321, 322] {
            var m = joined()
            let actions = m.presence(exit([code]))
            guard case .gaveUp = m.state else {
                Issue.record("\(code): \(m.state)")
                continue
            }
            let line = try #require(logs(actions).first)
            #expect(line.contains("members-only") && line.contains("make the device a member") && line.contains("\"join fleet@conference.example.org\""), "\(line)")
            #expect(retries(actions).isEmpty)
        }
    }

    @Test func bannedGivesUp() {
        var m = joined()
        let actions = m.presence(exit([301], reason: "broken sensor"))
        #expect(actions == [.log(.warning, "banned from the room fleet@conference.example.org (\"broken sensor\"); not joining it again (an owner can say \"join fleet@conference.example.org\" once the ban is lifted)")])
        guard case .gaveUp(let why) = m.state else {
            Issue.record("\(m.state)")
            return
        }
        #expect(why.hasPrefix("banned from the room"))
        #expect(m.retryDue() == [])
        #expect(m.sessionStarted(resumed: false) == [])
    }

    @Test func destroyedGivesUp() {
        var m = joined()
        let actions = m.presence(exit([], destroyed: MUC.Destroyed(alternate: nil, reason: "done")))
        #expect(actions == [.log(.warning, "the room fleet@conference.example.org was destroyed (\"done\"); not joining it again (an owner can say \"join fleet@conference.example.org\" once it exists again)")])
        if case .gaveUp = m.state {} else { Issue.record("\(m.state)") }
        #expect(!m.isJoined)
    }

    @Test func destroyedWithAnAlternateItDoesNotFollow() {
        var m = joined()
        let alt = try! JID("fleet2@conference.example.org")
        let actions = m.presence(exit([], destroyed: MUC.Destroyed(alternate: alt, reason: nil)))
        #expect(actions == [.log(.warning, "the room fleet@conference.example.org was destroyed; it names fleet2@conference.example.org as its alternate venue (set follow_alternate = true in its [[room]] to follow, or an owner can say \"join fleet2@conference.example.org\"); not joining it again (an owner can say \"join fleet@conference.example.org\" once it exists again)")])
        #expect(!actions.contains(.move(to: alt)))
        if case .gaveUp = m.state {} else { Issue.record("\(m.state)") }
    }

    @Test func destroyedWithAnAlternateAndFollowAlternateMoves() {
        var m = joined(followAlternate: true)
        let alt = try! JID("fleet2@conference.example.org")
        let actions = m.presence(exit([], destroyed: MUC.Destroyed(alternate: alt, reason: "moved")))
        #expect(actions == [.log(.warning, "the room fleet@conference.example.org was destroyed (\"moved\"); joining its alternate venue fleet2@conference.example.org (follow_alternate)"),
                            .move(to: alt)])
        if case .gaveUp = m.state {} else { Issue.record("\(m.state)") }
        // Without an alternate, follow_alternate has nowhere to go.
        var n = joined(followAlternate: true)
        #expect(!n.presence(exit([], destroyed: MUC.Destroyed(alternate: nil, reason: nil))).contains { if case .move = $0 { true } else { false } })
    }

    @Test func leavingIsNoFailure() {
        var m = joined()
        #expect(m.presence(exit([])) == [])
        #expect(m.state == .idle)
        #expect(!m.live)
    }

    // MARK: - Nick changes

    @Test func ourNickChangedByTheService() {
        var m = joined(occupantID: "oid-me")
        _ = m.presence(presence("alice", jid: "alice@example.org/phone", occupantID: "oid-a"))
        #expect(m.presence(exit([303], newNick: "greenhouse-north")) == [])
        #expect(m.nick == "greenhouse-north")
        #expect(m.occupantJID == jid("fleet@conference.example.org/greenhouse-north"))
        #expect(m.isJoined, "a nick change is no exit")
        // The room then sends our presence under the new nick: no new join to log.
        #expect(m.presence(selfPresence("greenhouse-north", occupantID: "oid-me")) == [])
        #expect(m.isJoined)
        // Still in the same room session: lines stay live, and the others are still known.
        #expect(m.live)
        #expect(m.realJID(of: "alice", occupantID: "oid-a") == jid("alice@example.org"))
    }

    @Test func anotherOccupantsNickChange() {
        var m = joined(occupantID: "oid-me")
        _ = m.presence(presence("alice", jid: "alice@example.org/phone", occupantID: "oid-a"))
        #expect(m.presence(presence("alice", codes: [303], available: false, jid: "alice@example.org/phone", occupantID: "oid-a", newNick: "alice2")) == [])
        #expect(m.occupants["alice"] == nil)
        #expect(m.realJID(of: "alice", occupantID: "oid-a") == nil)
        #expect(m.realJID(of: "alice2", occupantID: "oid-a") == jid("alice@example.org"))
        _ = m.presence(presence("alice2", jid: "alice@example.org/phone", occupantID: "oid-a"))
        #expect(m.realJID(of: "alice2", occupantID: "oid-a") == jid("alice@example.org"))
        #expect(m.nick == "greenhouse")
        // A 303 for someone we never saw adds nobody.
        _ = m.presence(presence("ghost", codes: [303], available: false, newNick: "ghost2"))
        #expect(m.occupants["ghost2"] == nil)
    }

    // MARK: - Occupants and their real JIDs

    @Test func occupantsRealJIDsAreBare() {
        var m = joined()
        _ = m.presence(presence("alice", jid: "alice@example.org/phone", role: "moderator"))
        #expect(m.occupants["alice"] == RoomMembership.Occupant(realJID: jid("alice@example.org"), occupantID: nil, role: "moderator"))
        #expect(m.realJID(of: "alice", occupantID: nil) == jid("alice@example.org"))
        // A service without occupant ids: an id a message carries is the sender's, and says nothing.
        #expect(m.realJID(of: "alice", occupantID: "whatever") == jid("alice@example.org"))
        // Hidden JIDs, an unknown nick, someone gone.
        _ = m.presence(presence("bob"))
        #expect(m.realJID(of: "bob", occupantID: nil) == nil)
        #expect(m.realJID(of: "carol", occupantID: nil) == nil)
        _ = m.presence(presence("alice", available: false))
        #expect(m.realJID(of: "alice", occupantID: nil) == nil)
    }

    @Test func seesRealJIDsFromAnOccupant() {
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        _ = m.presence(MUC.OccupantPresence(room: room, nick: "greenhouse", available: true, codes: [110]))
        #expect(!m.seesRealJIDs)
        _ = m.presence(presence("bob"))
        #expect(!m.seesRealJIDs)
        _ = m.presence(presence("alice", jid: "alice@example.org/phone"))
        #expect(m.seesRealJIDs)
    }

    @Test func anOccupantIDThatDoesNotMatchIsRefused() {
        // The service gives occupant ids (ours had one): a line's id must be the occupant's.
        var m = joined(occupantID: "oid-me")
        #expect(m.occupantIDs)
        _ = m.presence(presence("alice", jid: "alice@example.org/phone", occupantID: "oid-a"))
        #expect(m.realJID(of: "alice", occupantID: "oid-a") == jid("alice@example.org"))
        #expect(m.realJID(of: "alice", occupantID: "oid-mallory") == nil, "the nick changed hands")
        #expect(m.realJID(of: "alice", occupantID: nil) == nil)
        // The nick passes to someone else: alice's id no longer names who speaks as alice.
        _ = m.presence(presence("alice", available: false, occupantID: "oid-a"))
        _ = m.presence(presence("alice", jid: "mallory@evil.example/x", occupantID: "oid-m"))
        #expect(m.realJID(of: "alice", occupantID: "oid-a") == nil)
        #expect(m.realJID(of: "alice", occupantID: "oid-m") == jid("mallory@evil.example"))
    }

    @Test func occupantsAreBounded() {
        var m = joined()
        for i in 0..<RoomMembership.maxOccupants {
            _ = m.presence(presence("o\(i)", jid: "o\(i)@example.org/x"))
        }
        #expect(m.occupants.count == RoomMembership.maxOccupants)
        // One more is not kept...
        _ = m.presence(presence("late", jid: "late@example.org/x"))
        #expect(m.occupants.count == RoomMembership.maxOccupants)
        #expect(m.realJID(of: "late", occupantID: nil) == nil)
        // ...but those already known are still updated,
        _ = m.presence(presence("o0", jid: "o0@example.net/y", role: "moderator"))
        #expect(m.occupants["o0"]?.realJID == jid("o0@example.net"))
        #expect(m.occupants.count == RoomMembership.maxOccupants)
        // and one leaving makes room for another.
        _ = m.presence(presence("o1", available: false))
        _ = m.presence(presence("late", jid: "late@example.org/x"))
        #expect(m.realJID(of: "late", occupantID: nil) == jid("late@example.org"))
        #expect(m.occupants.count == RoomMembership.maxOccupants)
    }

    // MARK: - Live lines

    @Test func liveOnlyAfterTheSubject() {
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        m.markLive()
        #expect(!m.live, "a subject before the join is not the end of the join's history")
        _ = m.presence(selfPresence())
        #expect(m.isJoined)
        #expect(!m.live, "history comes between our presence and the subject")
        m.markLive()
        #expect(m.live)
    }

    @Test func liveAfterSettleForARoomWithoutSubject() {
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        m.markLive()
        #expect(!m.live)
        _ = m.presence(selfPresence())
        m.markLive()
        #expect(m.live)
        // A new join starts over.
        m.sessionEnded()
        _ = m.sessionStarted(resumed: false)
        #expect(!m.live)
    }

    // MARK: - Self-ping

    @Test func selfPingNotJoinedJoinsAgain() {
        var m = joined()
        _ = m.presence(presence("alice", jid: "alice@example.org/phone"))
        #expect(m.selfPinged(.joined) == [])
        #expect(m.selfPinged(.unknown) == [])
        #expect(m.isJoined && m.live)
        let actions = m.selfPinged(.notJoined)
        #expect(actions == [.log(.warning, "the room fleet@conference.example.org no longer has the device in it (self-ping); joining again"), .join(nick: "greenhouse")])
        #expect(m.state == .joining)
        #expect(!m.live)
        #expect(m.occupants.isEmpty)
        // An answer that comes while not joined changes nothing.
        #expect(m.selfPinged(.notJoined) == [])
        #expect(m.state == .joining)
    }

    @Test func selfPingRejoinsUnderTheConfiguredNick() {
        var m = membership()
        _ = m.sessionStarted(resumed: false)
        _ = m.refused(.nickTaken)
        _ = m.presence(selfPresence("greenhouse-2"))
        #expect(m.selfPinged(.notJoined).last == .join(nick: "greenhouse"))
    }
}

/// Found by the fleet benchmark: a Prosody restart made every board log "was kicked" (status 333).
@Suite struct RoomMembershipRemovalTests {
    func joined() throws -> RoomMembership {
        var m = RoomMembership(room: try JID("fleet@conference.example.org"), nick: "greenhouse")
        _ = m.sessionStarted(resumed: false)
        let me = MUC.OccupantPresence(room: try JID("fleet@conference.example.org"), nick: "greenhouse", available: true, codes: [110, 100])
        _ = m.presence(me)
        return m
    }

    @Test func removedAfterAnErrorIsNoKick() throws {
        var m = try joined()
        let gone = MUC.OccupantPresence(room: try JID("fleet@conference.example.org"), nick: "greenhouse", available: false, codes: [110, 333])
        let actions = m.presence(gone)
        #expect(actions == [.log(.info, "the room fleet@conference.example.org removed the device after an error reaching it (333, usually a lost session); joining again in 2 s"), .retry(after: 2_000)])
        #expect(m.state == .waiting)
        // The kick back-off is untouched: a real kick later still starts at the first delay.
        _ = m.retryDue()
        _ = m.presence(MUC.OccupantPresence(room: try JID("fleet@conference.example.org"), nick: "greenhouse", available: true, codes: [110, 100]))
        let kick = m.presence(MUC.OccupantPresence(room: try JID("fleet@conference.example.org"), nick: "greenhouse", available: false, codes: [110, 307]))
        #expect(kick.contains(.retry(after: RoomMembership.firstRetry)), "\(kick)")
    }

    @Test func aJoinThatHidesRealJIDsSaysSo() throws {
        var m = RoomMembership(room: try JID("fleet@conference.example.org"), nick: "greenhouse")
        _ = m.sessionStarted(resumed: false)
        let actions = m.presence(MUC.OccupantPresence(room: try JID("fleet@conference.example.org"), nick: "greenhouse", available: true, role: "participant", codes: [110]))
        #expect(actions.contains(.log(.warning, "the room fleet@conference.example.org hides real JIDs from the device, so it takes no commands there: make the room non-anonymous (whois: anyone), or the device a moderator")), "\(actions)")
        #expect(try joined().seesRealJIDs)
    }

    @Test func aRoomTheDeviceCreatesIsSetToShowRealJIDs() throws {
        var m = RoomMembership(room: try JID("fleet@conference.example.org"), nick: "greenhouse")
        _ = m.sessionStarted(resumed: false)
        let actions = m.presence(MUC.OccupantPresence(room: try JID("fleet@conference.example.org"), nick: "greenhouse", available: true, codes: [110, 201]))
        #expect(actions.contains(.configureInstantRoom))
        let iq = MUC.instantRoom(try JID("fleet@conference.example.org"), id: "c1", fields: MUC.createdRoomFields)
        let fields = iq.child("query", namespace: MUC.owner)?.child("x", namespace: "jabber:x:data")?.elements ?? []
        #expect(fields.map { $0[attribute: "var"] } == ["FORM_TYPE", "muc#roomconfig_whois"])
        #expect(fields.last?.child("value", namespace: "jabber:x:data")?.text == "anyone")
    }
}
