import Testing
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
@testable import XMPPClient

/// One id for every request, as slixmpp's make_iq() gives ("0"): only the same payload again is a
/// repeat; another payload under the same id is another request, and runs.
@Suite(.serialized) struct ReusedIDTests {
    let loop: EventLoop
    let log = LogLines()

    init() throws {
        loop = try EventLoop()
    }

    func set(_ value: String, id: String = "0") -> String {
        "<iq type='set' id='\(id)' from='peer@perch.test/phone' to='perch@perch.test/board'><act xmlns='urn:example:act' value='\(value)'/></iq>"
    }

    @Test func anotherPayloadUnderTheSameIDRunsAndARepeatDoesNot() throws {
        let server = FakeServer(loop: loop)
        var replies: [XMLElement] = []
        server.onStanza = { _, e in if e.name == "iq" { replies.append(e) } }
        let c = try server.client(on: loop, log: log)
        var ran: [String] = []
        c.handleIQ(namespace: "urn:example:act") { iq in
            let value = iq.child("act", namespace: "urn:example:act")?[attribute: "value"] ?? ""
            ran.append(value)
            return .reply(Stanza.result(for: iq, payload: XMLElement("done", namespace: "urn:example:act", attrs: ["value": value])))
        }
        c.start()
        #expect(loop.run(until: { c.isOnline }, timeout: 10_000))
        let session = try #require(server.current)
        for (i, value) in ["on", "off", "off", "on"].enumerated() {
            session.send(set(value))
            #expect(loop.run(until: { replies.count > i }, timeout: 5_000))
        }
        // The second off is a repeat of the request just before it, answered from memory; the last on
        // asks something else than the last request under "0", so it is a new command and runs.
        #expect(ran == ["on", "off", "on"], "\(ran)")
        #expect(replies.map { $0.child("done", namespace: "urn:example:act")?[attribute: "value"] } == ["on", "off", "off", "on"])
        c.stop {}
    }

    @Test func answersLateAndInterleavedAreRecordedForTheirOwnRequest() throws {
        let server = FakeServer(loop: loop)
        var replies: [XMLElement] = []
        server.onStanza = { _, e in if e.name == "iq" { replies.append(e) } }
        let c = try server.client(on: loop, log: log)
        var ran = 0
        c.handleIQ(namespace: "urn:example:act") { iq in
            ran += 1
            let value = iq.child("act", namespace: "urn:example:act")?[attribute: "value"] ?? ""
            // Answered later, in order.
            _ = self.loop.schedule(after: 50) { c.send(Stanza.result(for: iq, payload: XMLElement("done", namespace: "urn:example:act", attrs: ["value": value]))) }
            return .handled
        }
        c.start()
        #expect(loop.run(until: { c.isOnline }, timeout: 10_000))
        let session = try #require(server.current)
        session.send(set("a") + set("b"))
        #expect(loop.run(until: { replies.count == 2 }, timeout: 5_000))
        session.send(set("b"))
        #expect(loop.run(until: { replies.count == 3 }, timeout: 5_000))
        #expect(ran == 2)
        #expect(replies.last?.child("done", namespace: "urn:example:act")?[attribute: "value"] == "b", "the retry of b got b's answer")
        c.stop {}
    }
}
