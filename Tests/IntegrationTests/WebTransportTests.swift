import Foundation
import Testing
import XMPPAddress
import XMPPClient
import XMPPCore

/// The board over XMPP over WebSocket (RFC 7395), against the servers scripts/integration/run
/// started with their HTTP endpoints: Prosody's mod_websocket on https://localhost:15225/xmpp-websocket
/// (http on 15224), ejabberd's ejabberd_http_ws on https://localhost:15235/ws (http on 15234). The
/// peers log in over TCP as usual: what crosses between them and the board is the server's routing.
@Suite(.serialized, .enabled(if: IT.anyServer, "needs the servers (scripts/integration/run)"))
struct WebTransportTests {
    /// One server's web endpoint for one transport.
    struct Endpoint: Sendable, CustomTestStringConvertible {
        let server: ITServer
        let transport: String
        /// The HTTP port; HTTPS is the next.
        let httpPort: Int
        let path: String
        /// The mechanism the board ends up with over HTTPS (Prosody binds SCRAM to the TLS session of
        /// the HTTP connection; ejabberd offers no -PLUS there).
        let mechanism: String
        var testDescription: String { "\(server.name) \(transport)" }
        func url(secure: Bool = true, port: Int? = nil) -> String {
            "\(transport == "websocket" ? (secure ? "wss" : "ws") : (secure ? "https" : "http"))://localhost:\(port ?? (secure ? httpPort + 1 : httpPort))\(path)"
        }
    }

    static var websocket: [Endpoint] {
        (IT.prosody ? [Endpoint(server: .prosody, transport: "websocket", httpPort: 15224, path: "/xmpp-websocket", mechanism: "SCRAM-SHA-1-PLUS")] : [])
            + (IT.ejabberd ? [Endpoint(server: .ejabberd, transport: "websocket", httpPort: 15234, path: "/ws", mechanism: "SCRAM-SHA-1")] : [])
    }

    static var bosh: [Endpoint] {
        (IT.prosody ? [Endpoint(server: .prosody, transport: "bosh", httpPort: 15224, path: "/http-bind", mechanism: "SCRAM-SHA-1")] : [])
            + (IT.ejabberd ? [Endpoint(server: .ejabberd, transport: "bosh", httpPort: 15234, path: "/bosh", mechanism: "SCRAM-SHA-1")] : [])
    }

    static var all: [Endpoint] { websocket + bosh }

    static func node(_ e: Endpoint) -> String { "testbed/\(e.transport)" }

    func config(_ e: Endpoint, url: String, telemetry: Bool = false, extra: String = "") -> String {
        let d = e.server.domain
        return """
        [account]
        jid = "perch@\(d)/board"
        password_file = "@DIR@/password"
        [server]
        transport = "\(e.transport)"
        url = "\(url)"
        ca_file = "\(IT.caFile)"
        \(extra)
        [access]
        owners = ["peer@\(d)"]
        [connection]
        ping_interval = "10s"
        ping_timeout = "5s"
        connect_timeout = "5s"
        reconnect_max = "10s"
        [telemetry]
        min_interval = "1s"
        \(telemetry ? "pubsub = \"service\"\nservice = \"pubsub.\(d)\"\nnode = \"\(Self.node(e))\"\naccess_model = \"open\"" : "")
        [device]
        name = "testbed"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        [[output]]
        name = "pump"
        line = "pump"
        [[sensor]]
        name = "tank"
        source = "file"
        path = "@DIR@/tank"
        interval = "1s"
        """
    }

    func start(_ config: String) throws -> DaemonProcess {
        try DaemonProcess(config: config, password: "perch-secret", setup: { dir in
            try "20\n".write(toFile: "\(dir)/tank", atomically: true, encoding: .utf8)
        })
    }

    func fields(_ e: XMLElement) -> [(String, String)] {
        var out: [(String, String)] = []
        func walk(_ e: XMLElement) {
            if e.name == "numeric" || e.name == "boolean", let n = e[attribute: "name"], let v = e[attribute: "value"] { out.append((n, v)) }
            for c in e.elements { walk(c) }
        }
        walk(e)
        return out
    }

    /// Login (SCRAM, -PLUS where offered), chat, XEP-0325 control and pubsub items, all over the web transport.
    @Test(arguments: all)
    func theBoardWorksOverIt(_ e: Endpoint) throws {
        let daemon = try start(config(e, url: e.url(), telemetry: true))
        let board = "perch@\(e.server.domain)/board"
        #expect(daemon.waitFor("online as \(board)"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("connecting to \(e.url())"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("(\(e.mechanism), TLS, stream management)"), "log:\n\(daemon.log)")
        let owner = try Peer.connected("peer", e.server)
        #expect(try owner.say("pump on", to: board) == "pump on", "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("pump") == "1")
        owner.idle(200)  // min_switch_interval
        let control = "urn:xmpp:iot:control"
        let set = try owner.ask(board, XMLElement("set", namespace: control, children: [.element(XMLElement("boolean", namespace: control, attrs: ["name": "pump", "value": "false"]))]), type: "set")
        #expect(try set?.get().child("setResponse", namespace: control) != nil, "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("pump") == "0")
        // A reading reaches the node.
        #expect(daemon.waitFor("pubsub node \(Self.node(e))", timeout: 10) || daemon.log.contains("created pubsub node"), "log:\n\(daemon.log)")
        try "25\n".write(toFile: "\(daemon.dir)/tank", atomically: true, encoding: .utf8)
        let query = XMLElement("pubsub", namespace: "http://jabber.org/protocol/pubsub", children: [.element(XMLElement("items", namespace: "http://jabber.org/protocol/pubsub", attrs: ["node": Self.node(e)]))])
        var published = false
        for _ in 0..<40 where !published {
            owner.idle(250)
            if case .success(let iq)? = try owner.ask("pubsub.\(e.server.domain)", query) { published = fields(iq).contains { $0 == ("tank", "25") } }
        }
        #expect(published, "the reading is on the node; log:\n\(daemon.log)")
        owner.disconnect()
        #expect(daemon.terminate() == 0)
        #expect(daemon.log.contains("stream closed; exiting"), "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("perch-secret"))
    }

    /// The connection cut under the board (the server keeps the session). Over WebSocket the board
    /// resumes the XMPP session on a new connection; over BOSH the BOSH session itself outlives the
    /// cut (the lost request is sent again, with the same rid, once the network is back). Killed and
    /// started again, the board resumes the session from the saved state — except Prosody 0.12 over
    /// BOSH, which takes <resume/> from a new BOSH session and never answers it (mod_smacks hands the
    /// answer to the old BOSH session): there the board gives up on resuming after two attempts and
    /// starts a new session.
    @Test(arguments: all)
    func theSessionResumesAfterACutAndAcrossARestart(_ e: Endpoint) throws {
        let relay = 15395 + (e.server.name == "Prosody" ? 0 : 1) + (e.transport == "bosh" ? 2 : 0)
        let proxy = try TCPProxy(port: relay, target: e.httpPort + 1)
        defer { proxy.stop() }
        let daemon = try start(config(e, url: e.url(port: relay)))
        let board = "perch@\(e.server.domain)/board"
        #expect(daemon.waitFor("online as \(board)"), "log:\n\(daemon.log)")
        let owner = try Peer.connected("peer", e.server)
        proxy.cut(for: 1)
        if e.transport == "websocket" {
            #expect(daemon.waitFor("resumed as \(board)", timeout: 30), "log:\n\(daemon.log)")
        } else {
            #expect(daemon.waitFor("sending it again in", timeout: 30), "log:\n\(daemon.log)")
        }
        #expect(try owner.say("pump on", to: board, timeout: 30_000) == "pump on", "log:\n\(daemon.log)")
        if e.transport == "bosh" {
            #expect(!daemon.log.contains("resumed as") && daemon.log.components(separatedBy: "online as").count == 2, "the BOSH session outlived the cut; log:\n\(daemon.log)")
        }
        daemon.crash()
        try daemon.restart()
        if e.transport == "bosh" && e.server.name == "Prosody" {
            #expect(daemon.waitFor("did not answer the request to resume the session, twice", timeout: 60), "log:\n\(daemon.log)")
            #expect(daemon.waitFor("online as \(board)", count: 2, timeout: 30), "log:\n\(daemon.log)")
            owner.idle(1000)
        } else {
            #expect(daemon.waitFor("resumed as \(board)", count: e.transport == "websocket" ? 2 : 1, timeout: 30), "log:\n\(daemon.log)")
        }
        // The output starts in its safe state after the crash; the answer comes over the resumed session.
        #expect(try owner.say("status", to: board)?.contains("pump off") == true, "log:\n\(daemon.log)")
        owner.disconnect()
        #expect(daemon.terminate() == 0)
    }

    /// ws:// and http:// are accepted to the loopback interface (the test servers count their plain
    /// HTTP as secure).
    @Test(arguments: all)
    func plainWebSocketToLoopback(_ e: Endpoint) throws {
        let daemon = try start(config(e, url: e.url(secure: false)))
        #expect(daemon.waitFor("online as perch@\(e.server.domain)/board"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("connecting to \(e.url(secure: false))"))
        #expect(daemon.terminate() == 0)
    }

    /// What goes wrong says what to do: a wrong path (the server's 404), a certificate from another CA.
    @Test(arguments: all)
    func refusalsSayWhy(_ e: Endpoint) throws {
        let wrongPath = try start(config(e, url: e.url().replacingOccurrences(of: e.path, with: "/nowhere")))
        #expect(wrongPath.waitFor(e.transport == "websocket" ? "instead of 101 Switching Protocols" : "the connection manager answered 404"), "log:\n\(wrongPath.log)")
        #expect(wrongPath.log.contains("404"), "log:\n\(wrongPath.log)")
        #expect(!wrongPath.log.contains("online as"))
        #expect(wrongPath.terminate() == 0)

        let untrusted = try start(config(e, url: e.url()).replacingOccurrences(of: IT.caFile, with: IT.otherCAFile))
        #expect(untrusted.waitFor("certificate is not trusted"), "log:\n\(untrusted.log)")
        #expect(!untrusted.log.contains("online as"))
        #expect(untrusted.terminate() == 0)
    }
}
