import Testing
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// XEP-0359 origin and stanza ids.
@Suite struct StanzaIDProtocolTests {
    @Test func originIDIsWrittenAndRead() throws {
        #expect(StanzaIDs.originID("k3x9q-7").serialized() == "<origin-id xmlns='urn:xmpp:sid:0' id='k3x9q-7'/>")
        let m = try XMLElement.parse("<message xmlns='jabber:client' id='m1'><body>on pump</body><origin-id xmlns='urn:xmpp:sid:0' id='de305d54-75b4-431b-adb2-eb6b9e546013'/></message>")
        #expect(StanzaIDs.originID(in: m) == "de305d54-75b4-431b-adb2-eb6b9e546013")
        #expect(StanzaIDs.hasOriginID(m))
    }

    @Test func aMalformedOriginIDIsNone() throws {
        let noID = try XMLElement.parse("<message xmlns='jabber:client'><origin-id xmlns='urn:xmpp:sid:0'/></message>")
        #expect(StanzaIDs.originID(in: noID) == nil)
        #expect(StanzaIDs.hasOriginID(noID), "present, though unreadable")
        #expect(StanzaIDs.originID(in: try XMLElement.parse("<message xmlns='jabber:client'><origin-id xmlns='urn:xmpp:sid:0' id=''/></message>")) == nil)
        let foreign = try XMLElement.parse("<message xmlns='jabber:client'><origin-id xmlns='urn:xmpp:sid:1' id='x'/></message>")
        #expect(StanzaIDs.originID(in: foreign) == nil)
        #expect(!StanzaIDs.hasOriginID(foreign))
    }

    @Test func stanzaIDsNameWhoseTheyAre() throws {
        // ejabberd's MAM adds one for the account; a sender can add a forged one of its own.
        let m = try XMLElement.parse("""
            <message xmlns='jabber:client' from='alice@example.org/phone'>\
            <stanza-id xmlns='urn:xmpp:sid:0' by='example.org' id='forged'/>\
            <stanza-id xmlns='urn:xmpp:sid:0' by='dev@example.org' id='1763745631898123'/>\
            <stanza-id xmlns='urn:xmpp:sid:0' id='no-by'/>\
            <stanza-id xmlns='urn:xmpp:sid:0' by='@@' id='bad-by'/>\
            <stanza-id xmlns='urn:xmpp:sid:0' by='dev@example.org'/>\
            </message>
            """)
        let ids = StanzaIDs.stanzaIDs(in: m)
        #expect(ids == [.init(id: "forged", by: try JID("example.org")), .init(id: "1763745631898123", by: try JID("dev@example.org"))])
        #expect(StanzaIDs.stanzaID(in: m, by: try JID("dev@example.org")) == "1763745631898123")
        #expect(StanzaIDs.stanzaID(in: m, by: try JID("other@example.org")) == nil)
        #expect(ids[1].element.serialized() == "<stanza-id xmlns='urn:xmpp:sid:0' id='1763745631898123' by='dev@example.org'/>")
    }
}
