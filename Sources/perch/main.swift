import Glibc
import PerchConfig
import PerchDaemon
import PerchLog
import XMPPAddress

/// perch run --config FILE [--trace-xml] [--log-level LEVEL]
/// perch check-config --config FILE
/// perch --version
let usage = """
    usage: perch run --config FILE [--trace-xml] [--log-level LEVEL]
           perch check-config --config FILE
           perch --version

    run            connect to the XMPP server and serve until SIGTERM or SIGINT
    check-config   validate FILE and the password source, print what would be used, exit
    --config FILE  the TOML configuration (default /etc/perch/perch.toml)
    --trace-xml    log every XML element sent and received (SASL payloads redacted)
    --log-level    trace, debug, info, notice, warning or error (overrides log.level)
    """

var args = Array(CommandLine.arguments.dropFirst())
func fail(_ message: String, code: Int32 = 2) -> Never {
    var line = Array(("perch: " + message + "\n").utf8)
    _ = write(2, &line, line.count)
    exit(code)
}

if args.contains("--version") || args.first == "version" {
    print("perch \(Daemon.version)")
    exit(0)
}
if args.isEmpty || args.contains("--help") || args.contains("-h") || args.first == "help" {
    print(usage)
    exit(args.isEmpty ? 2 : 0)
}
let command = args.removeFirst()
var configPath = "/etc/perch/perch.toml"
var traceXML = false
var levelOverride: String?
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--config", "-c":
        guard !args.isEmpty else { fail("--config needs a file") }
        configPath = args.removeFirst()
    case "--trace-xml": traceXML = true
    case "--log-level":
        guard !args.isEmpty, LogLevel(name: args[0]) != nil else { fail("--log-level needs one of trace, debug, info, notice, warning, error") }
        levelOverride = args.removeFirst()
    default:
        if a.hasPrefix("--config=") { configPath = String(a.dropFirst(9)) } else { fail("unknown argument '\(a)'\n\(usage)") }
    }
}

let loader = ConfigurationLoader(file: configPath)
let config: Configuration
let password: String
do {
    config = try loader.load()
    password = try loader.password(for: config)
} catch {
    fail("\(error)", code: command == "check-config" ? 1 : 78)  // 78: EX_CONFIG
}

switch command {
case "check-config":
    print("\(configPath): OK")
    print("  account      \(config.account.jid) (password from \(config.account.passwordSource))")
    let server = config.server.host.map { "\($0):\(config.server.port.map(String.init) ?? "default port")" } ?? "DNS SRV for \(config.account.jid.domainpart)"
    print("  server       \(server), transport \(config.server.transport?.rawValue ?? "starttls (and direct TLS from SRV)")")
    if let ca = config.server.caFile { print("  ca_file      \(ca)") }
    if !config.server.pins.isEmpty { print("  pins         \(config.server.pins.count)") }
    print("  owners       \(config.access.owners.map(\.description).joined(separator: ", "))")
    print("  keepalive    ping after \(config.connection.pingInterval / 1000) s idle, dead after \(config.connection.pingTimeout / 1000) s more")
    exit(0)
case "run":
    let level = LogLevel(name: levelOverride ?? config.log.level) ?? .info
    let logger = Logger(label: "perch", level: traceXML || config.log.traceXML ? min(level, .info) : level)
    do {
        let daemon = try Daemon(config: config, password: password, traceXML: traceXML, logger: logger)
        exit(try daemon.run())
    } catch {
        fail("cannot start: \(error)", code: 1)
    }
default:
    fail("unknown command '\(command)'\n\(usage)")
}
