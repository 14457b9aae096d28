import XMPPCore
public import XMPPXML

/// XEP-0156 discovery of the server's WebSocket and BOSH endpoints from
/// `https://<domain>/.well-known/host-meta` (an XRD document) or `host-meta.json`.
public enum HostMeta {
    public static let websocketRel = "urn:xmpp:alt-connections:websocket"
    public static let boshRel = "urn:xmpp:alt-connections:xbosh"
    public static let xrdNamespace = "http://docs.oasis-open.org/ns/xri/xrd-1.0"

    /// Where to GET the documents: always over HTTPS (XEP-0156 §3), on the XMPP domain itself.
    /// Throws for a domain that is not a host name or address.
    public static func urls(for domain: String) throws(WebURLError) -> (xrd: WebURL, json: WebURL) {
        var xrd = try WebURL.parse("https://\(domain)/")
        guard xrd.port == 443, xrd.target == "/" else { throw WebURLError(domain, "not a plain domain name") }
        var json = xrd
        xrd.target = "/.well-known/host-meta"
        json.target = "/.well-known/host-meta.json"
        return (xrd, json)
    }

    public struct Link: Sendable, Hashable {
        public var rel: String
        public var href: String
        public init(rel: String, href: String) {
            self.rel = rel
            self.href = href
        }
    }

    /// The endpoints found, in document order, each a URL that was accepted.
    public struct Endpoints: Sendable, Hashable {
        public var websocket: [WebURL] = []
        public var bosh: [WebURL] = []
        /// Links of the two relations that were skipped, with why (for a log line).
        public var skipped: [(href: String, why: String)] = []

        public static func == (a: Endpoints, b: Endpoints) -> Bool {
            a.websocket == b.websocket && a.bosh == b.bosh && a.skipped.map(\.href) == b.skipped.map(\.href)
        }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(websocket)
            hasher.combine(bosh)
        }
    }

    /// Why a host-meta document could not be read.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public let detail: String
        public init(_ detail: String) { self.detail = detail }
        public var description: String { "host-meta: \(detail)" }
    }

    /// The `<Link rel=… href=…/>` elements of an XRD document.
    public static func parseXRD(_ bytes: [UInt8], limits: XMLStreamLimits = XMLStreamLimits(maxStanzaBytes: 64 * 1024, maxDepth: 8, maxAttributes: 16)) throws(ParseError) -> [Link] {
        let e: XMLElement
        do throws(XMLStreamError) {
            e = try XMLDocument.parse(bytes, limits: limits)
        } catch {
            throw ParseError("not a well-formed XRD document: \(error.detail)")
        }
        guard e.name == "XRD", e.namespace == xrdNamespace else {
            throw ParseError("the document is <\(HTTPText.printable(e.name.utf8))/> in '\(HTTPText.printable(e.namespace.utf8))', not an XRD")
        }
        return e.elements.compactMap { l in
            guard l.name == "Link", l.namespace == xrdNamespace, let rel = l[attribute: "rel"], let href = l[attribute: "href"] else { return nil }
            return Link(rel: rel, href: href)
        }
    }

    /// The `links` array of a host-meta.json document (RFC 6415 appendix A).
    public static func parseJSON(_ bytes: [UInt8]) throws(ParseError) -> [Link] {
        let doc: JSONValue
        do throws(JSONError) {
            doc = try JSONReader().parse(bytes)
        } catch {
            throw ParseError("not a JSON document: \(error)")
        }
        guard case .object = doc else { throw ParseError("the document is not a JSON object") }
        guard let links = doc["links"] else { return [] }
        guard let items = links.array else { throw ParseError("\"links\" is not an array") }
        return items.compactMap { item in
            guard let rel = item["rel"]?.string, let href = item["href"]?.string else { return nil }
            return Link(rel: rel, href: href)
        }
    }

    /// The WebSocket and BOSH endpoints among `links`: wss and https only, except plain ws and http on
    /// a loopback host (localhost, 127.0.0.0/8, ::1) when `allowLoopbackPlaintext` — a document fetched
    /// over the network can never make the client talk in clear.
    public static func endpoints(_ links: [Link], allowLoopbackPlaintext: Bool = true) -> Endpoints {
        var out = Endpoints()
        for link in links {
            let websocket = link.rel == websocketRel
            guard websocket || link.rel == boshRel else { continue }
            let url: WebURL
            do throws(WebURLError) {
                url = try WebURL.parse(link.href)
            } catch {
                out.skipped.append((link.href, error.detail))
                continue
            }
            let wanted: (secure: WebURL.Scheme, plain: WebURL.Scheme) = websocket ? (.wss, .ws) : (.https, .http)
            if url.scheme == wanted.secure || (url.scheme == wanted.plain && allowLoopbackPlaintext && url.isLoopback) {
                if websocket { out.websocket.append(url) } else { out.bosh.append(url) }
            } else if url.scheme == wanted.plain {
                out.skipped.append((link.href, "\(url.scheme.rawValue) is in clear; only \(wanted.secure.rawValue) is accepted for a host that is not loopback"))
            } else {
                out.skipped.append((link.href, "a \(url.scheme.rawValue) URL for \(websocket ? "WebSocket" : "BOSH")"))
            }
        }
        return out
    }
}
