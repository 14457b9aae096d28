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

    let config: Configuration
    let logger: Logger
    let loop: EventLoop
    let client: XMPPClient
    let hardware: Hardware
    let agent: Agent
    private var exitCode: Int32 = 0

    public init(config: Configuration, password: String, proxyCredentials: (user: String, password: String)? = nil, traceXML: Bool, logger: Logger) throws {
        self.config = config
        self.logger = logger
        loop = try EventLoop()
        do { try makeDirectories(config.device.stateDirectory, mode: 0o700) } catch {
            logger.warning("cannot create the state directory \(config.device.stateDirectory) (\(error.message)); session state and readings taken offline are not kept across restarts. Create it, owned by the user perch runs as, or set device.state_dir")
        }
        // An existing directory keeps its mode: say so when it is not private.
        if let problem = FileModeChecks.stateDirectoryProblem(config.device.stateDirectory) { logger.warning(problem) }
        if let problem = FileModeChecks.passwordFileProblem(config.account.passwordSource) { logger.warning(problem) }
        var c = Self.clientConfiguration(config, password: password, proxyCredentials: proxyCredentials, logger: logger)
        c.traceXML = traceXML || config.log.traceXML
        c.resumptionFile = config.device.stateDirectory + "/session.xml"
        client = XMPPClient(loop: loop, config: c, logger: logger.with(label: "xmpp"))
        hardware = Hardware(config: config.device, loop: loop, logger: logger.with(label: "hardware"))
        agent = Agent(config: config, client: client, hardware: hardware, loop: loop, logger: logger.with(label: "agent"))
    }

    /// The XMPP client's settings from the configuration: account, server, TLS, keepalive, limits.
    static func clientConfiguration(_ config: Configuration, password: String, proxyCredentials: (user: String, password: String)?, logger: Logger) -> ClientConfiguration {
        var c = ClientConfiguration(jid: config.account.jid, password: password)
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
            if sig == SIGHUP {
                self.logger.notice("SIGHUP: configuration reload is not supported yet; restart the service to apply changes")
                return
            }
            self.shutdown(signal: sig)
        }
        signal(SIGPIPE, SIG_IGN)
        client.observeStatus { [unowned self] status in
            switch status {
            case .online: SystemdNotifier.notify("READY=1\nSTATUS=online")
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
