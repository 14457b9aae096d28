import PerchConfig
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore

/// Who may see the device: subscription requests (approved by role, or asked of the owners),
/// and access taken back where the roster still grants it (blocking is in Agent+Blocking.swift).
extension Agent {
    // MARK: Subscriptions

    func presenceStanza(_ stanza: XMLElement) {
        guard let from = stanza.from, stanza.stanzaType == "subscribe" else { return }
        let bare = from.bare
        if executor.policy.isBlocked(bare) { return }
        if executor.policy.role(of: bare) >= .viewer { return approve(bare) }
        guard config.access.strangers == .askOwners else { return refuseSubscription(bare) }
        switch asks.request(bare, now: Instant.now().milliseconds) {
        case .alreadyWaiting:
            _ = executor.strangers.refuse(bare, "repeated subscription request", wantsReply: false)
        case .askNow:
            logger.notice("\(logQuoted(bare.description)) asks to subscribe; asking the owners")
            tellOwners("\(bare) asks to see \(executor.deviceName). Reply \"allow \(bare)\" or \"deny \(bare)\".")
        case .later:
            logger.notice("\(logQuoted(bare.description)) asks to subscribe; the owners hear of it with the others waiting, within a minute")
            if asksTimer == nil { asksTimer = loop.schedule(after: 60_000) { [weak self] in self?.tellUntold() } }
        case .full(let tell):
            if tell {
                logger.warning("\(asks.capacity) subscription requests wait for an owner's decision: further requests are refused until owners answer (allow JID / deny JID) or they expire after 24 h")
                tellOwners("\(asks.capacity) subscription requests to \(executor.deviceName) wait for your decision; further requests are refused until you answer (allow JID / deny JID) or they expire after 24 h.")
            }
            refuseSubscription(bare)
        }
    }

    /// Refuses a stranger's subscription: through the gate (a summary line, replies within its budget).
    func refuseSubscription(_ bare: JID) {
        if executor.strangers.refuse(bare, "subscription request") {
            transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribed", "to": bare.description]))
        }
    }

    /// The asks the owners have not heard of, in one message.
    func tellUntold() {
        asksTimer = nil
        let jids = asks.takeUntold(now: Instant.now().milliseconds)
        guard !jids.isEmpty else { return }
        let list = jids.map(\.description).joined(separator: ", ")
        tellOwners("\(jids.count) more ask\(jids.count == 1 ? "s" : "") to see \(executor.deviceName): \(list). Reply \"allow JID\" or \"deny JID\" for each.")
    }

    func tellOwners(_ text: String) {
        for owner in config.access.owners {
            guard case .jid(let jid) = owner else { continue }
            transmit(Self.marked(Stanza.message(to: jid, body: text, id: client.makeID("ask"))))
        }
    }

    /// Accepts a subscription and subscribes back, unless we already are.
    func approve(_ jid: JID) {
        revoked.remove(jid)
        transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribed", "to": jid.description]))
        let item = client.roster.items[jid]
        if item?.subscription != "both" && item?.subscription != "to" && item?.ask != "subscribe" {
            transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": jid.description]))
        }
        logger.info("approved the subscription of \(jid) (\(executor.policy.role(of: jid)))")
    }

    func decide(_ jid: JID, _ allow: Bool) -> String? {
        let bare = jid.bare
        guard asks.remove(bare, now: Instant.now().milliseconds) else {
            // `deny` of a guest allowed earlier takes the access back.
            guard !allow, guests.contains(bare) else { return nil }
            forget(bare)
            revoke(bare, subscription: client.roster.items[bare]?.subscription ?? "both", reason: "an owner denied it")
            return "\(bare) may no longer see \(executor.deviceName)"
        }
        if allow {
            executor.policy.viewers.append(.jid(bare))
            do {
                try guests.add(bare)
            } catch {
                logger.warning("cannot keep \(bare) in \(guests.path) (\(error.message)); it is a viewer until perch restarts")
            }
            approve(bare)
            return "\(bare) may now see \(executor.deviceName) (as a viewer, kept across restarts, until you deny or block it)"
        }
        transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribed", "to": bare.description]))
        return "refused \(bare)"
    }

    /// Removes an allowed guest (its viewer entry and the file's line).
    func forget(_ bare: JID) {
        executor.policy.viewers.removeAll { $0 == .jid(bare) }
        do {
            try guests.remove(bare)
        } catch {
            logger.warning("cannot remove \(bare) from \(guests.path) (\(error.message)); remove the line by hand, or it is a viewer again after a restart")
        }
    }

    // MARK: Revocation

    /// Takes back the presence subscription of every roster item that has no role (or is blocked):
    /// a viewer removed from the configuration, a JID blocked, a contact someone added by hand. Runs on
    /// the roster at login and on every push.
    func revokeUnwanted(_ items: [Roster.Item]) {
        for item in items where item.subscription == "from" || item.subscription == "both" {
            let jid = item.jid.bare
            if jid == config.account.jid.bare { continue }
            if executor.policy.isBlocked(jid) {
                revoke(jid, subscription: item.subscription, reason: "it is blocked")
            } else if executor.policy.role(of: jid) == .stranger {
                let reason = item.subscription == "both"
                    ? "it has no role here (no longer in the access lists: removed from the configuration?)"
                    : "it has no role here"
                revoke(jid, subscription: item.subscription, reason: reason)
            }
        }
    }

    /// Ends the subscription both ways: `unsubscribed` takes our presence from them, `unsubscribe`
    /// ends ours to theirs (we subscribed back when we approved).
    func revoke(_ jid: JID, subscription: String, reason: String) {
        guard revoked.insert(jid).inserted else { return }
        transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribed", "to": jid.description]))
        let item = client.roster.items[jid]
        if subscription == "both" || subscription == "to" || item?.subscription == "both" || item?.subscription == "to" || item?.ask == "subscribe" {
            transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribe", "to": jid.description]))
        }
        logger.notice("took back the presence subscription of \(jid): \(reason)")
    }
}
