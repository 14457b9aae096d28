import Testing
import XMPPCore
import XMPPXML
@testable import PerchHTTP

@Suite struct HostMetaTests {
    @Test func documentsAreFetchedOverHTTPSFromTheDomain() throws {
        let (xrd, json) = try HostMeta.urls(for: "Example.org")
        #expect(xrd.description == "https://example.org:443/.well-known/host-meta")
        #expect(json.target == "/.well-known/host-meta.json" && json.scheme == .https)
        for bad in ["example.org/x", "example.org:80", "", "a b", "user@example.org"] {
            #expect(throws: WebURLError.self, "\(bad)") { try HostMeta.urls(for: bad) }
        }
    }

    @Test func readsXRD() throws {
        let xrd = """
            <?xml version='1.0' encoding='utf-8'?>
            <XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>
              <Link rel="urn:xmpp:alt-connections:xbosh" href="https://web.example.com:5280/bosh" />
              <Link rel="urn:xmpp:alt-connections:websocket" href="wss://web.example.com:443/ws" />
              <Link rel="lrdd" href="https://example.com/x"/>
            </XRD>
            """
        let links = try HostMeta.parseXRD(Array(xrd.utf8))
        #expect(links.count == 3)
        let e = HostMeta.endpoints(links)
        #expect(e.websocket.map(\.description) == ["wss://web.example.com:443/ws"])
        #expect(e.bosh.map(\.description) == ["https://web.example.com:5280/bosh"])
    }

    @Test func readsJSON() throws {
        let json = """
            {"links": [
              {"rel": "urn:xmpp:alt-connections:xbosh", "href": "https://web.example.com:5280/bosh"},
              {"rel": "urn:xmpp:alt-connections:websocket", "href": "wss:\\/\\/web.example.com\\u003a443/ws"},
              {"rel": "other", "href": 5}, 7
            ], "extra": [true, false, null, -1.5e3, {"\\ud83d\\ude00": ""}]}
            """
        let e = HostMeta.endpoints(try HostMeta.parseJSON(Array(json.utf8)))
        #expect(e.websocket.map(\.description) == ["wss://web.example.com:443/ws"])
        #expect(e.bosh.count == 1)
    }

    @Test func plainTextOnlyOnLoopback() throws {
        let links = [
            HostMeta.Link(rel: HostMeta.websocketRel, href: "ws://example.com/ws"),
            HostMeta.Link(rel: HostMeta.websocketRel, href: "ws://127.0.0.1:5280/ws"),
            HostMeta.Link(rel: HostMeta.boshRel, href: "http://[::1]:5280/bosh"),
            HostMeta.Link(rel: HostMeta.boshRel, href: "http://example.com/bosh"),
            HostMeta.Link(rel: HostMeta.boshRel, href: "wss://example.com/bosh"),
            HostMeta.Link(rel: HostMeta.websocketRel, href: "wss://u:p@example.com/ws"),
        ]
        let e = HostMeta.endpoints(links)
        #expect(e.websocket.map(\.host) == ["127.0.0.1"])
        #expect(e.bosh.map(\.host) == ["::1"])
        #expect(e.skipped.count == 4)
        let strict = HostMeta.endpoints(links, allowLoopbackPlaintext: false)
        #expect(strict.websocket.isEmpty && strict.bosh.isEmpty)
    }

    @Test func refusals() {
        for bad in ["<html/>", "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>", "<!DOCTYPE x><XRD/>", "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'><!-- c --></XRD>"] {
            #expect(throws: HostMeta.ParseError.self, "\(bad)") { try HostMeta.parseXRD(Array(bad.utf8)) }
        }
        for bad in ["[]", "{\"links\": {}}", "{", ""] {
            #expect(throws: HostMeta.ParseError.self, "\(bad)") { try HostMeta.parseJSON(Array(bad.utf8)) }
        }
    }
}

@Suite struct JSONReaderTests {
    @Test func values() throws {
        let v = try JSONReader().parse(Array(#" {"a": [1, -0.5, 2E+3, "x\n\"\u00e9\ud83d\ude00", true, false, null], "a": {}} "#.utf8))
        #expect(v["a"] == .object([]))
        guard case .object(let m) = v, case .array(let items) = m[0].1 else { Issue.record("\(v)"); return }
        #expect(items == [.number("1"), .number("-0.5"), .number("2E+3"), .string("x\n\"é😀"), .bool(true), .bool(false), .null])
    }

    @Test func refusalsSayWhere() {
        let cases: [(String, Int)] = [
            ("", 0), ("{", 1), ("[1,]", 3), ("{\"a\" 1}", 5), ("01", 1), ("1.", 2), ("-", 1), ("\"abc", 0), ("\"\\x\"", 2),
            ("\"\\ud800\"", 1), ("\"\\udc00\"", 1), ("\"a\u{1}\"", 2), ("tru", 0), ("[1] 2", 4), ("{\"a\":1,}", 7), ("\"\\u12\"", 3),
        ]
        for (text, offset) in cases {
            do {
                _ = try JSONReader().parse(Array(text.utf8))
                Issue.record("accepted \(text.debugDescription)")
            } catch {
                #expect(error.offset == offset, "\(text.debugDescription): \(error)")
            }
        }
        #expect(throws: JSONError.self) { try JSONReader().parse([0x22, 0xFF, 0x22]) }
    }

    @Test func boundedDepthAndSize() {
        #expect(throws: JSONError.self) { try JSONReader().parse(Array((String(repeating: "[", count: 17) + String(repeating: "]", count: 17)).utf8)) }
        #expect((try? JSONReader().parse(Array((String(repeating: "[", count: 16) + String(repeating: "]", count: 16)).utf8))) != nil)
        #expect(throws: JSONError.self) { try JSONReader(maxBytes: 10).parse(Array("[1,2,3,4,5,6]".utf8)) }
        // Deep nesting far past the limit is refused, not a stack overflow.
        #expect(throws: JSONError.self) { try JSONReader().parse(Array(repeating: UInt8(ascii: "["), count: 60000)) }
    }
}

@Suite struct ConnectProxyTests {
    @Test func theRequestWithCredentials() throws {
        let p = ConnectProxy(host: "xmpp.example.org", port: 5223, credentials: ProxyCredentials(user: "dev", password: "s3cret"))
        let text = String(decoding: try p.request.serialized(), as: UTF8.self)
        #expect(text == "CONNECT xmpp.example.org:5223 HTTP/1.1\r\nHost: xmpp.example.org:5223\r\nProxy-Authorization: Basic ZGV2OnMzY3JldA==\r\n\r\n")
        for shown in [p.request.description, String(reflecting: p.request), "\(ProxyCredentials(user: "dev", password: "s3cret"))", String(reflecting: p)] {
            #expect(!shown.containsText("ZGV2OnMzY3JldA") && !shown.containsText("s3cret"), "\(shown)")
        }
        let v6 = ConnectProxy(host: "2001:db8::1", port: 443)
        #expect(v6.request.target == "[2001:db8::1]:443")
        #expect(v6.request.headers["Proxy-Authorization"] == nil)
    }

    @Test func theTunnelOpensOn200AndKeepsWhatFollows() throws {
        var p = ConnectProxy(host: "x", port: 443)
        #expect(try p.receive(Array("HTTP/1.1 200 Connection".utf8)) == nil)
        #expect(try p.receive(Array(" established\r\nProxy-Agent: t\r\n\r\n\u{16}".utf8)) == [0x16])
    }

    @Test func refusalsNameTheStatusAndReason() {
        let cases: [(String, Int, String)] = [
            ("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"p\"\r\n\r\n", 407, "credentials"),
            ("HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\n", 403, "policy"),
            ("HTTP/1.0 502 Bad Gateway\r\n\r\n", 502, "could not reach"),
            ("HTTP/1.1 418 I'm a teapot\r\n\r\n", 418, "teapot"),
        ]
        for (text, status, word) in cases {
            var p = ConnectProxy(host: "x", port: 443)
            do {
                _ = try p.receive(Array(text.utf8))
                Issue.record("accepted \(status)")
            } catch {
                #expect(error.status == status)
                #expect(error.description.containsText("\(status)") && error.description.containsText(word), "\(error)")
            }
        }
        var p = ConnectProxy(host: "x", port: 443)
        do {
            _ = try p.receive(Array("SSH-2.0\r\n\r\n".utf8))
            Issue.record("accepted")
        } catch { #expect(error.status == 0 && error.description.containsText("not HTTP")) }
    }
}

@Suite struct XMPPFramingTests {
    @Test func openAndClose() throws {
        let open = try XMLElement.parse(XMPPFraming.open(to: "example.org", lang: "en"))
        #expect(open.name == "open" && open.namespace == XMPPFraming.namespace && open[attribute: "to"] == "example.org" && open[attribute: "version"] == "1.0" && open.lang == "en")
        #expect(XMPPFraming.open(to: "a'b").containsText("to='a&apos;b'"))
        #expect(try XMLElement.parse(XMPPFraming.close).name == "close")
    }

    @Test func readsTheServersMessages() throws {
        let o = try XMPPFraming.parse("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='example.org' id='++TR84Sm6A3hnt3Q065SnAbbk3Y=' xml:lang='en' version='1.0'/>")
        #expect(o == .open(StreamOpen(id: "++TR84Sm6A3hnt3Q065SnAbbk3Y=", from: "example.org", version: "1.0", lang: "en", contentNamespace: XMPPNamespace.client)))
        #expect(try XMPPFraming.parse("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing' see-other-uri='wss://otherendpoint.example/'/>") == .close(seeOtherURI: "wss://otherendpoint.example/"))
        #expect(try XMPPFraming.parse("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>") == .close(seeOtherURI: nil))
        guard case .element(let f) = try XMPPFraming.parse("<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>") else { Issue.record("no element"); return }
        #expect(f.name == "features")
        guard case .element(let m) = try XMPPFraming.parse("<message xmlns='jabber:client' to='a@b'/>") else { Issue.record("no element"); return }
        #expect(m.namespace == XMPPNamespace.client)
    }

    @Test func refusals() {
        for bad in [
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' version='0.9'/>", "<other xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
            "<message/><message/>", "<message>", "", "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>",
        ] {
            #expect(throws: (any Error).self, "\(bad)") { try XMPPFraming.parse(bad) }
        }
    }
}
