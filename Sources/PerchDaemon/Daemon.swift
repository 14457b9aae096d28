import Glibc
public import PerchConfig
public import PerchLog
import PerchAgent
import PerchHardware
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore
import XMPPXML

/// The running daemon: one event loop, one XMPP session, signal handling and graceful shutdown.
public final class Daemon {
    public static let version = "0.1.0"

    /// The configuration running now (a reload replaces it).
    private(set) var config: Configuration
    let logger: Logger
    let loop: EventLoop
    let client: XMPPClient
    let hardware: Hardware
    let agent: Agent
    private var exitCode: Int32 = 0
    /// How a reload reads the configuration again, and the secrets it names.
    public struct Source {
        /// Reads and checks the file, as at start (FILE:LINE: KEY errors).
        public var load: () throws(ConfigurationError) -> Configuration
        /// The account password a configuration names.
        public var password: (Configuration) throws(ConfigurationError) -> String
        /// The proxy's credentials a configuration names (nil: none).
        public var proxyCredentials: (Configuration) throws(ConfigurationError) -> (user: String, password: String)?

        public init(load: @escaping () throws(ConfigurationError) -> Configuration,
                    password: @escaping (Configuration) throws(ConfigurationError) -> String,
                    proxyCredentials: @escaping (Configuration) throws(ConfigurationError) -> (user: String, password: String)?) {
            self.load = load
            self.password = password
            self.proxyCredentials = proxyCredentials
        }
    }
    let source: Source?
    private var password: String
    private var proxyCredentials: (user: String, password: String)?
    private let traceXML: Bool
    /// READY=1 went to systemd (a reload tells it again when it is done).
    private var readySent = false

    /// - Parameter source: where SIGHUP reads the configuration again; nil: a reload is refused.
    public init(config: Configuration, password: String, proxyCredentials: (user: String, password: String)? = nil, traceXML: Bool, logger: Logger,
                source: Source? = nil) throws {
        self.config = config
        self.logger = logger
        self.source = source
        self.password = password
        self.proxyCredentials = proxyCredentials
        self.traceXML = traceXML
        loop = try EventLoop()
        do { try makeDirectories(config.device.stateDirectory, mode: 0o700) } catch {
            logger.warning("cannot create the state directory \(config.device.stateDirectory) (\(error.message)); session state and readings taken offline are not kept across restarts. Create it, owned by the user perch runs as, or set device.state_dir")
        }
        // An existing directory keeps its mode: say so when it is not private.
        if let problem = FileModeChecks.stateDirectoryProblem(config.device.stateDirectory) { logger.warning(problem) }
        if let problem = FileModeChecks.passwordFileProblem(config.account.passwordSource) { logger.warning(problem) }
        client = XMPPClient(loop: loop, config: Self.clientConfiguration(config, password: password, proxyCredentials: proxyCredentials, traceXML: traceXML, logger: logger),
                            logger: logger.with(label: "xmpp"))
        hardware = Hardware(config: config.device, loop: loop, logger: logger.with(label: "hardware"))
        agent = Agent(config: config, client: client, hardware: hardware, loop: loop, logger: logger.with(label: "agent"))
    }

    /// The XMPP client's settings from the configuration: account, server, TLS, keepalive, limits.
    static func clientConfiguration(_ config: Configuration, password: String, proxyCredentials: (user: String, password: String)?, traceXML: Bool = false, logger: Logger) -> ClientConfiguration {
        var c = ClientConfiguration(jid: config.account.jid, password: password)
        c.traceXML = traceXML || config.log.traceXML
        c.resumptionFile = config.device.stateDirectory + "/session.xml"
        c.host = config.server.host
        c.port = config.server.port
        c.transport = config.server.transport.map {
            switch $0 {
            case .starttls: .starttls
            case .directtls: .directTLS
            case .plain: .plain
            case .websocket: .websocket
            case .bosh: .bosh
            }
        }
        c.url = config.server.url
        c.boshWait = config.server.boshWait
        c.caFile = config.server.caFile
        c.spkiPins = config.server.pins
        c.allowPlain = config.server.allowPlain
        if c.allowPlain && !c.spkiPins.isEmpty {
            logger.warning("server.allow_plain is ignored: PLAIN is never used when server.pins are set")
        }
        c.limits = XMLStreamLimits(maxStanzaBytes: config.connection.maxStanzaBytes)
        c.pingInterval = config.connection.pingInterval
        c.pingTimeout = config.connection.pingTimeout
        c.connectTimeout = config.connection.connectTimeout
        c.reconnect.maximumDelay = config.connection.reconnectMax
        c.softwareVersion = Self.version
        if let p = config.server.proxy {
            c.proxy = ClientConfiguration.Proxy(host: p.host, port: p.port, user: proxyCredentials?.user, password: proxyCredentials?.password)
        }
        return c
    }

    /// Runs until SIGTERM or SIGINT, then closes the session cleanly. Returns the exit status.
    public func run() throws -> Int32 {
        try loop.handleSignals([SIGTERM, SIGINT, SIGHUP]) { [unowned self] sig in
            if sig == SIGHUP { return self.reload() }
            self.shutdown(signal: sig)
        }
        signal(SIGPIPE, SIG_IGN)
        client.observeStatus { [unowned self] status in
            switch status {
            case .online:
                self.readySent = true
                SystemdNotifier.notify("READY=1\nSTATUS=online")
            case .offline: SystemdNotifier.notify("STATUS=offline: \(self.client.lastProblem ?? "connecting")")
            case .connecting, .stopped: break
            }
        }
        logger.info("perch \(Self.version) starting for \(config.account.jid) (config \(config.file), password from \(config.account.passwordSource))")
        // The agent first, so it sees the first readings (they are published once the session is up).
        agent.start()
        hardware.start()
        client.start()
        loop.run()
        return exitCode
    }

    private var shuttingDown = false

    /// SIGHUP (`systemctl reload perch`): reads the configuration again and applies what changed (see
    /// ``ConfigurationChanges``). A file with an error changes nothing: the daemon goes on as it was
    /// and the log says where the error is.
    func reload() {
        guard !shuttingDown else { return }
        guard let source else {
            logger.warning("SIGHUP: this process cannot read its configuration again; restart it to apply changes")
            return
        }
        logger.notice("SIGHUP: reading \(config.file) again")
        // Before the first READY=1 systemd is still starting the service: it hears of no reload then.
        let told = readySent
        if told { SystemdNotifier.notify("RELOADING=1") }
        defer { if told { SystemdNotifier.notify("READY=1\nSTATUS=\(statusText)") } }
        let loaded: Configuration
        do {
            loaded = try source.load()
        } catch {
            for e in error.all { logger.error("reload refused: \(e)") }
            logger.error("reload refused: nothing was changed, perch runs on as before; fix \(error.file)\(error.line.map { ":\($0)" } ?? "") and reload again (perch check-config shows the problem)")
            return
        }
        let changes = ConfigurationChanges(from: config, to: loaded)
        guard !changes.isEmpty else {
            logger.notice("reload: nothing changed in \(loaded.file)")
            return
        }
        if !changes.reconnect.isEmpty {
            // Read before anything changes: a password that cannot be read refuses the whole reload.
            // PERCH_PASSWORD was cleared from the environment at start: that password stays.
            do {
                let newPassword = loaded.account.passwordSource == .environment ? password : try source.password(loaded)
                proxyCredentials = try source.proxyCredentials(loaded)
                password = newPassword
            } catch {
                logger.error("reload refused: \(error); nothing was changed, perch runs on as before")
                return
            }
        }
        let new = ConfigurationChanges.applicable(loaded, over: config)
        for line in changes.lines { logger.notice("reload: \(line)") }
        config = new
        hardware.reload(new.device, rerequest: changes.rerequested)
        for line in agent.reload(new, changes) { logger.notice("reload: \(line)") }
        if !changes.reconnect.isEmpty {
            logger.notice("reload: \(changes.reconnect.joined(separator: ", ")) changed: reconnecting (owners see the device go offline and come back)")
            client.reconnect(with: Self.clientConfiguration(new, password: password, proxyCredentials: proxyCredentials, traceXML: traceXML, logger: logger))
        }
        logger.notice("reload done: \(changes.lines.count) change\(changes.lines.count == 1 ? "" : "s") applied\(changes.reconnect.isEmpty ? ", the session kept" : "")")
    }

    private var statusText: String {
        if case .online = client.status { return "online" }
        return "offline: \(client.lastProblem ?? "connecting")"
    }

    private func shutdown(signal sig: Int32) {
        guard !shuttingDown else {
            logger.warning("second signal: exiting without waiting")
            exit(0)
        }
        shuttingDown = true
        logger.notice("\(sig == SIGTERM ? "SIGTERM" : "SIGINT"): going offline")
        SystemdNotifier.notify("STOPPING=1")
        hardware.shutdown()
        agent.leaveRooms()
        client.stop { [unowned self] in
            self.agent.stop()
            self.logger.info("stream closed; exiting")
            self.loop.stop()
        }
    }
}

@available(*, unavailable)
extension Daemon: Sendable {}
