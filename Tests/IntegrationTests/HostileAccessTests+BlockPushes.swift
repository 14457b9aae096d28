import Foundation
import Testing
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore

/// XEP-0191 pushes through each server: another client of the device's own account (a person logged
/// in as the device, an admin tool) blocks and unblocks; the device follows, answers each push, and
/// its mirror shrinks again on unblock and unblock-all.
extension HostileAccessTests {
    /// Sends a blocking set from `p` to its own server and waits for the answer.
    func haBlocking(_ p: Peer, _ name: String, _ jids: [String]) -> Result<XMLElement, StanzaError>? {
        let ns = "urn:xmpp:blocking"
        let payload = XMLElement(name, namespace: ns, children: jids.map { .element(XMLElement("item", namespace: ns, attrs: ["jid": $0])) })
        var answer: Result<XMLElement, StanzaError>?
        p.client.sendIQ(Stanza.iq(type: "set", id: p.client.makeID("bk"), payload: payload), timeout: 10_000) { answer = $0 }
        p.loop.run(until: { answer != nil }, timeout: 12_000)
        return answer
    }

    /// Runs `p`'s loop until the daemon's log has `text` once more than `before` times.
    func haLogged(_ daemon: DaemonProcess, _ text: String, after before: Int, _ p: Peer, timeout: TimeInterval = 10) -> Bool {
        let start = Date()
        while Date().timeIntervalSince(start) < timeout {
            if daemon.log.components(separatedBy: text).count - 1 > before { return true }
            p.idle(50)
        }
        return false
    }

    @Test(arguments: servers)
    func blocklistPushesFromAnotherClientOfTheAccountAreFollowed(_ server: ITServer) throws {
        let d = server.domain
        let board = "perch@\(d)/board"
        let daemon = try haStart(server, haConfig(server))
        let viewer = try Peer.connected("viewer", server)
        // Another client of the device's own account.
        let me = try Peer.connected("perch", server)
        #expect(try viewer.say("status", to: board) != nil, "a viewer is answered before any block")

        guard case .success? = haBlocking(me, "block", ["viewer@\(d)"]) else { Issue.record("the server refused the block"); return }
        #expect(haLogged(daemon, "blocked on the server by another client of this account: viewer@\(d)", after: 0, me), "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("service-unavailable"), "log:\n\(daemon.log)")
        #expect(try viewer.say("status", to: board, timeout: 2_000) == nil, "a blocked viewer is not answered")

        guard case .success? = haBlocking(me, "unblock", ["viewer@\(d)"]) else { Issue.record("the server refused the unblock"); return }
        #expect(haLogged(daemon, "unblocked on the server by another client of this account: viewer@\(d)", after: 0, me), "log:\n\(daemon.log)")
        #expect(try viewer.say("status", to: board) != nil, "unblocked: answered again\nlog:\n\(daemon.log)")

        // Unblock-all (no items) empties the mirror too.
        guard case .success? = haBlocking(me, "block", ["viewer@\(d)", "nobody.example"]) else { Issue.record("the server refused the second block"); return }
        #expect(haLogged(daemon, "blocked on the server by another client of this account: nobody.example, viewer@\(d)", after: 0, me), "log:\n\(daemon.log)")
        guard case .success? = haBlocking(me, "unblock", []) else { Issue.record("the server refused the unblock-all"); return }
        #expect(haLogged(daemon, "unblocked on the server by another client of this account: everything", after: 0, me), "log:\n\(daemon.log)")
        #expect(try viewer.say("status", to: board) != nil, "unblock-all: answered again\nlog:\n\(daemon.log)")
        me.disconnect()
        viewer.disconnect()
        #expect(daemon.terminate() == 0)
    }
}
