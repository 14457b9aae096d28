import Foundation
import Testing
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore

/// The environment scripts/integration/run sets up: which servers run and where the binary is.
enum IT {
    static let env = ProcessInfo.processInfo.environment
    static var prosody: Bool { env["PERCH_IT_PROSODY"] == "1" }
    static var ejabberd: Bool { env["PERCH_IT_EJABBERD"] == "1" }
    static var anyServer: Bool { prosody || ejabberd }
    static var binary: String { env["PERCH_BIN"] ?? ".build/debug/perch" }
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let caFile = "\(root)/Tests/Fixtures/certs/ca.pem"
    static let otherCAFile = "\(root)/Tests/Fixtures/certs/other-ca.pem"
}

/// One server account set-up the shared tests run against (see scripts/integration/run).
struct ITServer: Sendable, CustomTestStringConvertible {
    let name: String
    let domain: String
    let port: Int
    let directTLSPort: Int
    /// The SASL mechanism family the daemon must end up using.
    let mechanism: String

    var testDescription: String { name }
    var jid: String { "perch@\(domain)/board" }

    /// Prosody 0.12 offers SCRAM-SHA-1 (and -PLUS) only.
    static let prosody = ITServer(name: "Prosody", domain: "perch.test", port: 15222, directTLSPort: 15223, mechanism: "SCRAM-SHA-1")
    /// ejabberd with its default password storage: SCRAM-SHA-1.
    static let ejabberd = ITServer(name: "ejabberd", domain: "perch.test", port: 15232, directTLSPort: 15233, mechanism: "SCRAM-SHA-1")
    /// ejabberd's virtual host with `auth_scram_hash: sha256`: SCRAM-SHA-256 only.
    static let ejabberdSHA256 = ITServer(name: "ejabberd sha256", domain: "sha256.perch.test", port: 15232, directTLSPort: 15233, mechanism: "SCRAM-SHA-256")

    /// The servers scripts/integration/run started.
    static var running: [ITServer] { (IT.prosody ? [prosody] : []) + (IT.ejabberd ? [ejabberd, ejabberdSHA256] : []) }
}

/// A server of our own, started from the same scripts on other ports, for tests that stop and start it.
final class ServerProcess: @unchecked Sendable {
    enum Kind: String { case prosody, ejabberd }
    let kind: Kind
    let port: Int
    /// With WebSocket and BOSH (and host-meta on ejabberd) on this HTTP port and HTTPS on the next.
    let httpPort: Int?
    let dir: String
    private var process: Process?
    private var registered = false

    init(_ kind: Kind, port: Int, httpPort: Int? = nil) throws {
        self.kind = kind
        self.port = port
        self.httpPort = httpPort
        dir = NSTemporaryDirectory() + "perch-it-\(kind)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    }

    private var script: String { "\(IT.root)/scripts/integration/\(kind).sh" }

    /// Starts the server and waits until it accepts connections (and, the first time, has its users).
    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: script)
        p.arguments = [dir]
        var environment = ProcessInfo.processInfo.environment
        environment["PERCH_IT_PORT"] = String(port)
        if let httpPort { environment["PERCH_IT_HTTP_PORT"] = String(httpPort) } else { environment.removeValue(forKey: "PERCH_IT_HTTP_PORT") }
        p.environment = environment
        let out = FileHandle(forWritingAtPath: "/dev/null")
        p.standardOutput = out
        p.standardError = out
        try p.run()
        process = p
        guard waitForPort(port, timeout: 60) else { throw ITError("\(kind) did not start on port \(port)") }
        if kind == .ejabberd && !registered {
            try runScript(["users"])
            registered = true
        }
    }

    /// The server's main process, from its pid file.
    var serverPID: pid_t? {
        let file = kind == .prosody ? "\(dir)/prosody.pid" : "\(dir)/ejabberd.pid"
        return (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// A clean shutdown, as `systemctl stop` does: the server ends every stream with system-shutdown.
    func stop() throws {
        switch kind {
        case .prosody:
            guard let pid = serverPID else { throw ITError("no prosody pid file in \(dir)") }
            kill(pid, SIGTERM)
        case .ejabberd:
            try runScript(["stop"])
        }
        waitForExit()
    }

    /// The server dies at once (kill -9): its clients see their TCP connections reset, nothing more.
    func crash() throws {
        guard let pid = serverPID else { throw ITError("no \(kind) pid file in \(dir)") }
        kill(pid, SIGKILL)
        waitForExit()
    }

    private func waitForExit() {
        let deadline = Date().addingTimeInterval(30)
        while process?.isRunning == true && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if let p = process, p.isRunning { kill(p.processIdentifier, SIGKILL) }
        process = nil
    }

    private func runScript(_ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: script)
        p.arguments = [dir] + arguments
        let out = FileHandle(forWritingAtPath: "/dev/null")
        p.standardOutput = out
        p.standardError = out
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ITError("\(kind).sh \(arguments.joined(separator: " ")) failed with \(p.terminationStatus)") }
    }

    deinit {
        if process?.isRunning == true {
            if kind == .ejabberd { try? runScript(["stop"]) }
            if let pid = serverPID { kill(pid, SIGKILL) }
            waitForExit()
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

struct ITError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`, trying for up to `timeout` seconds.
func waitForPort(_ port: Int, timeout: TimeInterval) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
        close(fd)
        if ok { return true }
        Thread.sleep(forTimeInterval: 0.1)
    } while Date() < deadline
    return false
}

/// A perch daemon run as its own process, with its log captured.
final class DaemonProcess: @unchecked Sendable {
    private(set) var process = Process()
    let dir: String
    private let logURL: URL

    init(config: String, password: String, setup: (String) throws -> Void = { _ in }) throws {
        dir = NSTemporaryDirectory() + "perch-it-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try setup(dir)
        try (password + "\n").write(toFile: "\(dir)/password", atomically: true, encoding: .utf8)
        try config.replacingOccurrences(of: "@DIR@", with: dir).write(toFile: "\(dir)/perch.toml", atomically: true, encoding: .utf8)
        logURL = URL(fileURLWithPath: "\(dir)/perch.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        try launch()
    }

    private func launch() throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: IT.binary)
        process.arguments = ["run", "--config", "\(dir)/perch.toml", "--log-level", "debug"]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "JOURNAL_STREAM")
        process.environment = environment
        let handle = try FileHandle(forWritingTo: logURL)
        handle.seekToEndOfFile()
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
    }

    /// `kill -9`: no shutdown, nothing flushed.
    func crash() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Starts the daemon again on the same directory (state, outbox, log).
    func restart() throws {
        try launch()
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Waits until the log contains `text` (at least `count` times).
    @discardableResult
    func waitFor(_ text: String, count: Int = 1, timeout: TimeInterval = 15) -> Bool {
        func found() -> Bool { log.components(separatedBy: text).count > count }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if found() { return true }
            if !process.isRunning { return found() }
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
        // PERCH_IT_KEEP_LOGS=DIR keeps each daemon's log there, for a failure's story.
        if let keep = IT.env["PERCH_IT_KEEP_LOGS"] {
            try? FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true)
            try? FileManager.default.copyItem(atPath: logURL.path, toPath: "\(keep)/\((dir as NSString).lastPathComponent).log")
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

func daemonConfig(jid: String = "perch@perch.test/board", port: Int = 15222, transport: String = "starttls", ca: String = IT.caFile, owner: String = "peer@perch.test", extra: String = "") -> String {
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
    owners = ["\(owner)"]
    [device]
    state_dir = "@DIR@/state"
    \(extra)
    """
}

/// A second client, in this process, that logs in as USER@DOMAIN (password USER-secret) and talks to
/// the daemon: iq questions, chat, presence.
final class Peer {
    let loop: EventLoop
    let client: XMPPClient
    /// Messages and presences received, in order.
    var received: [XMLElement] = []

    init(user: String = "peer", domain: String = "perch.test", port: Int = 15222) throws {
        loop = try EventLoop()
        var config = ClientConfiguration(jid: try JID("\(user)@\(domain)/tester"), password: "\(user)-secret")
        config.host = "127.0.0.1"
        config.port = port
        config.transport = .starttls
        config.caFile = IT.caFile
        config.systemTrustStore = nil
        // A peer runs its loop only while a test waits on it; with stream management the server would
        // take its unanswered <r/> for a dead connection in the pauses.
        config.streamManagement = false
        client = XMPPClient(loop: loop, config: config, logger: .init(label: user, level: .warning))
        client.onStanza = { [unowned self] in self.received.append($0) }
    }

    func connect() -> Bool {
        client.start()
        return loop.run(until: { [client] in if case .online = client.status { return true } else { return false } }, timeout: 15_000)
    }

    /// Sends an iq get with `payload` to `to` and waits for the answer.
    func ask(_ to: String, _ payload: XMLElement, type: String = "get") throws -> Result<XMLElement, StanzaError>? {
        var answer: Result<XMLElement, StanzaError>?
        client.sendIQ(Stanza.iq(type: type, id: client.makeID("q"), to: try JID(to), payload: payload), timeout: 10_000) { answer = $0 }
        loop.run(until: { answer != nil }, timeout: 12_000)
        return answer
    }

    /// Sends a chat message and waits for the daemon's reply (not an error bounce: a server may return
    /// a message to a JID that blocks us as an error carrying the body); nil when none comes in time.
    func say(_ body: String, to: String, extra: XMLElement? = nil, timeout: Int64 = 10_000) throws -> String? {
        let target = try JID(to)
        let seen = received.count
        var m = Stanza.message(to: target, body: body, id: client.makeID("m"))
        if let extra { m.append(extra) }
        client.send(m)
        var reply: String?
        loop.run(until: { [unowned self] in
            reply = self.received[seen...].first { $0.name == "message" && $0.stanzaType != "error" && $0.from?.bare == target.bare && $0.child("body") != nil }?.child("body")?.text
            return reply != nil
        }, timeout: timeout)
        return reply
    }

    /// Waits until a received stanza satisfies `match`.
    func waitFor(timeout: Int64 = 10_000, _ match: @escaping (XMLElement) -> Bool) -> XMLElement? {
        var found: XMLElement?
        loop.run(until: { [unowned self] in
            found = self.received.first(where: match)
            return found != nil
        }, timeout: timeout)
        return found
    }

    func send(_ stanza: XMLElement) { client.send(stanza) }

    /// Runs the loop for a while (to let stanzas arrive).
    func idle(_ ms: Int64) { loop.run(until: { false }, timeout: ms) }

    func disconnect() {
        var done = false
        client.stop { done = true }
        loop.run(until: { done }, timeout: 5_000)
    }
}

extension DaemonProcess {
    /// A simulated GPIO line as the daemon last wrote it ("0" or "1"); nil before it exists.
    func gpioLine(_ name: String) -> String? {
        (try? String(contentsOfFile: "\(dir)/gpio/\(name)", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension Peer {
    /// USER@DOMAIN of `server`, logged in (the test fails here when it cannot).
    static func connected(_ user: String, _ server: ITServer) throws -> Peer {
        let p = try Peer(user: user, domain: server.domain, port: server.port)
        #expect(p.connect(), "\(user) could not log in")
        return p
    }
}
