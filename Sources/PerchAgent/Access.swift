public import PerchConfig
public import XMPPAddress

/// What a sender may do, by the access lists of the configuration.
public enum Role: Int, Comparable, Sendable, CustomStringConvertible {
    case stranger, viewer, `operator`, owner

    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .stranger: "stranger"
        case .viewer: "viewer"
        case .operator: "operator"
        case .owner: "owner"
        }
    }
}

/// Roles by bare JID or domain, and the JIDs owners have blocked (XEP-0191, mirrored locally so a
/// server without blocking support still cannot reach us through a blocked JID).
public struct AccessPolicy: Sendable {
    public var owners: [AccessEntry]
    public var operators: [AccessEntry]
    public var viewers: [AccessEntry]
    public var blocked: Set<JID> = []
    /// Our own account: its other resources are owners.
    public var selfJID: JID?

    public init(_ access: Configuration.Access, selfJID: JID? = nil) {
        owners = access.owners
        operators = access.operators
        viewers = access.viewers
        self.selfJID = selfJID
    }

    /// The highest role the sender has (blocked JIDs are strangers whatever the lists say).
    public func role(of jid: JID) -> Role {
        if isBlocked(jid) { return .stranger }
        if let me = selfJID, jid.bare == me.bare { return .owner }
        if owners.contains(where: { $0.matches(jid) }) { return .owner }
        if operators.contains(where: { $0.matches(jid) }) { return .operator }
        if viewers.contains(where: { $0.matches(jid) }) { return .viewer }
        return .stranger
    }

    /// Blocked by bare JID or by domain (a blocklist item `example.org`).
    public func isBlocked(_ jid: JID) -> Bool {
        blocked.contains(jid.bare) || blocked.contains(jid.domain) || blocked.contains(jid)
    }
}
