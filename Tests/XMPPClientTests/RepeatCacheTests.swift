import Testing
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
@testable import XMPPClient

/// The iq set repeat check under a flood: only trusted senders are recorded, each within its share,
/// so an owner's retry is answered from the table however many others have written since.
@Suite(.serialized) struct RepeatCacheTests {
    let loop: EventLoop
    let log = LogLines()

    init() throws {
        loop = try EventLoop()
    }

    func client(_ server: FakeServer) throws -> XMPPClient { try server.client(on: loop, log: log) }

    func set(_ id: String, from: String) -> String {
        "<iq type='set' id='\(id)' from='\(from)' to='perch@perch.test/board'><act xmlns='urn:example:act'/></iq>"
    }

    /// Runs `flood` after a first set from the owner, then the owner's retry; returns how often the
    /// owner's request ran and the replies its id got.
    func ownerRetry(trusted: ((JID) -> Bool)?, flood: (FakeServer.Session) -> Int) throws -> (runs: Int, replies: Int) {
        let server = FakeServer(loop: loop)
        var replies: [XMLElement] = []
        var total = 0
        server.onStanza = { _, e in if e.name == "iq" { replies.append(e) } }
        let c = try client(server)
        c.isTrusted = trusted
        var runs = 0
        c.handleIQ(namespace: "urn:example:act") { iq in
            if iq.stanzaID == "owner-1" { runs += 1 }
            return .reply(Stanza.result(for: iq))
        }
        c.start()
        #expect(loop.run(until: { c.isOnline }, timeout: 10_000))
        let session = try #require(server.current)
        session.send(set("owner-1", from: "peer@perch.test/phone"))
        total += 1
        #expect(loop.run(until: { replies.count >= total }, timeout: 5_000))
        total += flood(session)
        #expect(loop.run(until: { replies.count >= total }, timeout: 10_000), "\(replies.count) of \(total) answered")
        session.send(set("owner-1", from: "peer@perch.test/phone"))
        total += 1
        #expect(loop.run(until: { replies.count >= total }, timeout: 5_000))
        c.stop {}
        return (runs, replies.filter { $0[attribute: "id"] == "owner-1" }.count)
    }

    static let owners: Set<String> = ["peer@perch.test", "operator@perch.test"]

    @Test func strangersCannotEvictAnOwnersEntry() throws {
        let result = try ownerRetry(trusted: { Self.owners.contains($0.bare.description) }) { session in
            // Each with its own id, as a stranger writing to fill the table would.
            session.send((0..<300).map { set("x\($0)", from: "stranger@perch.test/r\($0 % 7)") }.joined())
            return 300
        }
        #expect(result.runs == 1, "the owner's retry ran again")
        #expect(result.replies == 2, "the retry got the first answer")
        #expect(log.contains("iq \"owner-1\" from \"peer@perch.test/phone\" arrived again; sent the first answer"), "\(log.all.suffix(5))")
    }

    @Test func anotherTrustedSenderCannotEvictItEither() throws {
        let result = try ownerRetry(trusted: { Self.owners.contains($0.bare.description) }) { session in
            session.send((0..<300).map { set("op\($0)", from: "operator@perch.test/laptop") }.joined())
            return 300
        }
        #expect(result.runs == 1, "one sender's flood evicted another's entry")
    }

    @Test func withoutTheHookEverySenderIsRecordedWithinItsShare() throws {
        let result = try ownerRetry(trusted: nil) { session in
            session.send((0..<300).map { set("x\($0)", from: "stranger@perch.test/r") }.joined())
            return 300
        }
        #expect(result.runs == 1)
    }

    @Test func aStrangersRepeatIsNotRecorded() throws {
        let server = FakeServer(loop: loop)
        var replies = 0
        server.onStanza = { _, e in if e.name == "iq" { replies += 1 } }
        let c = try client(server)
        c.isTrusted = { _ in false }
        var runs = 0
        c.handleIQ(namespace: "urn:example:act") { iq in
            runs += 1
            return .reply(Stanza.result(for: iq))
        }
        c.start()
        #expect(loop.run(until: { c.isOnline }, timeout: 10_000))
        server.current!.send(set("s1", from: "stranger@perch.test/x") + set("s1", from: "stranger@perch.test/x"))
        #expect(loop.run(until: { replies >= 2 }, timeout: 5_000))
        #expect(runs == 2, "the handler sees both (it refuses strangers itself)")
        #expect(c.iqs.recentSets.count == 0)
        // Our own server's requests (no from) are still recorded.
        server.current!.send("<iq type='set' id='srv1'><act xmlns='urn:example:act'/></iq>")
        #expect(loop.run(until: { replies >= 3 }, timeout: 5_000))
        #expect(c.iqs.recentSets.count == 1)
        c.stop {}
    }
}

@Suite struct RecentRequestsShareTests {
    @Test func aSenderPastItsShareLosesItsOwnOldest() {
        var r = RecentRequests(capacity: 8, perSender: 3, maxAge: 60_000)
        let t = Instant(milliseconds: 1_000)
        _ = r.check("a1", sender: "a", now: t)
        for i in 0..<10 { _ = r.check("b\(i)", sender: "b", now: t) }
        #expect(r.count == 4)
        #expect(r.check("a1", sender: "a", now: t) == .inProgress, "a's entry survives b's flood")
        #expect(r.check("b9", sender: "b", now: t) == .inProgress)
        #expect(r.check("b6", sender: "b", now: t) == .new, "b keeps only its newest three")
    }

    @Test func aFullTableEvictsFromTheBusiestSender() {
        var r = RecentRequests(capacity: 6, perSender: 4, maxAge: 60_000)
        let t = Instant(milliseconds: 1_000)
        _ = r.check("a1", sender: "a", now: t)
        _ = r.check("a2", sender: "a", now: t)
        for s in ["b", "c"] { for i in 0..<4 { _ = r.check("\(s)\(i)", sender: s, now: t) } }
        #expect(r.count == 6)
        #expect(r.check("a1", sender: "a", now: t) == .inProgress, "the lightest sender keeps its oldest")
        #expect(r.check("a2", sender: "a", now: t) == .inProgress)
    }

    @Test func aLongFloodStaysBoundedAndAgesOut() {
        var r = RecentRequests(capacity: 256, perSender: 32, maxAge: 600_000)
        var now = Instant(milliseconds: 10_000)
        _ = r.check("owner", sender: "o", now: now)
        for i in 0..<20_000 {
            _ = r.check("f\(i)", sender: "s\(i % 50)", now: now)
            now = now + 1
        }
        #expect(r.count <= 256)
        #expect(r.check("owner", sender: "o", now: now) == .inProgress)
        #expect(r.check("f19999", sender: "s49", now: now) == .inProgress)
        let late = r.check("owner", sender: "o", now: now + 600_001)
        #expect(late == .new && r.count == 1)
    }
}
