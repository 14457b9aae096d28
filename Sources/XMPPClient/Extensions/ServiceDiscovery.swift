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

    /// The `<query xmlns='disco#info'/>` answer, optionally for a caps node.
    public func element(node: String? = nil) -> XMLElement {
        var q = XMLElement("query", namespace: XMPPNamespace.discoInfo, attrs: ["node": node])
        for i in listedIdentities {
            q.append(XMLElement("identity", namespace: XMPPNamespace.discoInfo, attrs: ["category": i.category, "type": i.type, "name": i.name]))
        }
        for f in listedFeatures {
            q.append(XMLElement("feature", namespace: XMPPNamespace.discoInfo, attrs: ["var": f]))
        }
        return q
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
