public import XMPPAddress
public import XMPPCore
import PerchCrypto

/// XEP-0030: Service Discovery (what this entity is and which features it has), and the
/// XEP-0115: Entity Capabilities hash of it.
public struct DiscoInfo: Sendable, Hashable {
    public struct Identity: Sendable, Hashable {
        public var category: String
        public var type: String
        public var name: String?
        public init(category: String, type: String, name: String? = nil) {
            self.category = category
            self.type = type
            self.name = name
        }
    }

    public var identities: [Identity]
    public var features: [String]

    public init(identities: [Identity], features: [String]) {
        self.identities = identities
        self.features = features
    }

    public static let namespace = XMPPNamespace.discoInfo

    /// The `<query xmlns='disco#info'/>` answer, optionally for a caps node: each identity and
    /// feature once, in the order the caps hash covers them.
    public func element(node: String? = nil) -> XMLElement {
        Self.query(node: node, identities: listedIdentities, features: listedFeatures)
    }

    /// A `<query xmlns='disco#info'/>` listing exactly these identities and features, in this order
    /// (a node's own description, which no caps hash covers).
    public static func query(node: String?, identities: [Identity], features: [String]) -> XMLElement {
        var q = XMLElement("query", namespace: namespace, attrs: ["node": node])
        for i in identities {
            q.append(XMLElement("identity", namespace: namespace, attrs: ["category": i.category, "type": i.type, "name": i.name]))
        }
        for f in features {
            q.append(XMLElement("feature", namespace: namespace, attrs: ["var": f]))
        }
        return q
    }

    /// A disco#info request to `to`, for `node` if given (§3.1).
    public static func request(id: String, to: JID?, node: String? = nil) -> XMLElement {
        Stanza.iq(type: "get", id: id, to: to, payload: XMLElement("query", namespace: namespace, attrs: ["node": node]))
    }

    /// What a disco#info answer (the iq, or its `<query/>`) says, or nil when it holds no
    /// `<query xmlns='disco#info'/>`. An identity without `category` or `type`, or a feature without
    /// `var`, is left out (§3.1 requires them), as is anything in another namespace.
    public init?(answer: XMLElement) {
        guard let q = answer.name == "query" && answer.namespace == Self.namespace ? answer : answer.child("query", namespace: Self.namespace) else { return nil }
        var identities: [Identity] = []
        var features: [String] = []
        for e in q.children(namespace: Self.namespace) {
            switch e.name {
            case "identity":
                guard let category = e[attribute: "category"], let type = e[attribute: "type"] else { continue }
                identities.append(Identity(category: category, type: type, name: e[attribute: "name"]))
            case "feature":
                if let v = e[attribute: "var"] { features.append(v) }
            default:
                continue
            }
        }
        self.init(identities: identities, features: features)
    }

    /// The node a caps-aware entity asks about: `base#ver` (XEP-0115 §6.2).
    public func capsNode(base: String) -> String {
        "\(base)#\(capsVerification)"
    }

    /// The features as the answer lists them and the caps hash covers them: each once (a receiver
    /// must reject a hash over a list with duplicates, XEP-0115 §5.4), in octet order (§5.1).
    public var listedFeatures: [String] {
        Set(features).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The identities, each once, in the order of XEP-0115 §5.1 (category, type, then name).
    public var listedIdentities: [Identity] {
        func key(_ i: Identity) -> [String] { [i.category, i.type, "", i.name ?? ""] }
        return Set(identities).sorted { a, b in
            let (x, y) = (key(a), key(b))
            return x.lexicographicallyPrecedes(y) { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
    }

    /// XEP-0115 §5.1 verification string, hashed with SHA-1 and base64-encoded, over exactly what
    /// ``element(node:)`` lists.
    public var capsVerification: String {
        var s = ""
        for i in listedIdentities {
            s += "\(i.category)/\(i.type)//\(i.name ?? "")<"
        }
        for f in listedFeatures { s += "\(f)<" }
        return Base64.encode(DigestAlgorithm.sha1.hash(Array(s.utf8)))
    }

    /// The `<c/>` element for presence (XEP-0115 §4).
    public func capsElement(node: String) -> XMLElement {
        XMLElement("c", namespace: XMPPNamespace.caps, attrs: ["hash": "sha-1", "node": node, "ver": capsVerification])
    }
}

/// XEP-0030 §4: Service Discovery items (the entities and nodes an entity lists).
public struct DiscoItems: Sendable, Hashable {
    public static let namespace = XMPPNamespace.discoItems

    public struct Item: Sendable, Hashable {
        public var jid: JID
        public var node: String?
        public var name: String?

        public init(jid: JID, node: String? = nil, name: String? = nil) {
            self.jid = jid
            self.node = node
            self.name = name
        }
    }

    /// The node the list is of (nil: the entity itself).
    public var node: String?
    public var items: [Item]

    public init(node: String?, items: [Item]) {
        self.node = node
        self.items = items
    }

    /// The `<query xmlns='disco#items'/>` answer.
    public var element: XMLElement {
        var q = XMLElement("query", namespace: Self.namespace, attrs: ["node": node])
        for i in items {
            q.append(XMLElement("item", namespace: Self.namespace, attrs: ["jid": i.jid.description, "node": i.node, "name": i.name]))
        }
        return q
    }

    /// A disco#items request to `to`, for `node` if given (§4.1).
    public static func request(id: String, to: JID?, node: String? = nil) -> XMLElement {
        Stanza.iq(type: "get", id: id, to: to, payload: XMLElement("query", namespace: namespace, attrs: ["node": node]))
    }

    /// The node a disco#items request asks about: `.some(nil)` for the entity itself, nil when `iq`
    /// is not an iq get with a `<query xmlns='disco#items'/>`.
    public static func requestedNode(_ iq: XMLElement) -> String?? {
        guard iq.stanzaType == "get", let q = iq.child("query", namespace: namespace) else { return nil }
        return .some(q[attribute: "node"])
    }

    /// What a disco#items answer (the iq, or its `<query/>`) says, or nil when it holds no
    /// `<query xmlns='disco#items'/>`. An item without a `jid` that is a JID is left out (§4.1
    /// requires one).
    public init?(answer: XMLElement) {
        guard let q = answer.name == "query" && answer.namespace == Self.namespace ? answer : answer.child("query", namespace: Self.namespace) else { return nil }
        let items = q.children(namespace: Self.namespace).compactMap { e -> Item? in
            guard e.name == "item", let jid = e[attribute: "jid"].flatMap({ try? JID($0) }) else { return nil }
            return Item(jid: jid, node: e[attribute: "node"], name: e[attribute: "name"])
        }
        self.init(node: q[attribute: "node"], items: items)
    }
}

/// XEP-0115 §4: the `<c/>` element of a presence, as another entity sends it.
public struct EntityCaps: Sendable, Hashable {
    public static let namespace = XMPPNamespace.caps

    public var hash: String
    public var node: String
    public var ver: String

    /// The caps of `presence`, or nil when it carries no `<c/>` with all of `hash`, `node` and `ver`
    /// (the legacy form without `hash` cannot be checked against disco#info, §8.3).
    public init?(presence: XMLElement) {
        guard let c = presence.child("c", namespace: Self.namespace), let hash = c[attribute: "hash"], let node = c[attribute: "node"],
              let ver = c[attribute: "ver"] else { return nil }
        self.hash = hash
        self.node = node
        self.ver = ver
    }

    /// The node to ask disco#info about for these caps (§6.2).
    public var discoNode: String { "\(node)#\(ver)" }
}
