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
        for i in identities {
            q.append(XMLElement("identity", namespace: XMPPNamespace.discoInfo, attrs: ["category": i.category, "type": i.type, "name": i.name]))
        }
        for f in features.sorted() {
            q.append(XMLElement("feature", namespace: XMPPNamespace.discoInfo, attrs: ["var": f]))
        }
        return q
    }

    /// XEP-0115 §5.1 verification string, hashed with SHA-1 and base64-encoded.
    public var capsVerification: String {
        var s = ""
        for i in identities.sorted(by: { ($0.category, $0.type) < ($1.category, $1.type) }) {
            s += "\(i.category)/\(i.type)//\(i.name ?? "")<"
        }
        for f in Set(features).sorted() { s += "\(f)<" }
        return Base64.encode(DigestAlgorithm.sha1.hash(Array(s.utf8)))
    }

    /// The `<c/>` element for presence (XEP-0115 §4).
    public func capsElement(node: String) -> XMLElement {
        XMLElement("c", namespace: XMPPNamespace.caps, attrs: ["hash": "sha-1", "node": node, "ver": capsVerification])
    }
}
