import Testing
import PerchConfig
import XMPPAddress
@testable import XMPPClient
import XMPPCore
@testable import PerchAgent

/// XEP-0191: the local mirror of the server's blocklist follows its pushes (§3.3 block, §3.4 unblock
/// and unblock-all) and is replaced, not added to, by the list fetched at login.
@Suite struct AgentBlockingTests {
    static let ns = "urn:xmpp:blocking"

    func push(_ rig: AccessRig, _ name: String, _ jids: [String], from: String? = nil, type: String = "set") -> XMLElement? {
        let payload = XMLElement(name, namespace: Self.ns, children: jids.map { .element(XMLElement("item", namespace: Self.ns, attrs: ["jid": $0])) })
        let iq = XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": type, "id": "push\(rig.sent.count)", "from": from, "to": "board@example.org/board"], children: [payload])
        if case .reply(let r) = rig.agent.blockingPush(iq) { return r }
        return nil
    }

    func role(_ rig: AccessRig, _ jid: String) throws -> Role { rig.agent.executor.policy.role(of: try JID(jid)) }

    @Test func aBlockPushBlocksAndTakesTheSubscriptionBack() throws {
        let rig = try AccessRig()
        rig.roster([("viewer@example.org", "both")])
        let answer = push(rig, "block", ["viewer@example.org"])
        #expect(answer?.stanzaType == "result", "every push is answered: \(answer.map { $0.serialized() } ?? "nothing")")
        #expect(try role(rig, "viewer@example.org/x") == .stranger)
        #expect(rig.presences("unsubscribed", to: "viewer@example.org").count == 1)
        #expect(rig.lines("blocked on the server by another client of this account: viewer@example.org").count == 1, "\(rig.log.lines)")
        // The same push again (our own block echoed back by the server) changes and logs nothing.
        let n = rig.sent.count
        #expect(push(rig, "block", ["viewer@example.org"])?.stanzaType == "result")
        #expect(rig.sent.count == n)
        #expect(rig.lines("blocked on the server").count == 1)
    }

    @Test func anUnblockPushShrinksTheMirror() throws {
        let rig = try AccessRig()
        _ = push(rig, "block", ["viewer@example.org", "op@example.org"])
        #expect(try role(rig, "op@example.org") == .stranger)
        #expect(push(rig, "unblock", ["viewer@example.org"])?.stanzaType == "result")
        #expect(try role(rig, "viewer@example.org/x") == .viewer, "unblocked: the role is back")
        #expect(try role(rig, "op@example.org") == .stranger, "the other stays blocked")
        #expect(rig.agent.executor.policy.blocked == [try JID("op@example.org")])
        #expect(rig.lines("unblocked on the server by another client of this account: viewer@example.org").count == 1, "\(rig.log.lines)")
    }

    @Test func anUnblockWithoutItemsUnblocksEverythingButLocalBlocks() throws {
        let rig = try AccessRig()
        _ = push(rig, "block", ["viewer@example.org", "op@example.org", "evil.example"])
        // A block the server did not take stays, whatever the server's list says.
        rig.agent.localBlocks.insert(try JID("local@example.net"))
        rig.agent.executor.policy.blocked.insert(try JID("local@example.net"))
        #expect(push(rig, "unblock", [])?.stanzaType == "result")
        #expect(rig.agent.executor.policy.blocked == [try JID("local@example.net")])
        #expect(try role(rig, "op@example.org") == .operator)
        #expect(rig.lines("unblocked on the server by another client of this account: everything").count == 1, "\(rig.log.lines)")
    }

    @Test func onlyOurOwnAccountMayPush() throws {
        let rig = try AccessRig()
        let forged = push(rig, "unblock", [], from: "owner@example.org/phone")
        #expect(forged.flatMap { StanzaError(stanza: $0)?.condition } == .serviceUnavailable)
        _ = push(rig, "block", ["viewer@example.org"])
        _ = push(rig, "unblock", [], from: "evil@example.net/x")
        #expect(try role(rig, "viewer@example.org") == .stranger, "a forged unblock-all changed nothing")
        // Our bare JID and our domain are our own server.
        #expect(push(rig, "unblock", ["viewer@example.org"], from: "board@example.org")?.stanzaType == "result")
        #expect(try role(rig, "viewer@example.org") == .viewer)
        #expect(push(rig, "block", ["viewer@example.org"], from: "example.org")?.stanzaType == "result")
        #expect(try role(rig, "viewer@example.org") == .stranger)
    }

    @Test func malformedPushesAreRefused() throws {
        let rig = try AccessRig()
        #expect(push(rig, "block", []).flatMap { StanzaError(stanza: $0)?.condition } == .badRequest, "a block names at least one JID")
        #expect(push(rig, "blocklist", []).flatMap { StanzaError(stanza: $0)?.condition } == .badRequest)
        #expect(push(rig, "block", ["viewer@example.org"], type: "get").flatMap { StanzaError(stanza: $0)?.condition } == .serviceUnavailable)
        #expect(rig.agent.executor.policy.blocked.isEmpty)
        // An unusable JID among good ones is left out; the good ones apply.
        #expect(push(rig, "block", ["@@bad", "viewer@example.org"])?.stanzaType == "result")
        #expect(rig.agent.executor.policy.blocked == [try JID("viewer@example.org")])
    }

    /// The list fetched at login replaces the mirror: a JID unblocked from another client while the
    /// device was away is unblocked here too.
    @Test func theFetchedListReplacesTheMirror() throws {
        let rig = try AccessRig()
        _ = push(rig, "block", ["viewer@example.org", "op@example.org"])
        let list = XMLElement("blocklist", namespace: Self.ns, children: [.element(XMLElement("item", namespace: Self.ns, attrs: ["jid": "op@example.org"]))])
        var answer = XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "result"])
        answer.append(list)
        rig.agent.applyBlocklist(try #require(Blocking.blocklist(in: answer)))
        #expect(rig.agent.executor.policy.blocked == [try JID("op@example.org")])
        #expect(try role(rig, "viewer@example.org") == .viewer)
        #expect(rig.lines("no longer blocked (not on the server's blocklist any more): viewer@example.org").count == 1, "\(rig.log.lines)")
    }

    /// Through the client: a push reaches the handler instead of `service-unavailable`.
    @Test func theClientRoutesPushesToTheAgent() throws {
        let rig = try AccessRig()
        let payload = XMLElement("block", namespace: Self.ns, children: [.element(XMLElement("item", namespace: Self.ns, attrs: ["jid": "viewer@example.org"]))])
        rig.agent.client.received(XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "set", "id": "p1"], children: [payload]))
        #expect(try role(rig, "viewer@example.org") == .stranger)
    }
}
