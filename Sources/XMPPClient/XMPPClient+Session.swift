import PerchHTTP
import PerchIO
import PerchLog
import PerchTLS
import XMPPAddress
public import XMPPCore
import XMPPXML

/// An iq we sent and wait for.
struct PendingIQ {
    let to: JID?
    let completion: (Result<XMLElement, StanzaError>) -> Void
    let timer: EventLoop.Timer
}

extension XMPPClient {
    // MARK: - Session start and end

    func established(_ session: NegotiatedSession) {
        attempts.unansweredResumptions = 0
        attempts.timer?.cancel()
        keepalive.onlineSince = .now()
        attempts.redirects = 0
        lastProblem = nil
        resetLiveness()
        let resend = adoptStreamManagement(session)
        let how = session.resumed ? "resumed" : "online"
        logger.notice("\(how) as \(session.jid) via \(connection?.endpointDescription ?? "?") (\(session.mechanism)\(session.tls ? ", TLS" : ", no TLS")\(streamMgmt.state != nil ? ", stream management" : ""))")
        // What the server never acknowledged goes first, before the status says online: an observer of
        // it (pubsub, rooms, alerts) sends at once, and must not overtake a message older than its own
        // (an alert's end arriving before its start).
        if let conn = connection {
            for stanza in resend { write(stanza, quiet: false) }
            // Too many unacknowledged ends the connection (countSent): it is over, not online.
            guard connection === conn else { return }
        }
        status = .online(session)
        if session.resumed {
            // The server kept our presence and roster: only what changed meanwhile goes out.
            if currentPresence() != lastPresence { sendPresence() }
            settleLiveness()
            scheduleLiveness()
            return
        }
        // RFC 6121 §2.2: fetch the roster, then §4.2: initial presence, with our capabilities.
        sendIQ(Roster.request(id: makeID("roster"))) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let iq):
                if let q = iq.child("query", namespace: XMPPNamespace.roster) { self.roster.load(q) }
                self.logger.debug("roster: \(self.roster.items.count) contacts")
                self.onRosterChange?(Array(self.roster.items.values), true)
            case .failure(let error):
                self.logger.warning("the server would not give the roster: \(error)")
            }
        }
        sendPresence()
        settleLiveness()
        scheduleLiveness()
    }

    func sendPresence() {
        let presence = currentPresence()
        if send(presence) { lastPresence = presence }
    }

    /// Our available presence: show and status as last set, priority, and XEP-0115 caps.
    func currentPresence() -> XMLElement {
        var presence = XMLElement("presence", namespace: XMPPNamespace.client)
        if let show = presenceShow { presence.append(.text("show", namespace: XMPPNamespace.client, show)) }
        if let status = presenceStatus { presence.append(.text("status", namespace: XMPPNamespace.client, status)) }
        if config.presencePriority != 0 { presence.append(.text("priority", namespace: XMPPNamespace.client, String(config.presencePriority))) }
        presence.append(advertised.capsElement(node: config.capsNode))
        return presence
    }

    /// Sets the `<show/>` (nil, away, chat, dnd, xa) and `<status/>` of our presence, and broadcasts
    /// it when online; otherwise it goes out with the next initial presence.
    public func setPresence(show: String?, status: String?) {
        presenceShow = show
        presenceStatus = status
        if case .online = self.status { sendPresence() }
        for observer in presenceObservers { observer(show, status) }
    }

    // MARK: - Stanzas in

    /// The stanzas of one read. All are counted, and the state saved once if any is a command, before
    /// the first is handled: a restart never has the server deliver a command twice, and a burst of
    /// commands costs one save, not one each.
    func received(_ batch: [XMLElement], counted: Bool, on connection: XMPPConnection) {
        if counted {
            streamMgmt.batchSavePending = false
            for stanza in batch where stanza.stanzaKind != nil { countReceived(stanza) }
            if streamMgmt.batchSavePending { saveResumption() }
        }
        streamMgmt.inBatch = true
        for stanza in batch {
            if connection.isEnded { break }
            received(stanza)
        }
        streamMgmt.inBatch = false
        // Messages sent while handling the batch (the commands' replies) are saved here, once.
        if streamMgmt.batchSavePending {
            streamMgmt.batchSavePending = false
            saveResumption()
        }
        settleLiveness()
    }

    func received(_ stanza: XMLElement) {
        switch stanza.stanzaKind {
        case .iq: receivedIQ(stanza)
        case .message, .presence:
            if router.route(stanza) == .pass { onStanza?(stanza) }
        case nil:
            if stanza.namespace == XMPPNamespace.streamManagement { return receivedStreamManagement(stanza) }
            logger.debug("ignoring a top-level element \(logQuoted(stanza.name)) in namespace \(logQuoted(stanza.namespace))")
        }
    }

    private func receivedIQ(_ iq: XMLElement) {
        let type = iq.stanzaType
        if type == "result" || type == "error" {
            guard let id = iq.stanzaID, let pending = iqs.pending[id], responseMatches(iq, pending.to) else { return }
            iqs.pending[id] = nil
            pending.timer.cancel()
            if type == "result" {
                pending.completion(.success(iq))
            } else {
                pending.completion(.failure(StanzaError(stanza: iq) ?? StanzaError(.undefinedCondition)))
            }
            return
        }
        guard type == "get" || type == "set" else {
            // RFC 6120 §8.2.3: an iq of any other type is a bad request.
            if iq.stanzaID != nil { send(Stanza.error(for: iq, StanzaError(.badRequest))) }
            return
        }
        if type == "set", let id = iq.stanzaID, let sender = repeatCheckSender(iq) {
            // A set is an action: the same request (sender and id) again gets the first answer.
            let who = iq.fromAttribute.map(logQuoted) ?? "the server"
            // A different payload under a known id is another request (slixmpp sends every iq as "0").
            let request = RecentRequests.key(from: iq.fromAttribute ?? "", id: id)
            let key = RecentRequests.key(from: iq.fromAttribute ?? "", id: id, payload: iq.children)
            switch iqs.recentSets.check(key, request: request, sender: sender) {
            case .new:
                // Handlers that never answer must not grow this: past a bound the oldest are forgotten
                // (their answers then go unrecorded, and a retry of them would run again).
                if iqs.setsInFlight.count >= 512 { iqs.setsInFlight.removeAll(keepingCapacity: true) }
                iqs.setsInFlight[request, default: []].append(key)
            case .inProgress, .done:
                // (`done` is never recorded for an iq: every request gets an answer.)
                logger.info("iq \(logQuoted(id)) from \(who) arrived again while still being handled; it runs once")
                return
            case .answered(let reply):
                logger.info("iq \(logQuoted(id)) from \(who) arrived again; sent the first answer, not run twice")
                send(reply)
                return
            }
        }
        let payloads = iq.elements
        guard payloads.count == 1, let payload = payloads.first else {
            send(Stanza.error(for: iq, StanzaError(.badRequest, text: "an iq request carries exactly one payload")))
            return
        }
        switch router.iqHandler(for: payload.namespace)?(iq) ?? .unhandled {
        case .reply(let reply):
            send(reply)
        case .handled:
            break
        case .unhandled:
            // RFC 6120 §8.4: an iq nobody understands gets service-unavailable.
            if mayAnswer(iq, "<\(payload.name)> request") { send(Stanza.error(for: iq, StanzaError(.serviceUnavailable))) }
        }
    }

    /// Whether a built-in answer to `iq` may go out: always to our own server and account and to
    /// trusted senders; to anyone else while ``strangerBudget`` allows.
    func mayAnswer(_ iq: XMLElement, _ what: String) -> Bool {
        guard let budget = strangerBudget, let from = untrustedSender(iq) else { return true }
        return budget(from, .answer(what))
    }

    /// The sender of `stanza` when it is somebody ``isTrusted`` refuses; nil for our own server or
    /// account, a trusted sender, or when no trust is configured.
    func untrustedSender(_ stanza: XMLElement) -> JID? {
        guard let isTrusted, let from = stanza.from else { return nil }
        if from.bare == config.jid.bare || from == config.jid.domain { return nil }
        return isTrusted(from) ? nil : from
    }

    /// Whose share of the repeat check an iq set counts against (its bare JID; "" for our own server),
    /// or nil when it is not recorded: a sender ``isTrusted`` does not accept, or an unreadable `from`.
    private func repeatCheckSender(_ iq: XMLElement) -> String? {
        guard iq.fromAttribute != nil else { return "" }
        guard let from = iq.from else { return nil }
        if let isTrusted, !isTrusted(from) { return nil }
        return from.bare.description
    }

    /// The client's own iq routes (XEP-0199 ping, XEP-0030 disco#info, XEP-0092 version, XEP-0202
    /// time, RFC 6121 roster pushes), registered on the router at start-up like any other, with
    /// their features.
    func installBuiltInRoutes() {
        let owner = "XMPPClient (built in)"
        for (ns, features) in [(XMPPNamespace.ping, [XMPPNamespace.ping]), (XMPPNamespace.discoInfo, [XMPPNamespace.discoInfo]),
                               (XMPPNamespace.version, [XMPPNamespace.version]), (XMPPNamespace.time, [XMPPNamespace.time]),
                               (XMPPNamespace.roster, [])] {
            router.iq(ns, features: features, owner: owner) { [unowned self] iq in self.builtIn(iq) }
        }
        // XEP-0115: the caps element goes out with every presence.
        router.declare([XMPPNamespace.caps], owner: owner)
    }

    /// A built-in answer, if the request is one (a get for ping, disco#info, version, time; a roster
    /// set): sent only while ``mayAnswer(_:_:)`` allows, silently dropped otherwise.
    private func builtIn(_ iq: XMLElement) -> IQHandling {
        guard let payload = iq.elements.first, let reply = builtInReply(iq, payload) else { return .unhandled }
        return mayAnswer(iq, payload.name) ? .reply(reply) : .handled
    }

    private func builtInReply(_ iq: XMLElement, _ payload: XMLElement) -> XMLElement? {
        let get = iq.stanzaType == "get"
        switch (payload.namespace, payload.name, get) {
        case (Ping.namespace, "ping", true):
            return Ping.answer(to: iq)
        case (DiscoInfo.namespace, "query", true):
            let node = payload[attribute: "node"]
            let info = advertised
            let capsNode = info.capsNode(base: config.capsNode)
            if let node, node != capsNode {
                // Nodes of our own (ad-hoc commands) are described by whoever registered them.
                if let info = discoInfoForNode?(node, iq) { return Stanza.result(for: iq, payload: info) }
                return Stanza.error(for: iq, StanzaError(.itemNotFound))
            }
            return Stanza.result(for: iq, payload: info.element(node: node))
        case (XMPPNamespace.version, "query", true):
            return BasicIQHandlers.version(iq, name: config.softwareName, version: config.softwareVersion, os: config.operatingSystem)
        case (XMPPNamespace.time, "time", true):
            let (s, ms) = WallClock.now()
            return BasicIQHandlers.time(iq, seconds: s, millis: ms)
        case (XMPPNamespace.roster, "query", false):
            // RFC 6121 §2.1.6: a push is only valid from our own account (no from, or our bare JID).
            guard iq.fromAttribute == nil || iq.from?.bare == config.jid.bare else {
                return Stanza.error(for: iq, StanzaError(.serviceUnavailable))
            }
            let changed = roster.apply(push: payload)
            logger.debug("roster push: \(changed.map { "\($0.jid) \(logQuoted($0.subscription))" }.joined(separator: ", "))")
            onRosterChange?(changed, false)
            return Stanza.result(for: iq)
        default:
            return nil
        }
    }

    /// RFC 6120 §8.1.2.1 / §10.1: a response must come from where the request went; a request without
    /// `to` is answered by our server, which may write our bare JID, our domain or nothing.
    private func responseMatches(_ iq: XMLElement, _ to: JID?) -> Bool {
        let from = iq.from
        if let to { return from == to || (to.isBare && from?.bare == to) }
        guard let from else { return iq.fromAttribute == nil }
        return from == config.jid.bare || from == config.jid.domain || from.bare == config.jid.bare
    }

    // MARK: - IQs out

    /// Sends an iq request and calls `completion` with the result, the error, or `remote-server-timeout`.
    public func sendIQ(_ iq: XMLElement, timeout: Int64 = 30_000, completion: @escaping (Result<XMLElement, StanzaError>) -> Void) {
        var iq = iq
        let id = iq.stanzaID ?? makeID("iq")
        iq[attribute: "id"] = id
        guard send(iq) else {
            completion(.failure(StanzaError(.recipientUnavailable, text: "not connected")))
            return
        }
        let timer = loop.schedule(after: timeout) { [weak self] in
            guard let self, let pending = self.iqs.pending.removeValue(forKey: id) else { return }
            pending.completion(.failure(StanzaError(.remoteServerTimeout, text: "no answer within \(timeout / 1000) s")))
            self.settleLiveness()
        }
        iqs.pending[id] = PendingIQ(to: iq.to, completion: completion, timer: timer)
        settleLiveness()
    }

    func failPendingIQs() {
        let pending = iqs.pending
        iqs.pending = [:]
        for (_, p) in pending {
            p.timer.cancel()
            p.completion(.failure(StanzaError(.recipientUnavailable, text: "the connection was lost")))
        }
    }
}
