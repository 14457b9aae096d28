public import XMPPAddress
public import XMPPCore

/// XEP-0191: Blocking Command, the protocol side: the requests a client sends and what the
/// server's pushes say. What a block means to the device is the agent's business.
public enum Blocking {
    public static let namespace = "urn:xmpp:blocking"

    /// The request for the account's blocklist (§3.2).
    public static func blocklistRequest(id: String) -> XMLElement {
        Stanza.iq(type: "get", id: id, payload: XMLElement("blocklist", namespace: namespace))
    }

    /// A request to block or unblock `jid` (§3.3, §3.4).
    public static func change(_ jid: JID, block: Bool, id: String) -> XMLElement {
        let item = XMLElement("item", namespace: namespace, attrs: ["jid": jid.description])
        return Stanza.iq(type: "set", id: id, payload: XMLElement(block ? "block" : "unblock", namespace: namespace, children: [.element(item)]))
    }

    /// The JIDs of a blocklist answer, or nil when the answer holds none.
    public static func blocklist(in answer: XMLElement) -> Items? {
        answer.child("blocklist", namespace: namespace).map(items)
    }

    /// What a push from the server says (§3.3, §3.4).
    public enum Push: Sendable, Hashable {
        case block(Items)
        /// No JIDs: everything is unblocked.
        case unblock(Items)
    }

    /// The items of a list, and the `jid` attributes that were not JIDs (left out).
    public struct Items: Sendable, Hashable {
        public var jids: Set<JID>
        public var unusable: [String]
    }

    /// The push in an iq set; nil when it carries neither `<block/>` nor `<unblock/>`.
    public static func push(_ iq: XMLElement) -> Push? {
        if let b = iq.child("block", namespace: namespace) { return .block(items(b)) }
        if let u = iq.child("unblock", namespace: namespace) { return .unblock(items(u)) }
        return nil
    }

    static func items(_ e: XMLElement) -> Items {
        var out = Items(jids: [], unusable: [])
        for item in e.elements where item.name == "item" && item.namespace == namespace {
            guard let text = item[attribute: "jid"] else { continue }
            if let jid = try? JID(text) { out.jids.insert(jid) } else { out.unusable.append(text) }
        }
        return out
    }
}
