import Foundation
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore

/// The environment scripts/integration/run sets up: which servers run and where the binary is.
enum IT {
    static let env = ProcessInfo.processInfo.environment
    static var prosody: Bool { env["PERCH_IT_PROSODY"] == "1" }
    static var binary: String { env["PERCH_BIN"] ?? ".build/debug/perch" }
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let caFile = "\(root)/Tests/Fixtures/certs/ca.pem"
    static let otherCAFile = "\(root)/Tests/Fixtures/certs/other-ca.pem"
}

/// A perch daemon run as its own process, with its log captured.
final class DaemonProcess: @unchecked Sendable {
    let process = Process()
    let dir: String
    private let logURL: URL

    init(config: String, password: String) throws {
        dir = NSTemporaryDirectory() + "perch-it-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try (password + "\n").write(toFile: "\(dir)/password", atomically: true, encoding: .utf8)
        try config.replacingOccurrences(of: "@DIR@", with: dir).write(toFile: "\(dir)/perch.toml", atomically: true, encoding: .utf8)
        logURL = URL(fileURLWithPath: "\(dir)/perch.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: IT.binary)
        process.arguments = ["run", "--config", "\(dir)/perch.toml", "--log-level", "debug"]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "JOURNAL_STREAM")
        process.environment = environment
        let handle = try FileHandle(forWritingTo: logURL)
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Waits until the log contains `text`.
    @discardableResult
    func waitFor(_ text: String, timeout: TimeInterval = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.contains(text) { return true }
            if !process.isRunning { return log.contains(text) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    /// Sends SIGTERM and waits for the exit status.
    func terminate(timeout: TimeInterval = 10) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

func daemonConfig(jid: String = "perch@perch.test/board", port: Int = 15222, transport: String = "starttls", ca: String = IT.caFile) -> String {
    """
    [account]
    jid = "\(jid)"
    password_file = "@DIR@/password"
    [server]
    host = "127.0.0.1"
    port = \(port)
    transport = "\(transport)"
    ca_file = "\(ca)"
    [access]
    owners = ["peer@perch.test"]
    """
}

/// A second client, in this process, that logs in as peer@perch.test and asks the daemon questions.
final class Peer {
    let loop: EventLoop
    let client: XMPPClient

    init(port: Int = 15222) throws {
        loop = try EventLoop()
        var config = ClientConfiguration(jid: try JID("peer@perch.test/tester"), password: "peer-secret")
        config.host = "127.0.0.1"
        config.port = port
        config.transport = .starttls
        config.caFile = IT.caFile
        config.systemTrustStore = nil
        client = XMPPClient(loop: loop, config: config, logger: .init(label: "peer", level: .warning))
    }

    func connect() -> Bool {
        client.start()
        return loop.run(until: { [client] in if case .online = client.status { return true } else { return false } }, timeout: 15_000)
    }

    /// Sends an iq get with `payload` to `to` and waits for the answer.
    func ask(_ to: String, _ payload: XMLElement) throws -> Result<XMLElement, StanzaError>? {
        var answer: Result<XMLElement, StanzaError>?
        client.sendIQ(Stanza.iq(type: "get", id: client.makeID("q"), to: try JID(to), payload: payload), timeout: 10_000) { answer = $0 }
        loop.run(until: { answer != nil }, timeout: 12_000)
        return answer
    }

    func disconnect() {
        var done = false
        client.stop { done = true }
        loop.run(until: { done }, timeout: 5_000)
    }
}
