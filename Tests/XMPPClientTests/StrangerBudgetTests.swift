import Testing
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
@testable import XMPPClient

/// Built-in answers (ping, disco, version, service-unavailable) and stanzas over the limits cost a
/// sender without trust only what ``XMPPClient/strangerBudget`` allows; our server, our account and
/// trusted senders are answered whatever the budget says.
@Suite(.serialized) struct StrangerBudgetTests {
    let loop: EventLoop
    let log = LogLines()

    init() throws {
        loop = try EventLoop()
    }

    func client(_ server: FakeServer) throws -> XMPPClient { try server.client(on: loop, log: log) }

    func ping(_ id: String, from: String) -> String {
        "<iq type='get' id='\(id)' from='\(from)' to='perch@perch.test/board'><ping xmlns='urn:xmpp:ping'/></iq>"
    }

    @Test func aStrangersPingFloodGetsWhatTheBudgetAllows() throws {
        let server = FakeServer(loop: loop)
        var answered: [String] = []
        server.onStanza = { _, e in if e.name == "iq", let id = e.stanzaID { answered.append(id) } }
        let c = try client(server)
        c.isTrusted = { $0.bare.description == "peer@perch.test" }
        var asked: [XMPPClient.StrangerCost] = []
        var budget = 5
        c.strangerBudget = { _, cost in
            asked.append(cost)
            budget -= 1
            return budget >= 0
        }
        c.start()
        #expect(loop.run(until: { c.isOnline }, timeout: 10_000))
        let session = try #require(server.current)
        var flood = (0..<200).map { ping("s\($0)", from: "stranger@evil.example/r") }.joined()
        flood += "<iq type='get' id='nobody' from='stranger@evil.example/r' to='perch@perch.test/board'><q xmlns='urn:example:none'/></iq>"
        flood += ping("owner", from: "peer@perch.test/phone")
        flood += ping("server", from: "perch.test")
        flood += ping("self", from: "perch@perch.test/other")
        session.send(flood)
        #expect(loop.run(until: { answered.contains("owner") && answered.contains("server") && answered.contains("self") }, timeout: 5_000))
        loop.run(until: { false }, timeout: 200)
        // Before the budget, every one of the 200 pings was answered.
        #expect(answered.filter { $0.hasPrefix("s") && $0 != "self" && $0 != "server" }.count == 5)
        #expect(!answered.contains("nobody"))
        #expect(asked.count == 201)
        #expect(asked.first == .answer("ping"))
        #expect(asked.last == .answer("<q> request"))
        c.stop {}
    }

    @Test func withoutTrustConfiguredEveryoneIsAnswered() throws {
        let server = FakeServer(loop: loop)
        var answered = 0
        server.onStanza = { _, e in if e.name == "iq", e.stanzaType == "result" { answered += 1 } }
        let c = try client(server)
        c.strangerBudget = { _, _ in false }
        c.start()
        #expect(loop.run(until: { c.isOnline }, timeout: 10_000))
        let session = try #require(server.current)
        session.send((0..<20).map { ping("p\($0)", from: "someone@else.example/r") }.joined())
        #expect(loop.run(until: { answered >= 20 }, timeout: 5_000))
        c.stop {}
    }
}
