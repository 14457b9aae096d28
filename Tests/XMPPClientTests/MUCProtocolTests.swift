import Testing
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// XEP-0045 (and XEP-0249, XEP-0410, XEP-0421) as an occupant reads and writes it, without a room:
/// the stanzas are the ones Prosody and ejabberd send.
@Suite struct MUCProtocolTests {
    let room = try! JID("fleet@conference.example.org")

    func stanza(_ text: String) throws -> XMLElement {
        try XMLElement.parse(text)
    }

    func occupant(_ text: String) throws -> MUC.OccupantPresence {
        try #require(MUC.occupant(stanza(text)))
    }

    // MARK: - Joining and leaving

    @Test func theJoinAsksForNoHistory() throws {
        let p = try #require(MUC.join(room, nick: "greenhouse", password: nil, show: nil, status: nil))
        #expect(p.serialized() == "<presence to='fleet@conference.example.org/greenhouse'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>")
    }

    @Test func theJoinCarriesThePasswordAndTheDevicesStatus() throws {
        let p = try #require(MUC.join(room, nick: "greenhouse", password: "s3cr&t", show: "dnd", status: "pump running"))
        #expect(p.serialized() == "<presence to='fleet@conference.example.org/greenhouse'><show>dnd</show><status>pump running</status><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/><password>s3cr&amp;t</password></x></presence>")
        let x = try #require(p.child("x", namespace: MUC.namespace))
        #expect(x.child("password")?.text == "s3cr&t")
        #expect(x.child("history")?[attribute: "maxstanzas"] == "0")
    }

    @Test func theJoinTakesOnlyAValidNick() throws {
        #expect(MUC.join(room, nick: "", password: nil, show: nil, status: nil) == nil)
        // A nick with spaces and non-ASCII letters is a valid resourcepart.
        let p = try #require(MUC.join(room, nick: "serre nord é", password: nil, show: nil, status: nil))
        #expect(p.to == (try JID("fleet@conference.example.org/serre nord é")))
        // The room's resource, if any, is replaced by the nick.
        let q = try #require(MUC.join(try JID("fleet@conference.example.org/old"), nick: "new", password: nil, show: nil, status: nil))
        #expect(q[attribute: "to"] == "fleet@conference.example.org/new")
    }

    @Test func presenceUpdateAndLeave() throws {
        let occupant = try JID("fleet@conference.example.org/greenhouse")
        #expect(MUC.presence(to: occupant, show: "away", status: "idle").serialized() == "<presence to='fleet@conference.example.org/greenhouse'><show>away</show><status>idle</status></presence>")
        #expect(MUC.presence(to: occupant, show: nil, status: nil).serialized() == "<presence to='fleet@conference.example.org/greenhouse'/>")
        #expect(MUC.leave(occupant).serialized() == "<presence to='fleet@conference.example.org/greenhouse' type='unavailable'/>")
        #expect(MUC.leave(occupant, status: "going offline").serialized() == "<presence to='fleet@conference.example.org/greenhouse' type='unavailable'><status>going offline</status></presence>")
    }

    @Test func instantRoomAndSelfPing() throws {
        #expect(MUC.instantRoom(room, id: "c1").serialized() == "<iq type='set' id='c1' to='fleet@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
        let occupant = try JID("fleet@conference.example.org/greenhouse")
        #expect(MUC.selfPing(occupant, id: "sp1").serialized() == "<iq type='get' id='sp1' to='fleet@conference.example.org/greenhouse'><ping xmlns='urn:xmpp:ping'/></iq>")
    }

    @Test func groupchatMessage() {
        #expect(MUC.groupchat(room, body: "alice: pump on", id: "g1").serialized() == "<message type='groupchat' to='fleet@conference.example.org' id='g1'><body>alice: pump on</body></message>")
    }

    // MARK: - Presences from a room

    @Test func prosodysSelfPresenceOfACreatedRoom() throws {
        let o = try occupant("""
            <presence xmlns='jabber:client' from='fleet@conference.example.org/greenhouse' to='board@example.org/perch'>\
            <occupant-id xmlns='urn:xmpp:occupant-id:0' id='dGhpcyBpcyBub3QgYSBoYXNo'/>\
            <x xmlns='http://jabber.org/protocol/muc#user'><status code='201'/>\
            <item jid='board@example.org/perch' affiliation='owner' role='moderator'/><status code='110'/></x></presence>
            """)
        #expect(o.room == room)
        #expect(o.nick == "greenhouse")
        #expect(o.available)
        #expect(o.isSelf)
        #expect(o.codes == [110, 201])
        #expect(o.realJID == (try JID("board@example.org/perch")))
        #expect(o.affiliation == "owner")
        #expect(o.role == "moderator")
        #expect(o.occupantID == "dGhpcyBpcyBub3QgYSBoYXNo")
        #expect(o.newNick == nil && o.destroyed == nil && o.reason == nil)
        #expect(MUC.exit(o) == .left)
    }

    @Test func ejabberdsSelfPresenceInANonAnonymousRoom() throws {
        let o = try occupant("""
            <presence xmlns='jabber:client' xml:lang='en' to='board@example.org/perch' from='fleet@conference.example.org/greenhouse'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><item jid='board@example.org/perch' role='participant' affiliation='member'/>\
            <status code='110'/><status code='100'/><status code='210'/></x>\
            <occupant-id xmlns='urn:xmpp:occupant-id:0' id='ej-1'/></presence>
            """)
        #expect(o.isSelf)
        #expect(o.codes == [100, 110, 210])
        #expect(o.affiliation == "member" && o.role == "participant")
        #expect(o.occupantID == "ej-1")
    }

    @Test func anotherOccupantWithoutRealJIDOrStatusCodes() throws {
        let o = try occupant("""
            <presence xmlns='jabber:client' from='fleet@conference.example.org/alice'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/></x></presence>
            """)
        #expect(!o.isSelf)
        #expect(o.codes.isEmpty)
        #expect(o.realJID == nil)
        #expect(o.occupantID == nil)
        #expect(o.role == "participant")
    }

    @Test func elementsInOtherNamespacesAreNotTheRooms() throws {
        // A status code or item outside muc#user, and an occupant id outside XEP-0421, say nothing.
        let o = try occupant("""
            <presence xmlns='jabber:client' from='fleet@conference.example.org/mallory'>\
            <x xmlns='urn:example:other'><status code='110'/><item jid='owner@example.org'/></x>\
            <occupant-id xmlns='urn:example:other' id='forged'/>\
            <x xmlns='http://jabber.org/protocol/muc#user'><status code='abc'/></x></presence>
            """)
        #expect(o.codes.isEmpty)
        #expect(!o.isSelf)
        #expect(o.realJID == nil)
        #expect(o.occupantID == nil)
    }

    @Test func presencesThatAreNoOccupants() throws {
        // From the room itself (no nick), an error, a subscription, no from at all.
        #expect(MUC.occupant(try stanza("<presence xmlns='jabber:client' from='fleet@conference.example.org'/>")) == nil)
        #expect(MUC.occupant(try stanza("<presence xmlns='jabber:client' type='error' from='fleet@conference.example.org/greenhouse'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>")) == nil)
        #expect(MUC.occupant(try stanza("<presence xmlns='jabber:client' type='subscribe' from='fleet@conference.example.org/alice'/>")) == nil)
        #expect(MUC.occupant(try stanza("<presence xmlns='jabber:client'/>")) == nil)
        // Unavailable is an occupant going.
        let gone = try occupant("<presence xmlns='jabber:client' type='unavailable' from='fleet@conference.example.org/alice'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/></x></presence>")
        #expect(!gone.available)
        #expect(MUC.exit(gone) == .left)
    }

    @Test func nickChange() throws {
        let o = try occupant("""
            <presence xmlns='jabber:client' type='unavailable' from='fleet@conference.example.org/greenhouse'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><item jid='board@example.org/perch' affiliation='member' nick='greenhouse-north' role='participant'/>\
            <status code='303'/><status code='110'/></x></presence>
            """)
        #expect(!o.available)
        #expect(o.isSelf)
        #expect(o.codes == [110, 303])
        #expect(o.nick == "greenhouse")
        #expect(o.newNick == "greenhouse-north")
    }

    @Test func kickWithActorAndReason() throws {
        let o = try occupant("""
            <presence xmlns='jabber:client' type='unavailable' from='fleet@conference.example.org/greenhouse'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'><actor nick='alice'/>\
            <reason>too chatty</reason></item><status code='307'/><status code='110'/></x></presence>
            """)
        #expect(o.reason == "too chatty")
        #expect(o.role == "none")
        #expect(MUC.exit(o) == .kicked(reason: "too chatty"))
        // A kick without a reason; the service's removal for an error (333) is not one.
        let bare = try occupant("<presence xmlns='jabber:client' type='unavailable' from='fleet@conference.example.org/greenhouse'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'><reason/></item><status code='307'/><status code='110'/></x></presence>")
        #expect(MUC.exit(bare) == .kicked(reason: nil))
        let error = try occupant("<presence xmlns='jabber:client' type='unavailable' from='fleet@conference.example.org/greenhouse'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/><status code='333'/><status code='110'/></x></presence>")
        #expect(MUC.exit(error) == .removedAfterError, "333 is no kick: Prosody sends it when the occupant's session went away")
    }

    @Test func ban() throws {
        let o = try occupant("""
            <presence xmlns='jabber:client' type='unavailable' from='fleet@conference.example.org/greenhouse'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='outcast' role='none'><actor nick='alice'/>\
            <reason>broken sensor</reason></item><status code='301'/><status code='110'/></x></presence>
            """)
        #expect(o.affiliation == "outcast")
        #expect(MUC.exit(o) == .banned(reason: "broken sensor"))
    }

    @Test func destroyedWithAnAlternateVenue() throws {
        let o = try occupant("""
            <presence xmlns='jabber:client' type='unavailable' from='fleet@conference.example.org/greenhouse'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/>\
            <destroy jid='fleet2@conference.example.org/ignored'><reason>moved</reason></destroy><status code='110'/></x></presence>
            """)
        let d = MUC.Destroyed(alternate: try JID("fleet2@conference.example.org"), reason: "moved")
        #expect(o.destroyed == d, "the alternate is the room's bare JID")
        #expect(MUC.exit(o) == .destroyed(d))
    }

    @Test func destroyedWithoutAlternateOrReason() throws {
        let o = try occupant("""
            <presence xmlns='jabber:client' type='unavailable' from='fleet@conference.example.org/greenhouse'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/><destroy><reason/></destroy>\
            <status code='110'/></x></presence>
            """)
        #expect(MUC.exit(o) == .destroyed(MUC.Destroyed(alternate: nil, reason: nil)))
        // A malformed alternate is no alternate.
        let bad = try occupant("<presence xmlns='jabber:client' type='unavailable' from='fleet@conference.example.org/greenhouse'><x xmlns='http://jabber.org/protocol/muc#user'><destroy jid='@@'/><status code='110'/></x></presence>")
        #expect(MUC.exit(bad) == .destroyed(MUC.Destroyed(alternate: nil, reason: nil)))
    }

    @Test(arguments: [
        (332, MUC.Exit.shutdown),
        (321, .membershipLost),
        (322, .membershipLost),
        (307, .kicked(reason: nil)),
        (301, .banned(reason: nil)),
        (333, .removedAfterError),
    ])
    func exitCodes(_ code: Int, _ expected: MUC.Exit) throws {
        let o = try occupant("<presence xmlns='jabber:client' type='unavailable' from='fleet@conference.example.org/greenhouse'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='none'/><status code='\(code)'/><status code='110'/></x></presence>")
        #expect(MUC.exit(o) == expected)
    }

    @Test func aBanOutranksAKickAndADestructionOutranksBoth() throws {
        var o = try occupant("<presence xmlns='jabber:client' type='unavailable' from='fleet@conference.example.org/greenhouse'><x xmlns='http://jabber.org/protocol/muc#user'><status code='307'/><status code='301'/><status code='110'/></x></presence>")
        #expect(MUC.exit(o) == .banned(reason: nil))
        o.destroyed = MUC.Destroyed(alternate: nil, reason: nil)
        #expect(MUC.exit(o) == .destroyed(MUC.Destroyed(alternate: nil, reason: nil)))
    }

    // MARK: - Refusals

    func errorPresence(_ condition: String, type: String = "cancel", text: String? = nil) throws -> XMLElement {
        let t = text.map { "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>\($0)</text>" } ?? ""
        return try stanza("""
            <presence xmlns='jabber:client' type='error' from='fleet@conference.example.org/greenhouse' to='board@example.org/perch'>\
            <x xmlns='http://jabber.org/protocol/muc'/><error type='\(type)' by='fleet@conference.example.org'>\
            <\(condition) xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\(t)</error></presence>
            """)
    }

    @Test(arguments: [
        ("conflict", MUC.Refusal.nickTaken),
        ("not-authorized", .password),
        ("registration-required", .membersOnly),
        ("forbidden", .banned),
        ("service-unavailable", .full),
    ])
    func refusals(_ condition: String, _ expected: MUC.Refusal) throws {
        #expect(MUC.refusal(try errorPresence(condition)) == expected)
    }

    @Test func refusalsThatCarryTheError() throws {
        #expect(MUC.refusal(try errorPresence("item-not-found")) == .cannotCreate(StanzaError(.itemNotFound, type: .cancel)))
        #expect(MUC.refusal(try errorPresence("not-allowed", text: "Room creation is restricted")) == .cannotCreate(StanzaError(.notAllowed, type: .cancel, text: "Room creation is restricted")))
        #expect(MUC.refusal(try errorPresence("jid-malformed", type: "modify")) == .badNick(StanzaError(.jidMalformed, type: .modify)))
        #expect(MUC.refusal(try errorPresence("not-acceptable")) == .badNick(StanzaError(.notAcceptable, type: .cancel)))
        #expect(MUC.refusal(try errorPresence("remote-server-not-found")) == .unreachable(StanzaError(.remoteServerNotFound, type: .cancel)))
        #expect(MUC.refusal(try errorPresence("remote-server-timeout", type: "wait")) == .unreachable(StanzaError(.remoteServerTimeout, type: .wait)))
        #expect(MUC.refusal(try errorPresence("undefined-condition")) == .other(StanzaError(.undefinedCondition, type: .cancel)))
        #expect(MUC.refusal(try errorPresence("resource-constraint", type: "wait")) == .other(StanzaError(.resourceConstraint, type: .wait)))
        // A condition no RFC defines, and no <error/> at all.
        #expect(MUC.refusal(try errorPresence("room-on-fire")) == .other(StanzaError(.undefinedCondition, type: .cancel)))
        #expect(MUC.refusal(try stanza("<presence xmlns='jabber:client' type='error' from='fleet@conference.example.org/greenhouse'/>")) == .other(StanzaError(.undefinedCondition)))
    }

    // MARK: - Lines

    func message(_ inner: String, from: String = "fleet@conference.example.org/alice") throws -> XMLElement {
        try stanza("<message xmlns='jabber:client' type='groupchat' from='\(from)' to='board@example.org/perch' id='m1'>\(inner)</message>")
    }

    @Test func aLiveLine() throws {
        #expect(MUC.line(try message("<body>greenhouse: status</body>")) == .said(nick: "alice", body: "greenhouse: status", occupantID: nil))
        let withID = try message("<body>greenhouse: pump on</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='oid-a'/><stanza-id xmlns='urn:xmpp:sid:0' id='s1' by='fleet@conference.example.org'/>")
        #expect(MUC.line(withID) == .said(nick: "alice", body: "greenhouse: pump on", occupantID: "oid-a"))
        // An occupant id outside XEP-0421's namespace is not one.
        let forged = try message("<body>hi</body><occupant-id xmlns='urn:example' id='oid-a'/>")
        #expect(MUC.line(forged) == .said(nick: "alice", body: "hi", occupantID: nil))
    }

    @Test func theSubject() throws {
        // Prosody sends an empty subject from the room itself when none is set, ejabberd from an occupant.
        #expect(MUC.line(try message("<subject/>", from: "fleet@conference.example.org")) == .subject)
        #expect(MUC.line(try message("<subject>Greenhouse fleet</subject><delay xmlns='urn:xmpp:delay' stamp='2026-12-01T10:00:00Z' from='fleet@conference.example.org'/>")) == .subject)
        // A message with a subject and a body is a message, not a subject change (XEP-0045 §8.1).
        #expect(MUC.line(try message("<subject>x</subject><body>greenhouse: status</body>")) == .said(nick: "alice", body: "greenhouse: status", occupantID: nil))
    }

    @Test func aSubjectWithAThreadIsNoSubjectChange() throws {
        // XEP-0045 §8.1: a <subject/> with a <thread/> is a message that SHALL NOT be taken as a
        // subject change (it must not mark the end of the join's history).
        #expect(MUC.line(try message("<subject>x</subject><thread>t1</thread>")) == .empty)
        #expect(MUC.line(try message("<subject>x</subject><thread>t1</thread><delay xmlns='urn:xmpp:delay' stamp='2026-12-01T10:00:00Z'/>")) == .delayed)
    }

    @Test func history() throws {
        let delayed = try message("<body>greenhouse: pump on</body><delay xmlns='urn:xmpp:delay' stamp='2026-12-01T10:00:00Z' from='fleet@conference.example.org'/>")
        #expect(MUC.line(delayed) == .delayed)
        let legacy = try message("<body>greenhouse: pump on</body><x xmlns='jabber:x:delay' stamp='20261201T10:00:00'/>")
        #expect(MUC.line(legacy) == .delayed)
        // A delay from the room itself is delayed too.
        #expect(MUC.line(try message("<body>notice</body><delay xmlns='urn:xmpp:delay' stamp='2026-12-01T10:00:00Z'/>", from: "fleet@conference.example.org")) == .delayed)
        // A <delay/> in another namespace is not a delay.
        #expect(MUC.line(try message("<body>hi</body><delay xmlns='urn:example' stamp='x'/>")) == .said(nick: "alice", body: "hi", occupantID: nil))
    }

    @Test func fromTheRoomAndEmpty() throws {
        #expect(MUC.line(try message("<body>This room is not anonymous</body><x xmlns='http://jabber.org/protocol/muc#user'><status code='172'/></x>", from: "fleet@conference.example.org")) == .fromRoom)
        #expect(MUC.line(try message("<active xmlns='http://jabber.org/protocol/chatstates'/>")) == .empty)
        #expect(MUC.line(try message("<received xmlns='urn:xmpp:receipts' id='x'/>")) == .empty)
    }

    // MARK: - Invitations

    @Test func directInvitation() throws {
        let m = try stanza("""
            <message xmlns='jabber:client' from='alice@example.org/phone' to='board@example.org'>\
            <x xmlns='jabber:x:conference' jid='Fleet@conference.example.org' password='cauldronburn' reason='the boards meet here'/></message>
            """)
        let i = try #require(MUC.invitation(m))
        #expect(i.kind == .direct)
        #expect(i.room == room)
        #expect(i.inviter == (try JID("alice@example.org/phone")))
        #expect(i.password == "cauldronburn")
        #expect(i.reason == "the boards meet here")
        let plain = try #require(MUC.invitation(try stanza("<message xmlns='jabber:client' from='alice@example.org/phone'><x xmlns='jabber:x:conference' jid='fleet@conference.example.org'/></message>")))
        #expect(plain.password == nil && plain.reason == nil)
    }

    @Test func malformedDirectInvitations() throws {
        // No jid, a jid without a localpart (a service, not a room), a malformed jid, no sender.
        for x in ["<x xmlns='jabber:x:conference'/>", "<x xmlns='jabber:x:conference' jid='conference.example.org'/>", "<x xmlns='jabber:x:conference' jid='@@'/>"] {
            #expect(MUC.invitation(try stanza("<message xmlns='jabber:client' from='alice@example.org/phone'>\(x)</message>")) == nil, "\(x)")
        }
        #expect(MUC.invitation(try stanza("<message xmlns='jabber:client'><x xmlns='jabber:x:conference' jid='fleet@conference.example.org'/></message>")) == nil)
    }

    @Test func mediatedInvitation() throws {
        let m = try stanza("""
            <message xmlns='jabber:client' from='fleet@conference.example.org' to='board@example.org' id='inv1'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><invite from='alice@example.org/phone'><reason>the boards meet here</reason></invite>\
            <password>cauldronburn</password></x></message>
            """)
        let i = try #require(MUC.invitation(m))
        #expect(i.kind == .mediated)
        #expect(i.room == room)
        #expect(i.inviter == (try JID("alice@example.org/phone")))
        #expect(i.password == "cauldronburn")
        #expect(i.reason == "the boards meet here")
    }

    @Test func prosodysMediatedInvitationCarriesALegacyConferenceElementToo() throws {
        // Prosody (and ejabberd) add <x xmlns='jabber:x:conference' jid=ROOM/> to a mediated
        // invitation for old clients. The invitation is still the room's, naming the inviter: not a
        // direct one from the room itself.
        let m = try stanza("""
            <message xmlns='jabber:client' from='fleet@conference.example.org' to='board@example.org' id='invite1'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><invite from='alice@example.org/phone'><reason/></invite></x>\
            <body>alice@example.org/phone invited you to the room fleet@conference.example.org</body>\
            <x xmlns='jabber:x:conference' jid='fleet@conference.example.org'/></message>
            """)
        let i = try #require(MUC.invitation(m))
        #expect(i.kind == .mediated)
        #expect(i.inviter == (try JID("alice@example.org/phone")))
        #expect(i.room == room)
        #expect(i.reason == nil, "an empty reason is none")
    }

    @Test func malformedMediatedInvitations() throws {
        // No inviter, a malformed inviter, from a service rather than a room, muc#user without an invite.
        let cases = [
            ("fleet@conference.example.org", "<x xmlns='http://jabber.org/protocol/muc#user'><invite/></x>"),
            ("fleet@conference.example.org", "<x xmlns='http://jabber.org/protocol/muc#user'><invite from='@@'/></x>"),
            ("conference.example.org", "<x xmlns='http://jabber.org/protocol/muc#user'><invite from='alice@example.org'/></x>"),
            ("fleet@conference.example.org", "<x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x>"),
            ("fleet@conference.example.org", "<x xmlns='http://jabber.org/protocol/muc#user'><invite xmlns='urn:example' from='alice@example.org'/></x>"),
        ]
        for (from, x) in cases {
            #expect(MUC.invitation(try stanza("<message xmlns='jabber:client' from='\(from)'>\(x)</message>")) == nil, "\(x)")
        }
        #expect(MUC.invitation(try stanza("<message xmlns='jabber:client' from='alice@example.org/phone'><body>join us</body></message>")) == nil)
    }

    // MARK: - Self-ping (XEP-0410 §3.2)

    @Test func selfPingVerdicts() throws {
        let pong = try stanza("<iq xmlns='jabber:client' type='result' id='sp1' from='fleet@conference.example.org/greenhouse'/>")
        #expect(MUC.selfPing(.success(pong)) == .joined)
        // The room relayed the ping to our client, which does not answer pings: we are in.
        #expect(MUC.selfPing(.failure(StanzaError(.serviceUnavailable))) == .joined)
        #expect(MUC.selfPing(.failure(StanzaError(.featureNotImplemented))) == .joined)
        // The room's server (or ours) could not reach it: no verdict, ask again later. The client's own
        // timeout comes as remote-server-timeout.
        #expect(MUC.selfPing(.failure(StanzaError(.remoteServerNotFound))) == .unknown)
        #expect(MUC.selfPing(.failure(StanzaError(.remoteServerTimeout))) == .unknown)
        // Any other error: not joined, join again (Prosody and ejabberd answer not-acceptable to a
        // non-occupant).
        #expect(MUC.selfPing(.failure(StanzaError(.notAcceptable))) == .notJoined)
        #expect(MUC.selfPing(.failure(StanzaError(.badRequest))) == .notJoined)
        #expect(MUC.selfPing(.failure(StanzaError(.forbidden))) == .notJoined)
        // XEP-0410 reads item-not-found as "joined, but the nick just changed"; Perch joins again
        // instead: the same answer comes for a room that no longer exists (a service restarted
        // without its temporary rooms), and a join to the nick we think we have resynchronises both.
        #expect(MUC.selfPing(.failure(StanzaError(.itemNotFound))) == .notJoined)
    }
}
