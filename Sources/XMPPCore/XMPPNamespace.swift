/// Namespace URIs, each with the document that defines it.
public enum XMPPNamespace {
    /// XML 1.0 namespaces: the `xml:` prefix.
    public static let xml = "http://www.w3.org/XML/1998/namespace"
    /// RFC 6120 §4.8.3: the stream namespace.
    public static let stream = "http://etherx.jabber.org/streams"
    /// RFC 6120 §4.8.2: the default content namespace for clients.
    public static let client = "jabber:client"
    /// RFC 6120 §4.9.2: stream error conditions.
    public static let streamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
    /// RFC 6120 §8.3.2: stanza error conditions.
    public static let stanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas"
    /// RFC 6120 §5: STARTTLS.
    public static let tls = "urn:ietf:params:xml:ns:xmpp-tls"
    /// RFC 6120 §6: SASL.
    public static let sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
    /// RFC 6120 §7: resource binding.
    public static let bind = "urn:ietf:params:xml:ns:xmpp-bind"
    /// RFC 3921 §3 (draft-cridland-xmpp-session): the legacy session element.
    public static let session = "urn:ietf:params:xml:ns:xmpp-session"
    /// RFC 6121 §2: roster management.
    public static let roster = "jabber:iq:roster"
    /// XEP-0199: XMPP Ping.
    public static let ping = "urn:xmpp:ping"
    /// XEP-0030: Service Discovery (info).
    public static let discoInfo = "http://jabber.org/protocol/disco#info"
    /// XEP-0030: Service Discovery (items).
    public static let discoItems = "http://jabber.org/protocol/disco#items"
    /// XEP-0092: Software Version.
    public static let version = "jabber:iq:version"
    /// XEP-0202: Entity Time.
    public static let time = "urn:xmpp:time"
    /// XEP-0115: Entity Capabilities.
    public static let caps = "http://jabber.org/protocol/caps"
    /// XEP-0440: SASL Channel-Binding Type Capability.
    public static let saslChannelBinding = "urn:xmpp:sasl-cb:0"
    /// XEP-0198: Stream Management.
    public static let streamManagement = "urn:xmpp:sm:3"
    /// XEP-0359: Unique and Stable Stanza IDs (origin-id, stanza-id).
    public static let stanzaID = "urn:xmpp:sid:0"
    /// XEP-0203: Delayed Delivery.
    public static let delay = "urn:xmpp:delay"
}
