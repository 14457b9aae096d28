import XMPPAddress
import XMPPClient
import XMPPCore

extension CommandExecutor {
    /// The answer to an iq request from a sender without a role, the same whatever it asked: through
    /// the stranger gate (logged in its summary), `forbidden` with `why` (a blocked sender gets
    /// `service-unavailable`, as if nothing were here), or no answer at all once the gate has spent
    /// the replies to strangers.
    func refuseStranger(_ iq: XMLElement, _ from: JID, _ what: String, _ why: String) -> IQHandling {
        strangerRefusal(iq, from, what, why).map { .reply($0) } ?? .handled
    }

    /// The error to send a sender without a role for `stanza` (an iq or a message), or nil when the
    /// gate has spent the replies to strangers.
    func strangerRefusal(_ stanza: XMLElement, _ from: JID, _ what: String, _ why: String) -> XMLElement? {
        guard strangers.refuse(from, what) else { return nil }
        let e = policy.isBlocked(from) ? StanzaError(.serviceUnavailable) : StanzaError(.forbidden, text: why)
        return Stanza.error(for: stanza, e)
    }
}
