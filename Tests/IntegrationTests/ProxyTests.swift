import Foundation
import Testing
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore

/// Through a real HTTP proxy (Debian's tinyproxy, started here): the board logs in over a CONNECT
/// tunnel with STARTTLS and with direct TLS, with and without credentials, and a proxy's refusal is
/// said in the log with the proxy's own words.
@Suite(.serialized, .enabled(if: IT.anyServer && FileManager.default.isExecutableFile(atPath: "/usr/sbin/tinyproxy") || FileManager.default.isExecutableFile(atPath: "/usr/bin/tinyproxy"), "needs the servers (scripts/integration/run) and tinyproxy (scripts/install-deps test)"))
struct ProxyTests {
    static var servers: [ITServer] { (IT.prosody ? [ITServer.prosody] : []) + (IT.ejabberd ? [ITServer.ejabberd] : []) }

    /// A tinyproxy on `port` in the foreground; `extra` lines go into its configuration.
    final class Tinyproxy {
        let process = Process()
        let dir: String
        init(port: Int, extra: String) throws {
            dir = NSTemporaryDirectory() + "perch-proxy-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let user = getuid() == 0 ? "User nobody\nGroup nogroup\n" : ""
            try "\(user)Port \(port)\nListen 127.0.0.1\nTimeout 60\nLogLevel Info\nMaxClients 20\nAllow 127.0.0.1\n\(extra)\n".write(toFile: "\(dir)/tinyproxy.conf", atomically: true, encoding: .utf8)
            let binary = FileManager.default.isExecutableFile(atPath: "/usr/bin/tinyproxy") ? "/usr/bin/tinyproxy" : "/usr/sbin/tinyproxy"
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["-d", "-c", "\(dir)/tinyproxy.conf"]
            let log = FileHandle(forWritingAtPath: "/dev/null")
            process.standardOutput = log
            process.standardError = log
            try process.run()
            // Until it listens.
            for _ in 0..<50 {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = UInt16(port).bigEndian
                addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
                close(fd)
                if ok { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        deinit {
            // SIGKILL: a child of the test runner inherits its blocked signals, SIGTERM included.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    func config(_ server: ITServer, proxyPort: Int, directTLS: Bool = false, credentials: Bool = false) -> String {
        """
        [account]
        jid = "perch@\(server.domain)/board"
        password_file = "@DIR@/password"
        [server]
        host = "127.0.0.1"
        port = \(directTLS ? server.directTLSPort : server.port)
        transport = "\(directTLS ? "directtls" : "starttls")"
        ca_file = "\(IT.caFile)"
        proxy = "http://127.0.0.1:\(proxyPort)"
        \(credentials ? "proxy_credentials_file = \"@DIR@/proxy\"" : "")
        [access]
        owners = ["peer@\(server.domain)"]
        [device]
        name = "testbed"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        [[output]]
        name = "pump"
        line = "pump"
        """
    }

    func start(_ config: String, proxySecret: String? = nil) throws -> DaemonProcess {
        try DaemonProcess(config: config, password: "perch-secret", setup: { dir in
            if let proxySecret { try "perch:\(proxySecret)\n".write(toFile: "\(dir)/proxy", atomically: true, encoding: .utf8) }
        })
    }

    @Test(arguments: servers)
    func theBoardLogsInThroughAProxyWithStartTLSAndDirectTLS(_ server: ITServer) throws {
        let proxy = try Tinyproxy(port: 15390, extra: "ConnectPort \(server.port)\nConnectPort \(server.directTLSPort)")
        defer { withExtendedLifetime(proxy) {} }
        for direct in [false, true] {
            let daemon = try start(config(server, proxyPort: 15390, directTLS: direct))
            #expect(daemon.waitFor("online as perch@\(server.domain)/board"), "log:\n\(daemon.log)")
            #expect(daemon.log.contains("through the proxy 127.0.0.1"), "log:\n\(daemon.log)")
            #expect(daemon.log.contains("the proxy opened a tunnel to 127.0.0.1:\(direct ? server.directTLSPort : server.port)"))
            let owner = try Peer.connected("peer", server)
            #expect(try owner.say("pump on", to: "perch@\(server.domain)/board") == "pump on", "log:\n\(daemon.log)")
            owner.disconnect()
            #expect(daemon.terminate() == 0)
        }
    }

    @Test(arguments: servers)
    func aProxyThatWantsCredentialsGetsThemAndSaysSoWithout(_ server: ITServer) throws {
        let proxy = try Tinyproxy(port: 15391, extra: "ConnectPort \(server.port)\nBasicAuth perch proxy-pw-7c1e")
        defer { withExtendedLifetime(proxy) {} }
        let good = try start(config(server, proxyPort: 15391, credentials: true), proxySecret: "proxy-pw-7c1e")
        #expect(good.waitFor("online as perch@\(server.domain)/board"), "log:\n\(good.log)")
        #expect(!good.log.contains("proxy-pw-7c1e"), "the proxy's password is never logged")
        #expect(good.terminate() == 0)

        let none = try start(config(server, proxyPort: 15391))
        #expect(none.waitFor("407"), "log:\n\(none.log)")
        #expect(none.log.contains("the proxy wants credentials and none are configured"), "log:\n\(none.log)")
        #expect(!none.log.contains("online as"))
        #expect(none.terminate() == 0)

        let wrong = try start(config(server, proxyPort: 15391, credentials: true), proxySecret: "not-it")
        #expect(wrong.waitFor("the proxy refused the configured credentials"), "log:\n\(wrong.log)")
        #expect(!wrong.log.contains("not-it"))
        #expect(wrong.terminate() == 0)
    }

    @Test(arguments: servers)
    func aProxyThatForbidsThePortSaysSo(_ server: ITServer) throws {
        let proxy = try Tinyproxy(port: 15392, extra: "ConnectPort 443")
        defer { withExtendedLifetime(proxy) {} }
        let daemon = try start(config(server, proxyPort: 15392))
        #expect(daemon.waitFor("403"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("the proxy's policy forbids tunnels to 127.0.0.1:\(server.port)"), "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
    }
}

extension ProxyTests {
    /// WebSocket and BOSH through the proxy: the CONNECT tunnel carries the TLS of the HTTPS
    /// endpoint, so the proxy sees only the host and port.
    @Test(arguments: servers)
    func theBoardLogsInThroughAProxyOverWebSocketAndBOSH(_ server: ITServer) throws {
        let https = server.name == "Prosody" ? 15225 : 15235
        let proxy = try Tinyproxy(port: 15393, extra: "ConnectPort \(https)")
        defer { withExtendedLifetime(proxy) {} }
        let paths = server.name == "Prosody" ? ["websocket": "/xmpp-websocket", "bosh": "/http-bind"] : ["websocket": "/ws", "bosh": "/bosh"]
        for transport in ["websocket", "bosh"] {
            let url = "\(transport == "websocket" ? "wss" : "https")://localhost:\(https)\(paths[transport]!)"
            let config = config(server, proxyPort: 15393)
                .replacingOccurrences(of: "host = \"127.0.0.1\"\nport = \(server.port)\ntransport = \"starttls\"", with: "transport = \"\(transport)\"\nurl = \"\(url)\"")
            #expect(config.contains("url = \"\(url)\""))
            let daemon = try start(config)
            #expect(daemon.waitFor("online as perch@\(server.domain)/board"), "log:\n\(daemon.log)")
            #expect(daemon.log.contains("connecting to \(url) (\(transport == "websocket" ? "WebSocket" : "BOSH")) through the proxy 127.0.0.1"), "log:\n\(daemon.log)")
            #expect(daemon.log.contains("the proxy opened a tunnel to localhost:\(https)"), "log:\n\(daemon.log)")
            let owner = try Peer.connected("peer", server)
            #expect(try owner.say("pump on", to: "perch@\(server.domain)/board") == "pump on", "log:\n\(daemon.log)")
            owner.disconnect()
            #expect(daemon.terminate() == 0)
        }
    }
}
