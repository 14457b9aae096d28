public import XMPPAddress
public import XMPPCore
public import XMPPXML
public import XMPPSASL
import PerchCrypto

/// The client side of RFC 6120 stream negotiation as a state machine: it consumes stream events and
/// returns the actions the connection must carry out. It never touches a socket, so whole negotiations
/// can be replayed from transcripts in tests.
///
/// Order: stream header → features → STARTTLS (restart) → SASL (restart) → resource binding → legacy
/// session if the server requires it → established.
public struct StreamNegotiator {
    /// How the connection is protected.
    public enum Security: Sendable, Hashable {
        /// TLS is mandatory: STARTTLS when the stream starts in the clear.
        case requireTLS
        /// The stream is already inside TLS (XEP-0368 direct TLS).
        case directTLS
        /// No TLS at all. Only for a server on the loopback interface, by explicit configuration.
        case plainLoopback
        /// ws:// or http:// (BOSH) to the loopback interface: no TLS, and no STARTTLS to be had (a
        /// server may still list it; it cannot apply to a WebSocket or BOSH stream).
        case plainLoopbackHTTP
    }

    /// Something the connection must do.
    public enum Action: Sendable, Hashable {
        /// Open the stream: send the header ``opening`` describes, in the transport's framing.
        case openStream(StreamOpening)
        /// Serialize and write this element.
        case send(XMLElement)
        /// Stop parsing: the server said `<proceed/>`; start the TLS handshake, then call
        /// ``tlsEstablished(channelBindings:)``.
        case startTLS
        /// Reset the XML parser and send a new stream header (after SASL success).
        case restartStream
        /// Negotiation is complete.
        case established(NegotiatedSession)
        /// Negotiation failed; close the connection.
        case fail(NegotiationError)
        /// Log this warning for the operator (something insecure the configuration allowed is happening).
        case warn(String)
        /// A stanza that arrived while stream management was being enabled: handle it as usual, after
        /// ``established(_:)``, but leave it out of the handled count (the server sent it before it
        /// started counting).
        case deliverUncounted(XMLElement)
    }

    enum State: Equatable {
        case awaitingHeader
        case awaitingFeatures
        case awaitingProceed
        case awaitingTLS
        case authenticating
        case awaitingBind(id: String)
        case awaitingSession(id: String)
        case awaitingResumed
        case awaitingEnabled
        case established
        case failed
    }

    public let jid: JID
    private let password: String
    public let security: Security
    /// Whether PLAIN may be used (`server.allow_plain`), and whether pins are set (which rules it out).
    private let allowPlain: Bool
    private let pinned: Bool
    private let scramCache: SCRAMCache?
    private var state: State = .awaitingHeader
    private var tls: Bool
    private var authenticated = false
    private var channelBindings: [ChannelBinding] = []
    private var mechanism: (any SASLMechanism)?
    private var streamID: String?
    private var boundJID: JID?
    private var sessionFeatures = XMLElement("features", namespace: XMPPNamespace.stream)
    private var bindRetried = false
    private var nextID = 0
    /// XEP-0198: the session to resume, and whether to enable stream management at all.
    private let resumption: ResumptionRequest?
    private let streamManagement: Bool
    private var resumptionFailed = false
    private var serverHandled: UInt32?
    private var enabled: StreamManagement?
    private var early: [XMLElement] = []
    private var earlyBytes = 0
    /// Limits on the stanzas held while stream management is being enabled.
    static let maxEarlyStanzas = StreamManagement.maxUnacknowledged
    static let maxEarlyBytes = 1 << 20

    public init(
        jid: JID, password: String, security: Security, scramCache: SCRAMCache? = nil, streamManagement: Bool = true,
        resumption: ResumptionRequest? = nil, allowPlain: Bool = false, pinned: Bool = false
    ) {
        self.jid = jid
        self.password = password
        self.security = security
        self.allowPlain = allowPlain
        self.pinned = pinned
        self.scramCache = scramCache
        self.tls = security == .directTLS
        self.streamManagement = streamManagement
        self.resumption = streamManagement ? resumption : nil
    }

    /// The first stream header. With direct TLS, call this once TLS is up.
    public mutating func start(channelBindings: [ChannelBinding] = []) -> [Action] {
        self.channelBindings = channelBindings
        state = .awaitingHeader
        return [.openStream(opening)]
    }

    /// The TLS handshake after `<proceed/>` completed.
    public mutating func tlsEstablished(channelBindings: [ChannelBinding]) -> [Action] {
        guard state == .awaitingTLS else { return fail(.protocolViolation, "TLS completed at an unexpected point") }
        tls = true
        self.channelBindings = channelBindings
        state = .awaitingHeader
        return [.restartStream]
    }

    /// The stream header to send after a ``Action/restartStream``.
    public var opening: StreamOpening {
        // RFC 6120 §4.7.1: 'from' only once the stream is encrypted, so the account name is not sent in the clear.
        StreamOpening(to: jid.domainpart, from: tls ? jid.bare : nil)
    }

    /// ``opening`` as an RFC 6120 stream header.
    public func header() -> String { opening.header }

    public var isEstablished: Bool { state == .established }
    /// `<resume/>` was sent and its answer has not come.
    public var awaitsResumption: Bool { state == .awaitingResumed }

    /// Handles one event from the parser.
    public mutating func handle(_ event: XMLStreamEvent) -> [Action] {
        switch event {
        case .streamOpened(let open):
            guard state == .awaitingHeader else { return fail(.protocolViolation, "a second stream header") }
            guard open.version.map({ $0.hasPrefix("1.") }) ?? false else {
                return fail(.protocolViolation, "the server does not speak XMPP 1.0 (version '\(open.version ?? "")')")
            }
            guard open.contentNamespace == XMPPNamespace.client else {
                return fail(.protocolViolation, "the server's stream is not a client stream (\(open.contentNamespace ?? "no namespace"))")
            }
            streamID = open.id
            state = .awaitingFeatures
            return []
        case .streamClosed:
            return fail(.protocolViolation, "the server closed the stream during negotiation")
        case .oversized(let o):
            return fail(.protocolViolation, "an element over Perch's limits during negotiation: \(o)")
        case .element(let e):
            if e.name == "error" && e.namespace == XMPPNamespace.stream {
                let error = StreamError(element: e)
                state = .failed
                return [.fail(NegotiationError(.stream(error), "the server ended the stream: \(error)"))]
            }
            return handle(element: e)
        }
    }

    private mutating func handle(element e: XMLElement) -> [Action] {
        switch state {
        case .awaitingFeatures:
            guard e.name == "features", e.namespace == XMPPNamespace.stream else {
                return fail(.protocolViolation, "expected stream features, got <\(e.name)>")
            }
            return features(e)
        case .awaitingProceed:
            guard e.namespace == XMPPNamespace.tls else { return fail(.protocolViolation, "expected <proceed/>, got <\(e.name)>") }
            if e.name == "proceed" {
                state = .awaitingTLS
                return [.startTLS]
            }
            return fail(.security, "the server refused STARTTLS")
        case .authenticating:
            return sasl(e)
        case .awaitingBind(let id):
            guard e.stanzaKind == .iq, e.stanzaID == id else { return ignoreOrFail(e) }
            return bindResult(e)
        case .awaitingSession(let id):
            guard e.stanzaKind == .iq, e.stanzaID == id else { return ignoreOrFail(e) }
            if e.stanzaType == "result" { return enableOrEstablish() }
            return fail(.protocolViolation, "the server refused the session: \(StanzaError(stanza: e)?.description ?? "no reason")")
        case .awaitingResumed:
            return resumeResult(e)
        case .awaitingEnabled:
            return enableResult(e)
        case .awaitingHeader, .awaitingTLS, .established, .failed:
            return fail(.protocolViolation, "unexpected <\(e.name)> during negotiation")
        }
    }

    private mutating func features(_ f: XMLElement) -> [Action] {
        if !tls {
            let starttls = f.child("starttls", namespace: XMPPNamespace.tls)
            switch security {
            case .requireTLS:
                guard starttls != nil else {
                    return fail(.security, "the server does not offer STARTTLS; Perch never authenticates in the clear (use a server with TLS, or transport = \"directtls\" if it listens for direct TLS)")
                }
                state = .awaitingProceed
                return [.send(XMLElement("starttls", namespace: XMPPNamespace.tls))]
            case .plainLoopbackHTTP:
                break
            case .plainLoopback:
                if starttls?.child("required") != nil {
                    return fail(.security, "the server requires STARTTLS; set transport = \"starttls\"")
                }
            case .directTLS:
                break
            }
        }
        if !authenticated {
            let offered = f.child("mechanisms", namespace: XMPPNamespace.sasl)?.elements.filter { $0.name == "mechanism" }.map(\.text) ?? []
            guard !offered.isEmpty else { return fail(.protocolViolation, "the server offers no SASL mechanisms") }
            let cbTypes = f.child("sasl-channel-binding", namespace: XMPPNamespace.saslChannelBinding)?
                .elements.filter { $0.name == "channel-binding" }.compactMap { $0[attribute: "type"] }
            guard let choice = MechanismSelection.choose(
                offered: offered, tls: tls, bindings: channelBindings, serverBindingTypes: cbTypes, allowPlain: allowPlain && !pinned)
            else {
                return fail(.security, noMechanism(offered))
            }
            var mech: any SASLMechanism
            // SASLprep (RFC 4013) before anything is sent: the server derived its stored keys from the
            // prepared password, and a password SASLprep refuses can never log in.
            let user: String
            let password: String
            do {
                user = try SASLPrep.prepare(jid.localpart ?? "", what: "the account's user name", stored: false)
                password = try SASLPrep.prepare(self.password, what: "the password of \(jid.bareString)")
            } catch {
                return fail(.authentication, "\(error.detail)")
            }
            switch choice {
            case .plain: mech = SASLPlain(username: user, password: password)
            case .scram(let alg, let binding):
                mech = SCRAM(algorithm: alg == .sha256 ? .sha256 : .sha1, username: user, password: password, binding: binding, cache: scramCache)
            }
            let initial = mech.initialResponse()
            mechanism = mech
            state = .authenticating
            var auth = XMLElement("auth", namespace: XMPPNamespace.sasl, attrs: ["mechanism": mech.name])
            auth.append(text: initial.isEmpty ? "=" : Base64.encode(initial))
            if choice == .plain {
                return [
                    .warn("authenticating with PLAIN (server.allow_plain = true): the password goes to the server in the clear inside TLS, readable by whoever holds the server's TLS key; enable SCRAM on the server and remove allow_plain"),
                    .send(auth),
                ]
            }
            return [.send(auth)]
        }
        // Authenticated: bind a resource (RFC 6120 §7).
        guard f.child("bind", namespace: XMPPNamespace.bind) != nil else {
            return fail(.protocolViolation, "the server does not offer resource binding")
        }
        sessionFeatures = f
        // XEP-0198 §5: a resumption replaces binding; if the server refuses it, bind as usual.
        if let resumption, offersStreamManagement {
            state = .awaitingResumed
            return [.send(XMLElement("resume", namespace: XMPPNamespace.streamManagement, attrs: ["h": String(resumption.handled), "previd": resumption.id]))]
        }
        return sendBind(resource: jid.resourcepart)
    }

    /// Why no mechanism was chosen, and what the operator can do.
    private func noMechanism(_ offered: [String]) -> String {
        let names = offered.joined(separator: ", ")
        let upper = offered.map { $0.uppercased() }
        let onlyPlain = upper.contains("PLAIN") && !upper.contains { $0.hasPrefix("SCRAM-") }
        if onlyPlain && tls {
            if pinned {
                return "the server offers no SCRAM (only \(names)), and PLAIN would hand it the password itself; Perch never uses PLAIN when server.pins are set: enable SCRAM on the server"
            }
            if !allowPlain {
                return "the server offers no SCRAM (only \(names)), and PLAIN would hand it the password itself; enable SCRAM on the server, or set server.allow_plain = true to send the password in the clear inside TLS"
            }
        }
        return "no acceptable SASL mechanism: the server offers \(names); Perch needs SCRAM-SHA-1 or SCRAM-SHA-256 (PLAIN only inside TLS, with server.allow_plain = true and no pins)"
    }

    private var offersStreamManagement: Bool {
        streamManagement && sessionFeatures.child("sm", namespace: XMPPNamespace.streamManagement) != nil
    }

    private mutating func resumeResult(_ e: XMLElement) -> [Action] {
        guard e.namespace == XMPPNamespace.streamManagement, let resumption else { return ignoreOrFail(e) }
        switch e.name {
        case "resumed":
            guard let mechanism else { return fail(.protocolViolation, "negotiation incomplete") }
            state = .established
            var session = NegotiatedSession(jid: resumption.jid, streamID: streamID, mechanism: mechanism.name, tls: tls, features: sessionFeatures)
            session.resumed = true
            session.serverHandled = StreamManagement.handledCount(e)
            return [.established(session)]
        case "failed":
            // The server no longer holds the session (or never did): a new one, with whatever the
            // server says it handled of the old one.
            resumptionFailed = true
            serverHandled = StreamManagement.handledCount(e)
            return sendBind(resource: jid.resourcepart)
        default:
            return fail(.protocolViolation, "expected <resumed/> or <failed/>, got <\(e.name)>")
        }
    }

    private mutating func enableResult(_ e: XMLElement) -> [Action] {
        guard e.namespace == XMPPNamespace.streamManagement else {
            // A stanza routed to the new resource before the server took <enable/> (a busy device
            // gets plenty): held until the session is established, and not counted, as the server
            // does not count it either. Bounded, so a hostile server cannot grow it without end.
            guard e.stanzaKind != nil else { return fail(.protocolViolation, "unexpected <\(e.name)> while enabling stream management") }
            earlyBytes += e.serialized().utf8.count
            guard early.count < Self.maxEarlyStanzas, earlyBytes <= Self.maxEarlyBytes else {
                return fail(.protocolViolation, "more than \(Self.maxEarlyStanzas) stanzas or \(Self.maxEarlyBytes >> 20) MiB before <enabled/>")
            }
            early.append(e)
            return []
        }
        switch e.name {
        case "enabled": enabled = StreamManagement(enabled: e)
        case "failed": enabled = nil
        default: return fail(.protocolViolation, "expected <enabled/> or <failed/>, got <\(e.name)>")
        }
        var actions = establish()
        actions += early.map { Action.deliverUncounted($0) }
        early = []
        earlyBytes = 0
        return actions
    }

    private mutating func sendBind(resource: String?) -> [Action] {
        var bind = XMLElement("bind", namespace: XMPPNamespace.bind)
        if let resource { bind.append(.text("resource", namespace: XMPPNamespace.bind, resource)) }
        let id = makeID("bind")
        state = .awaitingBind(id: id)
        return [.send(Stanza.iq(type: "set", id: id, payload: bind))]
    }

    private mutating func bindResult(_ e: XMLElement) -> [Action] {
        if e.stanzaType == "result" {
            guard let text = e.child("bind", namespace: XMPPNamespace.bind)?.child("jid")?.text, let bound = try? JID(text),
                bound.resourcepart != nil
            else {
                return fail(.protocolViolation, "the server's bind result has no valid full JID")
            }
            boundJID = bound
            // The legacy session (RFC 3921) only when the server says it is not optional (RFC 6121 Appendix E).
            if let session = sessionFeatures.child("session", namespace: XMPPNamespace.session), session.child("optional") == nil {
                let id = makeID("sess")
                state = .awaitingSession(id: id)
                return [.send(Stanza.iq(type: "set", id: id, payload: XMLElement("session", namespace: XMPPNamespace.session)))]
            }
            return enableOrEstablish()
        }
        let error = StanzaError(stanza: e)
        if error?.condition == .conflict, !bindRetried, jid.resourcepart != nil {
            // The resource is in use: rather than fight the other session for it, let the server pick one.
            bindRetried = true
            return sendBind(resource: nil)
        }
        if error?.condition == .conflict {
            return fail(.resourceConflict, "the server refused to bind a resource: conflict")
        }
        return fail(.protocolViolation, "the server refused to bind a resource: \(error?.description ?? "no reason")")
    }

    /// XEP-0198 §3: enable stream management (with resumption) once bound, where the server offers it.
    private mutating func enableOrEstablish() -> [Action] {
        guard offersStreamManagement else { return establish() }
        state = .awaitingEnabled
        return [.send(StreamManagement.enableRequest)]
    }

    private mutating func establish() -> [Action] {
        guard let boundJID, let mechanism else { return fail(.protocolViolation, "negotiation incomplete") }
        state = .established
        var session = NegotiatedSession(jid: boundJID, streamID: streamID, mechanism: mechanism.name, tls: tls, features: sessionFeatures)
        session.streamManagement = enabled
        session.resumptionFailed = resumptionFailed
        session.serverHandled = serverHandled
        return [.established(session)]
    }

    private mutating func sasl(_ e: XMLElement) -> [Action] {
        guard e.namespace == XMPPNamespace.sasl, var mech = mechanism else {
            return fail(.protocolViolation, "expected a SASL element, got <\(e.name)>")
        }
        defer { mechanism = mech }
        switch e.name {
        case "challenge":
            guard let data = Base64.decode(e.text) else { return abort("the server's challenge is not valid base64") }
            do {
                let response = try mech.respond(to: data)
                return [.send(XMLElement.text("response", namespace: XMPPNamespace.sasl, Base64.encode(response)))]
            } catch {
                return abortSASL(error)
            }
        case "success":
            let text = e.text
            guard let data = text.isEmpty || text == "=" ? [] : Base64.decode(text) else {
                return fail(.security, "the server's success data is not valid base64")
            }
            do { try mech.verifySuccess(data) } catch {
                return fail(.security, "authentication succeeded but \(error.detail); not continuing")
            }
            authenticated = true
            state = .awaitingHeader
            return [.restartStream]
        case "failure":
            let condition = e.elements.first { $0.name != "text" }?.name ?? "not-authorized"
            let text = e.child("text").map { ": \($0.text)" } ?? ""
            scramCache?.clear()
            let advice: String
            switch condition {
            case "not-authorized": advice = "check the account's JID and password"
            case "account-disabled": advice = "the account is disabled on the server"
            case "credentials-expired": advice = "the password has expired; set a new one"
            case "encryption-required": advice = "the server requires an encrypted connection for this mechanism"
            case "temporary-auth-failure": advice = "the server had a temporary problem"
            default: advice = "the server refused the login"
            }
            let kind: NegotiationError.Kind = condition == "temporary-auth-failure" ? .protocolViolation : .authentication
            return fail(kind, "authentication as \(jid.bareString) failed with \(mech.name) (\(condition)\(text)): \(advice)")
        default:
            return fail(.protocolViolation, "unexpected SASL element <\(e.name)>")
        }
    }

    private mutating func abortSASL(_ error: SASLError) -> [Action] {
        let kind: NegotiationError.Kind = error.code == .serverError ? .authentication : .security
        state = .failed
        return [.send(XMLElement("abort", namespace: XMPPNamespace.sasl)), .fail(NegotiationError(kind, "authentication aborted: \(error.detail)"))]
    }

    private mutating func abort(_ why: String) -> [Action] {
        state = .failed
        return [.send(XMLElement("abort", namespace: XMPPNamespace.sasl)), .fail(NegotiationError(.protocolViolation, why))]
    }

    /// Stanzas before binding completes are not expected; anything but an iq is ignored (some servers
    /// push presence or messages early), an unrelated iq request gets an error reply.
    private mutating func ignoreOrFail(_ e: XMLElement) -> [Action] {
        if e.isIQRequest { return [.send(Stanza.error(for: e, StanzaError(.serviceUnavailable)))] }
        return []
    }

    private mutating func fail(_ kind: NegotiationError.Kind, _ detail: String) -> [Action] {
        state = .failed
        return [.fail(NegotiationError(kind, detail))]
    }

    private mutating func makeID(_ prefix: String) -> String {
        nextID += 1
        return "\(prefix)\(nextID)"
    }
}

@available(*, unavailable)
extension StreamNegotiator: Sendable {}
