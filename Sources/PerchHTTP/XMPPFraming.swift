public import XMPPCore
public import XMPPXML

/// RFC 7395 framing: over WebSocket each message is one complete element, and the stream header and
/// its end are the `<open/>` and `<close/>` elements of `urn:ietf:params:xml:ns:xmpp-framing`.
public enum XMPPFraming {
    public static let namespace = "urn:ietf:params:xml:ns:xmpp-framing"

    /// What one server message is.
    public enum Message: Sendable, Hashable {
        /// The server's `<open/>` (RFC 7395 §3.3.2), its attributes as a stream header's.
        case open(StreamOpen)
        /// `<close/>`; with `see-other-uri` the server redirects the client there (§3.6.1).
        case close(seeOtherURI: String?)
        /// Any other element: a stanza or a negotiation element, as the stream parser would give it.
        case element(XMLElement)
    }

    /// The client's `<open/>`, sent first and again at the stream restart after SASL success (TLS is
    /// the WebSocket connection's, so there is no STARTTLS restart).
    public static func open(to domain: String, lang: String? = nil) -> String {
        var e = XMLElement("open", namespace: namespace, attrs: ["to": domain, "version": "1.0"])
        if let lang { e.attributes.append(XMLAttribute("lang", lang, namespace: XMPPNamespace.xml)) }
        return e.serialized(parentNamespace: "")
    }

    /// The client's `<close/>`, which ends the stream; the server answers with its own.
    public static let close = "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"

    /// Reads one text message from the server.
    public static func parse(_ message: String, limits: XMLStreamLimits = .default) throws(XMLStreamError) -> Message {
        let e = try XMLDocument.parse(Array(message.utf8), limits: limits)
        if e.namespace == namespace {
            switch e.name {
            case "open":
                guard e[attribute: "version"] == "1.0" else {
                    throw XMLStreamError(.unsupportedVersion, "the server's <open/> has version \(e[attribute: "version"].map { "'\($0)'" } ?? "absent"), not 1.0")
                }
                return .open(StreamOpen(id: e[attribute: "id"], from: e[attribute: "from"], to: e[attribute: "to"], version: e[attribute: "version"], lang: e.lang, contentNamespace: XMPPNamespace.client))
            case "close":
                return .close(seeOtherURI: e[attribute: "see-other-uri"])
            default:
                throw XMLStreamError(.badFormat, "<\(e.name)/> in the framing namespace (only open and close are defined)")
            }
        }
        if e.namespace == XMPPNamespace.stream && e.name == "stream" {
            throw XMLStreamError(.invalidNamespace, "a <stream:stream> header over WebSocket (RFC 7395 uses <open/>)")
        }
        return .element(e)
    }

    // MARK: - Scanning a message before it is parsed

    public static func isXMLSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    /// Whether a message is exactly one element, with only whitespace (and an XML declaration) around
    /// it, by a scan of its markup. The parser cannot tell: libxml2's push parser holds back a tag
    /// that a message cuts short, so its depth after a message looks the same for half an element as
    /// for a whole one, and the halves of two messages would be joined; two elements in one message
    /// would both be delivered. Tags, quoted attribute values (which may hold `>`), comments,
    /// processing instructions and CDATA sections are stepped over; anything else the stream parser
    /// refuses later.
    public static func holdsOneElement(_ u: [UInt8]) -> Bool {
        let n = u.count
        var i = 0
        var depth = 0
        var elements = 0
        func starts(_ s: StaticString, at i: Int) -> Bool {
            let p = s.utf8Start, k = s.utf8CodeUnitCount
            guard i + k <= n else { return false }
            for j in 0..<k where u[i + j] != p[j] { return false }
            return true
        }
        /// The index just past `end` from `i` on, or nil.
        func skip(to end: StaticString, from i: Int) -> Int? {
            var j = i
            while j < n {
                if starts(end, at: j) { return j + end.utf8CodeUnitCount }
                j += 1
            }
            return nil
        }
        while i < n {
            let b = u[i]
            guard b == UInt8(ascii: "<") else {
                // Outside the element only whitespace; inside it, any text.
                if depth == 0 && !isXMLSpace(b) { return false }
                i += 1
                continue
            }
            if starts("<?", at: i) {
                guard let j = skip(to: "?>", from: i + 2) else { return false }
                i = j
            } else if starts("<!--", at: i) {
                guard let j = skip(to: "-->", from: i + 4) else { return false }
                i = j
            } else if starts("<![CDATA[", at: i) {
                guard depth > 0, let j = skip(to: "]]>", from: i + 9) else { return false }
                i = j
            } else if starts("<!", at: i) {
                return false  // a DTD
            } else if starts("</", at: i) {
                guard depth > 0, let j = skip(to: ">", from: i + 2) else { return false }
                depth -= 1
                if depth == 0 { elements += 1 }
                i = j
            } else {
                // A start tag: a second element at the top level is refused.
                if depth == 0 && elements > 0 { return false }
                var j = i + 1
                var quote: UInt8 = 0
                while j < n {
                    let c = u[j]
                    if quote != 0 {
                        if c == quote { quote = 0 }
                    } else if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                        quote = c
                    } else if c == UInt8(ascii: ">") {
                        break
                    }
                    j += 1
                }
                guard j < n else { return false }
                if u[j - 1] == UInt8(ascii: "/") {
                    if depth == 0 { elements += 1 }
                } else {
                    depth += 1
                }
                i = j + 1
            }
        }
        return depth == 0 && elements == 1
    }

    /// The local name of a message's element when it is `open` or `close` (the framing's own),
    /// `stream:stream` (refused by the parse that follows), else nil.
    public static func framingElement(_ text: String) -> String? {
        var u = Substring(text).utf8.drop(while: isXMLSpace)
        if u.starts(with: "<?xml".utf8) {
            guard let end = u.firstIndex(of: UInt8(ascii: ">")) else { return nil }
            u = u[u.index(after: end)...].drop(while: isXMLSpace)
        }
        guard u.first == UInt8(ascii: "<") else { return nil }
        let name = u.dropFirst().prefix { !isXMLSpace($0) && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: ">") }
        let s = String(decoding: name, as: UTF8.self)
        return s == "open" || s == "close" || s == "stream:stream" ? s : nil
    }
}
