public import XMPPAddress

/// The three stanza kinds of RFC 6120 §8.
public enum StanzaKind: String, Sendable {
    case message, presence, iq
}

/// A message's type (RFC 6121 §5.2.2); absent is `normal`.
public enum MessageType: String, Sendable, CaseIterable {
    case chat, normal, groupchat, headline, error
}

/// A presence's type (RFC 6121 §4.7.1); absent is `available`.
public enum PresenceType: String, Sendable, CaseIterable {
    case available, unavailable, subscribe, subscribed, unsubscribe, unsubscribed, probe, error
}

/// An iq's type (RFC 6120 §8.2.3).
public enum IQType: String, Sendable, CaseIterable {
    case get, set, result, error
}

/// Read-only views of the common stanza attributes (RFC 6120 §8.1).
extension XMLElement {
    /// A message's type, `normal` when absent; nil for an unknown type or another element.
    public var messageType: MessageType? {
        guard stanzaKind == .message else { return nil }
        return MessageType(rawValue: stanzaType ?? "normal")
    }

    /// A presence's type, `available` when absent; nil for an unknown type or another element.
    public var presenceType: PresenceType? {
        guard stanzaKind == .presence else { return nil }
        return PresenceType(rawValue: stanzaType ?? "available")
    }

    /// An iq's type; nil when absent, unknown, or another element.
    public var iqType: IQType? {
        guard stanzaKind == .iq else { return nil }
        return stanzaType.flatMap(IQType.init(rawValue:))
    }

    /// The stanza kind, when this is a top-level `jabber:client` stanza.
    public var stanzaKind: StanzaKind? {
        guard namespace == XMPPNamespace.client else { return nil }
        return StanzaKind(rawValue: name)
    }

    /// The `type` attribute.
    public var stanzaType: String? { self[attribute: "type"] }
    /// The `id` attribute.
    public var stanzaID: String? { self[attribute: "id"] }

    /// The `from` address, if present and valid. A malformed address gives nil; use ``fromAttribute``
    /// to tell absent from malformed.
    public var from: JID? { self[attribute: "from"].flatMap { try? JID($0) } }
    /// The `to` address, if present and valid.
    public var to: JID? { self[attribute: "to"].flatMap { try? JID($0) } }
    /// The raw `from` attribute.
    public var fromAttribute: String? { self[attribute: "from"] }

    /// True for an iq of type get or set (a request that must be answered, RFC 6120 §8.2.3).
    public var isIQRequest: Bool {
        stanzaKind == .iq && (stanzaType == "get" || stanzaType == "set")
    }

    /// The payload of an iq: its one child element.
    public var iqPayload: XMLElement? { elements.first { $0.name != "error" || $0.namespace != XMPPNamespace.client } }
}

/// Builders for stanzas and replies.
public enum Stanza {
    /// An iq request.
    public static func iq(type: String, id: String, to: JID? = nil, payload: XMLElement? = nil) -> XMLElement {
        var e = XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": type, "id": id, "to": to?.description])
        if let payload { e.append(payload) }
        return e
    }

    /// The result for an iq request: to its sender, with its id.
    public static func result(for request: XMLElement, payload: XMLElement? = nil) -> XMLElement {
        var e = XMLElement(
            "iq", namespace: XMPPNamespace.client,
            attrs: ["type": "result", "id": request.stanzaID ?? "", "to": request.fromAttribute])
        if let payload { e.append(payload) }
        return e
    }

    /// An error reply to any stanza (RFC 6120 §8.3.1): same kind and id, type `error`, addressed to the
    /// sender. For an iq the original payload is not echoed (it may be large); for messages and
    /// presences neither is their content.
    public static func error(for request: XMLElement, _ error: StanzaError) -> XMLElement {
        var e = XMLElement(request.name, namespace: XMPPNamespace.client, attrs: ["type": "error", "id": request.stanzaID, "to": request.fromAttribute])
        e.append(error.element())
        return e
    }

    /// A chat message.
    public static func message(to: JID, body: String, type: String = "chat", id: String? = nil) -> XMLElement {
        var e = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["type": type, "to": to.description, "id": id])
        e.append(.text("body", namespace: XMPPNamespace.client, body))
        return e
    }
}
