import Testing
import PerchIO
import PerchCrypto
import XMPPAddress
import XMPPCore
import XMPPSASL
import XMPPXML
@testable import XMPPClient

/// A scripted server: parses what the negotiator sends and answers like Prosody would, computing SCRAM
/// for real so the client's proof and our signature check are exercised.
struct ScriptedServer {
    let password: String
    let salt: [UInt8] = Array("perch-test-salt".utf8)
    let iterations = 4096
    var clientFirstBare = ""
    var serverFirst = ""

    mutating func answer(auth: XMLElement) -> XMLElement {
        let msg = String(decoding: Base64.decode(auth.text)!, as: UTF8.self)
        let parts = msg.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        clientFirstBare = String(parts[2])
        let nonce = clientFirstBare.split(separator: ",").first { $0.hasPrefix("r=") }!.dropFirst(2)
        serverFirst = "r=\(nonce)SERVER,s=\(Base64.encode(salt)),i=\(iterations)"
        return .text("challenge", namespace: XMPPNamespace.sasl, Base64.encode(Array(serverFirst.utf8)))
    }

    func answer(response: XMLElement) -> XMLElement {
        let msg = String(decoding: Base64.decode(response.text)!, as: UTF8.self)
        let proofStart = msg.firstRange(of: ",p=")!
        let withoutProof = String(msg[..<proofStart.lowerBound])
        let proof = Base64.decode(String(msg[proofStart.upperBound...]))!
        let auth = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let salted = DigestAlgorithm.sha1.pbkdf2(password: Array(password.utf8), salt: salt, iterations: iterations)
        let clientKey = DigestAlgorithm.sha1.hmac(key: salted, Array("Client Key".utf8))
        let storedKey = DigestAlgorithm.sha1.hash(clientKey)
        let signature = DigestAlgorithm.sha1.hmac(key: storedKey, auth)
        let recovered = zip(proof, signature).map { $0 ^ $1 }
        guard DigestAlgorithm.sha1.hash(recovered) == storedKey else {
            return XMLElement("failure", namespace: XMPPNamespace.sasl, children: [.element(XMLElement("not-authorized", namespace: XMPPNamespace.sasl))])
        }
        let serverKey = DigestAlgorithm.sha1.hmac(key: salted, Array("Server Key".utf8))
        let v = DigestAlgorithm.sha1.hmac(key: serverKey, auth)
        return .text("success", namespace: XMPPNamespace.sasl, Base64.encode(Array("v=\(Base64.encode(v))".utf8)))
    }
}

func features(_ children: String) throws -> XMLElement {
    let p = XMLStreamParser()
    let events = try p.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:features>\(children)</stream:features>")
    guard case .element(let e) = events.last else { fatalError() }
    return e
}

let streamOpen = XMLStreamEvent.streamOpened(StreamOpen(id: "s", from: "perch.test", version: "1.0", contentNamespace: "jabber:client"))
let scram = "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms>"

@Suite struct StreamNegotiatorTests {
    func sent(_ actions: [StreamNegotiator.Action]) -> XMLElement? {
        for case .send(let e) in actions { return e }
        return nil
    }

    /// Starts a direct-TLS negotiation and runs SCRAM against a scripted server; returns the actions
    /// that answer the server's final message (a restart on success, a failure otherwise).
    func authenticate(_ n: inout StreamNegotiator, serverPassword: String) throws -> [StreamNegotiator.Action] {
        var server = ScriptedServer(password: serverPassword)
        _ = n.start()
        _ = n.handle(streamOpen)
        let auth = try #require(sent(n.handle(.element(try features(scram)))))
        let response = try #require(sent(n.handle(.element(server.answer(auth: auth)))))
        return n.handle(.element(server.answer(response: response)))
    }

    @Test func fullNegotiationWithSTARTTLSAndSCRAM() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test/board"), password: "pencil", security: .requireTLS)
        var server = ScriptedServer(password: "pencil")
        guard case .openStream(let opening) = n.start().first else { Issue.record("no header"); return }
        #expect(opening.from == nil && !opening.header.contains("from="), "the account name must not be sent before TLS")
        #expect(n.handle(streamOpen).isEmpty)
        let starttls = n.handle(.element(try features("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>" + scram)))
        #expect(sent(starttls)?.name == "starttls")
        #expect(n.handle(.element(XMLElement("proceed", namespace: XMPPNamespace.tls))) == [.startTLS])
        #expect(n.tlsEstablished(channelBindings: [ChannelBinding(type: "tls-unique", data: [1, 2, 3])]) == [.restartStream])
        #expect(n.header().contains("from='perch@perch.test'"))
        _ = n.handle(streamOpen)
        let auth = try #require(sent(n.handle(.element(try features(scram)))))
        #expect(auth[attribute: "mechanism"] == "SCRAM-SHA-1")
        // The server did not offer -PLUS though we could bind: the gs2 header says 'y'.
        #expect(String(decoding: Base64.decode(auth.text)!, as: UTF8.self).hasPrefix("y,,n=perch,"))
        let response = try #require(sent(n.handle(.element(server.answer(auth: auth)))))
        #expect(n.handle(.element(server.answer(response: response))) == [.restartStream])
        _ = n.handle(streamOpen)
        let bindFeatures = try features("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>")
        let bind = try #require(sent(n.handle(.element(bindFeatures))))
        #expect(bind.child("bind", namespace: XMPPNamespace.bind)?.child("resource")?.text == "board")
        var result = Stanza.iq(type: "result", id: bind.stanzaID!)
        result.append(XMLElement("bind", namespace: XMPPNamespace.bind, children: [.element(.text("jid", namespace: XMPPNamespace.bind, "perch@perch.test/board"))]))
        // The session element without <optional/>: the legacy session is sent.
        let session = try #require(sent(n.handle(.element(result))))
        #expect(session.child("session", namespace: XMPPNamespace.session) != nil)
        let done = n.handle(.element(Stanza.iq(type: "result", id: session.stanzaID!)))
        guard case .established(let s)? = done.first else { Issue.record("not established: \(done)"); return }
        #expect(s.jid.description == "perch@perch.test/board")
        #expect(s.mechanism == "SCRAM-SHA-1")
        #expect(n.isEstablished)
    }

    @Test func wrongPasswordIsAnAuthenticationFailure() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test"), password: "wrong", security: .directTLS)
        let actions = try authenticate(&n, serverPassword: "pencil")
        guard case .fail(let e)? = actions.first else { Issue.record("\(actions)"); return }
        #expect(e.kind == .authentication)
        #expect(e.detail.contains("check the account's JID and password"))
    }

    @Test func nonASCIIPasswordIsSASLprepped() throws {
        // The server holds the keys of the prepared password ("fish-é", U+00E9); the configuration has
        // "ﬁsh-é" with the ligature and a decomposed é.
        var n = StreamNegotiator(jid: try JID("perch@perch.test"), password: "\u{FB01}sh-e\u{0301}", security: .directTLS)
        #expect(try authenticate(&n, serverPassword: "fish-\u{00E9}") == [.restartStream])
    }

    @Test func passwordSASLprepRefusesFailsBeforeAnythingIsSent() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test"), password: "bell\u{0007}", security: .directTLS)
        _ = n.start()
        _ = n.handle(streamOpen)
        let actions = n.handle(.element(try features(scram)))
        #expect(sent(actions) == nil)
        guard case .fail(let e)? = actions.last else { Issue.record("\(actions)"); return }
        #expect(e.kind == .authentication)
        #expect(e.detail.contains("the password of perch@perch.test cannot be used with SASL"))
        #expect(e.detail.contains("U+0007"))
    }

    @Test func noSTARTTLSMeansNoLogin() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test"), password: "p", security: .requireTLS)
        _ = n.start()
        _ = n.handle(streamOpen)
        let actions = n.handle(.element(try features(scram)))
        guard case .fail(let e)? = actions.first else { Issue.record("\(actions)"); return }
        #expect(e.kind == .security)
        #expect(sent(actions) == nil, "nothing may be sent in the clear")
    }

    @Test func plainOnlyOfferedWithoutTLSIsRefused() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test"), password: "p", security: .plainLoopback)
        _ = n.start()
        _ = n.handle(streamOpen)
        let actions = n.handle(.element(try features("<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>")))
        guard case .fail(let e)? = actions.first else { Issue.record("\(actions)"); return }
        #expect(e.kind == .security)
    }

    let plainOnly = "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>"

    /// A direct-TLS negotiation up to the server's features offering only PLAIN.
    func plainOnlyOffer(_ n: inout StreamNegotiator) throws -> [StreamNegotiator.Action] {
        _ = n.start(channelBindings: [ChannelBinding(type: "tls-unique", data: [1])])
        _ = n.handle(streamOpen)
        return n.handle(.element(try features(plainOnly)))
    }

    @Test func plainOnlyInsideTLSIsRefusedUnlessAllowed() throws {
        // A server (or whoever holds a certificate for its domain) that offers only PLAIN would get the
        // password itself.
        var n = StreamNegotiator(jid: try JID("perch@perch.test"), password: "perch-secret", security: .directTLS)
        let actions = try plainOnlyOffer(&n)
        #expect(sent(actions) == nil, "the password went out: \(actions)")
        guard case .fail(let e)? = actions.last else { Issue.record("\(actions)"); return }
        #expect(e.kind == .security, "retried rarely, like bad credentials")
        #expect(e.detail.contains("server.allow_plain = true"))
    }

    @Test func plainIsNeverUsedWithPins() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test"), password: "perch-secret", security: .directTLS, allowPlain: true, pinned: true)
        let actions = try plainOnlyOffer(&n)
        #expect(sent(actions) == nil, "the password went out: \(actions)")
        guard case .fail(let e)? = actions.last else { Issue.record("\(actions)"); return }
        #expect(e.kind == .security)
        #expect(e.detail.contains("server.pins"))
    }

    @Test func plainWhenAllowedWarnsThenSendsThePassword() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test"), password: "perch-secret", security: .directTLS, allowPlain: true)
        let actions = try plainOnlyOffer(&n)
        guard case .warn(let warning)? = actions.first else { Issue.record("no warning: \(actions)"); return }
        #expect(warning.contains("in the clear inside TLS"))
        #expect(warning.contains("enable SCRAM"))
        let auth = try #require(sent(actions))
        #expect(auth[attribute: "mechanism"] == "PLAIN")
        #expect(Base64.decode(auth.text) == Array("\0perch\0perch-secret".utf8))
    }

    @Test func plainIsNotUsedWhenTheServerAlsoOffersSCRAM() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test"), password: "perch-secret", security: .directTLS, allowPlain: true)
        _ = n.start()
        _ = n.handle(streamOpen)
        let auth = try #require(sent(n.handle(.element(try features(scram)))))
        #expect(auth[attribute: "mechanism"] == "SCRAM-SHA-1")
    }

    @Test func bindConflictLetsTheServerChoose() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test/board"), password: "pencil", security: .directTLS)
        #expect(try authenticate(&n, serverPassword: "pencil") == [.restartStream])
        _ = n.handle(streamOpen)
        let bind = try #require(sent(n.handle(.element(try features("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>")))))
        var conflict = Stanza.iq(type: "error", id: bind.stanzaID!)
        conflict.append(StanzaError(.conflict).element())
        let retry = try #require(sent(n.handle(.element(conflict))))
        #expect(retry.child("bind", namespace: XMPPNamespace.bind)?.child("resource") == nil)
    }

    @Test func streamErrorDuringNegotiation() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test"), password: "p", security: .requireTLS)
        _ = n.start()
        _ = n.handle(streamOpen)
        let actions = n.handle(.element(StreamError(.hostUnknown).element))
        guard case .fail(let e)? = actions.first, case .stream(let se) = e.kind else { Issue.record("\(actions)"); return }
        #expect(se.condition == .hostUnknown)
    }

    @Test func oldServersAreRefused() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test"), password: "p", security: .requireTLS)
        _ = n.start()
        let actions = n.handle(.streamOpened(StreamOpen(id: "x", version: nil, contentNamespace: "jabber:client")))
        guard case .fail? = actions.first else { Issue.record("\(actions)"); return }
    }
}

@Suite struct ClientPolicyTests {
    @Test func backOffGrowsWithFullJitterAndResetsAfterAStableSession() {
        let p = ReconnectPolicy()
        var s = ReconnectPolicy.State()
        #expect(p.nextDelay(after: .transient, sessionDuration: nil, state: &s, random: 1) == 1_000)
        #expect(p.nextDelay(after: .transient, sessionDuration: nil, state: &s, random: 1) == 2_000)
        #expect(p.nextDelay(after: .transient, sessionDuration: nil, state: &s, random: 0.5) == 2_000)
        for _ in 0..<20 { _ = p.nextDelay(after: .transient, sessionDuration: nil, state: &s, random: 1) }
        #expect(p.nextDelay(after: .transient, sessionDuration: nil, state: &s, random: 1) == 300_000)
        #expect(p.nextDelay(after: .transient, sessionDuration: 120_000, state: &s, random: 1) == 1_000)
        #expect(p.nextDelay(after: .authentication, sessionDuration: nil, state: &s, random: 0) == 900_000)
        #expect(p.nextDelay(after: .conflict, sessionDuration: nil, state: &s, random: 0) == 300_000)
        #expect(p.nextDelay(after: .redirect, sessionDuration: nil, state: &s, random: 1) == 0)
    }

    /// A server restart (system-shutdown, then refused connections while it is down) costs seconds:
    /// the first retries come 1 to 3 s apart with jitter, then the ordinary back-off takes over.
    @Test(arguments: [ReconnectPolicy.Cause.serverShutdown, .refused])
    func aRestartingServerIsRetriedWithinSeconds(_ first: ReconnectPolicy.Cause) {
        let p = ReconnectPolicy()
        var s = ReconnectPolicy.State()
        // A long stable session before: the first retry is 1 s plus up to 2 s of jitter.
        #expect(p.nextDelay(after: first, sessionDuration: 3_600_000, state: &s, random: 0) == 1_000)
        var t = ReconnectPolicy.State()
        #expect(p.nextDelay(after: first, sessionDuration: 3_600_000, state: &t, random: 1) == 3_000)
        #expect(p.nextDelay(after: first, sessionDuration: 3_600_000, state: &t, random: 1) == 3_000, "a new stable session starts over")
        var u = ReconnectPolicy.State()
        #expect(p.nextDelay(after: first, sessionDuration: 3_600_000, state: &u, random: 0.5) == 2_000)
        // While the server is down the connection is refused: a few more quick retries...
        for _ in 1..<p.restartRetries {
            let d = p.nextDelay(after: .refused, sessionDuration: nil, state: &s, random: 1)
            #expect((1_000...3_000).contains(d))
        }
        // ... then a growing back-off (full jitter under the ceiling, never below 1 s), capped.
        var ceilings: [Int64] = []
        for _ in 0..<12 { ceilings.append(p.nextDelay(after: .refused, sessionDuration: nil, state: &s, random: 1)) }
        #expect(ceilings.first! > 3_000)
        #expect(zip(ceilings, ceilings.dropFirst()).allSatisfy { $0 <= $1 }, "\(ceilings)")
        #expect(ceilings.last == p.maximumDelay)
        #expect(p.nextDelay(after: .refused, sessionDuration: nil, state: &s, random: 0) == 1_000)
        // Another kind of failure ends the restart: the next shutdown is a new restart, at once quick.
        _ = p.nextDelay(after: .transient, sessionDuration: nil, state: &s, random: 0)
        #expect((1_000...3_000).contains(p.nextDelay(after: .serverShutdown, sessionDuration: 5_000, state: &s, random: 1)))
    }

    /// A server that shuts down again soon after every login is not retried every second forever.
    @Test func aServerThatKeepsShuttingDownIsBackedOffFrom() {
        let p = ReconnectPolicy()
        var s = ReconnectPolicy.State()
        var delays: [Int64] = []
        for _ in 0..<20 { delays.append(p.nextDelay(after: .serverShutdown, sessionDuration: 2_000, state: &s, random: 1)) }
        #expect(delays.prefix(p.restartRetries).allSatisfy { $0 <= 3_000 })
        #expect(zip(delays, delays.dropFirst()).allSatisfy { $0 <= $1 }, "\(delays)")
        #expect(delays.last == p.maximumDelay, "\(delays)")
    }

    @Test func srvCandidates() {
        var rng = SystemRandomNumberGenerator()
        let c = ServerCandidate.fromSRV(domain: "example.org", starttls: .records([.init(priority: 10, weight: 0, port: 5222, target: "a.example.org")]),
                                        directTLS: .records([.init(priority: 5, weight: 0, port: 443, target: "b.example.org")]), using: &rng)
        #expect(c == [ServerCandidate(host: "b.example.org", port: 443, directTLS: true), ServerCandidate(host: "a.example.org", port: 5222, directTLS: false)])
        #expect(ServerCandidate.fromSRV(domain: "example.org", starttls: .noSuchName, directTLS: .records([]), using: &rng) == [ServerCandidate(host: "example.org", port: 5222, directTLS: false)])
        #expect(ServerCandidate.fromSRV(domain: "example.org", starttls: .records([.init(priority: 0, weight: 0, port: 0, target: "")]), directTLS: nil, using: &rng).isEmpty)
    }

    @Test func seeOtherHostTargets() {
        #expect(XMPPClient.parseHostPort("other.example:5223", defaultPort: 5222)! == ("other.example", 5223))
        #expect(XMPPClient.parseHostPort("[2001:db8::1]:5222", defaultPort: 1)! == ("2001:db8::1", 5222))
        #expect(XMPPClient.parseHostPort(" other.example ", defaultPort: 5222)! == ("other.example", 5222))
        #expect(XMPPClient.parseHostPort("a:b:c", defaultPort: 5222) == nil)
        #expect(XMPPClient.parseHostPort("host:99999", defaultPort: 5222) == nil)
    }

    @Test func traceRedactsEverySASLPayloadTheSameWay() {
        // The length of a PLAIN payload tells the password's length: every payload reads the same.
        let short = XMLTrace.redacted(.text("auth", namespace: XMPPNamespace.sasl, Base64.encode(Array("\0perch\0pw".utf8))))
        let long = XMLTrace.redacted(.text("auth", namespace: XMPPNamespace.sasl, Base64.encode(Array("\0perch\0a-much-longer-password".utf8))))
        #expect(short == long)
        #expect(short.contains("[redacted]"))
        #expect(!short.contains("base64 characters"))
        for name in ["response", "challenge", "success"] {
            let e = XMLElement.text(name, namespace: XMPPNamespace.sasl, "cj1hYmMsaT00MDk2")
            #expect(XMLTrace.redacted(e).contains("[redacted]"))
            #expect(!XMLTrace.redacted(e).contains("cj1hYmMsaT00MDk2"))
        }
    }

    @Test func traceRedactsSASL() {
        let auth = XMLElement.text("auth", namespace: XMPPNamespace.sasl, Base64.encode(Array("\0user\0secret".utf8)))
        let line = XMLTrace.redacted(auth)
        #expect(!line.contains(Base64.encode(Array("\0user\0secret".utf8))))
        #expect(line.contains("redacted"))
        let message = Stanza.message(to: try! JID("a@b"), body: "hello")
        #expect(XMLTrace.redacted(message).contains("hello"))
    }

    @Test func capsHashMatchesXEP0115Example() {
        // XEP-0115 §5.2 simple generation example.
        let info = DiscoInfo(identities: [.init(category: "client", type: "pc", name: "Exodus 0.9.1")],
                             features: ["http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc"])
        #expect(info.capsVerification == "QgayPKawpkPSDYmwT/WM94uAlu0=")
    }
}
