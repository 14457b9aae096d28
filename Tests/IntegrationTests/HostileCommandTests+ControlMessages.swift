import Foundation
import Testing
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore

/// XEP-0325 §3.1 through each server: a `<set>` in a `<message>` switches with nothing sent back, and
/// a refusal comes back as a message of type `error` carrying the request's id.
extension HostileCommandTests {
    /// Sends `<message id=…><set>…</set></message>` (no body, as XEP-0325 clients do).
    func hcControlMessage(_ p: Peer, to: String, _ set: XMLElement, id: String) throws {
        p.send(XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": to, "id": id], children: [set]))
    }

    /// The next error message with `id` that reaches `p`, if one comes within `timeout` ms.
    func hcErrorMessage(_ p: Peer, id: String, after seen: Int, timeout: Int64 = 5_000) -> XMLElement? {
        var found: XMLElement?
        p.loop.run(until: {
            found = p.received[seen...].first { $0.name == "message" && $0.stanzaType == "error" && $0.stanzaID == id }
            return found != nil
        }, timeout: timeout)
        return found
    }

    @Test(arguments: servers)
    func aSetInAMessageSwitchesAndItsRefusalsComeBackAsErrorMessages(_ server: ITServer) throws {
        let daemon = try hcStart(server, output: "min_switch_interval = \"0ms\"")
        let owner = try Peer.connected("peer", server)
        let stranger = try Peer.connected("stranger", server)
        let board = "perch@\(server.domain)/board"

        var seen = owner.received.count
        try hcControlMessage(owner, to: board, hcSet([("boolean", "pump", "true")]), id: "cm1")
        #expect(daemon.waitFor("via iot message: pump on → ok"), "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("pump") == "1")
        // Fire and forget: nothing comes back for a set that ran (wait a moment to be sure).
        owner.idle(500)
        #expect(!owner.received[seen...].contains { $0.name == "message" }, "\(owner.received[seen...].map { $0.serialized() })")

        // An output that does not exist: an error message under the request's id, naming it.
        seen = owner.received.count
        try hcControlMessage(owner, to: board, hcSet([("boolean", "heater", "true")]), id: "cm2")
        let missing = hcErrorMessage(owner, id: "cm2", after: seen)
        #expect(missing.flatMap { StanzaError(stanza: $0)?.condition } == .itemNotFound, "log:\n\(daemon.log)")
        #expect(missing?.child("setResponse", namespace: Self.control)?.elements.first?[attribute: "name"] == "heater")

        // Off under the first id again: another request (another set), so it runs.
        try hcControlMessage(owner, to: board, hcSet([("boolean", "pump", "false")]), id: "cm1")
        #expect(daemon.waitFor("via iot message: pump off → ok"), "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("pump") == "0")

        // A stranger: forbidden, under its id, and the pump stays off.
        let before = stranger.received.count
        try hcControlMessage(stranger, to: board, hcSet([("boolean", "pump", "true")]), id: "st1")
        let refused = hcErrorMessage(stranger, id: "st1", after: before)
        #expect(refused.flatMap { StanzaError(stanza: $0)?.condition } == .forbidden, "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("pump") == "0")
        owner.disconnect()
        stranger.disconnect()
        #expect(daemon.terminate() == 0)
    }
}
