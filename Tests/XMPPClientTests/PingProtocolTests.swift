import Testing
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// XEP-0199 pings, both ways.
@Suite struct PingProtocolTests {
    @Test func requestAndAnswer() throws {
        #expect(Ping.request(id: "ping-1", to: "example.org").serialized() == "<iq type='get' id='ping-1' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>")
        let ping = try XMLElement.parse("<iq xmlns='jabber:client' from='alice@example.org/phone' type='get' id='c2s1'><ping xmlns='urn:xmpp:ping'/></iq>")
        #expect(Ping.isRequest(ping))
        #expect(Ping.answer(to: ping).serialized() == "<iq type='result' id='c2s1' to='alice@example.org/phone'/>")
        #expect(BasicIQHandlers.pingRequest(id: "p", to: "example.org") == Ping.request(id: "p", to: "example.org"))
    }

    @Test func notAPing() throws {
        #expect(!Ping.isRequest(try XMLElement.parse("<iq xmlns='jabber:client' type='set' id='1'><ping xmlns='urn:xmpp:ping'/></iq>")), "a set")
        #expect(!Ping.isRequest(try XMLElement.parse("<iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:pong'/></iq>")), "another namespace")
        #expect(!Ping.isRequest(try XMLElement.parse("<iq xmlns='jabber:client' type='get' id='1'><query xmlns='urn:xmpp:ping'/></iq>")), "another element")
        #expect(!Ping.isRequest(try XMLElement.parse("<message xmlns='jabber:client' type='get'><ping xmlns='urn:xmpp:ping'/></message>")), "not an iq")
    }
}
