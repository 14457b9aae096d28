import Testing
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// XEP-0203 delays, read from stored stanzas as servers send them, and written.
@Suite struct DelayProtocolTests {
    @Test func readsTheStampsOfAStoredMessage() throws {
        // Prosody's offline storage: the sender's own delay first, the server's after it.
        let m = try XMLElement.parse("""
            <message xmlns='jabber:client' from='alice@example.org/phone' to='dev@example.org' type='chat'>\
            <body>status</body>\
            <delay xmlns='urn:xmpp:delay' from='alice@example.org/phone' stamp='2026-11-21T17:20:31.898Z'/>\
            <delay xmlns='urn:xmpp:delay' from='example.org' stamp='2026-11-21T16:20:31Z'>Offline Storage</delay>\
            </message>
            """)
        let delays = Delay.all(in: m)
        #expect(delays.map(\.from) == ["alice@example.org/phone", "example.org"])
        #expect(delays[0].stamp - delays[1].stamp == 3_600_898)
        #expect(delays[0].reason == nil)
        #expect(delays[1].reason == "Offline Storage")
        #expect(XMPPDateTime.parse("2026-11-21T16:20:31Z") == delays[1].stamp)
    }

    @Test func unreadableDelaysAreLeftOut() throws {
        let m = try XMLElement.parse("""
            <message xmlns='jabber:client'>\
            <delay xmlns='urn:xmpp:delay' from='example.org'/>\
            <delay xmlns='urn:xmpp:delay' stamp='yesterday'/>\
            <delay xmlns='urn:xmpp:other' stamp='2026-11-21T16:20:31Z'/>\
            <x xmlns='jabber:x:delay' stamp='20261121T16:20:31'/>\
            </message>
            """)
        #expect(Delay.all(in: m).isEmpty, "no stamp, a bad stamp, another namespace, the legacy XEP-0091 form")
        #expect(Delay(try XMLElement.parse("<delay xmlns='urn:xmpp:delay' stamp='2026-11-21T16:20:31+01:00'/>"))?.stamp == XMPPDateTime.parse("2026-11-21T15:20:31Z"))
    }

    @Test func writesAStamp() throws {
        let e = Delay.element(from: "dev@example.org", at: 1_763_745_631_898)
        #expect(e.serialized() == "<delay xmlns='urn:xmpp:delay' from='dev@example.org' stamp='2025-11-21T17:20:31.898Z'/>")
        #expect(Delay(e) == Delay(stamp: 1_763_745_631_898, from: "dev@example.org"), "what is written reads back")
        #expect(Delay.element(from: nil, at: 0).serialized() == "<delay xmlns='urn:xmpp:delay' stamp='1970-01-01T00:00:00.000Z'/>")
    }

    @Test func removingDelaysKeepsTheRest() throws {
        let fields = try XMLElement.parse("<fields xmlns='urn:xmpp:iot:sensordata'><node nodeId='a'/><delay xmlns='urn:xmpp:delay' stamp='2026-11-21T16:20:31Z'/></fields>")
        #expect(Delay.removingDelays(from: fields).serialized() == "<fields xmlns='urn:xmpp:iot:sensordata'><node nodeId='a'/></fields>")
    }
}
