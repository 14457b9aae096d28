import Foundation
import Testing
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore

/// A client that gives every request one id, as slixmpp's make_iq() does ("0"), through each server:
/// each different request runs, and only a true repeat is answered from memory.
extension HostileCommandTests {
    /// Sends a chat message with a chosen id (the client adds it as the origin id too) and waits for
    /// the daemon's reply.
    func hcSay(_ p: Peer, _ body: String, to: String, id: String) throws -> String? {
        let seen = p.received.count
        p.send(Stanza.message(to: try JID(to), body: body, id: id))
        var reply: String?
        p.loop.run(until: {
            reply = p.received[seen...].first { $0.name == "message" && $0.stanzaType != "error" && $0.child("body") != nil }?.child("body")?.text
            return reply != nil
        }, timeout: 10_000)
        return reply
    }

    @Test(arguments: servers)
    func oneIDForEveryRequestStillSwitches(_ server: ITServer) throws {
        let daemon = try hcStart(server, output: "min_switch_interval = \"0ms\"")
        let owner = try Peer.connected("peer", server)
        let board = "perch@\(server.domain)/board"

        // XEP-0325: on, then off, both as iq id "0".
        guard case .success? = try hcAsk(owner, board, hcSet([("boolean", "pump", "true")]), id: "0") else { Issue.record("on refused"); return }
        #expect(daemon.gpioLine("pump") == "1")
        guard case .success? = try hcAsk(owner, board, hcSet([("boolean", "pump", "false")]), id: "0") else { Issue.record("off refused"); return }
        #expect(daemon.gpioLine("pump") == "0", "the second set under id 0 got the first answer and did not run:\n\(daemon.log)")
        // The same set again under that id is a repeat: answered, not run again.
        guard case .success? = try hcAsk(owner, board, hcSet([("boolean", "pump", "false")]), id: "0") else { Issue.record("repeat refused"); return }
        #expect(daemon.waitFor("arrived again; sent the first answer"), "log:\n\(daemon.log)")
        // On again under that id: not a repeat of the first on, since off came between.
        guard case .success? = try hcAsk(owner, board, hcSet([("boolean", "pump", "true")]), id: "0") else { Issue.record("on again refused"); return }
        #expect(daemon.gpioLine("pump") == "1", "on, off, on under id 0 left the pump off:\n\(daemon.log)")
        // An ad-hoc request under the same id gets its own answer, not a cached <setResponse/>.
        let list = XMLElement("query", namespace: "http://jabber.org/protocol/disco#items", attrs: ["node": Self.commands])
        if case .success(let iq)? = try hcAsk(owner, board, list, type: "get", id: "0") {
            #expect(iq.child("setResponse", namespace: Self.control) == nil)
        }
        let execute = XMLElement("command", namespace: Self.commands, attrs: ["node": "status", "action": "execute"])
        guard case .success(let answer)? = try hcAsk(owner, board, execute, id: "0") else { Issue.record("execute refused"); return }
        #expect(answer.child("command", namespace: Self.commands) != nil, "an ad-hoc execute under id 0 got \(answer.serialized())")

        // Chat: one message id for every command.
        #expect(try hcSay(owner, "pump off", to: board, id: "0") == "pump off")
        #expect(daemon.gpioLine("pump") == "0")
        #expect(try hcSay(owner, "pump on", to: board, id: "0") == "pump on")
        #expect(daemon.gpioLine("pump") == "1")
        #expect(try hcSay(owner, "pump off", to: board, id: "0") == "pump off", "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("pump") == "0")
        owner.disconnect()
        #expect(daemon.terminate() == 0)
    }
}
