import Testing
import XMPPCore
import XMPPXML
@testable import PerchHTTP

func boshOK(_ body: String) -> HTTPResponse {
    HTTPResponse(head: HTTPResponseHead(status: 200, reason: "OK"), body: Array(body.utf8))
}

@Suite struct BOSHBodyTests {
    @Test func theSessionCreationBody() throws {
        let text = BOSHBody.create(rid: 1573741820, to: "example.org", lang: "en", wait: 60, hold: 1)
        let e = try XMLElement.parse(text)
        #expect(e.name == "body" && e.namespace == BOSHBody.namespace)
        #expect(e[attribute: "rid"] == "1573741820" && e[attribute: "to"] == "example.org" && e[attribute: "wait"] == "60")
        #expect(e[attribute: "hold"] == "1" && e[attribute: "ver"] == "1.11" && e.lang == "en")
        #expect(e.attributes.contains { $0.name == "version" && $0.namespace == "urn:xmpp:xbosh" && $0.value == "1.0" })
    }

    @Test func requestsCarryStanzasInJabberClient() throws {
        let msg = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": "a@b", "type": "chat"], children: [.text("body", namespace: XMPPNamespace.client, "x<y")])
        let text = BOSHBody.request(rid: 7, sid: "s'1", ack: 6, stanzas: [msg])
        let e = try XMLElement.parse(text)
        #expect(e[attribute: "sid"] == "s'1" && e[attribute: "rid"] == "7" && e[attribute: "ack"] == "6")
        #expect(e.elements == [msg])
        let r = try XMLElement.parse(BOSHBody.restart(rid: 8, sid: "s", to: "example.org"))
        #expect(r.attributes.contains { $0.name == "restart" && $0.namespace == "urn:xmpp:xbosh" && $0.value == "true" })
        #expect(try XMLElement.parse(BOSHBody.terminate(rid: 9, sid: "s"))[attribute: "type"] == "terminate")
    }

    @Test func readsTheCreationResponse() throws {
        let r = try BOSHBody.parse(Array("""
            <?xml version='1.0' encoding='UTF-8'?>
            <body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' xmlns:stream='http://etherx.jabber.org/streams'
              sid='SomeSID' wait='60' requests='2' inactivity='30' polling='5' hold='1' ack='1573741820' maxpause='120' ver='1.11'
              from='example.org' xmpp:version='1.0' xmpp:restartlogic='true'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features></body>
            """.utf8))
        #expect(r.sid == "SomeSID" && r.wait == 60 && r.requests == 2 && r.inactivity == 30 && r.polling == 5 && r.hold == 1)
        #expect(r.ack == 1573741820 && r.maxpause == 120 && r.xmppVersion == "1.0" && r.restartLogic && r.termination == nil)
        #expect(r.stanzas.count == 1 && r.stanzas[0].name == "features" && r.stanzas[0].namespace == XMPPNamespace.stream)
    }

    @Test func unqualifiedStanzasAreJabberClient() throws {
        let r = try BOSHBody.parse(Array("<body xmlns='http://jabber.org/protocol/httpbind'><message to='a@b'><body>hi</body></message><iq xmlns='jabber:client' type='result' id='1'/></body>".utf8))
        #expect(r.stanzas.map(\.namespace) == [XMPPNamespace.client, XMPPNamespace.client])
        #expect(r.stanzas[0].child("body", namespace: XMPPNamespace.client)?.text == "hi")
    }

    @Test func readsTermination() throws {
        let r = try BOSHBody.parse(Array("<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='see-other-uri'><uri>https://other.example/bosh</uri></body>".utf8))
        #expect(r.termination == BOSHTermination(condition: "see-other-uri", seeOtherURI: "https://other.example/bosh"))
        #expect(r.stanzas.isEmpty)
        let t = try BOSHBody.parse(Array("<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='host-unknown'/>".utf8))
        #expect(t.termination?.condition == "host-unknown")
    }

    @Test func refusals() {
        for bad in [
            "", "not xml", "<body/>", "<html><body>502</body></html>", "<body xmlns='http://jabber.org/protocol/httpbind' wait='x'/>",
            "<body xmlns='http://jabber.org/protocol/httpbind' rid='-1' wait='99999999999999999999'/>",
            "<body xmlns='http://jabber.org/protocol/httpbind' type='odd'/>",
            "<!DOCTYPE body [<!ENTITY x 'y'>]><body xmlns='http://jabber.org/protocol/httpbind'>&x;</body>",
            "<?xml version='1.0' encoding='ISO-8859-1'?><body xmlns='http://jabber.org/protocol/httpbind'/>",
            "<body xmlns='http://jabber.org/protocol/httpbind'/><body xmlns='http://jabber.org/protocol/httpbind'/>",
        ] {
            #expect(throws: BOSHError.self, "\(bad)") { try BOSHBody.parse(Array(bad.utf8)) }
        }
        #expect(throws: BOSHError.self) { try BOSHBody.parse([0x3C, 0x62, 0xFF, 0x3E]) }
        let big = "<body xmlns='http://jabber.org/protocol/httpbind'>" + String(repeating: "<message/>", count: 200) + "</body>"
        #expect(throws: BOSHError.self) { try BOSHBody.parse(Array(big.utf8), limits: XMLStreamLimits(maxStanzaBytes: 1000)) }
    }
}

struct BOSHNoRequest: Error {}

func boshNext(_ s: inout BOSHSession) throws -> BOSHSession.Request {
    guard let r = s.nextRequest() else { throw BOSHNoRequest() }
    return r
}

@Suite struct BOSHSessionTests {
    static let created = "<body xmlns='http://jabber.org/protocol/httpbind' sid='S' wait='30' requests='2' hold='1' inactivity='60'/>"

    func active(ack: Bool = false) throws -> BOSHSession {
        var s = BOSHSession(domain: "example.org", wait: 60, rid: 100)
        let first = s.start()
        #expect(first.rid == 100)
        #expect(s.nextRequest() == nil)  // only one request before the manager says how many
        let created = ack ? "<body xmlns='http://jabber.org/protocol/httpbind' sid='S' wait='30' requests='2' hold='1' inactivity='60' ack='100'/>" : Self.created
        _ = try s.received(rid: 100, response: boshOK(created))
        #expect(s.state == .active && s.sid == "S" && s.wait == 30 && s.requests == 2 && s.inactivity == 60)
        return s
    }

    @Test func keepsOneEmptyRequestAtTheManagerAndOneSlotForStanzas() throws {
        var s = try active()
        let poll = try boshNext(&s)
        #expect(poll.rid == 101 && !poll.body.containsText("<message"))
        #expect(s.nextRequest() == nil)  // hold=1 empty request already out
        s.enqueue(XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": "a@b"]))
        let send = try boshNext(&s)
        #expect(send.rid == 102 && send.body.containsText("<message xmlns='jabber:client' to='a@b'/>"))
        s.enqueue(XMLElement("presence", namespace: XMPPNamespace.client))
        #expect(s.nextRequest() == nil)  // requests=2 are out: the stanza waits
        _ = try s.received(rid: 102, response: boshOK("<body xmlns='http://jabber.org/protocol/httpbind'/>"))
        #expect(try boshNext(&s).rid == 103)
    }

    @Test func responsesAreDeliveredInRidOrder() throws {
        var s = try active()
        _ = s.nextRequest()
        s.enqueue(XMLElement("presence", namespace: XMPPNamespace.client))
        _ = s.nextRequest()
        let late = try s.received(rid: 102, response: boshOK("<body xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client' id='2'/></body>"))
        #expect(late.stanzas.isEmpty)  // 101 is still out
        let both = try s.received(rid: 101, response: boshOK("<body xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client' id='1'/></body>"))
        #expect(both.stanzas.map { $0[attribute: "id"] } == ["1", "2"])
    }

    @Test func aLostResponseIsResentWithTheSameRid() throws {
        var s = try active()
        s.enqueue(XMLElement("message", namespace: XMPPNamespace.client, attrs: ["id": "m"]))
        let r = try boshNext(&s)
        let again = try s.lost(rid: r.rid)
        #expect(again == r)
        _ = try s.lost(rid: r.rid)
        _ = try s.lost(rid: r.rid)
        #expect(throws: BOSHError.self) { try s.lost(rid: r.rid) }
        #expect(s.state == .ended)
    }

    @Test func ackIsSentWhileAnEarlierResponseIsOut() throws {
        var s = try active(ack: true)
        let a = try boshNext(&s)
        #expect(!a.body.containsText("ack="))
        s.enqueue(XMLElement("presence", namespace: XMPPNamespace.client))
        #expect(try boshNext(&s).body.containsText("ack='100'"))
    }

    @Test func reportAsksForAResend() throws {
        var s = try active()
        let a = try boshNext(&s)
        s.enqueue(XMLElement("presence", namespace: XMPPNamespace.client))
        let b = try boshNext(&s)
        _ = try s.received(rid: b.rid, response: boshOK("<body xmlns='http://jabber.org/protocol/httpbind' report='\(a.rid)' time='1000'/>"))
        #expect(s.nextRequest() == a)
    }

    @Test func restartAndTerminate() throws {
        var s = try active()
        s.restart()
        let r = try boshNext(&s)
        #expect(r.body.containsText("xmpp:restart='true'"))
        s.terminate([XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unavailable"])])
        let t = try boshNext(&s)
        #expect(t.body.containsText("type='terminate'") && t.body.containsText("unavailable"))
        #expect(s.state == .ended && s.nextRequest() == nil)
    }

    @Test func terminationAndErrorsEndTheSession() throws {
        var s = try active()
        let r = try boshNext(&s)
        let d = try s.received(rid: r.rid, response: boshOK("<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='system-shutdown'><stream:error xmlns:stream='http://etherx.jabber.org/streams'><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></body>"))
        #expect(d.termination?.condition == "system-shutdown" && d.stanzas.count == 1)
        #expect(s.state == .ended && s.nextRequest() == nil)

        var t = try active()
        let q = try boshNext(&t)
        do {
            _ = try t.received(rid: q.rid, response: HTTPResponse(head: HTTPResponseHead(status: 404, reason: "Not Found"), body: []))
            Issue.record("accepted a 404")
        } catch {
            #expect(error.kind == .httpStatus && error.description.containsText("404"))
        }
        var u = try active()
        #expect(throws: BOSHError.self) { try u.received(rid: 999, response: boshOK(Self.created)) }
        var v = BOSHSession(domain: "example.org", rid: 5)
        _ = v.start()
        #expect(throws: BOSHError.self) { try v.received(rid: 5, response: boshOK("<body xmlns='http://jabber.org/protocol/httpbind'/>")) }
    }

    @Test func randomStartRids() {
        var a = BOSHSession(domain: "x"), b = BOSHSession(domain: "x")
        let r = a.start().rid, q = b.start().rid
        #expect(r > 0 && r < (1 << 49) && q > 0 && q < (1 << 49))
        #expect(r != q)
    }
}
