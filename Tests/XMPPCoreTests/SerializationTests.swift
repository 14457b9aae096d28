import Testing
@testable import XMPPCore
import XMPPAddress

@Suite struct SerializationTests {
    @Test func escapesTextAndAttributes() {
        var e = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": "a'b\"c<d>&e", "type": "chat"])
        e.append(.text("body", namespace: XMPPNamespace.client, "1 < 2 && ]]> \u{01}ok"))
        #expect(e.serialized() == "<message to='a&apos;b&quot;c&lt;d&gt;&amp;e' type='chat'><body>1 &lt; 2 &amp;&amp; ]]&gt; ok</body></message>")
    }

    @Test func namespacesOnlyWhereTheyChange() {
        var iq = Stanza.iq(type: "get", id: "1", payload: XMLElement("query", namespace: XMPPNamespace.discoInfo))
        iq.children.append(.element(XMLElement("x", namespace: XMPPNamespace.client)))
        #expect(iq.serialized() == "<iq type='get' id='1'><query xmlns='http://jabber.org/protocol/disco#info'/><x/></iq>")
        #expect(iq.serialized(parentNamespace: "other") .hasPrefix("<iq xmlns='jabber:client'"))
    }

    @Test func xmlLangAndForeignAttributes() {
        let e = XMLElement("presence", namespace: XMPPNamespace.client, attributes: [
            XMLAttribute("lang", "de", namespace: XMPPNamespace.xml), XMLAttribute("a", "1", namespace: "urn:x"),
        ])
        #expect(e.serialized() == "<presence xml:lang='de' xmlns:ns0='urn:x' ns0:a='1'/>")
        #expect(e.lang == "de")
    }

    @Test func attributeWhitespaceSurvives() {
        #expect(XMLEscaping.escapeAttribute("a\tb\nc\rd") == "a&#9;b&#10;c&#13;d")
    }

    @Test func escapingKeepsEveryRunBetweenSpecialCharacters() {
        // Specials at both ends, next to each other and beside multi-byte characters; controls dropped.
        #expect(XMLEscaping.escapeText("<pump> & «Zürich» 21 °C\u{01}\tok\n&") == "&lt;pump&gt; &amp; «Zürich» 21 °C\tok\n&amp;")
        #expect(XMLEscaping.escapeText("&&<>") == "&amp;&amp;&lt;&gt;")
        #expect(XMLEscaping.escapeText("\u{02}") == "")
        #expect(XMLEscaping.escapeText("ünchanged 🙂") == "ünchanged 🙂")
        #expect(XMLEscaping.escapeAttribute("'é\"<\u{7}>&") == "&apos;é&quot;&lt;&gt;&amp;")
        #expect(XMLEscaping.escapeAttribute("") == "")
    }

    @Test func stanzaErrorRoundTrip() {
        let request = Stanza.iq(type: "set", id: "x1", payload: XMLElement("foo", namespace: "urn:foo"))
        var withFrom = request
        withFrom[attribute: "from"] = "alice@example.org/phone"
        let reply = Stanza.error(for: withFrom, StanzaError(.serviceUnavailable))
        #expect(reply.serialized() == "<iq type='error' id='x1' to='alice@example.org/phone'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
        let parsed = StanzaError(stanza: reply)
        #expect(parsed == StanzaError(.serviceUnavailable))
        let withText = StanzaError(.notAllowed, text: "interlock")
        var e = XMLElement("iq", namespace: XMPPNamespace.client)
        e.append(withText.element())
        #expect(StanzaError(stanza: e) == withText)
    }

    @Test func streamErrorParsing() {
        var e = XMLElement("error", namespace: XMPPNamespace.stream)
        e.append(XMLElement("see-other-host", namespace: XMPPNamespace.streamErrors, children: [.text("other.example:5223")]))
        e.append(.text("text", namespace: XMPPNamespace.streamErrors, "moved"))
        let err = StreamError(element: e)
        #expect(err.condition == .seeOtherHost)
        #expect(err.otherHost == "other.example:5223")
        #expect(err.text == "moved")
        #expect(StreamError(.policyViolation).serialized == "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>")
        #expect(StreamError(element: XMLElement("error", namespace: XMPPNamespace.stream)).condition == .undefinedCondition)
    }

    @Test func streamHeader() throws {
        #expect(StreamHeader.open(to: "example.org", from: nil) == "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0' xml:lang='en'>")
    }

    @Test func stanzaAccessors() {
        var m = Stanza.message(to: try! .init("b@example.org"), body: "hi", id: "7")
        m[attribute: "from"] = "not a jid@@"
        #expect(m.stanzaKind == .message)
        #expect(m.stanzaID == "7")
        #expect(m.from == nil)
        #expect(m.fromAttribute == "not a jid@@")
        #expect(m.to?.description == "b@example.org")
        m[attribute: "id"] = nil
        #expect(m.stanzaID == nil)
    }
}
