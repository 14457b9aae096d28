import Foundation
import Testing
import PerchGPIO
import PerchSensors
import XMPPAddress
@testable import PerchConfig

let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

func load(_ text: String, env: [String: String] = ["PERCH_PASSWORD": "pw"]) throws(ConfigurationError) -> Configuration {
    try ConfigurationLoader(file: "perch.toml", environment: env).parse(text)
}

@Suite struct ConfigurationTests {
    @Test func minimalConfig() throws {
        let c = try load("[account]\njid = \"dev@example.org/perch\"\n[access]\nowners = [\"alice@example.org\", \"@example.net\"]\n")
        #expect(c.account.jid.description == "dev@example.org/perch")
        #expect(c.account.passwordSource == .environment)
        #expect(c.access.owners.count == 2)
        #expect(c.access.owners[1].matches(try JID("bob@example.net/phone")))
        #expect(!c.access.owners[0].matches(try JID("bob@example.org")))
        #expect(c.connection.pingInterval == 60_000)
        #expect(c.connection.maxStanzaBytes == 256 * 1024)
    }

    @Test func outboxSettingsAsDocumented() throws {
        // The commented defaults in config/perch.toml, uncommented, give the built-in defaults.
        let text = try String(contentsOfFile: "\(repoRoot)/config/perch.toml", encoding: .utf8)
        let section = try #require(text.range(of: "[outbox]"))
        let lines = text[section.lowerBound...].split(separator: "\n").prefix { !$0.hasPrefix("[") || $0 == "[outbox]" }
            .filter { $0.hasPrefix("#") && !$0.hasPrefix("# ") && $0.contains(" = ") }.map { $0.dropFirst() }
        #expect(lines.count == 5)
        let c = try load("[account]\njid = \"a@example.org\"\n[outbox]\n" + lines.joined(separator: "\n"))
        let d = Configuration.Outbox()
        #expect(c.outbox.commitInterval == d.commitInterval && c.outbox.maxEntries == d.maxEntries && c.outbox.maxBytes == d.maxBytes)
        #expect(c.outbox.maxAge == d.maxAge && c.outbox.syncEveryCommit == d.syncEveryCommit)
        let power = try load("[account]\njid = \"a@example.org\"\n[outbox]\ndurability = \"power\"\ncommit_interval = \"0s\"")
        #expect(power.outbox.syncEveryCommit && power.outbox.commitInterval == 0)
        #expect(throws: ConfigurationError.self) { try load("[account]\njid = \"a@example.org\"\n[outbox]\nmax_entries = 5") }
    }

    @Test func everyExampleConfigLoads() throws {
        // The examples must never drift from the code.
        let text = try String(contentsOfFile: "\(repoRoot)/config/perch.toml", encoding: .utf8)
        let c = try load(text.replacingOccurrences(of: "board = \"raspberry-pi-4b\"", with: "board = \"\(repoRoot)/devices/raspberry-pi-4b.toml\""))
        #expect(c.account.jid.description == "greenhouse@example.org/perch")
        #expect(c.device.outputs.map(\.name) == ["pump"])
        #expect(c.device.inputs.map(\.name) == ["door"])
        #expect(c.device.sensors.map(\.name) == ["cpu"])
        // Every commented-out sensor is valid too, once uncommented.
        let start = try #require(text.range(of: "#[[sensor]]"))
        let tail = text[start.lowerBound...].split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            line.hasPrefix("#") && !line.hasPrefix("# ") ? line.dropFirst() : line
        }.joined(separator: "\n")
        let all = try load((String(text[..<start.lowerBound]) + tail)
            .replacingOccurrences(of: "#allow_commands = false", with: "allow_commands = true")
            .replacingOccurrences(of: "/etc/perch/room-password", with: "\(repoRoot)/config/perch.toml")
            .replacingOccurrences(of: "board = \"raspberry-pi-4b\"", with: "board = \"\(repoRoot)/devices/raspberry-pi-4b.toml\""))
        #expect(all.device.sensors.map(\.name) == ["cpu", "board_temp", "air", "water", "door_open", "load", "tank", "ups"])
        #expect(all.rooms.map(\.jid.description) == ["fleet@conference.example.org"] && all.rooms.first?.nick == "greenhouse")
        let demo = try String(contentsOfFile: "\(repoRoot)/config/demo.toml", encoding: .utf8)
            .replacingOccurrences(of: "@ROOT@", with: repoRoot).replacingOccurrences(of: "@DIR@", with: "/tmp")
        let d = try load(demo)
        #expect(d.server.transport == .starttls)
    }

    @Test(arguments: [
        ("[account]\njid = \"nolocal.example.org\"", "perch.toml:2: account.jid: needs a user part"),
        ("[account]\njid = \"a@b\"\n[server]\nport = 70000", "perch.toml:4: server.port: must be between 1 and 65535"),
        ("[account]\njid = \"a@b\"\n[server]\ntransport = \"tls\"", "perch.toml:4: server.transport: must be"),
        ("[account]\njid = \"a@b\"\n[server]\nhost = \"xmpp.example.org\"\ntransport = \"plain\"", "perch.toml:5: server.transport: \"plain\" sends the password unencrypted"),
        ("[account]\njid = \"a@b\"\n[access]\nowners = [\"x@y/res\"]", "perch.toml:4: access.owners[0]: 'x@y/res' must be a bare JID"),
        ("[account]\njid = \"a@b\"\njdi = 1", "perch.toml:3: account.jdi: unknown key"),
        ("[account]\njid = \"a@b\"\n[connection]\nping_interval = \"soon\"", "perch.toml:4: connection.ping_interval: \"soon\" is not a duration; write one such as 500ms"),
        ("[account]\njid = \"a@b\"\n[connection]\nping_interval = \"1s\"", "perch.toml:4: connection.ping_interval: must be between"),
        ("[account]\njid = \"a@b\"\n[connection]\nping_interval = \"4s\"", "perch.toml:4: connection.ping_interval: must be between"),
        ("[account]\njid = \"a@b\"\n[connection]\nping_timeout = \"1s\"", "perch.toml:4: connection.ping_timeout: must be between"),
        ("[account]\njid = \"a@b\"\n[server]\npins = [\"sha256/abc\"]", "perch.toml:4: server.pins[0]: must be sha256/"),
        ("[account]\njid = \"a@b\"\n[log]\nlevel = \"loud\"", "perch.toml:4: log.level: must be one of"),
        ("[server]\nhost = \"x\"", "perch.toml: account: the [account] table is required"),
        ("[account]\njid = @", "perch.toml:2: "),
    ])
    func errorsNameFileLineAndKey(_ text: String, _ expected: String) {
        do {
            _ = try load(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.hasPrefix(expected), "got: \(error.description)")
        }
    }

    @Test func fastLivenessDetectionIsAllowed() throws {
        // The lowest ping settings, for a hung server noticed within seconds (config/perch.toml says
        // what they cost).
        let c = try load("[account]\njid = \"a@b\"\n[connection]\nping_interval = \"5s\"\nping_timeout = \"2s\"")
        #expect(c.connection.pingInterval == 5_000)
        #expect(c.connection.pingTimeout == 2_000)
    }

    @Test func plainIsAllowedToLoopback() throws {
        let c = try load("[account]\njid = \"a@b\"\n[server]\nhost = \"127.0.0.1\"\ntransport = \"plain\"")
        #expect(c.server.transport == .plain)
    }

    @Test func passwordSources() throws {
        let dir = NSTemporaryDirectory() + "perch-cfg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "from-file\n".write(toFile: "\(dir)/pw", atomically: true, encoding: .utf8)
        try "from-credential\n".write(toFile: "\(dir)/xmpp-password", atomically: true, encoding: .utf8)

        let fileLoader = ConfigurationLoader(file: "f", environment: ["PERCH_PASSWORD": "env"])
        let fromFile = try fileLoader.parse("[account]\njid = \"a@b\"\npassword_file = \"\(dir)/pw\"")
        #expect(try fileLoader.password(for: fromFile) == "from-file")

        let credLoader = ConfigurationLoader(file: "f", environment: ["CREDENTIALS_DIRECTORY": dir, "PERCH_PASSWORD": "env"])
        let fromCred = try credLoader.parse("[account]\njid = \"a@b\"")
        #expect(try credLoader.password(for: fromCred) == "from-credential")

        let envLoader = ConfigurationLoader(file: "f", environment: ["PERCH_PASSWORD": "env"])
        #expect(try envLoader.password(for: envLoader.parse("[account]\njid = \"a@b\"")) == "env")

        let none = ConfigurationLoader(file: "f", environment: [:])
        #expect(throws: ConfigurationError.self) { try none.parse("[account]\njid = \"a@b\"") }

        let missing = try fileLoader.parse("[account]\njid = \"a@b\"\npassword_file = \"\(dir)/absent\"")
        #expect { try fileLoader.password(for: missing) } throws: { ($0 as! ConfigurationError).description.contains("\(dir)/absent") }
    }
}

/// `server.proxy` and its credentials: an HTTP proxy taking CONNECT, credentials from a file or the
/// systemd credential, never in the URL.
@Suite struct ProxyConfigurationTests {
    func parse(_ server: String, environment: [String: String] = ["PERCH_PASSWORD": "x"]) throws -> Configuration {
        try ConfigurationLoader(file: "perch.toml", environment: environment).parse("[account]\njid = \"a@b\"\n[server]\n" + server)
    }

    func error(_ server: String) -> String {
        do {
            _ = try parse(server)
            return "no error"
        } catch { return "\(error)" }
    }

    @Test func aProxyAndItsCredentials() throws {
        let c = try parse("proxy = \"http://proxy.example.org:3128\"\nproxy_credentials_file = \"/etc/perch/proxy\"")
        #expect(c.server.proxy == Configuration.Proxy(host: "proxy.example.org", port: 3128, credentials: .file("/etc/perch/proxy")))
        #expect(try parse("proxy = \"http://[::1]:8080\"").server.proxy?.host == "::1")
        #expect(try parse("proxy = \"http://proxy.example.org\"").server.proxy?.port == 80)
        let dir = "/tmp/perch-cred-\(getpid())"
        _ = system("mkdir -p \(dir) && printf 'u:p' > \(dir)/proxy-credentials")
        defer { _ = system("rm -rf \(dir)") }
        let fromSystemd = try parse("proxy = \"http://p:3128\"", environment: ["PERCH_PASSWORD": "x", "CREDENTIALS_DIRECTORY": dir])
        #expect(fromSystemd.server.proxy?.credentials == .credential("\(dir)/proxy-credentials"))
        let loader = ConfigurationLoader(file: "perch.toml", environment: [:])
        let creds = try loader.proxyCredentials(for: fromSystemd)
        #expect(creds?.user == "u" && creds?.password == "p")
    }

    @Test(arguments: [
        ("proxy = \"https://p:3128\"", "perch.toml:4: server.proxy: must be http://HOST:PORT"),
        ("proxy = \"http://user:secret@p:3128\"", "perch.toml:4: server.proxy: "),
        ("proxy = \"http://p:3128/path\"", "perch.toml:4: server.proxy: must be http://HOST:PORT"),
        ("proxy = \"socks5://p:1080\"", "perch.toml:4: server.proxy: "),
        ("proxy_credentials_file = \"/x\"", "perch.toml:4: server.proxy_credentials_file: needs server.proxy"),
        ("host = \"127.0.0.1\"\ntransport = \"plain\"\nproxy = \"http://p:3128\"", "perch.toml:6: server.proxy: transport = \"plain\""),
    ])
    func mistakes(_ text: String, _ expected: String) {
        let message = error(text)
        #expect(message.hasPrefix(expected), "got: \(message)")
        #expect(!message.contains("secret"), "a password in the URL is not repeated: \(message)")
    }

    @Test func credentialsMustBeUserColonPassword() throws {
        let path = "/tmp/perch-proxy-\(getpid())"
        _ = system("printf 'nocolon\\n' > \(path)")
        defer { _ = system("rm -f \(path)") }
        let c = try parse("proxy = \"http://p:3128\"\nproxy_credentials_file = \"\(path)\"")
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader(file: "perch.toml", environment: [:]).proxyCredentials(for: c) }
    }
}
