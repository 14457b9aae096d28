import Testing
import PerchConfig
import PerchHTTP

/// `server.transport = "websocket" | "bosh"` with `server.url` and `server.bosh_wait`: the URL's
/// scheme must fit the transport, plaintext only to loopback, and no host/port beside it.
@Suite struct WebTransportConfigurationTests {
    func parse(_ server: String) throws -> Configuration {
        try ConfigurationLoader(file: "perch.toml", environment: ["PERCH_PASSWORD": "x"]).parse("[account]\njid = \"a@b\"\n[server]\n" + server)
    }

    func error(_ server: String) -> String {
        do {
            _ = try parse(server)
            return "no error"
        } catch { return "\(error)" }
    }

    @Test func webSocketAndBOSHEndpoints() throws {
        let ws = try parse("transport = \"websocket\"\nurl = \"wss://xmpp.example.org/xmpp-websocket\"")
        #expect(ws.server.transport == .websocket)
        #expect(ws.server.url == WebURL(scheme: .wss, host: "xmpp.example.org", port: 443, target: "/xmpp-websocket"))
        let bosh = try parse("transport = \"bosh\"\nurl = \"https://xmpp.example.org:5281/http-bind\"\nbosh_wait = 30")
        #expect(bosh.server.url?.port == 5281 && bosh.server.boshWait == 30)
        #expect(try parse("transport = \"bosh\"\nurl = \"https://x.example/bosh\"").server.boshWait == 60)
        // Plaintext to loopback only, as transport = "plain".
        #expect(try parse("transport = \"websocket\"\nurl = \"ws://127.0.0.1:5280/ws\"").server.url?.scheme == .ws)
        #expect(try parse("transport = \"bosh\"\nurl = \"http://localhost:5280/bosh\"").server.url?.scheme == .http)
        // Without url: XEP-0156 at run time.
        #expect(try parse("transport = \"websocket\"").server.url == nil)
    }

    @Test(arguments: [
        ("transport = \"websocket\"\nurl = \"https://x.example/ws\"", "perch.toml:5: server.url: transport = \"websocket\" needs a wss:// URL"),
        ("transport = \"bosh\"\nurl = \"wss://x.example/ws\"", "perch.toml:5: server.url: transport = \"bosh\" needs an https:// URL"),
        ("transport = \"websocket\"\nurl = \"ws://x.example/ws\"", "perch.toml:5: server.url: ws:// sends the password unencrypted"),
        ("transport = \"bosh\"\nurl = \"http://10.0.0.1/bosh\"", "perch.toml:5: server.url: http:// sends the password unencrypted"),
        ("url = \"wss://x.example/ws\"", "perch.toml:4: server.url: is the endpoint of transport = \"websocket\" or \"bosh\""),
        ("transport = \"starttls\"\nurl = \"wss://x.example/ws\"", "perch.toml:5: server.url: is the endpoint of"),
        ("transport = \"websocket\"\nhost = \"x.example\"\nurl = \"wss://x.example/ws\"", "perch.toml:6: server.url: names the host and port itself"),
        ("transport = \"websocket\"\nurl = \"wss://user:pw@x.example/ws\"", "perch.toml:5: server.url: "),
        ("transport = \"websocket\"\nurl = \"wss://x.example/ws\"\nbosh_wait = 30", "perch.toml:6: server.bosh_wait: is for transport = \"bosh\""),
        ("transport = \"bosh\"\nurl = \"https://x.example/b\"\nbosh_wait = 3", "perch.toml:6: server.bosh_wait: must be between 5 and 300"),
        ("transport = \"xmpp-over-pigeon\"", "perch.toml:4: server.transport: must be \"starttls\", \"directtls\", \"plain\", \"websocket\" or \"bosh\""),
    ])
    func mistakes(_ text: String, _ expected: String) {
        let message = error(text)
        #expect(message.hasPrefix(expected), "got: \(message)")
        #expect(!message.contains("pw@"), "no credentials repeated: \(message)")
    }
}
