import PerchIO
import PerchLog
import XMPPAddress
@testable import XMPPClient

extension FakeServer {
    /// A client of this server as the session tests use it: perch@perch.test/board over plain TCP to
    /// loopback, no system trust store, a quick first reconnect, every log line (debug up) into `log`.
    func client(on loop: EventLoop, log: LogLines, adjust: (inout ClientConfiguration) -> Void = { _ in }) throws -> XMPPClient {
        var config = ClientConfiguration(jid: try JID("perch@perch.test/board"), password: "secret")
        config.host = "127.0.0.1"
        config.port = port
        config.transport = .plain
        config.systemTrustStore = nil
        config.reconnect.initialDelay = 10
        adjust(&config)
        return XMPPClient(loop: loop, config: config, logger: Logger(label: "xmpp", level: .debug, format: .bare, sink: { log.append($0) }))
    }
}

extension XMPPClient {
    var isOnline: Bool {
        if case .online = status { return true }
        return false
    }
}
