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
    ///
    /// A body carries many stanzas, so the limits are those of the stream, as over TCP: each
    /// stanza is bounded by `limits` and one past them is skipped (``BOSHItem/skipped(_:)``, in its
    /// place among the others) for the client to count and answer; the body as a whole is bounded
    /// by the skip ceiling (twice `max_stanza_size`), as a WebSocket message is. The body's own tag
    /// is read as a document; its content goes through the stream parser.
    public static func parse(_ bytes: [UInt8], limits: XMLStreamLimits = .default) throws(BOSHError) -> BOSHResponse {
        guard bytes.count <= limits.skipCeiling else {
            throw BOSHError(.malformedBody, "a body of \(bytes.count) bytes (the limit is \(limits.skipCeiling), twice max_stanza_size)")
        }
        let e: XMLElement
        var items: [BOSHItem] = []
        var uri: String?
        do throws(XMLStreamError) {
            if let open = rootTag(bytes), !open.selfClosing {
                // `<body ...>` alone, closed: the attributes. The content, between it and the final
                // `</body>`, as the stanzas of a stream whose header declares the body's namespaces.
                e = try XMLDocument.parse(Array(bytes[..<open.end]) + Array("/>".utf8), limits: limits)
                guard let close = closingTag(bytes, after: open.end + 1, name: open.name) else {
                    throw XMLStreamError(.badFormat, "the body does not end with its closing tag")
                }
                var header = "<stream:stream"
                if !open.declarations.contains(where: { $0.hasPrefix("xmlns:stream=") }) { header += " xmlns:stream='\(XMPPNamespace.stream)'" }
                for d in open.declarations { header += " " + d }
                header += ">"
                let parser = XMLStreamParser(limits: limits)
                let events = try parser.feed(Array(header.utf8) + Array(bytes[(open.end + 1)..<close]) + Array("</stream:stream>".utf8))
                var ended = false
                for event in events {
                    switch event {
                    case .element(let child) where child.name == "uri" && child.namespace == namespace:
                        uri = child.text
                    case .element(let child):
                        items.append(.stanza(inClientNamespace(child)))
                    case .oversized(let o):
                        items.append(.skipped(o))
                    case .streamClosed:
                        ended = true
                    case .streamOpened:
                        break
                    }
                }
                guard ended else { throw XMLStreamError(.badFormat, "the body's content is cut short") }
            } else {
                e = try XMLDocument.parse(bytes, limits: limits)
                uri = e.child("uri")?.text
            }
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
            r.termination = BOSHTermination(condition: e[attribute: "condition"] ?? "", seeOtherURI: uri)
        case "error":  // the legacy HTTP-error form (XEP-0124 §17.2)
            r.termination = BOSHTermination(condition: e[attribute: "condition"] ?? "undefined-condition", seeOtherURI: nil)
        case let other?:
            throw BOSHError(.malformedBody, "type='\(HTTPText.printable(other.utf8))' (only terminate is defined)")
        }
        r.items = items
        return r
    }

    /// The root element's start tag: where its `>` is, its qualified name, whether it is `<.../>`,
    /// and its namespace declarations as written (`xmlns='...'`, `xmlns:p="..."`). Nil when the bytes
    /// do not start (after a BOM, whitespace and an XML declaration) with a complete start tag; the
    /// document parse then says what is wrong.
    private static func rootTag(_ u: [UInt8]) -> (end: Int, name: [UInt8], selfClosing: Bool, declarations: [String])? {
        func space(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
        var i = u.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while i < u.count, space(u[i]) { i += 1 }
        if u[i...].starts(with: Array("<?".utf8)) {
            while i + 1 < u.count, !(u[i] == UInt8(ascii: "?") && u[i + 1] == UInt8(ascii: ">")) { i += 1 }
            i += 2
            while i < u.count, space(u[i]) { i += 1 }
        }
        guard i < u.count, u[i] == UInt8(ascii: "<") else { return nil }
        var j = i + 1
        while j < u.count, !space(u[j]), u[j] != UInt8(ascii: ">"), u[j] != UInt8(ascii: "/") { j += 1 }
        let name = Array(u[(i + 1)..<j])
        guard !name.isEmpty, name.allSatisfy({ $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: "!") && $0 != UInt8(ascii: "?") }) else { return nil }
        var declarations: [String] = []
        while j < u.count {
            while j < u.count, space(u[j]) { j += 1 }
            guard j < u.count else { return nil }
            if u[j] == UInt8(ascii: ">") { return (j, name, false, declarations) }
            if u[j] == UInt8(ascii: "/") { return j + 1 < u.count && u[j + 1] == UInt8(ascii: ">") ? (j + 1, name, true, declarations) : nil }
            // name = 'value' (or "value")
            let a = j
            while j < u.count, !space(u[j]), u[j] != UInt8(ascii: "="), u[j] != UInt8(ascii: ">") { j += 1 }
            let attr = u[a..<j]
            while j < u.count, space(u[j]) { j += 1 }
            guard j < u.count, u[j] == UInt8(ascii: "=") else { return nil }
            j += 1
            while j < u.count, space(u[j]) { j += 1 }
            guard j < u.count, u[j] == UInt8(ascii: "'") || u[j] == UInt8(ascii: "\"") else { return nil }
            let quote = u[j]
            j += 1
            while j < u.count, u[j] != quote { j += 1 }
            guard j < u.count else { return nil }
            j += 1
            if attr.elementsEqual("xmlns".utf8) || attr.starts(with: "xmlns:".utf8) {
                declarations.append(String(decoding: u[a..<j], as: UTF8.self))
            }
        }
        return nil
    }

    /// Where the root's closing tag `</name>` begins, when it ends the bytes (whitespace after it allowed).
    private static func closingTag(_ u: [UInt8], after start: Int, name: [UInt8]) -> Int? {
        var end = u.count
        while end > start, u[end - 1] == 0x20 || u[end - 1] == 0x09 || u[end - 1] == 0x0A || u[end - 1] == 0x0D { end -= 1 }
        guard end > start, u[end - 1] == UInt8(ascii: ">") else { return nil }
        var inner = end - 1
        while inner > start, u[inner - 1] == 0x20 || u[inner - 1] == 0x09 || u[inner - 1] == 0x0A || u[inner - 1] == 0x0D { inner -= 1 }
        let at = inner - name.count - 2
        guard at >= start, u[at] == UInt8(ascii: "<"), u[at + 1] == UInt8(ascii: "/"), u[(at + 2)..<inner].elementsEqual(name) else { return nil }
        return at
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

/// One thing a body carries, in order: a stanza, or a stanza over the limits that was skipped.
public enum BOSHItem: Sendable, Hashable {
    case stanza(XMLElement)
    /// Over `max_stanza_size`, the depth or the attribute limit: nothing of it kept but what the
    /// client needs to count it, answer an iq request and say who sent it.
    case skipped(OversizedStanza)
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
    /// The stanzas (and stream features, stream errors) carried, and those skipped, in order.
    public var items: [BOSHItem] = []
    /// The stanzas carried, in order (without the skipped ones).
    public var stanzas: [XMLElement] { items.compactMap { if case .stanza(let s) = $0 { s } else { nil } } }

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
