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
        unansweredResumptions = 0
        attemptTimer?.cancel()
        onlineSince = .now()
        redirects = 0
        lastProblem = nil
        resetLiveness()
        let resend = adoptStreamManagement(session)
        let how = session.resumed ? "resumed" : "online"
        logger.notice("\(how) as \(session.jid) via \(connection?.endpointDescription ?? "?") (\(session.mechanism)\(session.tls ? ", TLS" : ", no TLS")\(sm != nil ? ", stream management" : ""))")
        status = .online(session)
        if session.resumed {
            // The server kept our presence and roster: only what changed meanwhile goes out.
            for stanza in resend { send(stanza) }
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
        for stanza in resend { send(stanza) }
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

    func ended(_ conn: XMPPConnection, _ candidate: ServerCandidate, _ reason: XMPPConnection.EndReason) {
        guard connection === conn else { return }
        connection = nil
        attemptTimer?.cancel()
        livenessTimer?.cancel()
        let duration = onlineSince.map { Instant.now() - $0 }
        let wasOnline = onlineSince != nil
        onlineSince = nil
        // An endpoint found by XEP-0156 that did not get us logged in is looked up again next time.
        if !wasOnline, config.url == nil { discoveredURL = nil }
        // The status changes first: a request's caller, told it failed, must not find the session
        // still "online" and send again into a connection that is gone.
        if stopping {
            finishStop()
            failPendingIQs()
            return resetLiveness()
        }
        status = .offline
        streamManagementLost()
        resetLiveness()

        var cause = ReconnectPolicy.Cause.transient
        var tryNextAddress = !wasOnline
        let why: String
        switch reason {
        case .closedByUs:
            why = "closed"
        case .connectFailed(let e):
            why = "cannot connect to \(conn.address): \(e.message)"
            attemptOnlyRefused = e.isConnectionRefused && attemptOnlyRefused != false
        case .tls(let e):
            why = "TLS with \(candidate.host) failed: \(e.detail)"
            if e.code == .configuration { cause = .authentication; tryNextAddress = false }
        case .negotiation(let e):
            why = e.detail
            switch e.kind {
            case .authentication:
                cause = .authentication
                tryNextAddress = false
            case .security:
                cause = .authentication
            case .resourceConflict:
                cause = .conflict
                tryNextAddress = false
            case .stream(let se):
                (cause, tryNextAddress) = streamErrorPolicy(se, candidate)
            case .protocolViolation:
                break
            }
        case .streamError(let se):
            why = "the server ended the stream: \(se)"
            (cause, tryNextAddress) = streamErrorPolicy(se, candidate)
        case .localStreamError(let e):
            why = "closed the stream: the server sent \(e)"
        case .closedByPeer(let e):
            why = e.map { "connection lost: \($0.message)" } ?? "the server closed the connection"
        case .timeout(let what):
            why = what
        case .proxy(let e):
            why = "\(e)"
            // Credentials or a policy: the operator has to act. Anything else may pass.
            if e.status == 407 || e.status == 401 || e.status == 403 { cause = .authentication; tryNextAddress = false }
        case .transport(let what, let permanent):
            why = what
            if permanent { cause = .authentication; tryNextAddress = false }
        case .seeOtherURI(let uri):
            tryNextAddress = false
            let url = try? WebURL.parse(uri)
            if redirects < 5, let url, let target = candidate.redirected(to: url) {
                redirects += 1
                redirectTarget = target
                why = "the server redirects us to \(url)"
                cause = .redirect
            } else {
                let reason = url == nil ? "not a URL Perch can use" : redirects >= 5 ? "five redirects in a row" : "not the same kind of endpoint, or from TLS to the clear"
                why = "the server sends us to \(String(uri.prefix(200))), which is not followed (\(reason)); trying \(candidate) again later"
            }
        }
        lastProblem = why
        switch cause {
        case .authentication: logger.error(why)
        case .conflict: logger.warning("\(why): another client is using \(config.jid); not taking the resource back for a while")
        default: logger.warning(why)
        }
        if tryNextAddress && cause == .transient {
            if case .connectFailed = reason {} else { attemptOnlyRefused = false }
            return nextAddress(candidate)
        }
        scheduleReconnect(cause, sessionDuration: duration)
    }

    private func streamErrorPolicy(_ se: StreamError, _ candidate: ServerCandidate) -> (ReconnectPolicy.Cause, Bool) {
        switch se.condition {
        case .conflict:
            return (.conflict, false)
        case .systemShutdown:
            return (.serverShutdown, false)
        case .seeOtherHost:
            if let other = se.otherHost, redirects < 5, let target = Self.parseHostPort(other, defaultPort: candidate.port) {
                redirects += 1
                redirectTarget = ServerCandidate(host: target.host, port: target.port, directTLS: candidate.directTLS)
                logger.notice("the server redirects us to \(other)")
                return (.redirect, false)
            }
            return (.transient, false)
        case .notAuthorized:
            return (.authentication, false)
        case .hostUnknown, .hostGone:
            return (.authentication, false)
        default:
            return (.transient, false)
        }
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`.
    static func parseHostPort(_ s: String, defaultPort: Int) -> (host: String, port: Int)? {
        let t = s.trimmingWhitespace()
        guard !t.isEmpty else { return nil }
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else { return nil }
            let host = String(t[t.index(after: t.startIndex)..<close])
            let rest = t[t.index(after: close)...]
            if rest.isEmpty { return (host, defaultPort) }
            guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), (1...65535).contains(p) else { return nil }
            return (host, p)
        }
        let parts = t.split(separator: ":")
        if parts.count == 1 { return (t, defaultPort) }
        guard parts.count == 2, let p = Int(parts[1]), (1...65535).contains(p) else { return nil }
        return (String(parts[0]), p)
    }

    // MARK: - Liveness (XEP-0199 pings, and the answers we wait for; see Liveness.swift)

    /// The timer for the next liveness check, from the state as it is now.
    func scheduleLiveness() {
        livenessTimer?.cancel()
        let delay = liveness.nextCheck(at: Instant.now().milliseconds)
        livenessTimer = loop.schedule(after: delay) { [weak self] in self?.checkLiveness() }
    }

    /// Whether we wait for the server now: an iq request, an acknowledgement or a ping unanswered.
    var awaitingAnswers: Bool { !pendingIQs.isEmpty || acksAwaited > 0 || pingOutstanding }

    /// Tells the liveness check whether we wait for answers now (after a request went out, or after
    /// what arrived was handled); the next check moves only when that changed.
    func settleLiveness() {
        guard case .online = status, connection != nil else { return }
        if liveness.waiting(awaitingAnswers, at: Instant.now().milliseconds) { scheduleLiveness() }
    }

    /// A fresh liveness state for a new connection.
    func resetLiveness() {
        liveness = Liveness(interval: config.pingInterval, timeout: config.pingTimeout, now: Instant.now().milliseconds)
        pingOutstanding = false
        acksAwaited = 0
        answersOverdue = false
    }

    /// Bytes arrived: the server is there, and they answer a ping that was out. Silence starts over,
    /// which only moves the next check later, so the timer stays (it re-evaluates when it fires).
    func activity() {
        liveness.heard(at: Instant.now().milliseconds)
        pingOutstanding = false
        answersOverdue = false
    }

    private func checkLiveness() {
        guard case .online = status, let connection else { return }
        let now = Instant.now().milliseconds
        let waitingFor = describeAwaited()
        switch liveness.check(at: now) {
        case .dead(let silent):
            logger.warning("no answer from the server for \(describeDuration(silent)) while waiting for \(waitingFor); the connection is dead. Reconnecting; what it did not confirm goes out again once connected")
            connection.abort()
            ended(connection, connection.candidate, .timeout("the server stopped answering (nothing for \(describeDuration(silent)) while waiting for \(waitingFor))"))
            return
        case .ping:
            if awaitingAnswers {
                logger.info("no answer from the server for \(describeDuration(liveness.silence(at: now) ?? 0)) while waiting for \(waitingFor); asking with a ping (the connection counts as dead after \(describeDuration(config.pingTimeout)) of silence)")
            }
            pingOutstanding = true
            // The reply (or any other traffic) ends the wait; the iq itself needs no tracking.
            send(BasicIQHandlers.pingRequest(id: makeID("ping"), to: config.jid.domainpart), quiet: true)
            liveness.waiting(true, at: now)
        case .none:
            break
        }
        answersOverdue = liveness.overdue(at: now)
        scheduleLiveness()
    }

    /// What we wait for, for a log line: "3 requests and an acknowledgement".
    func describeAwaited() -> String {
        var parts: [String] = []
        if pingOutstanding { parts.append("a ping") }
        if !pendingIQs.isEmpty { parts.append(pendingIQs.count == 1 ? "a request" : "\(pendingIQs.count) requests") }
        if acksAwaited > 0 { parts.append("an acknowledgement") }
        switch parts.count {
        case 0: return "nothing"
        case 1: return parts[0]
        default: return parts.dropLast().joined(separator: ", ") + " and " + parts[parts.count - 1]
        }
    }

    // MARK: - Stanzas in

    /// The stanzas of one read. All are counted, and the state saved once if any is a command, before
    /// the first is handled: a restart never has the server deliver a command twice, and a burst of
    /// commands costs one save, not one each.
    func received(_ batch: [XMLElement], counted: Bool, on connection: XMPPConnection) {
        if counted {
            batchSavePending = false
            for stanza in batch where stanza.stanzaKind != nil { countReceived(stanza) }
            if batchSavePending { saveResumption() }
        }
        inBatch = true
        for stanza in batch {
            if connection.isEnded { break }
            received(stanza)
        }
        inBatch = false
        // Messages sent while handling the batch (the commands' replies) are saved here, once.
        if batchSavePending {
            batchSavePending = false
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
            guard let id = iq.stanzaID, let pending = pendingIQs[id], responseMatches(iq, pending.to) else { return }
            pendingIQs[id] = nil
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
            switch recentSets.check(key, request: request, sender: sender) {
            case .new:
                // Handlers that never answer must not grow this: past a bound the oldest are forgotten
                // (their answers then go unrecorded, and a retry of them would run again).
                if setsInFlight.count >= 512 { setsInFlight.removeAll(keepingCapacity: true) }
                setsInFlight[request, default: []].append(key)
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
            guard let self, let pending = self.pendingIQs.removeValue(forKey: id) else { return }
            pending.completion(.failure(StanzaError(.remoteServerTimeout, text: "no answer within \(timeout / 1000) s")))
            self.settleLiveness()
        }
        pendingIQs[id] = PendingIQ(to: iq.to, completion: completion, timer: timer)
        settleLiveness()
    }

    func failPendingIQs() {
        let pending = pendingIQs
        pendingIQs = [:]
        for (_, p) in pending {
            p.timer.cancel()
            p.completion(.failure(StanzaError(.recipientUnavailable, text: "the connection was lost")))
        }
    }
}
