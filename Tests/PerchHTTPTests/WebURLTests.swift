import Testing
@testable import PerchHTTP

@Suite struct WebURLTests {
    @Test func readsHostPortAndTarget() throws {
        let u = try WebURL.parse("wss://XMPP.Example.org/xmpp-websocket?x=1")
        #expect(u.scheme == .wss && u.host == "xmpp.example.org" && u.port == 443 && u.target == "/xmpp-websocket?x=1")
        #expect(u.hostField == "xmpp.example.org")
        let v = try WebURL.parse("http://127.0.0.1:5280")
        #expect(v.port == 5280 && v.target == "/" && v.hostField == "127.0.0.1:5280" && v.isLoopback)
        let w = try WebURL.parse("ws://[::1]:5280/ws")
        #expect(w.isIPv6Literal && w.host == "::1" && w.hostField == "[::1]:5280" && w.authority == "[::1]:5280" && w.isLoopback)
        let q = try WebURL.parse("https://example.org?q")
        #expect(q.target == "/?q" && !q.isLoopback)
        #expect(try WebURL.parse("https://127.0.0.1.example.org/").isLoopback == false)
    }

    @Test func refusals() {
        for bad in [
            "wss://user:pw@example.org/", "wss://user@example.org/", "ftp://example.org/", "example.org/ws", "wss://",
            "wss://example.org:0/", "wss://example.org:65536/", "wss://example.org:/", "wss://example.org:12a/",
            "wss://exa mple.org/", "wss://exämple.org/", "wss://ex%41mple.org/", "wss://[::1/", "wss://[fe80::1%eth0]/",
            "wss://[nothex]/", "wss://[::1]x/", "wss://example.org/#frag", "wss:example.org",
        ] {
            #expect(throws: WebURLError.self, "\(bad)") { try WebURL.parse(bad) }
        }
        do {
            _ = try WebURL.parse("wss://user:secret@example.org/")
        } catch {
            #expect(error.description.containsText("userinfo"))
        }
    }
}
