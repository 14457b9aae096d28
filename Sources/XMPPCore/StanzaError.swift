/// A stanza error (RFC 6120 §8.3): the condition, its type, and optional human-readable text.
public struct StanzaError: Error, Hashable, Sendable, CustomStringConvertible {
    /// RFC 6120 §8.3.3 defined conditions.
    public enum Condition: String, Sendable, CaseIterable {
        /// The sender has sent a stanza containing XML that does not conform to the appropriate schema.
        case badRequest = "bad-request"
        /// Access cannot be granted because an existing resource exists with the same name or address.
        case conflict
        /// The feature represented in the XML stanza is not implemented by the intended recipient.
        case featureNotImplemented = "feature-not-implemented"
        /// The requesting entity does not possess the necessary permissions to perform the action.
        case forbidden
        /// The recipient or server can no longer be contacted at this address.
        case gone
        /// The server has experienced a misconfiguration or other internal error.
        case internalServerError = "internal-server-error"
        /// The addressed JID or item requested cannot be found.
        case itemNotFound = "item-not-found"
        /// The sending entity has provided an XMPP address that violates the JID rules.
        case jidMalformed = "jid-malformed"
        /// The request does not meet criteria defined by the recipient (e.g. a local policy).
        case notAcceptable = "not-acceptable"
        /// The recipient or server does not allow any entity to perform the action.
        case notAllowed = "not-allowed"
        /// The sender needs to provide credentials before being allowed to perform the action.
        case notAuthorized = "not-authorized"
        /// The entity has violated some local service policy.
        case policyViolation = "policy-violation"
        /// The intended recipient is temporarily unavailable, undergoing maintenance, etc.
        case recipientUnavailable = "recipient-unavailable"
        /// The recipient or server is redirecting requests for this information to another entity.
        case redirect
        /// The requesting entity is not authorized to access the requested service because prior registration is necessary.
        case registrationRequired = "registration-required"
        /// A remote server or service specified as part or all of the JID does not exist or cannot be resolved.
        case remoteServerNotFound = "remote-server-not-found"
        /// A remote server could not be contacted within a reasonable amount of time.
        case remoteServerTimeout = "remote-server-timeout"
        /// The server or recipient is busy or lacks the system resources necessary to service the request.
        case resourceConstraint = "resource-constraint"
        /// The server or recipient does not currently provide the requested service.
        case serviceUnavailable = "service-unavailable"
        /// The requesting entity is not authorized to access the requested service because a prior subscription is necessary.
        case subscriptionRequired = "subscription-required"
        /// The error condition is not one of those defined by the other conditions in this list.
        case undefinedCondition = "undefined-condition"
        /// The recipient or server understood the request but was not expecting it at this time.
        case unexpectedRequest = "unexpected-request"

        /// The error type RFC 6120 §8.3.3 suggests for the condition.
        public var defaultType: ErrorType {
            switch self {
            case .badRequest, .jidMalformed, .notAcceptable, .policyViolation: return .modify
            case .featureNotImplemented, .itemNotFound, .notAllowed, .serviceUnavailable, .conflict, .gone,
                .redirect, .remoteServerNotFound:
                return .cancel
            case .forbidden, .notAuthorized, .registrationRequired, .subscriptionRequired: return .auth
            case .internalServerError, .recipientUnavailable, .remoteServerTimeout, .resourceConstraint,
                .unexpectedRequest:
                return .wait
            case .undefinedCondition: return .cancel
            }
        }
    }

    /// RFC 6120 §8.3.2 error types.
    public enum ErrorType: String, Sendable {
        case auth, cancel, `continue`, modify, wait
    }

    public var condition: Condition
    public var type: ErrorType
    public var text: String?

    public init(_ condition: Condition, type: ErrorType? = nil, text: String? = nil) {
        self.condition = condition
        self.type = type ?? condition.defaultType
        self.text = text
    }

    /// Parses the `<error/>` child of a stanza. Unknown conditions become `undefined-condition`.
    public init?(stanza: XMLElement) {
        guard let error = stanza.child("error", namespace: stanza.namespace) else { return nil }
        var condition = Condition.undefinedCondition
        var text: String?
        for child in error.children(namespace: XMPPNamespace.stanzaErrors) {
            if child.name == "text" { text = child.text } else if let c = Condition(rawValue: child.name) { condition = c }
        }
        self.init(condition, type: error[attribute: "type"].flatMap(ErrorType.init(rawValue:)), text: text)
    }

    /// The `<error/>` element (in the stanza's namespace).
    public func element(namespace: String = XMPPNamespace.client) -> XMLElement {
        var e = XMLElement("error", namespace: namespace, attributes: [XMLAttribute("type", type.rawValue)])
        e.append(XMLElement(condition.rawValue, namespace: XMPPNamespace.stanzaErrors))
        if let text {
            var t = XMLElement.text("text", namespace: XMPPNamespace.stanzaErrors, text)
            t.attributes.append(XMLAttribute("lang", "en", namespace: XMPPNamespace.xml))
            e.append(t)
        }
        return e
    }

    public var description: String { text.map { "\(condition.rawValue) (\($0))" } ?? condition.rawValue }
}
