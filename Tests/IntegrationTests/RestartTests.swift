import Foundation
import Testing

/// A server restart must be followed by a reconnect. Each test starts a server of its own (the same
/// scripts as scripts/integration/run, on other ports), logs the daemon in, takes the server down and
/// brings it back.
@Suite(.serialized)
struct RestartTests {
    /// `systemctl restart prosody`: Prosody drops connections with stream management enabled without a
    /// stream error (so they could resume); the daemon reconnects with back-off, asks to resume, is
    /// told the restarted server no longer holds the session, and starts a new one.
    @Test(.enabled(if: IT.prosody, "set PERCH_IT_PROSODY=1 (scripts/integration/run)"))
    func prosodyRestartIsFollowedByAReconnect() throws {
        let server = try ServerProcess(.prosody, port: 15226)
        try server.start()
        let daemon = try DaemonProcess(config: daemonConfig(port: 15226), password: "perch-secret")
        #expect(daemon.waitFor("online as perch@perch.test/board"), "log:\n\(daemon.log)")
        try server.stop()
        #expect(daemon.waitFor("reconnecting in"), "log:\n\(daemon.log)")
        try server.start()
        #expect(daemon.waitFor("online as perch@perch.test/board", count: 2, timeout: 40), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("could not resume the session"), "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
    }

    /// ejabberd killed and started again: the daemon sees its connection reset, backs off with jitter
    /// through the refused attempts while the node is down, and logs in once it is back.
    @Test(.enabled(if: IT.ejabberd, "set PERCH_IT_EJABBERD=1 (scripts/integration/run)"))
    func ejabberdCrashAndRestartIsFollowedByAReconnect() throws {
        let server = try ServerProcess(.ejabberd, port: 15236)
        try server.start()
        let daemon = try DaemonProcess(config: daemonConfig(jid: "perch@sha256.perch.test/board", port: 15236), password: "perch-secret")
        #expect(daemon.waitFor("online as perch@sha256.perch.test/board"), "log:\n\(daemon.log)")
        try server.crash()
        #expect(daemon.waitFor("reconnecting in"), "log:\n\(daemon.log)")
        try server.start()
        #expect(daemon.waitFor("online as perch@sha256.perch.test/board", count: 2, timeout: 40), "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
    }
}
