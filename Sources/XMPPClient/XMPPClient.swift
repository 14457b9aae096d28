public import PerchIO
public import PerchLog
import PerchTLS
public import XMPPAddress
public import XMPPCore
import PerchHTTP
import PerchIDN
import XMPPSASL

/// A persistent XMPP client session: it resolves the server, connects, negotiates, keeps the connection
/// alive with pings, answers the basic IQs every client must, and reconnects with back-off when the
/// connection ends. Everything runs on one ``EventLoop``.
public final class XMPPClient {
    public enum Status: Sendable, Equatable {
        case offline
        case connecting
        case online(NegotiatedSession)
        case stopped
    }

    public let loop: EventLoop
    public let config: ClientConfiguration
    let logger: Logger
    public internal(set) var status: Status = .offline {
        didSet {
            guard status != oldValue else { return }
            for observer in statusObservers { observer(status) }
            onStatus?(status)
        }
    }
    /// Called when the status changes (after every ``observeStatus(_:)`` observer).
    public var onStatus: ((Status) -> Void)?
    private var statusObservers: [(Status) -> Void] = []

    /// Adds an observer of status changes; observers are called in the order added, and adding one
    /// never replaces another (the agent and the daemon each watch the status).
    public func observeStatus(_ observer: @escaping (Status) -> Void) {
        statusObservers.append(observer)
    }
    /// Adds an observer of ``setPresence(show:status:)`` (the group chat rooms carry the same status).
    public func observePresence(_ observer: @escaping (_ show: String?, _ status: String?) -> Void) {
        presenceObservers.append(observer)
    }
    /// Where received messages, presences and iq requests go (``StanzaRouter``); each registration
    /// declares its disco features.
    public let router = StanzaRouter()
    /// The messages and presences no route of ``router`` took. (iq requests nobody serves are
    /// answered automatically.)
    public var onStanza: ((XMLElement) -> Void)?
    /// Describes a disco#info node other than the caps node (the request is passed for its sender);
    /// nil answers item-not-found.
    public var discoInfoForNode: ((String, XMLElement) -> XMLElement?)?
    /// Who this entity is, and features to advertise beside those the router's registrations declare
    /// (the client's own among them): together, what disco#info and the caps hash report (``advertised``).
    public var discoInfo: DiscoInfo
    public internal(set) var roster = Roster()
    /// Called after the roster arrived at login (`full`: every item) and after each roster push from
    /// our own account (the items it changed), so access can follow what the server holds.
    public var onRosterChange: ((_ items: [Roster.Item], _ full: Bool) -> Void)?
    /// The last reason a connection attempt failed or a session ended, for status reports.
    public internal(set) var lastProblem: String?
    /// True while the server has been silent past half the ping timeout although we wait for its
    /// answers (an iq, an acknowledgement, a ping): the connection may be dead. Whatever can wait (new
    /// readings) should not be written into it until this clears (the server answered) or the
    /// connection is replaced.
    public internal(set) var answersOverdue = false { didSet { if answersOverdue != oldValue { onAnswersOverdue?(answersOverdue) } } }
    /// Called when ``answersOverdue`` changes; the pubsub publisher holds new readings while it is set.
    public var onAnswersOverdue: ((Bool) -> Void)?

    var connection: XMPPConnection?
    var candidates: [ServerCandidate] = []
    var addresses: [SocketAddress] = []
    var reconnectState = ReconnectPolicy.State()
    /// How the addresses of this attempt failed so far: nil before any did, true while every one
    /// refused the connection (the server is restarting), false once another failure came.
    var attemptOnlyRefused: Bool?
    var retryTimer: EventLoop.Timer?
    /// The account's domain as DNS and TLS name it (IDNA ToASCII; an ASCII domain unchanged).
    var asciiDomain: String { IDN.toASCII(config.jid.domainpart) ?? config.jid.domainpart }

    /// The SRV look-ups of the attempt under way.
    var srvQueries: [SRVQuery] = []
    var attemptTimer: EventLoop.Timer?
    var livenessTimer: EventLoop.Timer?
    var onlineSince: Instant?
    /// Silence while we wait for the server (XMPPClient+Session.swift).
    var liveness = Liveness(interval: 60_000, timeout: 30_000, now: Instant.now().milliseconds)
    /// A keepalive or probe ping is out and nothing has arrived since.
    var pingOutstanding = false
    /// XEP-0198 `<r/>` sent and not yet answered by an `<a/>`.
    var acksAwaited = 0
    /// The endpoint XEP-0156 found (kept until an attempt at it fails before logging in), and the
    /// host-meta fetch under way.
    var discoveredURL: WebURL?
    var discovery: HTTPGet?
    /// Attempts in a row that timed out waiting for the answer to <resume/>.
    var unansweredResumptions = 0
    var redirects = 0
    var redirectTarget: ServerCandidate?
    var stopping = false
    var stopCompletion: (() -> Void)?
    let scramCache = SCRAMCache()
    var pendingIQs: [String: PendingIQ] = [:]
    var nextStanzaID = 0
    var rng = SystemRandomNumberGenerator()
    /// The `<show/>` and `<status/>` of our presence, as last set (``setPresence(show:status:)``).
    public internal(set) var presenceShow: String?
    public internal(set) var presenceStatus: String?
    var presenceObservers: [(_ show: String?, _ status: String?) -> Void] = []
    /// The presence last broadcast, so a resumed session re-sends it only when it changed meanwhile.
    var lastPresence: XMLElement?
    // XEP-0198 (XMPPClient+StreamManagement.swift)
    var sm: StreamManagement?
    var smJID: JID?
    /// True while the current connection counts stanzas.
    var smActive = false
    /// The state came from disk (an earlier process).
    var smFromDisk = false
    /// When the connection of the resumable session was lost (Unix ms).
    var smLostAt: Int64?
    var ackTimer: EventLoop.Timer?
    var saveTimer: EventLoop.Timer?
    var saveFailing = false
    /// While a batch of stanzas is handled: messages sent meanwhile are saved once, after it.
    var inBatch = false
    var batchSavePending = false
    let resumptionStore: ResumptionStore?
    /// iq set requests answered lately, so a repeated id is answered again rather than run twice: only
    /// those of senders ``isTrusted`` accepts (and of our own server), each sender a bounded share.
    var recentSets = RecentRequests(capacity: 256, perSender: 32)
    /// The repeat-check keys of iq sets being handled, by sender and id, oldest first: the answer, which
    /// carries only the id, is recorded under the key of the request it answers.
    var setsInFlight: [String: [String]] = [:]
    /// Whether iq sets from this sender are remembered for the repeat check (nil: every sender's are).
    /// The agent trusts those with a role, so strangers can neither fill the table nor evict entries.
    public var isTrusted: ((JID) -> Bool)?
    /// Asked before a sender ``isTrusted`` refuses costs a built-in answer (ping, disco, version, time,
    /// `service-unavailable` for an iq nobody handles) or a log line (a stanza over the limits): true
    /// when it may, now. The agent hands it to its stranger gate, so a flood of pings from strangers
    /// gets a bounded number of answers and one summary line; nil lets everything through.
    public var strangerBudget: ((_ from: JID, _ cost: StrangerCost) -> Bool)?

    /// What a sender without trust is about to cost, for ``strangerBudget``.
    public enum StrangerCost: Sendable, Equatable {
        /// An answer anyone gets (a pong, disco#info, `service-unavailable`): true sends it.
        case answer(String)
        /// Something refused or dropped, to be logged; `reply`: an error would go back, true sends it.
        case refused(String, reply: Bool)
    }

    public init(loop: EventLoop, config: ClientConfiguration, logger: Logger) {
        self.loop = loop
        self.config = config
        self.logger = logger
        resumptionStore = config.resumptionFile.map { ResumptionStore(path: $0) }
        discoInfo = DiscoInfo(identities: [.init(category: "client", type: "bot", name: config.softwareName)], features: [])
        installBuiltInRoutes()
    }

    // MARK: - Public API

    /// Starts connecting; the client keeps a session up until ``stop(_:)``.
    public func start() {
        guard status == .offline, retryTimer == nil, connection == nil else { return }
        if sm == nil { loadResumption() }
        attempt()
    }

    /// Ends the session politely (unavailable presence, `</stream:stream>`) and stops reconnecting.
    /// `completion` runs once the stream is closed or after a short timeout.
    public func stop(_ completion: @escaping () -> Void) {
        stopping = true
        retryTimer?.cancel()
        attemptTimer?.cancel()
        for q in srvQueries { q.cancel() }
        srvQueries = []
        discovery?.cancel()
        discovery = nil
        livenessTimer?.cancel()
        guard let connection else {
            status = .stopped
            completion()
            return
        }
        stopCompletion = completion
        if case .online = status {
            send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unavailable"]))
            // A closed stream ends the session on the server: there is nothing to resume after this.
            forgetResumption()
            connection.close()
        } else {
            connection.abort()
            finishStop()
        }
    }

    /// Sends a stanza if a session is up. Returns false when offline (nothing is queued here). With
    /// stream management, a sent stanza is held until the server acknowledges it, and sent again on
    /// the next connection if it never does (see XMPPClient+StreamManagement.swift). Messages get an
    /// XEP-0359 origin id, so a re-send can be told from a new message.
    @discardableResult
    public func send(_ stanza: XMLElement) -> Bool {
        send(stanza, quiet: false)
    }

    @discardableResult
    func send(_ stanza: XMLElement, quiet: Bool) -> Bool {
        guard case .online = status, let connection else { return false }
        var stanza = stanza
        if stanza.stanzaKind == .message, stanza.child("origin-id", namespace: XMPPNamespace.stanzaID) == nil {
            let id = stanza.stanzaID ?? makeID("m")
            stanza[attribute: "id"] = id
            stanza.append(XMLElement("origin-id", namespace: XMPPNamespace.stanzaID, attrs: ["id": id]))
        }
        if stanza.stanzaKind == .iq, stanza.stanzaType == "result" || stanza.stanzaType == "error", let id = stanza.stanzaID {
            let request = RecentRequests.key(from: stanza[attribute: "to"] ?? "", id: id)
            if var keys = setsInFlight[request], !keys.isEmpty {
                recentSets.answered(keys.removeFirst(), stanza)
                setsInFlight[request] = keys.isEmpty ? nil : keys
            }
        }
        connection.send(stanza)
        countSent(stanza, quiet: quiet)
        return true
    }

    /// Registers a handler for iq get/set requests whose payload is in `namespace` (``StanzaRouter/iq(_:features:owner:_:)``):
    /// a second one for the same namespace stops the program. Every request gets exactly one answer.
    public func handleIQ(namespace: String, features: [String] = [], owner: String = #fileID, _ handler: @escaping (XMLElement) -> IQHandling) {
        router.iq(namespace, features: features, owner: owner, handler)
    }

    /// What disco#info lists and the caps hash covers: the client's own features and every route's.
    public var advertised: DiscoInfo {
        DiscoInfo(identities: discoInfo.identities, features: discoInfo.features + router.features)
    }

    /// A fresh stanza id.
    public func makeID(_ prefix: String = "p") -> String {
        nextStanzaID += 1
        return "\(prefix)\(nextStanzaID)-\(SecureRandomID.short())"
    }

    // MARK: - Attempts

    func attempt() {
        retryTimer = nil
        attemptOnlyRefused = nil
        status = .connecting
        if redirectTarget == nil, resumptionRequest != nil, config.transport?.isWeb != true, let location = sm?.location,
            let target = Self.parseHostPort(location, defaultPort: config.port ?? 5222)
        {
            // XEP-0198 §5: the server asked to be found there for a resumption.
            redirectTarget = ServerCandidate(host: target.host, port: target.port, directTLS: config.transport == .directTLS)
        }
        if let target = redirectTarget {
            redirectTarget = nil
            candidates = [target]
            return nextCandidate()
        }
        if let web = config.transport, web.isWeb {
            guard let url = config.url else { return discoverEndpoint(web) }
            candidates = [web == .websocket ? ServerCandidate(websocket: url) : ServerCandidate(bosh: url)]
            return nextCandidate()
        }
        if let host = config.host {
            let direct = config.transport == .directTLS
            candidates = [ServerCandidate(host: IDN.toASCII(host) ?? host, port: config.port ?? (direct ? 5223 : 5222), directTLS: direct)]
            return nextCandidate()
        }
        // DNS and TLS speak A-labels: a non-ASCII domain is looked up and checked in its ASCII form.
        let domain = asciiDomain
        let wantStartTLS = config.transport != .directTLS
        let wantDirect = config.transport == nil || config.transport == .directTLS
        logger.debug("looking up SRV records for \(domain)")
        // Both look-ups at once, on the loop (no thread); the candidates once both have answered.
        var answers: (DNSAnswer?, DNSAnswer?) = (nil, nil)
        var waiting = (wantStartTLS ? 1 : 0) + (wantDirect ? 1 : 0)
        let resolver = SRVResolver.Configuration.system()
        let done: () -> Void = { [weak self] in
            waiting -= 1
            guard waiting == 0, let self else { return }
            self.srvQueries = []
            self.srvAnswered(domain, answers)
        }
        srvQueries = []
        if wantStartTLS {
            srvQueries.append(SRVQuery(loop: loop, name: "_xmpp-client._tcp.\(domain)", configuration: resolver) { answers.0 = $0; done() })
        }
        if wantDirect {
            srvQueries.append(SRVQuery(loop: loop, name: "_xmpps-client._tcp.\(domain)", configuration: resolver) { answers.1 = $0; done() })
        }
        for q in srvQueries { q.start() }
    }

    /// The SRV answers are in: the candidates, or a failed attempt.
    private func srvAnswered(_ domain: String, _ answers: (DNSAnswer?, DNSAnswer?)) {
        guard !stopping else { return }
        for case .failure(let why)? in [answers.0, answers.1] { logger.debug("SRV look-up for \(domain): \(why)") }
        // A failed look-up counts as "no records": fall back to the domain itself.
        func orEmpty(_ a: DNSAnswer?) -> DNSAnswer? { a.map { if case .failure = $0 { return .records([]) } else { return $0 } } }
        candidates = ServerCandidate.fromSRV(domain: domain, starttls: orEmpty(answers.0), directTLS: orEmpty(answers.1), using: &rng)
        if candidates.isEmpty {
            attemptFailed(.transient, "\(domain) publishes no XMPP client service (SRV target \".\")")
        } else {
            logger.debug("candidates: \(candidates.map(\.description).joined(separator: ", "))")
            nextCandidate()
        }
    }

    func nextCandidate() {
        guard !stopping else { return }
        guard !candidates.isEmpty else {
            // Refused everywhere: the host is up and the server not listening (yet), as in a restart.
            return attemptFailed(attemptOnlyRefused == true ? .refused : .transient, lastProblem ?? "no server could be reached")
        }
        let candidate = candidates.removeFirst()
        // Through a proxy, the proxy is what we connect to; it resolves the server's name itself.
        let (host, port) = config.proxy.map { ($0.host, $0.port) } ?? (candidate.host, candidate.port)
        loop.background({ HostResolver.resolve(host: host, port: port) }) { [weak self] result in
            guard let self, !self.stopping else { return }
            switch result {
            case .failure(let error):
                self.attemptOnlyRefused = false
                self.lastProblem = "cannot resolve \(host)\(self.config.proxy == nil ? "" : " (the proxy)"): \(error.message)"
                self.logger.warning(self.lastProblem!)
                self.nextCandidate()
            case .success(let addrs):
                self.addresses = addrs
                self.nextAddress(candidate)
            }
        }
    }

    func nextAddress(_ candidate: ServerCandidate) {
        guard !stopping else { return }
        guard !addresses.isEmpty else { return nextCandidate() }
        let address = addresses.removeFirst()
        let security: StreamNegotiator.Security
        if config.transport == .plain || (candidate.framing != .xmpp && !candidate.directTLS) {
            guard address.isLoopback else {
                lastProblem = candidate.framing == .xmpp
                    ? "transport = \"plain\" is only allowed to a server on the loopback interface, and \(address) is not; use starttls or directtls"
                    : "\(candidate) is unencrypted and only allowed to the loopback interface, and \(address) is not; use a wss:// or https:// URL"
                logger.error(lastProblem!)
                return attemptFailed(.authentication, lastProblem!)
            }
            security = candidate.framing == .xmpp ? .plainLoopback : .plainLoopbackHTTP
        } else {
            security = candidate.directTLS ? .directTLS : .requireTLS
        }
        let tlsConfig: TLSConfiguration
        switch candidate.framing {
        case .xmpp:
            var references = [asciiDomain]
            if let host = config.host, !host.contains(":"), !host.allSatisfy({ $0.isNumber || $0 == "." }) { references.append(IDN.toASCII(host) ?? host) }
            tlsConfig = TLSConfiguration(
                serverName: asciiDomain, referenceNames: references, systemTrustStore: config.systemTrustStore,
                extraCAFile: config.caFile, spkiPins: config.spkiPins, alpn: candidate.directTLS ? ["xmpp-client"] : [])
        case .websocket(let url), .bosh(let url):
            // The certificate is checked against the URL's host, as a browser would.
            tlsConfig = TLSConfiguration(
                serverName: url.host, referenceNames: [url.host], systemTrustStore: config.systemTrustStore,
                extraCAFile: config.caFile, spkiPins: config.spkiPins, alpn: ["http/1.1"])
        }
        let negotiator = StreamNegotiator(
            jid: config.jid, password: config.password, security: security, scramCache: scramCache,
            streamManagement: config.streamManagement, resumption: resumptionRequest, allowPlain: config.allowPlain,
            pinned: !config.spkiPins.isEmpty)
        let tunnel = config.proxy.map { p in
            ConnectProxy(host: candidate.host, port: UInt16(clamping: candidate.port), credentials: p.user.map { ProxyCredentials(user: $0, password: p.password ?? "") })
        }
        let transport: any StreamTransport
        let (loop, logger, maxOut) = (loop, logger, config.maxOutboundBytes)
        // The byte stream: TLS from the first byte for direct TLS, wss and https.
        let makeStream = {
            SocketStream(loop: loop, address: address, tls: candidate.directTLS ? tlsConfig : nil, tunnel: tunnel, maxOutboundBytes: maxOut, logger: logger)
        }
        switch candidate.framing {
        case .xmpp: transport = XMLStreamTransport(stream: makeStream(), tlsConfiguration: tlsConfig, limits: config.limits)
        case .websocket(let url): transport = WebSocketTransport(url: url, stream: makeStream(), limits: config.limits)
        case .bosh(let url):
            transport = BOSHTransport(
                url: url, address: address, wait: config.boshWait, domain: asciiDomain, limits: config.limits, loop: loop, logger: logger,
                makeStream: makeStream)
        }
        let conn = XMPPConnection(loop: loop, candidate: candidate, transport: transport, negotiator: negotiator, traceXML: config.traceXML, logger: logger)
        connection = conn
        conn.onEstablished = { [unowned self] session in self.established(session) }
        conn.onStanzas = { [unowned self, unowned conn] batch, counted in self.received(batch, counted: counted, on: conn) }
        conn.onActivity = { [unowned self] in self.activity() }
        conn.onEnd = { [unowned self, unowned conn] reason in self.ended(conn, candidate, reason) }
        switch candidate.framing {
        case .xmpp:
            logger.info("connecting to \(candidate.host)\(config.proxy.map { ":\(candidate.port) through the proxy \($0.host) at \(address)" } ?? " at \(address)")\(candidate.directTLS ? " with direct TLS" : "")")
        case .websocket(let url), .bosh(let url):
            logger.info("connecting to \(url) (\(candidate.framing.name))\(config.proxy.map { " through the proxy \($0.host) at \(address)" } ?? " at \(address)")")
        }
        attemptTimer = loop.schedule(after: config.connectTimeout) { [weak self, weak conn] in
            guard let self, let conn, self.connection === conn, self.onlineSince == nil else { return }
            conn.abort()
            self.connection = nil
            self.attemptOnlyRefused = false
            self.lastProblem = "\(address) did not complete the login within \(describeDuration(self.config.connectTimeout))"
            self.logger.warning(self.lastProblem!)
            if conn.awaitsResumption {
                // A server that takes <resume/> and never answers (Prosody 0.12 over BOSH does): after
                // two such attempts, a new session; what was not acknowledged goes out on it.
                self.unansweredResumptions += 1
                if self.unansweredResumptions >= 2 {
                    self.unansweredResumptions = 0
                    self.sm?.resumptionID = nil
                    self.logger.notice("the server did not answer the request to resume the session, twice; starting a new session")
                }
            }
            self.nextAddress(candidate)
        }
        conn.start()
    }

    func attemptFailed(_ cause: ReconnectPolicy.Cause, _ why: String) {
        connection = nil
        attemptTimer?.cancel()
        guard !stopping else { return finishStop() }
        status = .offline
        lastProblem = why
        scheduleReconnect(cause, sessionDuration: nil)
    }

    func scheduleReconnect(_ cause: ReconnectPolicy.Cause, sessionDuration: Int64?) {
        let delay = config.reconnect.nextDelay(after: cause, sessionDuration: sessionDuration, state: &reconnectState, random: Double.random(in: 0...1, using: &rng))
        logger.info("reconnecting in \(describeDuration(delay))")
        retryTimer = loop.schedule(after: delay) { [weak self] in self?.attempt() }
    }

    func finishStop() {
        connection = nil
        status = .stopped
        let cb = stopCompletion
        stopCompletion = nil
        cb?()
    }
}

@available(*, unavailable)
extension XMPPClient: Sendable {}

/// Short random suffixes for stanza ids, so ids are not guessable across restarts.
enum SecureRandomID {
    static func short() -> String {
        var g = SystemRandomNumberGenerator()
        return String(UInt32.random(in: 0...UInt32.max, using: &g), radix: 36)
    }
}
