import Testing
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
@testable import XMPPClient

/// What the server never acknowledged (XEP-0198) goes out again before anything an observer of the
/// `.online` status sends: an alert's end, sent live when the session is back, must not arrive before
/// its start, which waited unacknowledged in the lost session.
@Suite(.serialized) struct ResendOrderTests {
    let loop: EventLoop
    let log = LogLines()

    init() throws {
        loop = try EventLoop()
    }

    @discardableResult
    func run(_ timeout: Int64 = 10_000, until condition: @escaping () -> Bool) -> Bool {
        loop.run(until: condition, timeout: timeout)
    }

    func bodies(_ session: FakeServer.Session) -> [String] {
        session.stanzas.filter { $0.name == "message" }.compactMap { $0.child("body")?.text }
    }

    /// A client whose `.online` observer sends "live" on every session after the first.
    func staged(keepsSessions: Bool) throws -> (FakeServer, XMPPClient) {
        var behaviour = FakeServer.Behaviour()
        behaviour.streamManagement = true
        behaviour.answerAckRequests = false
        behaviour.keepsSessions = keepsSessions
        let server = FakeServer(loop: loop, behaviour: behaviour)
        let c = try server.client(on: loop, log: log)
        var sessions = 0
        c.observeStatus { [unowned c] status in
            guard case .online = status else { return }
            sessions += 1
            if sessions > 1 { c.send(Stanza.message(to: try! JID("peer@perch.test"), body: "live", id: "live\(sessions)")) }
        }
        return (server, c)
    }

    @Test func aResumedSessionResendsBeforeTheOnlineObserversSend() throws {
        let (server, c) = try staged(keepsSessions: true)
        c.start()
        #expect(run { c.isOnline })
        let first = server.current!
        c.send(Stanza.message(to: try JID("peer@perch.test"), body: "waiting", id: "w1"))
        #expect(run { self.bodies(first) == ["waiting"] })
        // The server handled nothing it says: the message goes again on the resumed stream.
        server.behaviour.lostInFlight = first.managed!.received
        server.drop(first)
        #expect(run { server.sessions.count == 2 && c.isOnline })
        let second = server.current!
        #expect(second.resumed)
        #expect(run(2_000) { self.bodies(second).count == 2 }, "\(self.bodies(second)) \(log.all)")
        #expect(bodies(second) == ["waiting", "live"], "the re-send precedes what the observer sent")
        c.stop {}
    }

    @Test func aNewSessionAfterAFailedResumptionResendsBeforeTheOnlineObserversSend() throws {
        let (server, c) = try staged(keepsSessions: true)
        c.start()
        #expect(run { c.isOnline })
        let first = server.current!
        c.send(Stanza.message(to: try JID("peer@perch.test"), body: "waiting", id: "w1"))
        #expect(run { self.bodies(first) == ["waiting"] })
        server.behaviour.keepsSessions = false
        server.drop(first)
        #expect(run { server.sessions.count == 2 && c.isOnline })
        let second = server.current!
        #expect(!second.resumed)
        #expect(run(2_000) { self.bodies(second).count == 2 }, "\(self.bodies(second)) \(log.all)")
        #expect(bodies(second) == ["waiting", "live"], "the re-send precedes what the observer sent")
        c.stop {}
    }
}
