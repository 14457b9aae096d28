public import XMPPAddress
public import XMPPCore

/// XEP-0045: Multi-User Chat, the protocol side for an occupant: the join and leave presences, what
/// a room's presences, errors and messages say, invitations (XEP-0249 direct and XEP-0045 mediated),
/// XEP-0410 self-ping and XEP-0421 occupant ids. What a room means to the device is the agent's.
public enum MUC {
    public static let namespace = "http://jabber.org/protocol/muc"
    public static let user = "http://jabber.org/protocol/muc#user"
    public static let owner = "http://jabber.org/protocol/muc#owner"
    /// XEP-0249 direct invitations.
    public static let conference = "jabber:x:conference"
    /// XEP-0421.
    public static let occupantID = "urn:xmpp:occupant-id:0"
    static let delay = "urn:xmpp:delay"
    static let legacyDelay = "jabber:x:delay"
    static let ping = "urn:xmpp:ping"
    static let dataForms = "jabber:x:data"

    // MARK: - Joining and leaving

    /// The presence that joins `room` as `nick` (§7.2), asking for no history (§7.2.14): a device
    /// has no use for what was said before it came in, and must never run it. `status` carries the
    /// `<show/>` and `<status/>` of the device's presence.
    public static func join(_ room: JID, nick: String, password: String?, show: String?, status: String?) -> XMLElement? {
        guard let occupant = try? room.withResource(nick) else { return nil }
        var x = XMLElement("x", namespace: namespace, attrs: [:], children: [XMLElement("history", namespace: namespace, attrs: ["maxstanzas": "0"])])
        if let password { x.append(XMLElement.text("password", namespace: namespace, password)) }
        var p = presence(to: occupant, show: show, status: status)
        p.append(x)
        return p
    }

    /// A presence update to a room we are in (the device's status changed).
    public static func presence(to occupant: JID, show: String?, status: String?) -> XMLElement {
        var p = XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["to": occupant.description])
        if let show { p.append(.text("show", namespace: XMPPNamespace.client, show)) }
        if let status { p.append(.text("status", namespace: XMPPNamespace.client, status)) }
        return p
    }

    /// Leaves the room (§7.14).
    public static func leave(_ occupant: JID, status: String? = nil) -> XMLElement {
        var p = XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["to": occupant.description, "type": "unavailable"])
        if let status { p.append(.text("status", namespace: XMPPNamespace.client, status)) }
        return p
    }

    /// Accepts the default configuration of a room we just created (§10.1.2, an instant room), so
    /// it is unlocked for others; `fields` (var, value) change the defaults (§10.2).
    public static func instantRoom(_ room: JID, id: String, fields: [(String, String)] = []) -> XMLElement {
        var form = XMLElement("x", namespace: dataForms, attrs: ["type": "submit"])
        if !fields.isEmpty {
            for (name, value) in [("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig")] + fields {
                form.append(XMLElement("field", namespace: dataForms, attrs: ["var": name], children: [.text("value", namespace: dataForms, value)]))
            }
        }
        return Stanza.iq(type: "set", id: id, to: room, payload: XMLElement("query", namespace: owner, attrs: [:], children: [form]))
    }

    /// What a room the device creates is set to: real JIDs shown to its occupants, so that every
    /// board in it can tell who gives a command (a room that hides them takes none).
    public static let createdRoomFields = [("muc#roomconfig_whois", "anyone")]

    /// XEP-0410: a ping to our own occupant JID, which the room answers only while we are in it.
    public static func selfPing(_ occupant: JID, id: String) -> XMLElement {
        Stanza.iq(type: "get", id: id, to: occupant, payload: XMLElement("ping", namespace: ping))
    }

    /// What a self-ping's answer says (XEP-0410 §3.2).
    public enum SelfPing: Sendable, Hashable {
        /// Still in the room.
        case joined
        /// The room does not know us (or our nick changed under us): join again.
        case notJoined
        /// No verdict (the room's server cannot be reached, or no answer came): ask again later.
        case unknown
    }

    public static func selfPing(_ answer: Result<XMLElement, StanzaError>) -> SelfPing {
        switch answer {
        case .success: return .joined
        case .failure(let e):
            switch e.condition {
            // The occupant's client does not do pings, but the room relayed the ping: we are in.
            case .serviceUnavailable, .featureNotImplemented: return .joined
            case .remoteServerNotFound, .remoteServerTimeout: return .unknown
            // A timeout (the client's own) comes as remote-server-timeout, so anything else means
            // the room refused to relay it: not-acceptable, item-not-found, ...
            default: return .notJoined
            }
        }
    }

    // MARK: - Presences from a room

    /// What the room's service says about one occupant (§7.2.3, §7.2.4).
    public struct OccupantPresence: Sendable, Hashable {
        public var room: JID
        public var nick: String
        public var available: Bool
        /// The occupant's real JID, when the room shows it to us (non-anonymous, or we moderate).
        public var realJID: JID?
        public var affiliation: String?
        public var role: String?
        /// XEP-0421: the id the service gives this occupant (stable across nick changes).
        public var occupantID: String?
        /// The `<status code=…/>` values.
        public var codes: Set<Int>
        /// A nick change (303): the new nick.
        public var newNick: String?
        /// The room was destroyed (§10.9): the alternate venue and the reason, when given.
        public var destroyed: Destroyed?
        /// The reason an admin gave for a kick or ban.
        public var reason: String?

        /// The presence is about us (status 110).
        public var isSelf: Bool { codes.contains(110) }
    }

    public struct Destroyed: Sendable, Hashable {
        public var alternate: JID?
        public var reason: String?
    }

    /// The occupant a presence from `room@service/nick` describes; nil for a presence that is not an
    /// occupant's (no nick, an error, a subscription).
    public static func occupant(_ p: XMLElement) -> OccupantPresence? {
        guard let from = p.from, let nick = from.resourcepart else { return nil }
        let type = p.stanzaType
        guard type == nil || type == "unavailable" else { return nil }
        var o = OccupantPresence(room: from.bare, nick: nick, available: type == nil, codes: [])
        if let x = p.child("x", namespace: user) {
            for e in x.elements {
                switch e.name {
                case "status": if let c = e[attribute: "code"].flatMap({ Int($0) }) { o.codes.insert(c) }
                case "item":
                    o.realJID = e[attribute: "jid"].flatMap { try? JID($0) }
                    o.affiliation = e[attribute: "affiliation"]
                    o.role = e[attribute: "role"]
                    o.newNick = e[attribute: "nick"]
                    if let r = e.child("reason", namespace: user)?.text, !r.isEmpty { o.reason = r }
                case "destroy":
                    let reason = e.child("reason", namespace: user)?.text
                    o.destroyed = Destroyed(alternate: e[attribute: "jid"].flatMap { try? JID($0) }?.bare, reason: reason?.isEmpty == false ? reason : nil)
                default: break
                }
            }
        }
        o.occupantID = occupantID(of: p)
        return o
    }

    /// Why we are out of the room, from our own unavailable presence (§7.14, §9.2, §9.4, §10.9).
    public enum Exit: Sendable, Hashable {
        /// We left (our own unavailable presence reflected).
        case left
        /// A moderator kicked us (307).
        case kicked(reason: String?)
        /// The service removed us after an error reaching us (333): typically our session went away
        /// (a server restart, a lost connection) and the room noticed.
        case removedAfterError
        /// Banned (301): joining again is refused.
        case banned(reason: String?)
        /// The room was destroyed.
        case destroyed(Destroyed)
        /// Our membership was taken away (321), or the room became members-only (322).
        case membershipLost
        /// The service is shutting down (332).
        case shutdown
    }

    public static func exit(_ o: OccupantPresence) -> Exit {
        if let d = o.destroyed { return .destroyed(d) }
        if o.codes.contains(301) { return .banned(reason: o.reason) }
        if o.codes.contains(307) { return .kicked(reason: o.reason) }
        if o.codes.contains(333) { return .removedAfterError }
        if o.codes.contains(321) || o.codes.contains(322) { return .membershipLost }
        if o.codes.contains(332) { return .shutdown }
        return .left
    }

    /// Why a join was refused (§7.2.6–§7.2.11), from the error presence.
    public enum Refusal: Sendable, Hashable {
        /// The nick is taken (409).
        case nickTaken
        /// A password is needed, or the one given is wrong (401).
        case password
        /// Members only, and we are not a member (407).
        case membersOnly
        /// Banned (403).
        case banned
        /// The room is full (503).
        case full
        /// The room does not exist and may not be created by us (404, 405).
        case cannotCreate(StanzaError)
        /// The nick is not a valid one, or is reserved by someone else (400, 406).
        case badNick(StanzaError)
        /// The room's server cannot be reached.
        case unreachable(StanzaError)
        case other(StanzaError)
    }

    public static func refusal(_ p: XMLElement) -> Refusal {
        let e = StanzaError(stanza: p) ?? StanzaError(.undefinedCondition)
        switch e.condition {
        case .conflict: return .nickTaken
        case .notAuthorized: return .password
        case .registrationRequired: return .membersOnly
        case .forbidden: return .banned
        case .serviceUnavailable: return .full
        case .itemNotFound, .notAllowed: return .cannotCreate(e)
        case .jidMalformed, .notAcceptable: return .badNick(e)
        case .remoteServerNotFound, .remoteServerTimeout: return .unreachable(e)
        default: return .other(e)
        }
    }

    // MARK: - Messages

    /// What a message of type groupchat is, to a device that runs only what is said live.
    public enum Line: Sendable, Hashable {
        /// The subject (§7.2.15): the last thing sent at join, after any history.
        case subject
        /// Something said before we joined (history, or anything with a delay).
        case delayed
        /// From the room itself (no nick): a status notice.
        case fromRoom
        /// An occupant said `body`.
        case said(nick: String, body: String, occupantID: String?)
        /// No body (a chat state, a receipt).
        case empty
    }

    public static func line(_ m: XMLElement) -> Line {
        let body = m.child("body", namespace: XMPPNamespace.client)?.text
        // §8.1: a subject with a body or a thread is a message, not a subject change.
        if m.child("subject", namespace: XMPPNamespace.client) != nil, body == nil, m.child("thread", namespace: XMPPNamespace.client) == nil { return .subject }
        if m.child("delay", namespace: delay) != nil || m.child("x", namespace: legacyDelay) != nil { return .delayed }
        guard let nick = m.from?.resourcepart else { return .fromRoom }
        guard let body else { return .empty }
        return .said(nick: nick, body: body, occupantID: occupantID(of: m))
    }

    /// The XEP-0421 occupant id a room's service put on a presence or message.
    public static func occupantID(of stanza: XMLElement) -> String? {
        stanza.child("occupant-id", namespace: occupantID)?[attribute: "id"]
    }

    /// A message to the room.
    public static func groupchat(_ room: JID, body: String, id: String) -> XMLElement {
        Stanza.message(to: room, body: body, type: "groupchat", id: id)
    }

    // MARK: - Invitations

    public struct Invitation: Sendable, Hashable {
        public enum Kind: Sendable, Hashable {
            /// XEP-0249: sent by the inviter's own client, so `inviter` is what their server stamped.
            case direct
            /// XEP-0045 §7.8.2: relayed by the room, so `inviter` is what the room's service says.
            case mediated
        }

        public var room: JID
        public var inviter: JID
        public var password: String?
        public var reason: String?
        public var kind: Kind
    }

    /// The invitation a message carries; nil when it carries none (or a malformed one).
    public static func invitation(_ m: XMLElement) -> Invitation? {
        // The mediated form first: Prosody and ejabberd add a jabber:x:conference element to it for
        // old clients, which read first would make it a direct invitation from the room itself.
        if let x = m.child("x", namespace: user), let invite = x.child("invite", namespace: user) {
            guard let room = m.from?.bare, room.localpart != nil, let inviter = invite[attribute: "from"].flatMap({ try? JID($0) }) else { return nil }
            let reason = invite.child("reason", namespace: user)?.text
            return Invitation(room: room, inviter: inviter, password: x.child("password", namespace: user)?.text,
                              reason: reason?.isEmpty == false ? reason : nil, kind: .mediated)
        }
        if let x = m.child("x", namespace: conference) {
            guard let room = x[attribute: "jid"].flatMap({ try? JID($0) }), room.localpart != nil, let from = m.from else { return nil }
            return Invitation(room: room.bare, inviter: from, password: x[attribute: "password"], reason: x[attribute: "reason"], kind: .direct)
        }
        return nil
    }
}

extension JID {
    /// This JID with `resource` as its resourcepart (a room's occupant JID).
    public func withResource(_ resource: String) throws(JIDError) -> JID {
        try JID(localpart: localpart, domainpart: domainpart, resourcepart: resource)
    }
}
