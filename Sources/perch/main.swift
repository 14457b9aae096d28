import Glibc
import PerchBoard
import PerchConfig
import PerchDaemon
import PerchHardware
import PerchIO
import PerchLog
import XMPPAddress

let usage = """
    usage: perch run --config FILE [--trace-xml] [--log-level LEVEL]
           perch check-config --config FILE
           perch doctor --config FILE
           perch gpio list [--config FILE | --board ID [--profiles DIR]]
           perch sensors read --config FILE
           perch --version

    run            connect to the XMPP server and serve until SIGTERM or SIGINT
    check-config   validate FILE and the password source, print what would be used, exit
    doctor         check the board: GPIO chips and permissions, every configured line and sensor
    gpio list      every GPIO chip and line, with the board profile's names and pins beside them
    sensors read   read every configured sensor once and print the values
    --config FILE  the TOML configuration (default /etc/perch/perch.toml)
    --board ID     a board profile for gpio list without a configuration (see devices/)
    --trace-xml    log every XML element sent and received (SASL payloads redacted)
    --log-level    trace, debug, info, notice, warning or error (overrides log.level)
    """

// Before anything is read or written: files private to us, no core dump holding the password.
ProcessHygiene.restrictNewFileModes()
ProcessHygiene.disableCoreDumps()

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
var command = args.removeFirst()
if (command == "gpio" || command == "sensors"), let sub = args.first, !sub.hasPrefix("-") {
    command += " " + args.removeFirst()
}
var configPath = "/etc/perch/perch.toml"
var configGiven = false
var boardID: String?
var profilesDir: String?
var traceXML = false
var levelOverride: String?
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--config", "-c":
        guard !args.isEmpty else { fail("--config needs a file") }
        configPath = args.removeFirst()
        configGiven = true
    case "--board":
        guard !args.isEmpty else { fail("--board needs a profile id or file") }
        boardID = args.removeFirst()
    case "--profiles":
        guard !args.isEmpty else { fail("--profiles needs a directory") }
        profilesDir = args.removeFirst()
    case "--trace-xml": traceXML = true
    case "--log-level":
        guard !args.isEmpty, LogLevel(name: args[0]) != nil else { fail("--log-level needs one of trace, debug, info, notice, warning, error") }
        levelOverride = args.removeFirst()
    default:
        if a.hasPrefix("--config=") {
            configPath = String(a.dropFirst(9))
            configGiven = true
        } else {
            fail("unknown argument '\(a)'\n\(usage)")
        }
    }
}

/// Prints without buffering surprises (stdout may be a pipe).
func emit(_ text: String) {
    let bytes = Array(text.utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + off, $0.count - off) }
        if n <= 0 { break }
        off += n
    }
}

// Hardware commands need the configuration but not the password.
switch command {
case "gpio list":
    let loop: EventLoop
    do { loop = try EventLoop() } catch { fail("\(error)", code: 1) }
    var device: DeviceConfiguration?
    var profile: BoardProfile?
    if configGiven || boardID == nil {
        if configGiven || access(configPath, R_OK) == 0 {
            do { device = try ConfigurationLoader(file: configPath).load().device } catch { fail("\(error)", code: 1) }
            profile = device?.board
        }
    }
    if let boardID {
        do { profile = try BoardProfile.find(boardID, in: (profilesDir.map { [$0] } ?? []) + BoardProfile.standardDirectories) } catch { fail("\(error)", code: 1) }
    }
    do {
        let backend = try Hardware.makeBackend(device ?? DeviceConfiguration(), loop: loop)
        emit(try HardwareCommands.gpioList(backend, profile: profile, device: device))
        exit(0)
    } catch {
        fail("\(error)", code: 1)
    }
case "sensors read", "doctor":
    let loop: EventLoop
    let config: Configuration
    do {
        loop = try EventLoop()
        config = try ConfigurationLoader(file: configPath).load()
    } catch {
        fail("\(error)", code: 1)
    }
    if command == "doctor" {
        var (text, problems) = HardwareCommands.doctor(config, loop: loop)
        do { _ = try ConfigurationLoader(file: configPath).password(for: config) } catch {
            problems += 1
            text = "FAIL  password: \(error.message)\n      → make it readable by this user, or run the check as the service's user\n" + text
        }
        for problem in [FileModeChecks.passwordFileProblem(config.account.passwordSource), FileModeChecks.stateDirectoryProblem(config.device.stateDirectory)].compactMap({ $0 }) {
            problems += 1
            text = "FAIL  \(problem)\n" + text
        }
        emit(text)
        exit(problems == 0 ? 0 : 1)
    }
    let hardware = Hardware(config: config.device, loop: loop, logger: Logger(label: "perch", level: .error), openOutputs: false)
    let result = HardwareCommands.sensorsRead(hardware.sensors) { hardware.inputState(named: $0) }
    emit(result.text)
    exit(result.failures == 0 ? 0 : 1)
default:
    break
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
// Read once: command sensors and anything else started from here must not inherit it.
ProcessHygiene.forgetEnvironmentVariable("PERCH_PASSWORD")

switch command {
case "check-config":
    print("\(configPath): OK")
    print("  account      \(config.account.jid) (password from \(config.account.passwordSource))")
    let server = config.server.host.map { "\($0):\(config.server.port.map(String.init) ?? "default port")" } ?? "DNS SRV for \(config.account.jid.domainpart)"
    print("  server       \(server), transport \(config.server.transport?.rawValue ?? "starttls (and direct TLS from SRV)")")
    if let ca = config.server.caFile { print("  ca_file      \(ca)") }
    if !config.server.pins.isEmpty { print("  pins         \(config.server.pins.count)") }
    print("  owners       \(config.access.owners.map(\.description).joined(separator: ", "))")
    print("  keepalive    ping after \(config.connection.pingInterval / 1000) s idle; dead after \(config.connection.pingTimeout / 1000) s without an answer (readings held after \(describeDuration(config.connection.pingTimeout / 2)))")
    let d = config.device
    func count(_ n: Int, _ what: String) -> String { "\(n) \(what)\(n == 1 ? "" : "s")" }
    print("  device       \(d.board.map { "board \($0.id), " } ?? "")gpio \(d.backend.rawValue), \(count(d.outputs.count, "output")), \(count(d.inputs.count, "input")), \(count(d.sensors.count, "sensor")), \(count(d.interlocks.count, "interlock"))")
    print("  telemetry    presence \(config.telemetry.presence ? "at most every \(config.telemetry.minInterval / 1000) s" : "off"), pubsub \(config.telemetry.pubsub.rawValue)\(config.telemetry.pubsub == .none ? "" : " node \(config.telemetry.node ?? "")")")
    if config.telemetry.pubsub != .none {
        let o = config.outbox
        let commit = o.commitInterval == 0 ? "every entry at once" : "every \(describeDuration(o.commitInterval))"
        print("  outbox       \(config.device.stateDirectory)/outbox.db, written \(commit) (\(o.syncEveryCommit ? "synced" : "survives kill -9")), up to \(o.maxEntries) entries, \(o.maxBytes >> 20) MB, \(describeDuration(o.maxAge))")
    }
    print("  session      \(config.device.stateDirectory)/session.xml (XEP-0198 resumption across restarts)")
    for problem in [FileModeChecks.passwordFileProblem(config.account.passwordSource), FileModeChecks.stateDirectoryProblem(config.device.stateDirectory)].compactMap({ $0 }) {
        print("  warning      \(problem)")
    }
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
