import Glibc
import Testing
import PerchIO
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

private func message(_ n: Int) -> XMLElement { Stanza.message(to: try! JID("peer@perch.test"), body: "m\(n)", id: "m\(n)") }
private let smFeatures = "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><sm xmlns='urn:xmpp:sm:3'/>"

@Suite struct StreamManagementTests {
    @Test func acknowledgementsReleaseTheOldestStanzas() throws {
        var sm = StreamManagement(resumptionID: "abc")
        for i in 1...5 { _ = sm.didSend(message(i)) }
        #expect(sm.sent == 5)
        #expect(try sm.acknowledge(3) == 3)
        #expect(sm.unacknowledged.map { $0.stanzaID } == ["m4", "m5"])
        // An old or repeated h releases nothing.
        #expect(try sm.acknowledge(3) == 0)
        #expect(throws: StreamManagement.AckError.tooHigh(h: 9, sent: 5)) { try sm.acknowledge(9) }
        #expect(sm.unacknowledged.count == 2, "a bad h changes nothing")
    }

    @Test func countersWrapAt32Bits() throws {
        var sm = StreamManagement(resumptionID: "abc")
        sm.acknowledged = UInt32.max - 1
        for i in 1...4 { _ = sm.didSend(message(i)) }
        #expect(sm.sent == 2)
        #expect(try sm.acknowledge(1) == 3)
        #expect(sm.unacknowledged.map { $0.stanzaID } == ["m4"])
        sm.inbound = UInt32.max
        sm.didReceive()
        #expect(sm.inbound == 0)
        #expect(sm.answer[attribute: "h"] == "0")
    }

    @Test func requestsAnAckEveryTenStanzas() {
        var sm = StreamManagement(resumptionID: nil)
        let due = (1...10).map { sm.didSend(message($0)) }
        #expect(due == Array(repeating: false, count: 9) + [true])
        #expect(sm.request().name == "r")
        #expect(sm.sentSinceRequest == 0)
    }

    @Test func resumptionResendsWhatTheServerNeverHandled() {
        var sm = StreamManagement(resumptionID: "abc")
        for i in 1...4 { _ = sm.didSend(message(i)) }
        let resend = sm.resumed(serverHandled: 2)
        #expect(resend.map { $0.stanzaID } == ["m3", "m4"])
        #expect(sm.sent == 2, "the re-sent stanzas are counted again as they go out")
        // Saved state that lagged behind: the server handled more than we knew of.
        var lagging = StreamManagement(resumptionID: "abc")
        _ = lagging.didSend(message(1))
        #expect(lagging.resumed(serverHandled: 7).isEmpty)
        #expect(lagging.acknowledged == 7)
    }

    @Test func enabledElementGivesIdAndWindow() throws {
        let on = StreamManagement(enabled: XMLElement("enabled", namespace: XMPPNamespace.streamManagement, attrs: ["id": "x1", "resume": "true", "max": "600", "location": "[::1]:5222"]))
        #expect(on.resumptionID == "x1")
        #expect(on.resumeWindow == 600_000)
        #expect(on.location == "[::1]:5222")
        let off = StreamManagement(enabled: XMLElement("enabled", namespace: XMPPNamespace.streamManagement, attrs: ["id": "x1"]))
        #expect(!off.resumable, "without resume='true' the id is not a resumption id")
    }

    // MARK: Negotiation

    func bound(_ n: inout StreamNegotiator, features: String) throws -> [StreamNegotiator.Action] {
        #expect(try StreamNegotiatorTests().authenticate(&n, serverPassword: "pencil") == [.restartStream])
        _ = n.handle(streamOpen)
        return n.handle(.element(try XMPPClientTests.features(features)))
    }

    func bindResult(_ bind: XMLElement) -> XMLElement {
        var result = Stanza.iq(type: "result", id: bind.stanzaID!)
        result.append(XMLElement("bind", namespace: XMPPNamespace.bind, children: [.element(.text("jid", namespace: XMPPNamespace.bind, "perch@perch.test/board"))]))
        return result
    }

    @Test func enablesAfterBindingAndHoldsEarlyStanzas() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test/board"), password: "pencil", security: .directTLS)
        let bind = try #require(StreamNegotiatorTests().sent(try bound(&n, features: smFeatures)))
        let enable = try #require(StreamNegotiatorTests().sent(n.handle(.element(bindResult(bind)))))
        #expect(enable.name == "enable" && enable[attribute: "resume"] == "true")
        // A stanza before <enabled/> is held and delivered after the session is established.
        let early = Stanza.message(to: try JID("perch@perch.test"), body: "hi", id: "e1")
        #expect(n.handle(.element(early)).isEmpty)
        let actions = n.handle(.element(XMLElement("enabled", namespace: XMPPNamespace.streamManagement, attrs: ["id": "sm-1", "resume": "true"])))
        guard case .established(let s)? = actions.first, case .deliverUncounted(let d)? = actions.last else { Issue.record("\(actions)"); return }
        #expect(s.streamManagement?.resumptionID == "sm-1")
        #expect(!s.resumed)
        #expect(d.stanzaID == "e1")
    }

    @Test func earlyStanzasAreBoundedInCountAndBytes() throws {
        for (count, size) in [(StreamNegotiator.maxEarlyStanzas + 1, 10), (40, 30_000)] {
            var n = StreamNegotiator(jid: try JID("perch@perch.test/board"), password: "pencil", security: .directTLS)
            let bind = try #require(StreamNegotiatorTests().sent(try bound(&n, features: smFeatures)))
            _ = n.handle(.element(bindResult(bind)))
            var last: [StreamNegotiator.Action] = []
            for i in 0..<count {
                last = n.handle(.element(Stanza.message(to: try JID("perch@perch.test"), body: String(repeating: "x", count: size), id: "e\(i)")))
                if !last.isEmpty { break }
            }
            guard case .fail(let e)? = last.first else { Issue.record("\(count) stanzas of \(size) bytes were all held"); continue }
            #expect("\(e)".contains("before <enabled/>"))
        }
    }

    @Test func withoutTheFeatureNoEnableIsSent() throws {
        var n = StreamNegotiator(jid: try JID("perch@perch.test/board"), password: "pencil", security: .directTLS)
        let bind = try #require(StreamNegotiatorTests().sent(try bound(&n, features: "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>")))
        guard case .established(let s)? = n.handle(.element(bindResult(bind))).first else { Issue.record("not established"); return }
        #expect(s.streamManagement == nil)
    }

    @Test func resumesInsteadOfBinding() throws {
        let jid = try JID("perch@perch.test/board")
        var n = StreamNegotiator(jid: jid, password: "pencil", security: .directTLS, resumption: ResumptionRequest(id: "sm-1", handled: 42, jid: jid))
        let resume = try #require(StreamNegotiatorTests().sent(try bound(&n, features: smFeatures)))
        #expect(resume.name == "resume" && resume[attribute: "previd"] == "sm-1" && resume[attribute: "h"] == "42")
        let actions = n.handle(.element(XMLElement("resumed", namespace: XMPPNamespace.streamManagement, attrs: ["previd": "sm-1", "h": "7"])))
        guard case .established(let s)? = actions.first else { Issue.record("\(actions)"); return }
        #expect(s.resumed && s.serverHandled == 7 && s.jid == jid)
    }

    @Test func aRefusedResumptionBindsAndEnablesAgain() throws {
        let jid = try JID("perch@perch.test/board")
        var n = StreamNegotiator(jid: jid, password: "pencil", security: .directTLS, resumption: ResumptionRequest(id: "gone", handled: 1, jid: jid))
        _ = try bound(&n, features: smFeatures)
        let failed = XMLElement("failed", namespace: XMPPNamespace.streamManagement, attrs: ["h": "3"], children: [XMLElement("item-not-found", namespace: XMPPNamespace.stanzaErrors)])
        let bind = try #require(StreamNegotiatorTests().sent(n.handle(.element(failed))))
        #expect(bind.child("bind", namespace: XMPPNamespace.bind) != nil)
        let enable = try #require(StreamNegotiatorTests().sent(n.handle(.element(bindResult(bind)))))
        #expect(enable.name == "enable")
        guard case .established(let s)? = n.handle(.element(XMLElement("failed", namespace: XMPPNamespace.streamManagement))).first else {
            Issue.record("not established"); return
        }
        #expect(s.resumptionFailed && s.serverHandled == 3 && s.streamManagement == nil)
    }

    // MARK: The saved state

    @Test func savedStateRoundTrips() throws {
        let dir = try makeTemporaryDirectory("perch-sm")
        let store = ResumptionStore(path: "\(dir)/session.xml")
        #expect(try store.load() == nil)
        var sm = StreamManagement(resumptionID: "id'<&", location: "example.net:5222", resumeWindow: 90_000)
        sm.inbound = 17
        sm.acknowledged = 4_000_000_000
        _ = sm.didSend(message(1))
        _ = sm.didSend(Stanza.iq(type: "set", id: "q1", payload: XMLElement("pubsub", namespace: "http://jabber.org/protocol/pubsub")))
        let saved = ResumptionStore.Saved(state: sm, jid: try JID("perch@perch.test/board"), savedAt: 1_700_000_000_000)
        try store.save(saved)
        var loaded = try #require(try store.load())
        loaded.state.sentSinceRequest = sm.sentSinceRequest
        #expect(loaded == saved)
        store.remove()
        #expect(try store.load() == nil)
    }

    @Test func eachSaveHoldsExactlyTheQueueOfTheMoment() throws {
        let dir = try makeTemporaryDirectory("perch-sm")
        defer { _ = system("rm -rf '\(dir)'") }
        let store = ResumptionStore(path: "\(dir)/session.xml")
        let jid = try JID("perch@perch.test/board")
        func saveAndLoad(_ sm: StreamManagement) throws -> [XMLElement] {
            try store.save(.init(state: sm, jid: jid, savedAt: 1))
            return try #require(try store.load()).state.unacknowledged
        }
        var sm = StreamManagement(resumptionID: "s1")
        for n in 1...5 { _ = sm.didSend(message(n)) }
        #expect(try saveAndLoad(sm) == sm.unacknowledged)
        // Acknowledged in part, then more sent: the file follows the queue.
        try sm.acknowledge(3)
        for n in 6...7 { _ = sm.didSend(message(n)) }
        #expect(try saveAndLoad(sm).map(\.stanzaID) == ["m4", "m5", "m6", "m7"])
        // A new session numbers its stanzas from 1 again: nothing of the old one's may leak in.
        var next = StreamManagement(resumptionID: "s2")
        for n in 20...21 { _ = next.didSend(message(n)) }
        #expect(try saveAndLoad(next) == next.unacknowledged)
        // Nor into one that cannot be resumed (no id at all), twice in a row.
        for base in [30, 40] {
            var plain = StreamManagement(resumptionID: nil)
            for n in base...(base + 1) { _ = plain.didSend(message(n)) }
            #expect(try saveAndLoad(plain) == plain.unacknowledged)
        }
    }

    /// A burst of commands saves the state once per read with most of the same replies unacknowledged:
    /// each reply is serialized once, however many saves it is in and however the acks slide.
    @Test func aBurstSerializesEachStanzaOnce() throws {
        let dir = try makeTemporaryDirectory("perch-sm")
        defer { _ = system("rm -rf '\(dir)'") }
        let store = ResumptionStore(path: "\(dir)/session.xml")
        let jid = try JID("perch@perch.test/board")
        var sm = StreamManagement(resumptionID: "s1")
        for n in 1...300 {
            _ = sm.didSend(message(n))
            // 64 in flight; the server acknowledges 8 at a time.
            if sm.unacknowledged.count == 64 { try sm.acknowledge(sm.acknowledged + 8) }
            try store.save(.init(state: sm, jid: jid, savedAt: 1))
        }
        #expect(store.serializations == 300)
        #expect(try #require(try store.load()).state.unacknowledged == sm.unacknowledged)
    }

    @Test func aDamagedFileIsAnErrorNotACrash() throws {
        let dir = try makeTemporaryDirectory("perch-sm")
        let store = ResumptionStore(path: "\(dir)/session.xml")
        for junk in ["", "<stream:stream", "<!DOCTYPE x [<!ENTITY a 'b'>]><x/>", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><other/></stream:stream>"] {
            try writeFileAtomically(store.path, Array(junk.utf8))
            #expect(throws: IOError.self) { _ = try store.load() }
        }
    }
}

@Suite struct RecentRequestsTests {
    @Test func aRequestIsNewOnceThenInProgressThenAnswered() {
        var r = RecentRequests(capacity: 3, maxAge: 1000)
        let t0 = Instant(milliseconds: 10_000)
        let key = RecentRequests.key(from: "a@x/r", id: "1")
        let first = r.check(key, now: t0)
        let again = r.check(key, now: t0)
        #expect(first == .new && again == .inProgress)
        let reply = Stanza.iq(type: "result", id: "1")
        let recorded = r.answered(key, reply)
        let second = r.answered(key, Stanza.iq(type: "error", id: "1"))
        #expect(recorded && !second, "the first answer stays")
        let later = r.check(key, now: t0 + 10)
        #expect(later == .answered(reply))
        let unknown = r.answered("unknown", reply)
        #expect(!unknown)
    }

    @Test func boundedByCountAndAge() {
        var r = RecentRequests(capacity: 3, maxAge: 1000)
        let t0 = Instant(milliseconds: 10_000)
        for i in 1...4 { _ = r.check("k\(i)", now: t0) }
        #expect(r.count == 3)
        let k1 = r.check("k1", now: t0)
        #expect(k1 == .new, "the oldest was forgotten past the capacity")
        let k4 = r.check("k4", now: t0 + 2000)
        #expect(k4 == .new, "and everything past the age")
        #expect(r.count == 1)
    }

    @Test func aLongRunKeepsExactlyTheNewestWithinCapacity() {
        var r = RecentRequests(capacity: 256, maxAge: 600_000)
        var now = Instant(milliseconds: 10_000)
        for i in 0..<5_000 {
            _ = r.check("k\(i)", now: now)
            now = now + 1
        }
        #expect(r.count == 256)
        let newest = r.check("k4999", now: now)
        let oldestKept = r.check("k4744", now: now)
        let forgotten = r.check("k4743", now: now)
        #expect(newest == .inProgress && oldestKept == .inProgress && forgotten == .new)
        // Ten minutes on, all of them have aged out.
        let late = r.check("k4999", now: now + 600_001)
        #expect(late == .new && r.count == 1)
    }
}
