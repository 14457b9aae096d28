public import XMPPCore

/// XEP-0199: XMPP Ping.
public enum Ping {
    public static let namespace = XMPPNamespace.ping

    /// A ping to `to` (§4.2: client-to-server when `to` is our domain).
    public static func request(id: String, to: String) -> XMLElement {
        var iq = XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "get", "id": id, "to": to])
        iq.append(XMLElement("ping", namespace: namespace))
        return iq
    }

    /// Whether `iq` is a ping request: an iq get whose payload is `<ping xmlns='urn:xmpp:ping'/>`.
    public static func isRequest(_ iq: XMLElement) -> Bool {
        iq.stanzaKind == .iq && iq.stanzaType == "get" && iq.elements.first.map { $0.name == "ping" && $0.namespace == namespace } == true
    }

    /// §4: a ping is answered with an empty result.
    public static func answer(to request: XMLElement) -> XMLElement {
        Stanza.result(for: request)
    }
}
