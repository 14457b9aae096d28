import Testing
import PerchHTTP
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// What the transport seam decides without a socket: where a see-other-uri may lead, how the
/// negotiator treats STARTTLS on an unencrypted WebSocket or BOSH stream, and what each framing's
/// stream header looks like.
@Suite struct TransportSeamTests {
    @Test func aRedirectKeepsTheFramingAndNeverDropsTLS() throws {
        let ws = ServerCandidate(websocket: try WebURL.parse("wss://a.example/ws"))
        #expect(ws.redirected(to: try WebURL.parse("wss://b.example:8443/xmpp"))?.framing == .websocket(try WebURL.parse("wss://b.example:8443/xmpp")))
        #expect(ws.redirected(to: try WebURL.parse("ws://b.example/ws")) == nil, "from TLS to the clear")
        #expect(ws.redirected(to: try WebURL.parse("https://b.example/bosh")) == nil, "another framing")
        let bosh = ServerCandidate(bosh: try WebURL.parse("https://a.example/bosh"))
        #expect(bosh.redirected(to: try WebURL.parse("https://b.example/http-bind"))?.host == "b.example")
        #expect(bosh.redirected(to: try WebURL.parse("wss://b.example/ws")) == nil)
        let plain = ServerCandidate(websocket: try WebURL.parse("ws://127.0.0.1:5280/ws"))
        #expect(plain.redirected(to: try WebURL.parse("wss://b.example/ws"))?.directTLS == true, "to TLS is fine")
        #expect(ws.description == "wss://a.example:443/ws (WebSocket)")
    }

    @Test func plainHTTPToLoopbackIgnoresAStartTLSOfferThatCannotApply() throws {
        let offer = try features("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms>")
        var web = StreamNegotiator(jid: try JID("perch@perch.test/board"), password: "pencil", security: .plainLoopbackHTTP)
        _ = web.start()
        _ = web.handle(streamOpen)
        let auth = web.handle(.element(offer))
        guard case .send(let e)? = auth.first else { Issue.record("no auth: \(auth)"); return }
        #expect(e.name == "auth" && e[attribute: "mechanism"] == "SCRAM-SHA-1")
        // Over TCP the same offer is a refusal: STARTTLS exists there and the server requires it.
        var tcp = StreamNegotiator(jid: try JID("perch@perch.test/board"), password: "pencil", security: .plainLoopback)
        _ = tcp.start()
        _ = tcp.handle(streamOpen)
        guard case .fail(let why)? = tcp.handle(.element(offer)).first else { Issue.record("TCP accepted"); return }
        #expect(why.detail.contains("requires STARTTLS"))
    }

    @Test func theStreamHeaderInEachFraming() throws {
        let n = StreamNegotiator(jid: try JID("perch@perch.test/board"), password: "pencil", security: .directTLS)
        #expect(n.opening == StreamOpening(to: "perch.test", from: try JID("perch@perch.test")))
        #expect(n.opening.header.hasPrefix("<?xml version='1.0'?><stream:stream xmlns='jabber:client'"))
        #expect(XMPPFraming.open(to: n.opening.to, lang: n.opening.lang) == "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='perch.test' version='1.0' xml:lang='en'/>")
        #expect(n.awaitsResumption == false)
    }
}
