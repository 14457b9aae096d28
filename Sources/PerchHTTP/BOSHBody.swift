public import XMPPCore
public import XMPPXML

/// The `<body/>` wrapper of XEP-0124 (BOSH) with the XMPP additions of XEP-0206: the bodies a
/// client sends, and the reading of the connection manager's.
public enum BOSHBody {
    public static let namespace = "http://jabber.org/protocol/httpbind"
    public static let xmppNamespace = "urn:xmpp:xbosh"
    public static let version = "1.11"

    /// The session creation request (XEP-0124 §7.1, XEP-0206 §4).
    public static func create(rid: Int64, to domain: String, lang: String = "en", wait: Int = 60, hold: Int = 1, from: String? = nil, route: String? = nil) -> String {
        var a: [(String, String)] = [
            ("content", "text/xml; charset=utf-8"), ("hold", "\(hold)"), ("rid", "\(rid)"), ("to", domain), ("ver", version), ("wait", "\(wait)"),
            ("xml:lang", lang), ("xmpp:version", "1.0"),
        ]
        if let from { a.append(("from", from)) }
        if let route { a.append(("route", route)) }
        return body(a, [])
    }

    /// A request within the session, carrying `stanzas` (none: an empty request the manager holds
    /// until it has something to send). `ack` acknowledges the responses up to that rid (§9.1).
    public static func request(rid: Int64, sid: String, ack: Int64? = nil, stanzas: [XMLElement] = []) -> String {
        var a = [("rid", "\(rid)"), ("sid", sid)]
        if let ack { a.append(("ack", "\(ack)")) }
        return body(a, stanzas)
    }

    /// The stream restart after SASL success (XEP-0206 §5).
    public static func restart(rid: Int64, sid: String, to domain: String, lang: String = "en") -> String {
        body([("rid", "\(rid)"), ("sid", sid), ("to", domain), ("xml:lang", lang), ("xmpp:restart", "true")], [])
    }

    /// Ends the session (XEP-0124 §13), with last stanzas (typically unavailable presence).
    public static func terminate(rid: Int64, sid: String, stanzas: [XMLElement] = []) -> String {
        body([("rid", "\(rid)"), ("sid", sid), ("type", "terminate")], stanzas)
    }

    private static func body(_ attributes: [(String, String)], _ stanzas: [XMLElement]) -> String {
        var out = "<body"
        for (name, value) in attributes {
            out += " \(name)='"
            XMLEscaping.escapeAttribute(value, into: &out)
            out += "'"
        }
        out += " xmlns='\(namespace)' xmlns:xmpp='\(xmppNamespace)'"
        if stanzas.isEmpty { return out + "/>" }
        out += ">"
        // Written as children of the body: each stanza says xmlns='jabber:client' (XEP-0206 §8).
        for s in stanzas { s.write(into: &out, parentNamespace: namespace) }
        return out + "</body>"
    }

    /// Reads a response body. Stanzas the manager left in the body's namespace are put in
    /// `jabber:client`, where XEP-0206 §8 says they belong.
    public static func parse(_ bytes: [UInt8], limits: XMLStreamLimits = .default) throws(BOSHError) -> BOSHResponse {
        let e: XMLElement
        do throws(XMLStreamError) {
            e = try XMLDocument.parse(bytes, limits: limits)
        } catch {
            throw BOSHError(.malformedBody, "the response body is not one well-formed element: \(error.detail)")
        }
        guard e.name == "body", e.namespace == namespace else {
            throw BOSHError(.malformedBody, "the response is <\(HTTPText.printable(e.name.utf8))/> in '\(HTTPText.printable(e.namespace.utf8))', not a BOSH <body/>")
        }
        var r = BOSHResponse()
        func number(_ name: String) throws(BOSHError) -> Int64? {
            guard let v = e[attribute: name] else { return nil }
            guard !v.isEmpty, v.utf8.count <= 16, v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int64(v) else {
                throw BOSHError(.malformedBody, "\(name)='\(HTTPText.printable(v.utf8))' is not a number")
            }
            return n
        }
        r.sid = e[attribute: "sid"]
        r.wait = try number("wait").map { Int($0) }
        r.requests = try number("requests").map { Int($0) }
        r.hold = try number("hold").map { Int($0) }
        r.inactivity = try number("inactivity").map { Int($0) }
        r.polling = try number("polling").map { Int($0) }
        r.maxpause = try number("maxpause").map { Int($0) }
        r.ack = try number("ack")
        r.report = try number("report")
        r.time = try number("time").map { Int($0) }
        r.ver = e[attribute: "ver"]
        r.from = e[attribute: "from"]
        r.xmppVersion = e.attributes.first { $0.name == "version" && $0.namespace == xmppNamespace }?.value
        r.restartLogic = e.attributes.first { $0.name == "restartlogic" && $0.namespace == xmppNamespace }?.value == "true"
        switch e[attribute: "type"] {
        case nil: break
        case "terminate":
            // Without a condition the session simply ended: the server closed the stream (XEP-0206).
            r.termination = BOSHTermination(condition: e[attribute: "condition"] ?? "", seeOtherURI: e.child("uri")?.text)
        case "error":  // the legacy HTTP-error form (XEP-0124 §17.2)
            r.termination = BOSHTermination(condition: e[attribute: "condition"] ?? "undefined-condition", seeOtherURI: nil)
        case let other?:
            throw BOSHError(.malformedBody, "type='\(HTTPText.printable(other.utf8))' (only terminate is defined)")
        }
        for child in e.elements where !(child.name == "uri" && child.namespace == namespace) {
            r.stanzas.append(inClientNamespace(child))
        }
        return r
    }

    private static func inClientNamespace(_ e: XMLElement) -> XMLElement {
        guard e.namespace == namespace else { return e }
        var c = e
        c.namespace = XMPPNamespace.client
        c.children = e.children.map { node in
            if case .element(let child) = node { return .element(inClientNamespace(child)) }
            return node
        }
        return c
    }
}

/// The attributes and payload of a connection manager's `<body/>`.
public struct BOSHResponse: Sendable, Hashable {
    public var sid: String?
    public var wait: Int?
    public var requests: Int?
    public var hold: Int?
    public var inactivity: Int?
    public var polling: Int?
    public var maxpause: Int?
    /// In the creation response: the manager acknowledges requests (§9.1); later, the highest rid it received.
    public var ack: Int64?
    /// The manager reports the response to this rid as not acknowledged (§9.2): resend that request.
    public var report: Int64?
    public var time: Int?
    public var ver: String?
    public var from: String?
    public var xmppVersion: String?
    public var restartLogic = false
    /// Set when the manager ended the session.
    public var termination: BOSHTermination?
    /// The stanzas (and stream features, stream errors) carried, in order.
    public var stanzas: [XMLElement] = []

    public init() {}
}

/// The manager ended the session: its condition (XEP-0124 §17.2) and, for see-other-uri, where to go.
public struct BOSHTermination: Sendable, Hashable, CustomStringConvertible {
    /// Empty for a plain `type='terminate'`: the stream's normal end, not an error.
    public var condition: String
    public var seeOtherURI: String?

    public init(condition: String, seeOtherURI: String?) {
        self.condition = condition
        self.seeOtherURI = seeOtherURI
    }

    public var description: String {
        let c = condition.isEmpty ? "ended (no condition)" : HTTPText.printable(condition.utf8)
        return seeOtherURI.map { "\(c) (go to \(HTTPText.printable($0.utf8, limit: 200)))" } ?? c
    }
}

/// Why a BOSH session cannot go on.
public struct BOSHError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case malformedBody = "malformed response body"
        case httpStatus = "HTTP error"
        case terminated = "session terminated by the connection manager"
        case sessionLost = "responses lost"
        case unexpected = "unexpected response"
    }

    public let kind: Kind
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "BOSH \(kind.rawValue): \(detail)" }
}
