import Testing
import PerchConfig
import PerchIO
import PerchLog
import PerchSensors
import PerchStore
import XMPPAddress
import XMPPCore
@testable import XMPPClient
@testable import PerchAgent

/// The publisher and the client's ``XMPPClient/answersOverdue``: while the server's answers are
/// overdue, no publish is even built; once they come, what waited goes out. The session is simulated
/// (the status set by hand, no socket), so every publish the publisher starts shows as a new stanza id
/// from the client.
@Suite struct PubSubHoldTests {
    @Test func newReadingsWaitWhileAnswersAreOverdue() throws {
        let scratch = Scratch()
        let loop = try EventLoop()
        let log = AuditLog()
        let logger = Logger(label: "t", level: .info, format: .bare, sink: { log.lines.append($0) })
        var c = ClientConfiguration(jid: try JID("board@example.org/x"), password: "x")
        c.host = "127.0.0.1"
        let client = XMPPClient(loop: loop, config: c, logger: logger)
        var settings = Configuration.Telemetry()
        settings.pubsub = .pep
        let outbox = Outbox(path: "\(scratch.path)/outbox.db", loop: nil, logger: logger)
        let publisher = PubSubPublisher(settings: settings, client: client, deviceName: "board", outbox: outbox, logger: logger)
        client.status = .online(NegotiatedSession(jid: try JID("board@example.org/x"), streamID: "s", mechanism: "SCRAM-SHA-1", tls: true, features: XMLElement("features", namespace: "http://etherx.jabber.org/streams")))

        // The server went silent while a publish waited for its answer.
        client.answersOverdue = true
        #expect(log.lines.contains { $0.contains("new readings wait in the outbox") }, "\(log.lines)")
        publisher.online(resumed: true)
        let ids = client.iqs.nextID
        for n in 1...3 {
            publisher.publish(Reading(sensor: "level", value: .number(Double(n)), unit: "", timestamp: WallClock.milliseconds()), precision: 0)
        }
        #expect(client.iqs.nextID == ids, "no publish started while answers are overdue")
        #expect(outbox.count == 3, "the readings wait in the outbox")

        // The server answered: the held readings go out (here they fail at once, there is no socket).
        client.answersOverdue = false
        #expect(client.iqs.nextID > ids, "the held readings are published once the server answers")
        #expect(outbox.count == 3, "nothing confirmed, nothing removed")
    }
}
