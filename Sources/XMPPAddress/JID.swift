/// An XMPP address (RFC 7622): `localpart@domainpart/resourcepart`, where only the domain is required.
///
/// Values are always in canonical form: the localpart is case-folded and width-mapped
/// (PRECIS UsernameCaseMapped, approximated), the domain is lower-cased with any trailing dot removed,
/// and the resource is kept as given (OpaqueString). Two JIDs are equal when their canonical parts are equal.
public struct JID: Hashable, Sendable, CustomStringConvertible {
    /// The localpart, or nil for a server or component address.
    public let localpart: String?
    /// The domainpart, always present.
    public let domainpart: String
    /// The resourcepart, or nil for a bare JID.
    public let resourcepart: String?

    /// Parses and canonicalises a JID string. Throws ``JIDError`` naming the rule that failed.
    public init(_ string: String) throws(JIDError) {
        var rest = Substring(string)
        var resource: Substring?
        // RFC 7622 §3.1: the first '/' separates the resource (which may itself contain '/' and '@').
        if let slash = rest.firstIndex(of: "/") {
            resource = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var local: Substring?
        if let at = rest.firstIndex(of: "@") {
            local = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        try self.init(localpart: local.map(String.init), domainpart: String(rest), resourcepart: resource.map(String.init))
    }

    /// Builds a JID from its parts, applying the same rules as parsing.
    public init(localpart: String?, domainpart: String, resourcepart: String? = nil) throws(JIDError) {
        self.localpart = try localpart.map { s throws(JIDError) in try JIDRules.localpart(s) }
        self.domainpart = try JIDRules.domainpart(domainpart)
        self.resourcepart = try resourcepart.map { s throws(JIDError) in try JIDRules.resourcepart(s) }
    }

    private init(canonicalLocal: String?, domain: String, resource: String?) {
        self.localpart = canonicalLocal
        self.domainpart = domain
        self.resourcepart = resource
    }

    /// The JID without its resource.
    public var bare: JID { JID(canonicalLocal: localpart, domain: domainpart, resource: nil) }

    /// The domain alone, as a JID (the address of the user's server).
    public var domain: JID { JID(canonicalLocal: nil, domain: domainpart, resource: nil) }

    /// True when the JID has no resource.
    public var isBare: Bool { resourcepart == nil }

    /// This JID with another resource (validated as a resourcepart).
    public func with(resource: String?) throws(JIDError) -> JID {
        JID(canonicalLocal: localpart, domain: domainpart, resource: try resource.map { s throws(JIDError) in try JIDRules.resourcepart(s) })
    }

    public var description: String {
        var s = ""
        if let localpart { s += localpart + "@" }
        s += domainpart
        if let resourcepart { s += "/" + resourcepart }
        return s
    }

    /// `local@domain` without the resource.
    public var bareString: String { localpart.map { $0 + "@" + domainpart } ?? domainpart }
}
