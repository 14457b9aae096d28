import PerchHTTP
import PerchIDN
import PerchIO
import PerchLog
import PerchTLS
import XMPPCore

/// Connection attempts and their back-off: the servers to try (configured, SRV, XEP-0156 or a
/// redirect), each address in turn, the login deadline, and what a connection's end means for the
/// next attempt.
extension XMPPClient {
    // MARK: - Attempts

    func attempt() {
        attempts.retryTimer = nil
        attempts.onlyRefused = nil
        status = .connecting
        if attempts.redirectTarget == nil, resumptionRequest != nil, config.transport?.isWeb != true, let location = streamMgmt.state?.location,
            let target = Self.parseHostPort(location, defaultPort: config.port ?? 5222)
        {
            // XEP-0198 §5: the server asked to be found there for a resumption.
            attempts.redirectTarget = ServerCandidate(host: target.host, port: target.port, directTLS: config.transport == .directTLS)
        }
        if let target = attempts.redirectTarget {
            attempts.redirectTarget = nil
            attempts.candidates = [target]
            return nextCandidate()
        }
        if let web = config.transport, web.isWeb {
            guard let url = config.url else { return discoverEndpoint(web) }
            attempts.candidates = [web == .websocket ? ServerCandidate(websocket: url) : ServerCandidate(bosh: url)]
            return nextCandidate()
        }
        if let host = config.host {
            let direct = config.transport == .directTLS
            attempts.candidates = [ServerCandidate(host: IDN.toASCII(host) ?? host, port: config.port ?? (direct ? 5223 : 5222), directTLS: direct)]
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
            self.attempts.srvQueries = []
            self.srvAnswered(domain, answers)
        }
        attempts.srvQueries = []
        if wantStartTLS {
            attempts.srvQueries.append(SRVQuery(loop: loop, name: "_xmpp-client._tcp.\(domain)", configuration: resolver) { answers.0 = $0; done() })
        }
        if wantDirect {
            attempts.srvQueries.append(SRVQuery(loop: loop, name: "_xmpps-client._tcp.\(domain)", configuration: resolver) { answers.1 = $0; done() })
        }
        for q in attempts.srvQueries { q.start() }
    }

    /// The SRV answers are in: the candidates, or a failed attempt.
    private func srvAnswered(_ domain: String, _ answers: (DNSAnswer?, DNSAnswer?)) {
        guard !stopping else { return }
        for case .failure(let why)? in [answers.0, answers.1] { logger.debug("SRV look-up for \(domain): \(why)") }
        // A failed look-up counts as "no records": fall back to the domain itself.
        func orEmpty(_ a: DNSAnswer?) -> DNSAnswer? { a.map { if case .failure = $0 { return .records([]) } else { return $0 } } }
        attempts.candidates = ServerCandidate.fromSRV(domain: domain, starttls: orEmpty(answers.0), directTLS: orEmpty(answers.1), using: &rng)
        if attempts.candidates.isEmpty {
            attemptFailed(.transient, "\(domain) publishes no XMPP client service (SRV target \".\")")
        } else {
            logger.debug("candidates: \(attempts.candidates.map(\.description).joined(separator: ", "))")
            nextCandidate()
        }
    }

    func nextCandidate() {
        guard !stopping else { return }
        guard !attempts.candidates.isEmpty else {
            // Refused everywhere: the host is up and the server not listening (yet), as in a restart.
            return attemptFailed(attempts.onlyRefused == true ? .refused : .transient, lastProblem ?? "no server could be reached")
        }
        let candidate = attempts.candidates.removeFirst()
        // Through a proxy, the proxy is what we connect to; it resolves the server's name itself.
        let (host, port) = config.proxy.map { ($0.host, $0.port) } ?? (candidate.host, candidate.port)
        loop.background({ HostResolver.resolve(host: host, port: port) }) { [weak self] result in
            guard let self, !self.stopping else { return }
            switch result {
            case .failure(let error):
                self.attempts.onlyRefused = false
                self.lastProblem = "cannot resolve \(host)\(self.config.proxy == nil ? "" : " (the proxy)"): \(error.message)"
                self.logger.warning(self.lastProblem!)
                self.nextCandidate()
            case .success(let addrs):
                self.attempts.addresses = addrs
                self.nextAddress(candidate)
            }
        }
    }

    func nextAddress(_ candidate: ServerCandidate) {
        guard !stopping else { return }
        guard !attempts.addresses.isEmpty else { return nextCandidate() }
        let address = attempts.addresses.removeFirst()
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
        attempts.timer = loop.schedule(after: config.connectTimeout) { [weak self, weak conn] in
            guard let self, let conn, self.connection === conn, self.keepalive.onlineSince == nil else { return }
            conn.abort()
            self.connection = nil
            self.attempts.onlyRefused = false
            self.lastProblem = "\(address) did not complete the login within \(describeDuration(self.config.connectTimeout))"
            self.logger.warning(self.lastProblem!)
            if conn.awaitsResumption {
                // A server that takes <resume/> and never answers (Prosody 0.12 over BOSH does): after
                // two such attempts, a new session; what was not acknowledged goes out on it.
                self.attempts.unansweredResumptions += 1
                if self.attempts.unansweredResumptions >= 2 {
                    self.attempts.unansweredResumptions = 0
                    self.streamMgmt.state?.resumptionID = nil
                    self.logger.notice("the server did not answer the request to resume the session, twice; starting a new session")
                }
            }
            self.nextAddress(candidate)
        }
        conn.start()
    }

    func attemptFailed(_ cause: ReconnectPolicy.Cause, _ why: String) {
        connection = nil
        attempts.timer?.cancel()
        guard !stopping else { return finishStop() }
        status = .offline
        lastProblem = why
        scheduleReconnect(cause, sessionDuration: nil)
    }

    func scheduleReconnect(_ cause: ReconnectPolicy.Cause, sessionDuration: Int64?) {
        let delay = config.reconnect.nextDelay(after: cause, sessionDuration: sessionDuration, state: &attempts.reconnect, random: Double.random(in: 0...1, using: &rng))
        logger.info("reconnecting in \(describeDuration(delay))")
        attempts.retryTimer = loop.schedule(after: delay) { [weak self] in self?.attempt() }
    }

    func finishStop() {
        connection = nil
        status = .stopped
        if case .stopping(let then) = lifecycle {
            lifecycle = .stopping(then: nil)
            then?()
        }
    }

    // MARK: - The end of a connection

    func ended(_ conn: XMPPConnection, _ candidate: ServerCandidate, _ reason: XMPPConnection.EndReason) {
        guard connection === conn else { return }
        connection = nil
        attempts.timer?.cancel()
        keepalive.timer?.cancel()
        let duration = keepalive.onlineSince.map { Instant.now() - $0 }
        let wasOnline = keepalive.onlineSince != nil
        keepalive.onlineSince = nil
        // An endpoint found by XEP-0156 that did not get us logged in is looked up again next time.
        if !wasOnline, config.url == nil { attempts.discoveredURL = nil }
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
            attempts.onlyRefused = e.isConnectionRefused && attempts.onlyRefused != false
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
            if attempts.redirects < 5, let url, let target = candidate.redirected(to: url) {
                attempts.redirects += 1
                attempts.redirectTarget = target
                why = "the server redirects us to \(url)"
                cause = .redirect
            } else {
                let reason = url == nil ? "not a URL Perch can use" : attempts.redirects >= 5 ? "five redirects in a row" : "not the same kind of endpoint, or from TLS to the clear"
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
            if case .connectFailed = reason {} else { attempts.onlyRefused = false }
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
            if let other = se.otherHost, attempts.redirects < 5, let target = Self.parseHostPort(other, defaultPort: candidate.port) {
                attempts.redirects += 1
                attempts.redirectTarget = ServerCandidate(host: target.host, port: target.port, directTLS: candidate.directTLS)
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
}
