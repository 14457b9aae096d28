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
        // The same id with another set is another request.
        guard case .run(let key) = repeatCheck(stanza, from: from, payload: set, what: "XEP-0325 set message") else { return }
        iot.set(message: stanza, set, from: from, role: role) { [weak self] error in
            guard let self else { return }
            if let key {
                if let error { self.recentMessages.answered(key, error) } else { self.recentMessages.finished(key) }
            }
            if let error { self.transmit(error) }
        }
    }
}
