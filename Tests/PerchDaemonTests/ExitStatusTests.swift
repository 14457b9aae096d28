import Foundation
import Testing

/// What the perch binary exits with, as the unit and scripts see it: 64 for a command line it cannot
/// take (found before any configuration is read), 78 for a configuration it cannot use — for
/// `check-config` as for `run`, so the unit's RestartPreventExitStatus=78 stops a restart loop.
@Suite struct ExitStatusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var binary: String { ProcessInfo.processInfo.environment["PERCH_BIN"] ?? "\(root)/.build/debug/perch" }

    /// Runs perch; its exit status and what it wrote to stderr.
    func perch(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "PERCH_PASSWORD")
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    func brokenConfig() throws -> String {
        let path = NSTemporaryDirectory() + "perch-broken-\(UUID().uuidString).toml"
        try "[account]\njid = \"perch@perch.test\"\nbogus = 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func aBrokenConfigurationIs78ForEveryVerb() throws {
        let path = try brokenConfig()
        defer { try? FileManager.default.removeItem(atPath: path) }
        for verb in [["check-config"], ["run"], ["doctor"], ["sensors", "read"], ["gpio", "list"]] {
            let r = try perch(verb + ["--config", path])
            #expect(r.status == 78, "\(verb): \(r)")
            #expect(r.stderr.contains("\(path):3: account.bogus"), "\(verb): \(r.stderr)")
        }
    }

    /// Usage errors come before the configuration is read: a file that does not exist is not reached.
    @Test func usageErrorsAre64AndSayWhatIsValid() throws {
        let missing = "/nonexistent/perch.toml"
        let cases: [([String], String)] = [
            (["gpio"], "perch gpio needs a subcommand: perch gpio list"),
            (["sensors"], "perch sensors needs a subcommand: perch sensors read"),
            (["gpoi", "list"], "did you mean 'gpio list'?"),
            (["doctor", "--trace-xml", "--config", missing], "--trace-xml is not an option of perch doctor"),
            (["run", "--config=\(missing)", "--log-level=loud"], "--log-level needs one of"),
            ([], "usage: perch run"),
        ]
        for (arguments, text) in cases {
            let r = try perch(arguments)
            #expect(r.status == 64, "\(arguments): \(r)")
            #expect(r.stderr.contains(text), "\(arguments): \(r.stderr)")
            #expect(!r.stderr.contains(missing + ":"), "the configuration was read: \(r.stderr)")
        }
    }

    /// `--log-level=debug` next to `--config=` is accepted: the run gets as far as the configuration.
    @Test func bothOptionFormsReachTheConfiguration() throws {
        let r = try perch(["run", "--config=/nonexistent/perch.toml", "--log-level=debug"])
        #expect(r.status == 78, "\(r)")
        #expect(r.stderr.contains("/nonexistent/perch.toml"), "\(r.stderr)")
    }

    @Test func helpAndVersionExit0() throws {
        #expect(try perch(["--help"]).status == 0)
        #expect(try perch(["--version"]).status == 0)
    }
}

/// The unit stops restarting on a configuration error: systemd tests RestartPreventExitStatus= on the
/// main process's status only, so the configuration check has to be the main process's own.
@Suite struct UnitRestartTests {
    @Test func aConfigurationErrorEndsTheRestartLoop() throws {
        let unit = try String(contentsOfFile: "\(ExitStatusTests.root)/systemd/perch.service", encoding: .utf8)
        let lines = unit.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix("#") }
        let prevent = lines.first { $0.hasPrefix("RestartPreventExitStatus=") }
        #expect(prevent?.split(separator: "=").last?.split(separator: " ").contains("78") == true, "\(prevent ?? "no RestartPreventExitStatus=")")
        #expect(lines.contains { $0.hasPrefix("ExecStart=") && $0.contains("perch run") })
        let pre = lines.filter { $0.hasPrefix("ExecStartPre=") && $0.contains("perch") }
        #expect(pre.isEmpty, "a perch check before the main process defeats RestartPreventExitStatus=78: \(pre)")
    }

    /// The unit's hardening, as systemd scores it without loading it: an exposure of 2.0 or less
    /// (1.6 when this was written; every added directive has to keep it there).
    @Test func theUnitsExposureStaysAtMost2() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        p.arguments = ["security", "--offline=true", "\(ExitStatusTests.root)/systemd/perch.service"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let line = try #require(text.split(separator: "\n").last { $0.contains("Overall exposure level for perch.service:") }, "\(text.suffix(300))")
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }, "\(line)")
        #expect(score <= 2.0, "\(line)")
    }

    /// `systemctl reload perch` is a SIGHUP to the main process, which reads the configuration again.
    @Test func reloadSendsSIGHUPToTheMainProcess() throws {
        let unit = try String(contentsOfFile: "\(ExitStatusTests.root)/systemd/perch.service", encoding: .utf8)
        let lines = unit.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.hasPrefix("#") }
        #expect(lines.filter { $0.hasPrefix("ExecReload=") } == ["ExecReload=/bin/kill -HUP $MAINPID"])
    }
}

/// `perch gpio list --board ID` as the README writes it, run from anywhere with the perch of a
/// checkout, on a machine without GPIO: the board's header map.
@Suite struct GPIOListFromTheTreeTests {
    @Test func theBoardsHeaderIsShownWithoutGPIO() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: ExitStatusTests.binary)
        p.arguments = ["gpio", "list", "--board", "raspberry-pi-4b"]
        p.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(text)")
        #expect(text.contains("J8 (pin1 … pin40)") || text.contains("gpiochip"), "\(text)")
    }
}
