import Testing
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// XEP-0060 / XEP-0163 requests as the publisher sends them, and answers as Prosody and ejabberd
/// write them.
@Suite struct PubSubProtocolTests {
    static let ns = "http://jabber.org/protocol/pubsub"
    static let owner = "http://jabber.org/protocol/pubsub#owner"
    static let config = PubSub.NodeConfiguration(accessModel: "presence", maxItems: 100, persistItems: true)
    /// The configuration form as Perch submits it, typed `FORM_TYPE` pubsub#`type`.
    func form(_ type: String) -> String {
        "<x xmlns='jabber:x:data' type='submit'>"
            + "<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#\(type)</value></field>"
            + "<field var='pubsub#access_model' type='list-single'><value>presence</value></field>"
            + "<field var='pubsub#max_items' type='text-single'><value>100</value></field>"
            + "<field var='pubsub#persist_items' type='boolean'><value>true</value></field></x>"
    }

    func answer(_ inner: String, type: String = "result") throws -> XMLElement {
        try XMLElement.parse("<iq xmlns='jabber:client' type='\(type)' id='a1' from='pubsub.example.org'>\(inner)</iq>")
    }

    @Test func publishIsWrittenAsTheXEPSays() throws {
        let payload = XMLElement("fields", namespace: "urn:xmpp:iot:sensordata")
        let pep = PubSub.publish(id: "pub1", to: nil, node: "urn:xmpp:perch:readings:0", itemID: "k3x9q-1", payload: payload, options: Self.config)
        #expect(pep.serialized() == "<iq type='set' id='pub1'><pubsub xmlns='\(Self.ns)'><publish node='urn:xmpp:perch:readings:0'><item id='k3x9q-1'><fields xmlns='urn:xmpp:iot:sensordata'/></item></publish>"
            + "<publish-options>\(form("publish-options"))</publish-options></pubsub></iq>")
        let service = PubSub.publish(id: "pub2", to: try JID("pubsub.example.org"), node: "n", itemID: "k3x9q-2", payload: payload)
        #expect(service.serialized() == "<iq type='set' id='pub2' to='pubsub.example.org'><pubsub xmlns='\(Self.ns)'><publish node='n'><item id='k3x9q-2'><fields xmlns='urn:xmpp:iot:sensordata'/></item></publish></pubsub></iq>")
    }

    @Test func nodeOwnershipRequests() throws {
        let service = try JID("pubsub.example.org")
        #expect(PubSub.create(id: "c1", to: service, node: "n", configuration: Self.config).serialized()
            == "<iq type='set' id='c1' to='pubsub.example.org'><pubsub xmlns='\(Self.ns)'><create node='n'/><configure>\(form("node_config"))</configure></pubsub></iq>")
        #expect(PubSub.configure(id: "c2", to: service, node: "n", configuration: Self.config).serialized()
            == "<iq type='set' id='c2' to='pubsub.example.org'><pubsub xmlns='\(Self.owner)'><configure node='n'>\(form("node_config"))</configure></pubsub></iq>")
        #expect(PubSub.subscriptionsRequest(id: "s1", to: service, node: "n").serialized()
            == "<iq type='get' id='s1' to='pubsub.example.org'><pubsub xmlns='\(Self.owner)'><subscriptions node='n'/></pubsub></iq>")
        #expect(PubSub.setSubscription(id: "s2", to: service, node: "n", jid: try JID("eve@example.org"), state: "none").serialized()
            == "<iq type='set' id='s2' to='pubsub.example.org'><pubsub xmlns='\(Self.owner)'><subscriptions node='n'><subscription jid='eve@example.org' subscription='none'/></subscriptions></pubsub></iq>")
        #expect(PubSub.retract(id: "r1", to: nil, node: "n", itemIDs: ["a", "b"], notify: true).serialized()
            == "<iq type='set' id='r1'><pubsub xmlns='\(Self.ns)'><retract node='n' notify='true'><item id='a'/><item id='b'/></retract></pubsub></iq>")
        #expect(!PubSub.retract(id: "r2", to: nil, node: "n", itemIDs: ["a"], notify: false).serialized().contains("notify"))
    }

    @Test func itemsAreLookedUpByID() throws {
        #expect(PubSub.itemsRequest(id: "chk1", to: nil, node: "n", itemIDs: ["k-1", "k-2"]).serialized()
            == "<iq type='get' id='chk1'><pubsub xmlns='\(Self.ns)'><items node='n'><item id='k-1'/><item id='k-2'/></items></pubsub></iq>")
        // Prosody's answer: the items it holds, with their payloads.
        let found = try answer("<pubsub xmlns='\(Self.ns)'><items node='n'><item id='k-1' publisher='dev@example.org'><fields xmlns='urn:xmpp:iot:sensordata'/></item><item/></items></pubsub>")
        #expect(PubSub.itemIDs(in: found) == ["k-1"], "an item without an id names none")
        #expect(PubSub.itemIDs(in: try answer("<pubsub xmlns='\(Self.ns)'><items node='n'/></pubsub>")).isEmpty)
        #expect(PubSub.itemIDs(in: try answer("")).isEmpty, "ejabberd answers an empty result")
        #expect(PubSub.itemIDs(in: try answer("<pubsub xmlns='\(Self.owner)'><items node='n'><item id='k-1'/></items></pubsub>")).isEmpty, "the owner namespace holds no items")
    }

    @Test func thePublishedItemID() throws {
        #expect(PubSub.publishedItemID(in: try answer("<pubsub xmlns='\(Self.ns)'><publish node='n'><item id='ae890ac52d0df67ed7cfdf51b644e901'/></publish></pubsub>")) == "ae890ac52d0df67ed7cfdf51b644e901")
        #expect(PubSub.publishedItemID(in: try answer("")) == nil)
        #expect(PubSub.publishedItemID(in: try answer("<pubsub xmlns='\(Self.ns)'><publish node='n'><item/></publish></pubsub>")) == nil)
    }

    @Test func subscriptionsAsTheOwnerSeesThem() throws {
        let list = try answer("""
            <pubsub xmlns='\(Self.owner)'><subscriptions node='n'>\
            <subscription jid='alice@example.org' subscription='subscribed' subid='123-abc'/>\
            <subscription jid='bob@example.org/phone' subscription='pending'/>\
            <subscription jid='carol@example.org'/>\
            <subscription subscription='subscribed'/>\
            </subscriptions></pubsub>
            """)
        #expect(PubSub.subscriptions(in: list) == [.init(jid: "alice@example.org", state: "subscribed"), .init(jid: "bob@example.org/phone", state: "pending"), .init(jid: "carol@example.org", state: nil)])
        #expect(PubSub.subscriptions(in: try answer("<pubsub xmlns='\(Self.ns)'><subscriptions node='n'><subscription jid='a@example.org'/></subscriptions></pubsub>")).isEmpty,
                "the user namespace's list is not the owner's")
    }

    @Test func pubsubErrors() throws {
        // ejabberd refusing publish-options that do not match the node.
        let refused = try answer("""
            <pubsub xmlns='\(Self.ns)'><publish node='n'/></pubsub>\
            <error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
            <precondition-not-met xmlns='http://jabber.org/protocol/pubsub#errors'/></error>
            """, type: "error")
        #expect(PubSub.errorDetail(in: refused) == .init(condition: "precondition-not-met"))
        #expect(StanzaError(stanza: refused)?.condition == .conflict)
        let unsupported = try answer("<error type='cancel'><feature-not-implemented xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><unsupported xmlns='http://jabber.org/protocol/pubsub#errors' feature='publish-options'/></error>", type: "error")
        #expect(PubSub.errorDetail(in: unsupported) == .init(condition: "unsupported", feature: "publish-options"))
        #expect(PubSub.errorDetail(in: try answer("<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>", type: "error")) == nil, "no pubsub condition")
        #expect(PubSub.errorDetail(in: try answer("<error type='cancel'><unsupported xmlns='urn:other'/></error>", type: "error")) == nil)
        #expect(PubSub.errorDetail(in: try answer("<error><unsupported xmlns='http://jabber.org/protocol/pubsub#errors'/></error>")) == nil, "a result is no error")
    }
}
