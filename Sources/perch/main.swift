import Glibc
import PerchAgent
import PerchBoard
import PerchCLI
import PerchConfig
import PerchDaemon
import PerchHardware
import PerchIO
import PerchLog
import PerchRules
import XMPPAddress

// Before anything is read or written: files private to us, no core dump holding the password.
ProcessHygiene.restrictNewFileModes()
ProcessHygiene.disableCoreDumps()

func fail(_ message: String, code: Int32 = 1) -> Never {
    var line = Array(("perch: " + message + "\n").utf8)
    _ = write(2, &line, line.count)
    exit(code)
}

let arguments = Array(CommandLine.arguments.dropFirst())
let invocation: Invocation
switch Invocation.parse(arguments) {
case .success(let i): invocation = i
case .failure(let e):
    // Before any configuration is read: what was wrong, and where the full usage is.
    fail("\(e.message)\n\(arguments.isEmpty ? Invocation.usage : "perch --help lists the commands and their options")", code: Invocation.ExitStatus.usage)
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

/// A configuration that cannot be used: EX_CONFIG, which the unit does not restart on.
func configFailure(_ error: any Error) -> Never {
    // Every section's error, one per line, as `perch: FILE:LINE: KEY: what`.
    if let e = error as? ConfigurationError, !e.more.isEmpty {
        for other in e.all.dropLast() {
            var line = Array("perch: \(other)\n".utf8)
            _ = write(2, &line, line.count)
        }
        fail("\(e.all.last!)", code: Invocation.ExitStatus.config)
    }
    fail("\(error)", code: Invocation.ExitStatus.config)
}

/// The configuration, with the rules' and schedules' commands checked in the chat command language.
func loadChecked(_ loader: ConfigurationLoader) throws(ConfigurationError) -> Configuration {
    let config = try loader.load()
    try AutomationCheck.check(config)
    return config
}

var configPath = Invocation.defaultConfig
var traceXML = false
var levelOverride: String?
var command: String
var sendTarget: JID?
var sendTimeout: Int64 = 30_000
switch invocation {
case .help:
    emit(Invocation.usage + "\n")
    exit(0)
case .version:
    emit(HardwareCommands.versionText(Daemon.version))
    exit(0)
case .run(let config, let trace, let level):
    (command, configPath, traceXML, levelOverride) = ("run", config, trace, level)
case .checkConfig(let config): (command, configPath) = ("check-config", config)
case .doctor(let config): (command, configPath) = ("doctor", config)
case .sensorsRead(let config): (command, configPath) = ("sensors read", config)
case .gpioList: command = "gpio list"
case .send(let config, let deviceText, _, let timeoutText):
    (command, configPath) = ("send", config)
    // Checked before the configuration is read, like every usage error.
    do { sendTarget = try JID(deviceText) } catch { fail("'\(deviceText)' is not a JID: \(error)", code: Invocation.ExitStatus.usage) }
    if let timeoutText {
        switch DurationText.parse(timeoutText) {
        case .success(let ms) where ms >= 1_000: sendTimeout = ms
        case .success: fail("--timeout must be at least 1s", code: Invocation.ExitStatus.usage)
        case .failure(let why): fail("--timeout: \(why)", code: Invocation.ExitStatus.usage)
        }
    }
}

// Hardware commands need the configuration but not the password.
switch invocation {
case .gpioList(let configGiven, let boardID, let profilesDir):
    let configPath = configGiven ?? Invocation.defaultConfig
    let loop: EventLoop
    do { loop = try EventLoop() } catch { fail("\(error)", code: 1) }
    var device: DeviceConfiguration?
    var profile: BoardProfile?
    if configGiven != nil || boardID == nil {
        if configGiven != nil || access(configPath, R_OK) == 0 {
            do { device = try loadChecked(ConfigurationLoader(file: configPath)).device } catch { configFailure(error) }
            profile = device?.board
        }
    }
    if let boardID {
        do { profile = try BoardProfile.find(boardID, in: (profilesDir.map { [$0] } ?? []) + BoardProfile.searchDirectories) } catch { fail("\(error)", code: Invocation.ExitStatus.usage) }
    }
    do {
        let backend = try Hardware.makeBackend(device ?? DeviceConfiguration(), loop: loop)
        emit(try HardwareCommands.gpioList(backend, profile: profile, device: device))
        exit(0)
    } catch {
        fail("\(error)", code: 1)
    }
case .sensorsRead, .doctor:
    let loop: EventLoop
    do { loop = try EventLoop() } catch { fail("\(error)") }
    let config: Configuration
    do { config = try loadChecked(ConfigurationLoader(file: configPath)) } catch { configFailure(error) }
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
let proxyCredentials: (user: String, password: String)?
do {
    config = try loadChecked(loader)
    password = try loader.password(for: config)
    proxyCredentials = try loader.proxyCredentials(for: config)
} catch {
    configFailure(error)
}
// Read once: command sensors and anything else started from here must not inherit it.
ProcessHygiene.forgetEnvironmentVariable("PERCH_PASSWORD")

switch command {
case "check-config":
    print("\(configPath): OK")
    print("  account      \(config.account.jid) (password from \(config.account.passwordSource))")
    let server: String
    switch config.server.transport {
    case .websocket?, .bosh?:
        server = config.server.url.map { "\($0)" } ?? "found in https://\(config.account.jid.domainpart)/.well-known/host-meta (XEP-0156)"
    default:
        server = config.server.host.map { "\($0):\(config.server.port.map(String.init) ?? "default port")" } ?? "DNS SRV for \(config.account.jid.domainpart)"
    }
    print("  server       \(server), transport \(config.server.transport?.rawValue ?? "starttls (and direct TLS from SRV)")")
    if config.server.transport == .bosh { print("  bosh_wait    \(config.server.boshWait) s (one request per wait while idle)") }
    if let proxy = config.server.proxy {
        print("  proxy        http://\(proxy.host):\(proxy.port) (CONNECT)\(proxy.credentials.map { ", credentials from \($0)" } ?? ", no credentials")")
    }
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
    let nick = config.device.name ?? config.account.jid.localpart ?? ""
    for room in config.rooms {
        let uses = [room.commands ? "commands" : nil, room.alerts ? "alerts" : nil].compactMap { $0 }
        print("  room         \(room.jid) as \(room.nick ?? nick)\(uses.isEmpty ? "" : " (" + uses.joined(separator: ", ") + ")")\(room.passwordFile.map { ", password from \($0)" } ?? "")")
    }
    for alert in config.alerts {
        var details = [alert.clear.map { "clear \($0)" }, alert.policy.holdFor > 0 ? "for \(describeDuration(alert.policy.holdFor))" : nil,
                       alert.policy.repeatEvery.map { "repeat \(describeDuration($0))" }, alert.policy.onError ? "on_error" : nil].compactMap { $0 }
        details.append("to \(alert.to.map(\.description).joined(separator: ", "))")
        print("  alert        \(alert.name): when \(alert.when) (\(details.joined(separator: ", ")))")
        for case .role(let role) in alert.to {
            let list = role == "owners" ? config.access.owners : role == "operators" ? config.access.operators : config.access.viewers
            let domains = list.filter { if case .domain = $0 { true } else { false } }
            if !domains.isEmpty { print("  warning      alert \(alert.name): \(domains.map(\.description).joined(separator: ", ")) in \(role) are whole domains; alerts go to the JIDs listed one by one") }
        }
    }
    for rule in config.rules {
        print("  rule         \(rule.name): when \(rule.when) → \(rule.action)\(rule.otherwise.map { ", else \($0)" } ?? "") (a person's switch holds \(describeDuration(rule.override)))")
    }
    if !config.schedules.isEmpty {
        let (zone, warning) = TimeZoneRules.system(environment: getenv("TZ").map { String(cString: $0) })
        if let warning { print("  warning      \(warning)") }
        let now = WallClock.now().seconds
        for s in config.schedules {
            let next = s.timing.nextRun(after: now, in: zone).map { zone.local($0) }.map { "\($0.dateText) \($0.text) \(zone.name)" } ?? "never"
            print("  schedule     \(s.name): \(s.timing.text) → \(s.action); next \(next)\(s.catchUp.map { ", catch_up \(describeDuration($0))" } ?? "")")
        }
    }
    for problem in [FileModeChecks.passwordFileProblem(config.account.passwordSource), FileModeChecks.stateDirectoryProblem(config.device.stateDirectory)].compactMap({ $0 }) {
        print("  warning      \(problem)")
    }
    exit(0)
case "send":
    guard case .send(_, _, let text, _) = invocation, let device = sendTarget else { fail("internal error: send without a target") }
    let timeout = sendTimeout
    let level = LogLevel(name: config.log.level) ?? .info
    let logger = Logger(label: "perch", level: max(level, .warning))
    do {
        let sender = try OneShotSender(config: config, password: password, proxyCredentials: proxyCredentials, device: device, text: text, timeout: timeout, logger: logger)
        let outcome = sender.run()
        if let answer = outcome.answer { emit(answer + "\n") }
        if let problem = outcome.problem { fail(problem, code: outcome.status) }
        exit(outcome.status)
    } catch {
        fail("cannot start: \(error)")
    }
case "run":
    let level = LogLevel(name: levelOverride ?? config.log.level) ?? .info
    let logger = Logger(label: "perch", level: traceXML || config.log.traceXML ? min(level, .info) : level)
    do {
        // SIGHUP reads the same file again, with the same checks.
        let source = Daemon.Source(load: { () throws(ConfigurationError) in try loadChecked(loader) },
                                   password: { c throws(ConfigurationError) in try loader.password(for: c) },
                                   proxyCredentials: { c throws(ConfigurationError) in try loader.proxyCredentials(for: c) })
        let daemon = try Daemon(config: config, password: password, proxyCredentials: proxyCredentials, traceXML: traceXML, logger: logger, source: source)
        exit(try daemon.run())
    } catch {
        fail("cannot start: \(error)", code: 1)
    }
default:
    fail("internal error: no handler for \(command)")
}
