import Foundation
import Testing

/// The perch binary (`swift build --build-tests` builds it) as the operator runs it: a shell's umask
/// of 022, the password in PERCH_PASSWORD or a file, a state directory made by hand.
@Suite(.serialized) struct ProcessHygieneTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var binary: String { ProcessInfo.processInfo.environment["PERCH_BIN"] ?? "\(root)/.build/debug/perch" }
    static let secret = "hygiene-pw-5f3a9c"

    func makeDir() throws -> String {
        let dir = NSTemporaryDirectory() + "perch-hygiene-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A configuration with no reachable server (the daemon keeps retrying, which is all these need).
    func config(_ dir: String, passwordFile: Bool, extra: String = "") -> String {
        """
        [account]
        jid = "perch@perch.test/board"
        \(passwordFile ? "password_file = \"\(dir)/password\"" : "")
        [server]
        host = "127.0.0.1"
        port = 1
        transport = "plain"
        [access]
        owners = ["peer@perch.test"]
        [device]
        gpio = "simulated"
        simulated_dir = "\(dir)/gpio"
        state_dir = "\(dir)/state"
        [[output]]
        name = "pump"
        line = "pump"
        \(extra)
        """
    }

    func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    /// Runs perch with `arguments` under umask 022, its output in DIR/out.
    func launch(_ arguments: [String], dir: String, environment extra: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for k in ["JOURNAL_STREAM", "CREDENTIALS_DIRECTORY", "PERCH_PASSWORD"] { env.removeValue(forKey: k) }
        env.merge(extra) { $1 }
        p.environment = env
        _ = FileManager.default.createFile(atPath: "\(dir)/out", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dir)/out"))
        p.standardOutput = out
        p.standardError = out
        let old = umask(0o022)
        defer { umask(old) }
        try p.run()
        return p
    }

    func output(_ dir: String) -> String { (try? String(contentsOfFile: "\(dir)/out", encoding: .utf8)) ?? "" }

    @Test func checkConfigWarnsAboutAReadablePasswordFileAndStateDirectory() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build perch first: \(Self.binary)")
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try config(dir, passwordFile: true).write(toFile: "\(dir)/perch.toml", atomically: true, encoding: .utf8)
        try (Self.secret + "\n").write(toFile: "\(dir)/password", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(dir)/state", withIntermediateDirectories: true)

        func check() throws -> (Int32, String) {
            let p = try launch(["check-config", "--config", "\(dir)/perch.toml"], dir: dir)
            p.waitUntilExit()
            return (p.terminationStatus, output(dir))
        }

        chmod("\(dir)/password", 0o644)
        chmod("\(dir)/state", 0o755)
        var (status, text) = try check()
        #expect(status == 0, "\(text)")
        #expect(text.contains("warning      the password file \(dir)/password has mode 0644: every user can read the password. Run chmod 600 \(dir)/password"), "\(text)")
        #expect(text.contains("warning      the state directory \(dir)/state has mode 0755: other users can reach the readings kept offline and the session state. Run chmod 700 \(dir)/state"), "\(text)")

        // doctor counts them as problems.
        let doctor = try launch(["doctor", "--config", "\(dir)/perch.toml"], dir: dir)
        doctor.waitUntilExit()
        let doctorText = output(dir)
        #expect(doctor.terminationStatus == 1, "\(doctorText)")
        #expect(doctorText.contains("FAIL  the password file \(dir)/password has mode 0644"), "\(doctorText)")
        #expect(doctorText.contains("FAIL  the state directory \(dir)/state has mode 0755"), "\(doctorText)")

        chmod("\(dir)/password", 0o640)
        (status, text) = try check()
        #expect(text.contains("has mode 0640: the group "), "\(text)")

        chmod("\(dir)/password", 0o600)
        chmod("\(dir)/state", 0o700)
        (status, text) = try check()
        #expect(status == 0)
        #expect(text.contains(": OK") && !text.contains("warning"), "\(text)")
    }

    /// `perch run` started from a shell with umask 022 and the password in PERCH_PASSWORD: what it
    /// creates is private, the password is gone from its environment, it dumps no core, and it warns
    /// about a state directory made by hand with loose modes.
    @Test func runKeepsItsFilesAndThePasswordToItself() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build perch first: \(Self.binary)")
        let dir = try makeDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try config(dir, passwordFile: false, extra: "[telemetry]\npubsub = \"pep\"").write(toFile: "\(dir)/perch.toml", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: "\(dir)/state", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let p = try launch(["run", "--config", "\(dir)/perch.toml", "--log-level", "debug"], dir: dir, environment: ["PERCH_PASSWORD": Self.secret])
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let deadline = Date().addingTimeInterval(10)
        while !output(dir).contains("starting for") && p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        // The outbox is opened before "starting"; give SQLite's -wal and -shm a moment.
        Thread.sleep(forTimeInterval: 0.3)
        let log = output(dir)
        #expect(log.contains("password from the environment variable PERCH_PASSWORD"), "\(log)")

        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(p.processIdentifier)/environ"))
        #expect(environ.range(of: Data(Self.secret.utf8)) == nil, "the password is still in /proc/PID/environ")
        let limits = try String(contentsOfFile: "/proc/\(p.processIdentifier)/limits", encoding: .utf8)
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(core.map { Array($0[4...5]) } == ["0", "0"], "\(limits)")

        #expect(mode("\(dir)/state/outbox.db") == 0o600)
        #expect(mode("\(dir)/state/outbox.db-wal") == 0o600)
        #expect(mode("\(dir)/state/outbox.db-shm") == 0o600)
        // Files written without an explicit mode follow the umask, 077 from the start.
        #expect(mode("\(dir)/gpio/pump") == 0o600, "the simulated line file")
        #expect(log.contains("the state directory \(dir)/state has mode 0755: other users can reach the readings kept offline and the session state. Run chmod 700 \(dir)/state"), "\(log)")

        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
    }
}
