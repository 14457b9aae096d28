import PerchConfig
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore

/// XEP-0191 blocking: the server's blocklist of this account mirrored into the policy (fetched at
/// login, kept exact by the server's pushes), and the owners' `block` / `unblock` sent to it. A
/// block the server does not take stays local (``localBlocks``).
extension Agent {
    /// Fetches the server's blocklist: the mirror becomes exactly that list, plus the local blocks.
    func fetchBlocklist() {
        client.sendIQ(Blocking.blocklistRequest(id: client.makeID("bl"))) { [weak self] result in
            guard let self else { return }
            guard case .success(let iq) = result, let list = Blocking.blocklist(in: iq) else {
                if case .failure(let e) = result { self.logger.debug("no blocklist from the server (\(e)); only blocks made here apply") }
                return
            }
            self.applyBlocklist(list)
        }
    }

    /// The server's whole blocklist (the answer at login): the mirror becomes exactly it, plus the
    /// local blocks; a JID unblocked elsewhere while we were away is unblocked here too.
    func applyBlocklist(_ list: Blocking.Items) {
        let before = executor.policy.blocked
        executor.policy.blocked = usable(list).union(localBlocks)
        let gone = before.subtracting(executor.policy.blocked)
        if !gone.isEmpty {
            logger.info("no longer blocked (not on the server's blocklist any more): \(Self.list(gone))")
            for jid in gone { revoked.remove(jid.bare) }
        }
        // The roster may have come first: what the blocklist says applies to it too.
        revokeUnwanted(Array(client.roster.items.values))
        applyBlocked(executor.policy.blocked.subtracting(before))
    }

    /// What a block means here at once, for the JIDs newly blocked: guests forgotten, waiting
    /// subscription requests dropped, subscriptions taken back both ways.
    func applyBlocked(_ jids: Set<JID>) {
        guard !jids.isEmpty else { return }
        for guest in guests.jids where executor.policy.isBlocked(guest) { forget(guest) }
        for jid in jids { _ = asks.remove(jid, now: Instant.now().milliseconds) }
        for item in client.roster.items.values where executor.policy.isBlocked(item.jid) && !revoked.contains(item.jid.bare) {
            if item.subscription == "from" || item.subscription == "both" {
                revoke(item.jid, subscription: item.subscription, reason: "it is blocked")
            } else if item.subscription == "to" || item.ask == "subscribe" {
                transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribe", "to": item.jid.description]))
            }
        }
    }

    /// An owner's `block` / `unblock` (already applied to the policy by the executor), sent to the server.
    func sendBlock(_ jid: JID, _ block: Bool) {
        if block {
            // Before the block reaches the server: a server that honours it drops what we send to the
            // blocked JID afterwards, the `unsubscribed` included.
            applyBlocked([jid])
        } else {
            revoked.remove(jid.bare)
            localBlocks.remove(jid)
        }
        client.sendIQ(Blocking.change(jid, block: block, id: client.makeID("blk"))) { [weak self] result in
            guard let self, case .failure(let e) = result else { return }
            if block {
                self.localBlocks.insert(jid)
                self.logger.warning("the server did not take the block of \(jid) (\(e)); perch still ignores \(jid) itself, until an owner sends \"unblock \(jid)\"")
            } else {
                self.logger.warning("the server did not take the unblock of \(jid) (\(e)); perch no longer ignores it, but the server may still block it (check the account's blocklist in a client)")
            }
        }
    }

    /// A blocklist push (XEP-0191 §3.3, §3.4): another client of this account, or the server's admin,
    /// changed the list. Only our own account may push; each push is answered.
    func blockingPush(_ iq: XMLElement) -> IQHandling {
        guard iq.fromAttribute == nil || iq.from?.bare == config.account.jid.bare || iq.from == config.account.jid.domain else {
            // Like a roster push (RFC 6121 §2.1.6): from anyone else it is not a push.
            logger.info("ignored a blocklist change from \(iq.fromAttribute.map(logQuoted) ?? "?"): only this account's server may change it")
            return .reply(Stanza.error(for: iq, StanzaError(.serviceUnavailable)))
        }
        guard iq.stanzaType == "set" else { return .reply(Stanza.error(for: iq, StanzaError(.serviceUnavailable))) }
        switch Blocking.push(iq) {
        case .block(let list)?:
            let jids = usable(list)
            guard !jids.isEmpty else { return .reply(Stanza.error(for: iq, StanzaError(.badRequest, text: "a block names at least one JID"))) }
            let new = jids.subtracting(executor.policy.blocked)
            executor.policy.blocked.formUnion(jids)
            if !new.isEmpty {
                logger.notice("blocked on the server by another client of this account: \(Self.list(new)); perch ignores \(new.count == 1 ? "it" : "them") too")
                applyBlocked(new)
            }
        case .unblock(let list)?:
            let jids = usable(list)
            // No items: everything is unblocked (§3.4). Blocks the server never took stay.
            let gone = (jids.isEmpty ? executor.policy.blocked : jids.intersection(executor.policy.blocked)).subtracting(localBlocks)
            executor.policy.blocked.subtract(gone)
            for jid in gone { revoked.remove(jid.bare) }
            if !gone.isEmpty {
                logger.notice("unblocked on the server by another client of this account: \(jids.isEmpty ? "everything (\(Self.list(gone)))" : Self.list(gone))")
            }
        case nil:
            return .reply(Stanza.error(for: iq, StanzaError(.badRequest, text: "expected <block/> or <unblock/>")))
        }
        return .reply(Stanza.result(for: iq))
    }

    /// The JIDs of a list, saying which items were left out.
    private func usable(_ list: Blocking.Items) -> Set<JID> {
        for text in list.unusable { logger.debug("a blocklist item with an unusable JID \(logQuoted(text)) was left out") }
        return list.jids
    }

    static func list(_ jids: Set<JID>) -> String {
        jids.map(\.description).sorted().joined(separator: ", ")
    }
}
