/// A stream error (RFC 6120 §4.9): sent or received, it ends the stream.
public struct StreamError: Error, Hashable, Sendable, CustomStringConvertible {
    /// RFC 6120 §4.9.3 defined conditions.
    public enum Condition: String, Sendable, CaseIterable {
        /// The entity has sent XML that cannot be processed.
        case badFormat = "bad-format"
        /// The entity has sent a namespace prefix that is unsupported.
        case badNamespacePrefix = "bad-namespace-prefix"
        /// The server is closing the stream because a new stream with the same identity has been initiated.
        case conflict
        /// One party is closing the stream because it has reason to believe the other has lost connectivity.
        case connectionTimeout = "connection-timeout"
        /// The value of the 'to' attribute is not a domain the server serves.
        case hostGone = "host-gone"
        /// The value of the 'to' attribute does not correspond to a hostname the server services.
        case hostUnknown = "host-unknown"
        /// A stanza sent between two servers lacks a 'to' or 'from' attribute.
        case improperAddressing = "improper-addressing"
        /// The server has experienced a misconfiguration or other internal error.
        case internalServerError = "internal-server-error"
        /// The data provided in a 'from' attribute does not match an authorized JID or validated domain.
        case invalidFrom = "invalid-from"
        /// The stream namespace name is something other than the stream namespace.
        case invalidNamespace = "invalid-namespace"
        /// The entity has sent invalid XML over the stream.
        case invalidXML = "invalid-xml"
        /// The entity has attempted to send data before the stream has been authenticated.
        case notAuthorized = "not-authorized"
        /// The initiating entity has sent XML that violates the well-formedness rules.
        case notWellFormed = "not-well-formed"
        /// The entity has violated some local service policy (for example a stanza size limit).
        case policyViolation = "policy-violation"
        /// The server is unable to properly connect to a remote entity needed for authentication or authorization.
        case remoteConnectionFailed = "remote-connection-failed"
        /// The server is closing the stream because it has new (typically security-critical) features to offer.
        case reset
        /// The server lacks the system resources necessary to service the stream.
        case resourceConstraint = "resource-constraint"
        /// The entity has attempted to send restricted XML features (comment, PI, DTD, entity reference).
        case restrictedXML = "restricted-xml"
        /// The server will not provide service and redirects to another host.
        case seeOtherHost = "see-other-host"
        /// The server is being shut down and all active streams are being closed.
        case systemShutdown = "system-shutdown"
        /// The error condition is not one of those defined by the other conditions.
        case undefinedCondition = "undefined-condition"
        /// The initiating entity has encoded the stream in an encoding that is not UTF-8.
        case unsupportedEncoding = "unsupported-encoding"
        /// The receiving entity has advertised a mandatory-to-negotiate feature the initiator cannot support.
        case unsupportedFeature = "unsupported-feature"
        /// The initiating entity has sent a first-level child of the stream that is not supported.
        case unsupportedStanzaType = "unsupported-stanza-type"
        /// The 'version' attribute specifies a version of XMPP that is not supported.
        case unsupportedVersion = "unsupported-version"
    }

    public var condition: Condition
    public var text: String?
    /// For `see-other-host`: the new host (and optional port), from the element's character data.
    public var otherHost: String?

    public init(_ condition: Condition, text: String? = nil, otherHost: String? = nil) {
        self.condition = condition
        self.text = text
        self.otherHost = otherHost
    }

    /// Parses a `<stream:error/>` element.
    public init(element: XMLElement) {
        var condition = Condition.undefinedCondition
        var text: String?
        var other: String?
        for child in element.children(namespace: XMPPNamespace.streamErrors) {
            if child.name == "text" {
                text = child.text
            } else if let c = Condition(rawValue: child.name) {
                condition = c
                if c == .seeOtherHost { other = child.text }
            }
        }
        self.init(condition, text: text, otherHost: other)
    }

    /// The `<stream:error/>` element.
    public var element: XMLElement {
        var e = XMLElement("error", namespace: XMPPNamespace.stream)
        e.append(XMLElement(condition.rawValue, namespace: XMPPNamespace.streamErrors, children: otherHost.map { [.text($0)] } ?? []))
        if let text { e.append(.text("text", namespace: XMPPNamespace.streamErrors, text)) }
        return e
    }

    /// Serialized with the `stream:` prefix, as it must appear inside a stream.
    public var serialized: String {
        var out = "<stream:error><\(condition.rawValue) xmlns='\(XMPPNamespace.streamErrors)'"
        if let otherHost { out += ">" + XMLEscaping.escapeText(otherHost) + "</\(condition.rawValue)>" } else { out += "/>" }
        if let text {
            out += "<text xmlns='\(XMPPNamespace.streamErrors)'>" + XMLEscaping.escapeText(text) + "</text>"
        }
        return out + "</stream:error>"
    }

    public var description: String { text.map { "\(condition.rawValue) (\($0))" } ?? condition.rawValue }
}
