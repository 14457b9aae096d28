import Testing
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// XEP-0191's requests and pushes, read and written without an agent.
@Suite struct BlockingProtocolTests {
    func iq(_ inner: String) throws -> XMLElement {
        try XMLElement.parse("<iq xmlns='jabber:client' type='set' id='p1'>\(inner)</iq>")
    }

    @Test func requestsAreWrittenAsTheXEPSays() throws {
        let get = Blocking.blocklistRequest(id: "b1")
        #expect(get.serialized() == "<iq type='get' id='b1'><blocklist xmlns='urn:xmpp:blocking'/></iq>")
        let block = Blocking.change(try JID("spam@example.org"), block: true, id: "b2")
        #expect(block.serialized() == "<iq type='set' id='b2'><block xmlns='urn:xmpp:blocking'><item jid='spam@example.org'/></block></iq>")
        #expect(Blocking.change(try JID("spam@example.org"), block: false, id: "b3").serialized().contains("<unblock xmlns='urn:xmpp:blocking'>"))
    }

    @Test func pushesSayWhatChanged() throws {
        let block = try iq("<block xmlns='urn:xmpp:blocking'><item jid='a@example.org'/><item jid='@@bad'/><item/></block>")
        #expect(Blocking.push(block) == .block(Blocking.Items(jids: [try JID("a@example.org")], unusable: ["@@bad"])))
        let all = try iq("<unblock xmlns='urn:xmpp:blocking'/>")
        #expect(Blocking.push(all) == .unblock(Blocking.Items(jids: [], unusable: [])), "no items: everything")
        #expect(Blocking.push(try iq("<query xmlns='urn:other'/>")) == nil)
        // Items in another namespace are not the list's.
        let foreign = try iq("<block xmlns='urn:xmpp:blocking'><item xmlns='urn:other' jid='b@example.org'/></block>")
        #expect(Blocking.push(foreign) == .block(Blocking.Items(jids: [], unusable: [])))
    }
}
