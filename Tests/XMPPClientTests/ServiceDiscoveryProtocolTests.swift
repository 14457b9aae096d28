import Testing
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// XEP-0030 disco#info and disco#items, and XEP-0115 caps, written and read.
@Suite struct ServiceDiscoveryProtocolTests {
    @Test func requestsAreWrittenAsTheXEPSays() throws {
        let server = try JID("example.org")
        #expect(DiscoInfo.request(id: "d1", to: server).serialized() == "<iq type='get' id='d1' to='example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        #expect(DiscoItems.request(id: "d2", to: server, node: "http://jabber.org/protocol/commands").serialized()
            == "<iq type='get' id='d2' to='example.org'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>")
    }

    @Test func aNodeDescriptionKeepsItsOrder() {
        let q = DiscoInfo.query(node: "n", identities: [.init(category: "automation", type: "command-list", name: "Commands")], features: ["urn:z", "urn:a"])
        #expect(q.serialized() == "<query xmlns='http://jabber.org/protocol/disco#info' node='n'><identity category='automation' type='command-list' name='Commands'/><feature var='urn:z'/><feature var='urn:a'/></query>")
        // The entity's own answer is the caps order instead.
        let info = DiscoInfo(identities: [.init(category: "client", type: "bot")], features: ["urn:z", "urn:a", "urn:z"])
        #expect(info.element().serialized() == "<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='bot'/><feature var='urn:a'/><feature var='urn:z'/></query>")
    }

    @Test func readsAServersInfo() throws {
        // Prosody's answer, with an XEP-0128 form that is not part of the identities or features.
        let answer = try XMLElement.parse("""
            <iq xmlns='jabber:client' type='result' from='example.org' id='d1'><query xmlns='http://jabber.org/protocol/disco#info'>\
            <identity category='server' type='im' name='Prosody'/><identity category='pubsub' type='pep'/>\
            <feature var='urn:xmpp:ping'/><feature var='urn:xmpp:blocking'/>\
            <x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/network/serverinfo</value></field></x>\
            <identity category='broken'/><feature/><feature xmlns='urn:other' var='urn:not-a-feature'/>\
            </query></iq>
            """)
        let info = try #require(DiscoInfo(answer: answer))
        #expect(info.identities == [.init(category: "server", type: "im", name: "Prosody"), .init(category: "pubsub", type: "pep")])
        #expect(info.features == ["urn:xmpp:ping", "urn:xmpp:blocking"])
        #expect(DiscoInfo(answer: try #require(answer.child("query", namespace: DiscoInfo.namespace))) == info, "the query itself reads the same")
        #expect(DiscoInfo(answer: try XMLElement.parse("<iq xmlns='jabber:client' type='result' id='d1'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")) == nil)
        #expect(DiscoInfo(answer: try XMLElement.parse("<iq xmlns='jabber:client' type='result' id='d1'/>")) == nil)
    }

    @Test func itemsAreWrittenAndRead() throws {
        let me = try JID("dev@example.org/perch")
        let items = DiscoItems(node: "http://jabber.org/protocol/commands", items: [.init(jid: me, node: "status", name: "Status"), .init(jid: try JID("pubsub.example.org"))])
        #expect(items.element.serialized() == "<query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'><item jid='dev@example.org/perch' node='status' name='Status'/><item jid='pubsub.example.org'/></query>")
        let answer = try XMLElement.parse("""
            <iq xmlns='jabber:client' type='result' id='d2'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'>\
            <item jid='dev@example.org/perch' node='status' name='Status'/><item jid='pubsub.example.org'/>\
            <item node='no-jid'/><item jid='@@' node='bad-jid'/><item xmlns='urn:other' jid='other.example.org'/><identity jid='not-an-item.example.org'/>\
            </query></iq>
            """)
        #expect(DiscoItems(answer: answer) == items, "items without a usable jid, in another namespace, or not items at all are left out")
        #expect(DiscoItems(answer: try XMLElement.parse("<query xmlns='http://jabber.org/protocol/disco#info'/>")) == nil)
    }

    @Test func theNodeARequestAsksAbout() throws {
        func iq(_ s: String) throws -> XMLElement { try XMLElement.parse("<iq xmlns='jabber:client' id='1' \(s)</iq>") }
        #expect(DiscoItems.requestedNode(try iq("type='get'><query xmlns='http://jabber.org/protocol/disco#items' node='x'/>")) == .some("x"))
        #expect(DiscoItems.requestedNode(try iq("type='get'><query xmlns='http://jabber.org/protocol/disco#items'/>")) == .some(nil))
        #expect(DiscoItems.requestedNode(try iq("type='set'><query xmlns='http://jabber.org/protocol/disco#items'/>")) == nil)
        #expect(DiscoItems.requestedNode(try iq("type='get'><query xmlns='http://jabber.org/protocol/disco#info'/>")) == nil)
    }

    @Test func capsOfAPresence() throws {
        let info = DiscoInfo(identities: [.init(category: "client", type: "bot", name: "Perch")], features: ["urn:xmpp:ping"])
        #expect(info.capsNode(base: "https://perch.invalid/caps") == "https://perch.invalid/caps#\(info.capsVerification)")
        let presence = XMLElement("presence", namespace: XMPPNamespace.client).appending(info.capsElement(node: "https://perch.invalid/caps"))
        let caps = try #require(EntityCaps(presence: presence))
        #expect(caps.hash == "sha-1")
        #expect(caps.discoNode == info.capsNode(base: "https://perch.invalid/caps"))
        #expect(EntityCaps(presence: try XMLElement.parse("<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' node='n' ver='v'/></presence>")) == nil, "legacy caps without a hash")
        #expect(EntityCaps(presence: try XMLElement.parse("<presence xmlns='jabber:client'><c xmlns='urn:other' hash='sha-1' node='n' ver='v'/></presence>")) == nil)
    }
}
