import Testing
import XMPPCore
@testable import XMPPClient

/// The disco#info answer and the XEP-0115 hash must describe the same list: a receiver recomputes
/// the hash from what the answer lists and rejects a mismatch (or, §5.4, a list with duplicates).
@Suite struct DiscoInfoTests {
    /// The verification string a receiver computes from a disco#info answer as received.
    func receiversHash(_ query: XMLElement) -> String {
        let identities = query.elements.filter { $0.name == "identity" }.map {
            DiscoInfo.Identity(category: $0[attribute: "category"] ?? "", type: $0[attribute: "type"] ?? "", name: $0[attribute: "name"])
        }
        let features = query.elements.filter { $0.name == "feature" }.compactMap { $0[attribute: "var"] }
        return DiscoInfo(identities: identities, features: features).capsVerification
    }

    @Test func aFeatureRegisteredTwiceIsListedOnceAndTheHashMatchesTheList() {
        var info = DiscoInfo(identities: [.init(category: "client", type: "bot", name: "Perch")], features: ["urn:xmpp:ping", "jabber:iq:version"])
        // Two front-ends that both register a namespace (data forms, say).
        info.features.append(contentsOf: ["jabber:x:data", "urn:xmpp:ping", "jabber:x:data"])
        let query = info.element()
        let listed = query.elements.filter { $0.name == "feature" }.compactMap { $0[attribute: "var"] }
        #expect(listed == ["jabber:iq:version", "jabber:x:data", "urn:xmpp:ping"])
        #expect(Set(listed).count == listed.count, "duplicates make receivers reject the hash")
        #expect(receiversHash(query) == info.capsVerification)
    }

    @Test func anIdentityRegisteredTwiceIsListedOnce() {
        let info = DiscoInfo(identities: [.init(category: "client", type: "bot", name: "Perch"), .init(category: "client", type: "bot", name: "Perch")], features: ["urn:xmpp:ping"])
        let query = info.element()
        #expect(query.elements.filter { $0.name == "identity" }.count == 1)
        #expect(receiversHash(query) == info.capsVerification)
    }

    /// XEP-0115 §5.1 sorts by octets ("i;octet"): upper case before lower case.
    @Test func featuresAreInOctetOrder() {
        let info = DiscoInfo(identities: [], features: ["urn:b", "urn:B", "urn:a"])
        #expect(info.listedFeatures == ["urn:B", "urn:a", "urn:b"])
    }
}
