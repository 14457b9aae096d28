public import XMPPCore

/// Where the messages, presences and iq requests the client receives go.
///
/// Handlers register by what they serve — an iq payload namespace; messages carrying a child in a
/// namespace; messages of a type; presences of a type — and declare the disco features they
/// implement, so disco#info and the caps hash list exactly what is installed. Each route has one
/// handler: registering a second one for the same iq namespace, message payload or type is a
/// programming error that stops the program at start-up (with both registrations named), never a
/// silent replacement of the first, and the outcome never depends on the order of registration.
///
/// A message goes to the handler of the first of its children whose namespace has one (an XEP-0325
/// `<set/>`, a MUC invitation), else to the handler of its type, else nowhere; a presence to the
/// handler of its type. Whatever no handler takes goes to ``XMPPClient/onStanza``.
public final class StanzaRouter {
    /// Whether a message or presence handler took the stanza.
    public enum Disposition: Sendable {
        case handled
        /// Not for this handler after all: the next route (type, then ``XMPPClient/onStanza``) gets it.
        case pass
    }

    public typealias IQHandler = (XMLElement) -> IQHandling
    public typealias Handler = (XMLElement) -> Disposition

    private struct Route<H> {
        let owner: String
        let handler: H
    }

    private var iqRoutes: [String: Route<IQHandler>] = [:]
    private var payloadRoutes: [String: Route<Handler>] = [:]
    private var messageTypeRoutes: [MessageType: Route<Handler>] = [:]
    private var presenceTypeRoutes: [PresenceType: Route<Handler>] = [:]
    /// Disco features, with who declared them.
    private var declared: [(feature: String, owner: String)] = []

    public init() {}

    /// The features every registration declared, each once, in the order declared.
    public var features: [String] {
        var seen = Set<String>()
        return declared.map(\.feature).filter { seen.insert($0).inserted }
    }

    /// iq get and set requests whose payload is in `namespace`. Every request gets exactly one
    /// answer (``IQHandling``).
    public func iq(_ namespace: String, features: [String] = [], owner: String = #fileID, _ handler: @escaping IQHandler) {
        claim(&iqRoutes, namespace, "iq payload namespace", owner, handler)
        declare(features, owner: owner)
    }

    /// Messages that carry a child element in `namespace` (whatever their type).
    public func messages(carrying namespace: String, features: [String] = [], owner: String = #fileID, _ handler: @escaping Handler) {
        claim(&payloadRoutes, namespace, "message payload namespace", owner, handler)
        declare(features, owner: owner)
    }

    /// Messages of these types (a message with no type is `normal`) that no payload handler took.
    public func messages(ofType types: [MessageType], features: [String] = [], owner: String = #fileID, _ handler: @escaping Handler) {
        for t in types { claim(&messageTypeRoutes, t, "message type", owner, handler) }
        declare(features, owner: owner)
    }

    /// Presences of these types (a presence with no type is `available`).
    public func presences(ofType types: [PresenceType] = PresenceType.allCases, features: [String] = [], owner: String = #fileID, _ handler: @escaping Handler) {
        for t in types { claim(&presenceTypeRoutes, t, "presence type", owner, handler) }
        declare(features, owner: owner)
    }

    /// Features served without a route of their own (answered by the client itself, say).
    public func declare(_ features: [String], owner: String = #fileID) {
        declared += features.map { ($0, owner) }
    }

    /// Who registered for an iq namespace (for tests and the log).
    public func owner(ofIQ namespace: String) -> String? { iqRoutes[namespace]?.owner }

    private func claim<K: Hashable, H>(_ routes: inout [K: Route<H>], _ key: K, _ what: String, _ owner: String, _ handler: H) {
        if let existing = routes[key] {
            preconditionFailure("two handlers for the \(what) \(key): \(existing.owner) and \(owner); a route has one handler")
        }
        routes[key] = Route(owner: owner, handler: handler)
    }

    // MARK: - Routing

    func iqHandler(for namespace: String) -> IQHandler? { iqRoutes[namespace]?.handler }

    /// Routes a message or presence; `.pass` when no handler took it.
    func route(_ stanza: XMLElement) -> Disposition {
        switch stanza.stanzaKind {
        case .message:
            for child in stanza.elements {
                if let r = payloadRoutes[child.namespace], r.handler(stanza) == .handled { return .handled }
            }
            // An unknown type is treated as normal (RFC 6121 §5.2.2).
            return messageTypeRoutes[stanza.messageType ?? .normal]?.handler(stanza) ?? .pass
        case .presence:
            // An unknown presence type goes nowhere: the client ignores it.
            return stanza.presenceType.flatMap { presenceTypeRoutes[$0] }?.handler(stanza) ?? .pass
        default:
            return .pass
        }
    }
}
