public import XMPPCore
public import XMPPXML

/// RFC 7395 framing: over WebSocket each message is one complete element, and the stream header and
/// its end are the `<open/>` and `<close/>` elements of `urn:ietf:params:xml:ns:xmpp-framing`.
public enum XMPPFraming {
    public static let namespace = "urn:ietf:params:xml:ns:xmpp-framing"

    /// What one server message is.
    public enum Message: Sendable, Hashable {
        /// The server's `<open/>` (RFC 7395 §3.3.2), its attributes as a stream header's.
        case open(StreamOpen)
        /// `<close/>`; with `see-other-uri` the server redirects the client there (§3.6.1).
        case close(seeOtherURI: String?)
        /// Any other element: a stanza or a negotiation element, as the stream parser would give it.
        case element(XMLElement)
    }

    /// The client's `<open/>`, sent first and again at the stream restart after SASL success (TLS is
    /// the WebSocket connection's, so there is no STARTTLS restart).
    public static func open(to domain: String, lang: String? = nil) -> String {
        var e = XMLElement("open", namespace: namespace, attrs: ["to": domain, "version": "1.0"])
        if let lang { e.attributes.append(XMLAttribute("lang", lang, namespace: XMPPNamespace.xml)) }
        return e.serialized(parentNamespace: "")
    }

    /// The client's `<close/>`, which ends the stream; the server answers with its own.
    public static let close = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"

    /// Reads one text message from the server.
    public static func parse(_ message: String, limits: XMLStreamLimits = .default) throws(XMLStreamError) -> Message {
        let e = try XMLDocument.parse(Array(message.utf8), limits: limits)
        if e.namespace == namespace {
            switch e.name {
            case "open":
                guard e[attribute: "version"] == "1.0" else {
                    throw XMLStreamError(.unsupportedVersion, "the server's <open/> has version \(e[attribute: "version"].map { "'\($0)'" } ?? "absent"), not 1.0")
                }
                return .open(StreamOpen(id: e[attribute: "id"], from: e[attribute: "from"], to: e[attribute: "to"], version: e[attribute: "version"], lang: e.lang, contentNamespace: XMPPNamespace.client))
            case "close":
                return .close(seeOtherURI: e[attribute: "see-other-uri"])
            default:
                throw XMLStreamError(.badFormat, "<\(e.name)/> in the framing namespace (only open and close are defined)")
            }
        }
        if e.namespace == XMPPNamespace.stream && e.name == "stream" {
            throw XMLStreamError(.invalidNamespace, "a <stream:stream> header over WebSocket (RFC 7395 uses <open/>)")
        }
        return .element(e)
    }
}
