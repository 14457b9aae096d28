import Foundation
import Testing

/// scripts/demo as a user, a terminal closing or a service manager meets it: it says how to talk to
/// the device once it is online, keeps its password file private, and a SIGTERM (or SIGHUP) to the
/// script stops the daemon first, then the server, and removes its work folder.
@Suite(.serialized, .enabled(if: IT.prosody, "needs Prosody (scripts/integration/run)"))
struct DemoScriptTests {
    /// Its own port, so the demo's Prosody does not meet the suite's.
    static let port = 15350

    final class Demo {
        let process = Process()
        let output = URL(fileURLWithPath: NSTemporaryDirectory() + "perch-demo-test-\(UUID().uuidString).out")

        init() throws {
            // As from a terminal: the test runner's threads block most signals, and a child inherits
            // that mask (bash cannot unblock them), so the script is started with none blocked.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])", "\(IT.root)/scripts/demo", "--no-build"]
            var env = ProcessInfo.processInfo.environment
            env["PERCH_DEMO_PORT"] = String(DemoScriptTests.port)
            process.environment = env
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            let handle = try FileHandle(forWritingTo: output)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        var text: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

        func waitFor(_ s: String, timeout: TimeInterval = 60) -> Bool {
            let end = Date().addingTimeInterval(timeout)
            while Date() < end {
                if text.contains(s) { return true }
                if !process.isRunning { return text.contains(s) }
                Thread.sleep(forTimeInterval: 0.2)
            }
            return false
        }
    }

    /// The pids of processes whose command line holds `text`.
    func processes(_ text: String) -> [Int32] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
        p.arguments = ["-f", text]
        let out = Pipe()
        p.standardOutput = out
        try? p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { Int32($0) }
    }

    @Test(arguments: [SIGTERM, SIGHUP])
    func aSignalToTheScriptStopsTheDaemonFirst(_ signal: Int32) throws {
        let demo = try Demo()
        #expect(demo.waitFor("Ctrl-C stops the demo."), "no banner:\n\(demo.text)")
        let text = demo.text
        #expect(text.contains("log in as      peer@perch.test   password peer-secret"), "\(text)")
        #expect(text.contains("port \(Self.port) (STARTTLS)"), "\(text)")
        #expect(text.contains("Tests/Fixtures/certs/ca.pem"), "\(text)")
        #expect(text.contains("send \"help\" to perch@perch.test"), "\(text)")
        #expect(!text.contains("SEND <"), "no XML trace unless --trace")
        guard let r = text.range(of: #"/tmp/perch-demo\.[A-Za-z0-9]+"#, options: .regularExpression) else {
            Issue.record("no work folder in the banner")
            return
        }
        let work = String(text[r])
        // Whatever happens below, nothing of this demo outlives the test.
        defer {
            if demo.process.isRunning { kill(demo.process.processIdentifier, SIGKILL) }
            for pid in processes(work) { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: work)
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(work)/password")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(!processes("perch run --config \(work)/perch.toml").isEmpty, "the daemon runs")

        kill(demo.process.processIdentifier, signal)
        let end = Date().addingTimeInterval(15)
        while demo.process.isRunning, Date() < end { Thread.sleep(forTimeInterval: 0.1) }
        #expect(!demo.process.isRunning, "the demo did not end on signal \(signal)")
        #expect(processes("perch run --config \(work)/perch.toml").isEmpty, "the daemon was left running:\n\(demo.text)")
        #expect(processes("\(work)/prosody").isEmpty, "Prosody was left running")
        #expect(!FileManager.default.fileExists(atPath: work), "the work folder was left behind")
        #expect(demo.text.contains("going offline"), "the daemon was stopped cleanly, before the server:\n\(demo.text)")
        #expect(!demo.text.contains("reconnecting"), "the daemon outlived the server:\n\(demo.text)")
    }
}
