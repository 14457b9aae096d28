import XMPPAddress
import XMPPClient
import XMPPCore

extension CommandExecutor {
    /// The answer to an iq request from a sender without a role, the same whatever it asked: through
    /// the stranger gate (logged in its summary), `forbidden` with `why` (a blocked sender gets
    /// `service-unavailable`, as if nothing were here), or no answer at all once the gate has spent
    /// the replies to strangers.
    func refuseStranger(_ iq: XMLElement, _ from: JID, _ what: String, _ why: String) -> IQHandling {
        guard strangers.refuse(from, what) else { return .handled }
        let e = policy.isBlocked(from) ? StanzaError(.serviceUnavailable) : StanzaError(.forbidden, text: why)
        return .reply(Stanza.error(for: iq, e))
    }
}
