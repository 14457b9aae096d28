import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore

/// XEP-0325 control in a message (§3.1): fire and forget. Nothing is sent when the set succeeds; an
/// error goes back as a message of type `error` under the request's id. The checks are the iq form's.
extension Agent {
    func controlMessage(_ stanza: XMLElement, _ set: XMLElement, from: JID) {
        let role = executor.policy.role(of: from)
        if role == .stranger {
            if let refusal = executor.strangerRefusal(stanza, from, "XEP-0325 set message", "switching is for the device's operators and owners") {
                transmit(refusal)
            }
            return
        }
        // A message re-delivered (a resend, offline storage after a failed resumption) runs once; the
        // same id with another set is another request.
        var key: String?
        let bare = from.bare.description
        if let id = stanza.child("origin-id", namespace: XMPPNamespace.stanzaID)?[attribute: "id"] ?? stanza.stanzaID {
            key = RecentRequests.key(from: bare, id: id, payload: set)
            switch recentMessages.check(key!, request: RecentRequests.key(from: bare, id: id), sender: bare) {
            case .new:
                break
            case .inProgress, .done:
                logger.info("XEP-0325 set message \(logQuoted(id)) from \(from.bare) arrived again; it runs once")
                return
            case .answered(let previous):
                logger.info("XEP-0325 set message \(logQuoted(id)) from \(from.bare) arrived again; repeated its error, not the set")
                transmit(previous)
                return
            }
        }
        iot.set(message: stanza, set, from: from, role: role) { [weak self] error in
            guard let self else { return }
            if let key {
                if let error { self.recentMessages.answered(key, error) } else { self.recentMessages.finished(key) }
            }
            if let error { self.transmit(error) }
        }
    }
}
