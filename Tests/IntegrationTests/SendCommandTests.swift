import Foundation
import Testing

/// `perch send` through each server: a script's one-shot command gets the device's answer on stdout
/// and an exit status that says whether it was done.
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct SendCommandTests {
    static var servers: [ITServer] { (IT.prosody ? [ITServer.prosody] : []) + (IT.ejabberd ? [ITServer.ejabberd] : []) }

    func deviceConfig(_ server: ITServer) -> String {
        """
        [account]
        jid = "perch@\(server.domain)/board"
        password_file = "@DIR@/password"
        [server]
        host = "127.0.0.1"
        port = \(server.port)
        ca_file = "\(IT.caFile)"
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
        max_pulse = "5s"
        """
    }

    /// A configuration for the account a script logs in as (only [account] and [server] matter).
    func scriptConfig(_ server: ITServer, user: String, password: String, dir: String) throws -> String {
        let path = "\(dir)/\(user)-send.toml"
        try (password + "\n").write(toFile: "\(dir)/\(user)-password", atomically: true, encoding: .utf8)
        try """
        [account]
        jid = "\(user)@\(server.domain)"
        password_file = "\(dir)/\(user)-password"
        [server]
        host = "127.0.0.1"
        port = \(server.port)
        ca_file = "\(IT.caFile)"
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func send(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: IT.binary)
        p.arguments = ["send"] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, o, e)
    }

    @Test(arguments: servers)
    func aScriptGetsTheAnswerAndAnExitStatus(_ server: ITServer) throws {
        let daemon = try DaemonProcess(config: deviceConfig(server), password: "perch-secret")
        #expect(daemon.waitFor("online as perch@\(server.domain)/board"), "log:\n\(daemon.log)")
        let board = "perch@\(server.domain)/board"
        let owner = try scriptConfig(server, user: "peer", password: "peer-secret", dir: daemon.dir)

        let on = try send(["--config", owner, board, "pump", "on"])
        #expect(on.status == 0, "\(on)")
        #expect(on.out == "pump on\n", "\(on)")
        #expect(daemon.gpioLine("pump") == "1")

        // Refused by the device: the answer is printed, and the status says so.
        let tooLong = try send(["--config", owner, "--timeout", "10s", board, "pulse pump 1m"])
        #expect(tooLong.status == 1, "\(tooLong)")
        #expect(tooLong.out.contains("max_pulse"), "\(tooLong)")
        let unknown = try send(["--config", owner, board, "fly", "away"])
        #expect(unknown.status == 1 && unknown.out.contains("unknown command"), "\(unknown)")

        // A stranger's account: refused, status 1.
        let stranger = try scriptConfig(server, user: "stranger", password: "stranger-secret", dir: daemon.dir)
        let refused = try send(["--config", stranger, board, "pump off"])
        #expect(refused.status == 1, "\(refused)")
        #expect(daemon.gpioLine("pump") == "1")

        // The device's own configuration, from the board itself: another resource, so the daemon's
        // session is untouched.
        let status = try send(["--config", "\(daemon.dir)/perch.toml", board, "status"])
        #expect(status.status == 0 && status.out.contains("pump on"), "\(status)")
        #expect(!daemon.log.contains("conflict"), "log:\n\(daemon.log)")

        // A resource that is gone: the server hands the message to the account's other resource, which
        // runs it and answers; that answer counts.
        let gone = try send(["--config", owner, "--timeout", "10s", "perch@\(server.domain)/nowhere", "status"])
        #expect(gone.status == 0 && gone.out.contains("pump on"), "\(gone)")

        // Nobody there (an account with no session, no offline storage): the server's error, status 1.
        let nobody = try send(["--config", owner, "--timeout", "3s", "operator@\(server.domain)/board", "status"])
        #expect(nobody.status == 1, "\(nobody)")
        #expect(nobody.err.contains("operator@\(server.domain)/board could not be reached: service-unavailable"), "\(nobody)")
        #expect(try send(["--config", owner, board, " "]).status == 64, "an empty command is a usage error")

        // A wrong password: said at once, status 1.
        let wrong = try scriptConfig(server, user: "viewer", password: "not-the-password", dir: daemon.dir)
        let denied = try send(["--config", wrong, board, "status"])
        #expect(denied.status == 1 && denied.err.contains("cannot log in as viewer@\(server.domain)"), "\(denied)")
        #expect(daemon.terminate() == 0)
    }
}
