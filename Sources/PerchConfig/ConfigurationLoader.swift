import Glibc
import PerchCrypto
import PerchHTTP
import PerchIO
import TOML
import XMPPAddress

/// Reads and validates a TOML configuration. Every error names the file, the line and the key.
public struct ConfigurationLoader {
    public let file: String
    private let environment: [String: String]

    /// - Parameter environment: the variables consulted (`CREDENTIALS_DIRECTORY`, `PERCH_PASSWORD`);
    ///   the process environment by default.
    public init(file: String, environment: [String: String]? = nil) {
        self.file = file
        self.environment = environment ?? Self.processEnvironment()
    }

    /// Reads the file and validates it.
    public func load() throws(ConfigurationError) -> Configuration {
        guard let bytes = readFile(file, limit: 4 << 20) else {
            throw ConfigurationError(file: file, line: nil, key: nil, "cannot read the file: \(String(cString: strerror(errno)))")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError(file: file, line: nil, key: nil, "the file is not UTF-8")
        }
        return try parse(text)
    }

    /// Validates configuration text (the file name is used in messages only).
    public func parse(_ text: String) throws(ConfigurationError) -> Configuration {
        let root: TOMLTable
        do { root = try TOMLParser.parse(text) } catch {
            throw ConfigurationError(file: file, line: error.line, key: nil, error.message)
        }
        let r = Reader(file: file)
        try r.allowOnly(root, ["account", "server", "access", "connection", "log", "device", "output", "input", "sensor", "interlock", "commands", "telemetry", "outbox", "room", "alert", "rule", "schedule"], prefix: "")

        // Each section's first error is kept and the next section read: a reload logs them all,
        // check-config prints them all. Sections that build on others (the automation reads the
        // device's names) are read only when those are right.
        var errors: [ConfigurationError] = []
        var jid = try! JID("perch@invalid.invalid")
        var passwordSource = PasswordSource.environment
        do throws(ConfigurationError) {
            let account = try r.table(root, "account", required: true)!
            try r.allowOnly(account, ["jid", "password_file", "password_credential"], prefix: "account.")
            let jidText = try r.string(account, "jid", prefix: "account.", required: true)!
            do { jid = try JID(jidText) } catch {
                throw r.error(account["jid"], "account.jid", "'\(jidText)' is not a valid JID: \(error)")
            }
            guard jid.localpart != nil else { throw r.error(account["jid"], "account.jid", "needs a user part: user@domain") }
            if let pf = try r.string(account, "password_file", prefix: "account.") {
                passwordSource = .file(pf)
            } else if let dir = environment["CREDENTIALS_DIRECTORY"] {
                let id = try r.string(account, "password_credential", prefix: "account.") ?? "xmpp-password"
                passwordSource = .credential("\(dir)/\(id)")
            } else if environment["PERCH_PASSWORD"] != nil {
                passwordSource = .environment
            } else {
                throw ConfigurationError(file: file, line: account.line, key: "account.password_file",
                    "no password: set account.password_file, run under systemd with LoadCredential=xmpp-password:FILE, or set PERCH_PASSWORD")
            }
        } catch { errors.append(error) }

        var server = Configuration.Server(host: nil, port: nil, transport: nil, caFile: nil, pins: [])
        do throws(ConfigurationError) {
            if let t = try r.table(root, "server") {
                try r.allowOnly(t, ["host", "port", "transport", "url", "bosh_wait", "ca_file", "pins", "allow_plain", "proxy", "proxy_credentials_file"], prefix: "server.")
                server.host = try r.string(t, "host", prefix: "server.")
                if let p = try r.integer(t, "port", prefix: "server.") {
                    guard (1...65535).contains(p) else { throw r.error(t["port"], "server.port", "must be between 1 and 65535") }
                    server.port = Int(p)
                }
                if let tr = try r.string(t, "transport", prefix: "server.") {
                    guard let v = Configuration.Transport(rawValue: tr) else {
                        throw r.error(t["transport"], "server.transport", "must be \"starttls\", \"directtls\", \"plain\", \"websocket\" or \"bosh\", not \"\(tr)\"")
                    }
                    server.transport = v
                }
                try Self.readEndpoint(t, &server, r)
                if server.transport == .plain {
                    guard let host = server.host else {
                        throw r.error(t["transport"], "server.transport", "\"plain\" needs server.host set to a loopback address (127.0.0.1 or ::1)")
                    }
                    guard Self.isLoopbackLiteral(host) || host == "localhost" else {
                        throw r.error(t["transport"], "server.transport", "\"plain\" sends the password unencrypted and is only allowed to a server on the loopback interface, not \(host)")
                    }
                }
                server.allowPlain = try r.bool(t, "allow_plain", prefix: "server.") ?? false
                if let text = try r.string(t, "proxy", prefix: "server.") {
                    // Never echoed when it holds credentials: the error goes to a terminal and a journal.
                    guard !text.utf8.contains(UInt8(ascii: "@")) else {
                        throw r.error(t["proxy"], "server.proxy", "credentials do not go in the URL: write it as http://HOST:PORT and put user:password in the file server.proxy_credentials_file names")
                    }
                    let url: WebURL
                    do { url = try WebURL.parse(text) } catch {
                        throw r.error(t["proxy"], "server.proxy", "\(error); write it as http://HOST:PORT")
                    }
                    guard url.scheme == .http, url.target == "/" else {
                        throw r.error(t["proxy"], "server.proxy", "must be http://HOST:PORT (an HTTP proxy that takes CONNECT), not \(url)")
                    }
                    guard server.transport != .plain else {
                        throw r.error(t["proxy"], "server.proxy", "transport = \"plain\" is for a server on the loopback interface, never through a proxy")
                    }
                    var proxy = Configuration.Proxy(host: url.host, port: Int(url.port), credentials: nil)
                    if let file = try r.string(t, "proxy_credentials_file", prefix: "server.") {
                        proxy.credentials = .file(file)
                    } else if let dir = environment["CREDENTIALS_DIRECTORY"], access("\(dir)/proxy-credentials", R_OK) == 0 {
                        proxy.credentials = .credential("\(dir)/proxy-credentials")
                    }
                    server.proxy = proxy
                } else if t["proxy_credentials_file"] != nil {
                    throw r.error(t["proxy_credentials_file"], "server.proxy_credentials_file", "needs server.proxy")
                }
                if let ca = try r.string(t, "ca_file", prefix: "server.") {
                    guard access(ca, R_OK) == 0 else { throw r.error(t["ca_file"], "server.ca_file", "cannot read \(ca)") }
                    server.caFile = ca
                }
                for (index, pin) in try r.strings(t, "pins", prefix: "server.").enumerated() {
                    var b64 = Substring(pin)
                    if b64.hasPrefix("sha256//") { b64 = b64.dropFirst(8) } else if b64.hasPrefix("sha256/") { b64 = b64.dropFirst(7) }
                    guard let digest = Base64.decode(String(b64)), digest.count == 32 else {
                        throw r.error(t["pins"], "server.pins[\(index)]", "must be sha256/ followed by the base64 SHA-256 of the server key's SubjectPublicKeyInfo")
                    }
                    server.pins.append(digest)
                }
            }
        } catch { errors.append(error) }

        var accessLists = Configuration.Access(owners: [], operators: [], viewers: [])
        do throws(ConfigurationError) {
            if let t = try r.table(root, "access") {
                try r.allowOnly(t, ["owners", "operators", "viewers", "strangers"], prefix: "access.")
                accessLists.owners = try r.accessList(t, "owners")
                accessLists.operators = try r.accessList(t, "operators")
                accessLists.viewers = try r.accessList(t, "viewers")
                if let s = try r.choice(t, "strangers", prefix: "access.", ["refuse", "ask-owners"]) {
                    accessLists.strangers = Configuration.StrangerPolicy(rawValue: s)!
                }
            }
        } catch { errors.append(error) }

        var connection = Configuration.Connection()
        do throws(ConfigurationError) {
            if let t = try r.table(root, "connection") {
                try r.allowOnly(t, ["ping_interval", "ping_timeout", "connect_timeout", "reconnect_max", "max_stanza_size"], prefix: "connection.")
                connection.pingInterval = try r.duration(t, "ping_interval", prefix: "connection.", range: 5_000...3_600_000) ?? connection.pingInterval
                connection.pingTimeout = try r.duration(t, "ping_timeout", prefix: "connection.", range: 2_000...600_000) ?? connection.pingTimeout
                connection.connectTimeout = try r.duration(t, "connect_timeout", prefix: "connection.", range: 5_000...600_000) ?? connection.connectTimeout
                connection.reconnectMax = try r.duration(t, "reconnect_max", prefix: "connection.", range: 10_000...86_400_000) ?? connection.reconnectMax
                if let n = try r.integer(t, "max_stanza_size", prefix: "connection.") {
                    guard (16_384...16_777_216).contains(n) else { throw r.error(t["max_stanza_size"], "connection.max_stanza_size", "must be between 16384 and 16777216 bytes") }
                    connection.maxStanzaBytes = Int(n)
                }
            }
        } catch { errors.append(error) }

        var log = Configuration.Log()
        do throws(ConfigurationError) {
            if let t = try r.table(root, "log") {
                try r.allowOnly(t, ["level", "trace_xml"], prefix: "log.")
                if let level = try r.string(t, "level", prefix: "log.") {
                    guard ["trace", "debug", "info", "notice", "warning", "error"].contains(level) else {
                        throw r.error(t["level"], "log.level", "must be one of trace, debug, info, notice, warning, error")
                    }
                    log.level = level
                }
                log.traceXML = try r.bool(t, "trace_xml", prefix: "log.") ?? false
            }
        } catch { errors.append(error) }

        var device = DeviceConfiguration()
        var deviceRead = false
        do throws(ConfigurationError) {
            device = try parseDevice(root, r)
            deviceRead = true
        } catch { errors.append(error) }

        var config = Configuration(
            file: file, account: .init(jid: jid, passwordSource: passwordSource), server: server, access: accessLists,
            connection: connection, log: log, device: device)
        do throws(ConfigurationError) { try parseAgent(root, r, &config) } catch { errors.append(error) }
        do throws(ConfigurationError) { try parseOutbox(root, r, &config) } catch { errors.append(error) }
        var roomsRead = false
        do throws(ConfigurationError) {
            try parseRooms(root, r, &config)
            roomsRead = true
        } catch { errors.append(error) }
        if deviceRead && roomsRead && errors.isEmpty {
            try parseAutomation(root, r, &config)
        }
        if var first = errors.first {
            first.more = Array(errors.dropFirst())
            throw first
        }
        return config
    }

    /// Reads the password from its source. The error says where it looked, never what it found.
    public func password(for config: Configuration) throws(ConfigurationError) -> String {
        let p = try secret(config.account.passwordSource, key: "account.password_file", what: "the password", limit: 4 << 20)
        guard !p.isEmpty else {
            throw ConfigurationError(file: file, line: nil, key: "account.password_file", "the password from \(config.account.passwordSource) is empty")
        }
        return p
    }

    /// The proxy's `user:password`, when the configuration names a source for them.
    public func proxyCredentials(for config: Configuration) throws(ConfigurationError) -> (user: String, password: String)? {
        guard let source = config.server.proxy?.credentials else { return nil }
        let text = try secret(source, key: "server.proxy_credentials_file", what: "the proxy's credentials", limit: 64 << 10)
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            throw ConfigurationError(file: file, line: nil, key: "server.proxy_credentials_file", "\(source) must hold user:password on one line")
        }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// A secret from a file, a systemd credential or PERCH_PASSWORD, without its trailing line
    /// breaks. The error names `key` and where it looked, never what it found.
    func secret(_ source: PasswordSource, key: String, what: String, limit: Int) throws(ConfigurationError) -> String {
        let raw: String
        switch source {
        case .environment:
            raw = environment["PERCH_PASSWORD"] ?? ""
        case .file(let path), .credential(let path):
            guard let bytes = readFile(path, limit: limit) else {
                throw ConfigurationError(file: file, line: nil, key: key, "cannot read \(what) from \(source): \(String(cString: strerror(errno)))")
            }
            raw = String(decoding: bytes, as: UTF8.self)
        }
        var text = Substring(raw)
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        return String(text)
    }

    /// `url` and `bosh_wait`, checked against the transport: a WebSocket URL is ws/wss, a BOSH URL
    /// http/https, and the unencrypted ones only to the loopback interface (as `plain`).
    private static func readEndpoint(_ t: TOMLTable, _ server: inout Configuration.Server, _ r: Reader) throws(ConfigurationError) {
        let web = server.transport == .websocket || server.transport == .bosh
        if let wait = try r.integer(t, "bosh_wait", prefix: "server.") {
            guard server.transport == .bosh else { throw r.error(t["bosh_wait"], "server.bosh_wait", "is for transport = \"bosh\"") }
            guard (5...300).contains(wait) else { throw r.error(t["bosh_wait"], "server.bosh_wait", "must be between 5 and 300 (seconds)") }
            server.boshWait = Int(wait)
        }
        guard let text = try r.string(t, "url", prefix: "server.") else { return }
        guard web else {
            throw r.error(t["url"], "server.url", "is the endpoint of transport = \"websocket\" or \"bosh\"; set one of them, or remove url")
        }
        guard t["host"] == nil, t["port"] == nil else {
            throw r.error(t["url"], "server.url", "names the host and port itself: remove server.host and server.port")
        }
        // Never echoed when it holds credentials: the error goes to a terminal and a journal.
        let authority = text.utf8.split(separator: UInt8(ascii: "/"), maxSplits: 2, omittingEmptySubsequences: false).dropFirst(2).first
        guard !(authority ?? Substring(text).utf8[...]).contains(UInt8(ascii: "@")) else {
            throw r.error(t["url"], "server.url", "credentials do not go in the URL (user:password@): the endpoint takes the account's own login")
        }
        let url: WebURL
        do { url = try WebURL.parse(text) } catch {
            throw r.error(t["url"], "server.url", "\(error)")
        }
        if server.transport == .websocket {
            guard url.scheme == .wss || url.scheme == .ws else {
                throw r.error(t["url"], "server.url", "transport = \"websocket\" needs a wss:// URL (ws:// to the loopback interface), not \(url.scheme.rawValue)://")
            }
        } else {
            guard url.scheme == .https || url.scheme == .http else {
                throw r.error(t["url"], "server.url", "transport = \"bosh\" needs an https:// URL (http:// to the loopback interface), not \(url.scheme.rawValue)://")
            }
        }
        if !url.scheme.isSecure && !url.isLoopback {
            throw r.error(t["url"], "server.url", "\(url.scheme.rawValue):// sends the password unencrypted and is only allowed to the loopback interface, not \(url.host): use \(url.scheme == .ws ? "wss" : "https")://")
        }
        server.url = url
    }

    static func isLoopbackLiteral(_ host: String) -> Bool {
        if host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".")
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    static func processEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return env
    }
}
