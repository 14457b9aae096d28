public import XMPPAddress
public import XMPPCore

/// XEP-0359: Unique and Stable Stanza IDs. The `<origin-id/>` a sender puts on its message (so a
/// reflection or a retry can be recognised), and the `<stanza-id/>` an archiving entity adds.
public enum StanzaIDs {
    public static let namespace = XMPPNamespace.stanzaID

    /// `<origin-id id='…'/>` (§4).
    public static func originID(_ id: String) -> XMLElement {
        XMLElement("origin-id", namespace: namespace, attrs: ["id": id])
    }

    /// The sender's origin id in `stanza`; nil when there is none or it has no (or an empty) `id`.
    public static func originID(in stanza: XMLElement) -> String? {
        guard let id = stanza.child("origin-id", namespace: namespace)?[attribute: "id"], !id.isEmpty else { return nil }
        return id
    }

    /// Whether `stanza` carries an `<origin-id/>` at all (readable or not).
    public static func hasOriginID(_ stanza: XMLElement) -> Bool {
        stanza.child("origin-id", namespace: namespace) != nil
    }

    /// A `<stanza-id/>`: the id an entity (`by`) gave the stanza in its archive (§5).
    public struct StanzaID: Sendable, Hashable {
        public var id: String
        public var by: JID

        public init(id: String, by: JID) {
            self.id = id
            self.by = by
        }

        public var element: XMLElement {
            XMLElement("stanza-id", namespace: StanzaIDs.namespace, attrs: ["id": id, "by": by.description])
        }
    }

    /// The stanza ids in `stanza`, in document order. One without an `id`, or whose `by` is missing or
    /// not a JID, is left out: nobody can say whose it is (§5: only one from a trusted `by` counts,
    /// which is the reader's call).
    public static func stanzaIDs(in stanza: XMLElement) -> [StanzaID] {
        stanza.children(namespace: namespace).compactMap { e in
            guard e.name == "stanza-id", let id = e[attribute: "id"], !id.isEmpty,
                  let by = e[attribute: "by"].flatMap({ try? JID($0) }) else { return nil }
            return StanzaID(id: id, by: by)
        }
    }

    /// The id `by` gave the stanza, if it did.
    public static func stanzaID(in stanza: XMLElement, by: JID) -> String? {
        stanzaIDs(in: stanza).first { $0.by == by }?.id
    }
}
