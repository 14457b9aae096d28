public import XMPPAddress
public import XMPPCore

/// RFC 6121 §2: the roster, as the server holds it.
public struct Roster: Sendable, Hashable {
    public struct Item: Sendable, Hashable {
        public var jid: JID
        public var name: String?
        /// none, to, from, both (or remove in a push).
        public var subscription: String
        /// "subscribe" while our request is pending.
        public var ask: String?
        public var groups: [String]
    }

    public private(set) var items: [JID: Item] = [:]
    public private(set) var version: String?

    public init() {}

    /// Parses `<query xmlns='jabber:iq:roster'>` items; malformed items are skipped.
    static func parseItems(_ query: XMLElement) -> [Item] {
        query.elements.compactMap { e in
            guard e.name == "item", let jidText = e[attribute: "jid"], let jid = try? JID(jidText) else { return nil }
            return Item(jid: jid.bare, name: e[attribute: "name"], subscription: e[attribute: "subscription"] ?? "none",
                        ask: e[attribute: "ask"], groups: e.elements.filter { $0.name == "group" }.map(\.text))
        }
    }

    /// Replaces the roster with a full result.
    public mutating func load(_ query: XMLElement) {
        items = [:]
        for item in Self.parseItems(query) { items[item.jid] = item }
        version = query[attribute: "ver"]
    }

    /// Applies a roster push (RFC 6121 §2.1.6). Returns the changed items.
    @discardableResult
    public mutating func apply(push query: XMLElement) -> [Item] {
        let changed = Self.parseItems(query)
        for item in changed {
            if item.subscription == "remove" { items[item.jid] = nil } else { items[item.jid] = item }
        }
        if let v = query[attribute: "ver"] { version = v }
        return changed
    }

    /// The roster query to send at login.
    public static func request(id: String) -> XMLElement {
        Stanza.iq(type: "get", id: id, payload: XMLElement("query", namespace: XMPPNamespace.roster))
    }
}
