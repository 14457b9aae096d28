import Foundation
import Testing
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore

/// A peer cannot write lines into the daemon's log: text it controls (here an iq id, which the daemon
/// logs when a set arrives twice) reaches the log with its controls escaped, through each real server.
/// The sender is a viewer: since strangers are refused before anything of theirs is read or
/// remembered, a role holder's ids are the peer-controlled text that still reaches the log.
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct HostileLogTests {
    static var servers: [ITServer] { (IT.prosody ? [ITServer.prosody] : []) + (IT.ejabberd ? [ITServer.ejabberd] : []) }

    static let forgedAudit = "perch: command from peer@perch.test (owner) via chat: pump on → ok"

    /// The ids a stranger tries, each with the line breaker it relies on.
    static let ids: [(breaker: String, escaped: String)] = [
        ("\r\n", "\\x0d\\x0a"),
        ("\r", "\\x0d"),
        ("\u{2028}", "\\xe2\\x80\\xa8"),
        ("\u{85}", "\\xc2\\x85"),
    ]

    /// Sends the same iq set twice: the daemon logs the second arrival, with its id.
    func hostileSendIQTwice(_ stranger: Peer, to board: String, id: String) throws {
        let payload = XMLElement("query", namespace: "urn:example:perch-hostile-log")
        let iq = Stanza.iq(type: "set", id: id, to: try JID(board), payload: payload)
        stranger.send(iq)
        stranger.send(iq)
        stranger.idle(300)
    }

    @Test(arguments: servers)
    func strangerCannotForgeLogLines(_ server: ITServer) throws {
        let daemon = try DaemonProcess(config: Self.config(server), password: "perch-secret")
        #expect(daemon.waitFor("online as"), "log:\n\(daemon.log)")
        try forge(server, waitFor: { daemon.waitFor($0, count: $1) }, log: { daemon.log })
        #expect(daemon.terminate() == 0)
    }

    /// The same under systemd's log format: journald reads a `<N>` at the start of each line as its
    /// priority, so a forged line would be an entry of priority 2 (critical), which Perch never logs.
    @Test(arguments: servers)
    func strangerCannotForgeJournalEntries(_ server: ITServer) throws {
        let daemon = try HostileLogJournaldDaemon(config: Self.config(server), password: "perch-secret")
        #expect(daemon.waitFor("online as"), "log:\n\(daemon.log)")
        #expect(daemon.log.hasPrefix("<"), "not the journald format:\n\(daemon.log)")
        try forge(server, waitFor: { daemon.waitFor($0, count: $1) }, log: { daemon.log })
        daemon.stop()
    }

    /// The daemon's configuration, with the sender as a viewer.
    static func config(_ server: ITServer) -> String {
        """
        [account]
        jid = "perch@\(server.domain)/board"
        password_file = "@DIR@/password"
        [server]
        host = "127.0.0.1"
        port = \(server.port)
        transport = "starttls"
        ca_file = "\(IT.caFile)"
        [access]
        owners = ["peer@\(server.domain)"]
        viewers = ["viewer@\(server.domain)"]
        [device]
        state_dir = "@DIR@/state"
        """
    }

    func forge(_ server: ITServer, waitFor: (String, Int) -> Bool, log readLog: () -> String) throws {
        let board = "perch@\(server.domain)/board"
        let stranger = try Peer(user: "viewer", domain: server.domain, port: server.port)
        #expect(stranger.connect(), "viewer could not log in")

        for (n, variant) in Self.ids.enumerated() {
            let id = "h\(n)\(variant.breaker)<2>\(Self.forgedAudit)\(variant.breaker)"
            try hostileSendIQTwice(stranger, to: board, id: id)
            #expect(waitFor("arrived again", n + 1), "log:\n\(readLog())")
        }
        stranger.disconnect()

        let log = readLog()
        let lines = log.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" || $0 == "\u{2028}" || $0 == "\u{2029}" || $0 == "\u{85}" })
        for line in lines {
            #expect(!line.hasPrefix("<2>") && !line.hasPrefix("perch: command from"), "forged line \(String(line).debugDescription) in log:\n\(log)")
        }
        // Each id reached the log, its line breaker written as an escape: the check above looked at
        // ids that really carried them. Prosody re-serialises CR and LF in an attribute raw, so XML
        // attribute normalisation turns them into spaces on our side; ejabberd keeps them.
        for (n, variant) in Self.ids.enumerated() {
            let escaped = log.contains("iq \"h\(n)\(variant.escaped)<2>\(Self.forgedAudit)")
            let normalised = server.name == "Prosody" && variant.breaker.unicodeScalars.allSatisfy({ $0 == "\r" || $0 == "\n" })
                && log.contains("iq \"h\(n) <2>\(Self.forgedAudit)")
            #expect(escaped || normalised, "id \(n) not escaped in log:\n\(log)")
        }
        if server.name == "ejabberd" {
            #expect(log.contains("iq \"h0\\x0d\\x0a<2>"), "ejabberd relays CR LF; the log shows it escaped")
        }
        #expect(!log.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || $0.value == 0x85 || $0.value == 0x2028 || $0.value == 0x2029 },
                "a raw control in the log:\n\(log.debugDescription)")
    }
}

/// perch run as under systemd: JOURNAL_STREAM set, so each line starts with its syslog priority.
/// (DaemonProcess clears JOURNAL_STREAM.)
final class HostileLogJournaldDaemon: @unchecked Sendable {
    let process = Process()
    let dir: String

    init(config: String, password: String) throws {
        dir = NSTemporaryDirectory() + "perch-it-journald-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try (password + "\n").write(toFile: "\(dir)/password", atomically: true, encoding: .utf8)
        try config.replacingOccurrences(of: "@DIR@", with: dir).write(toFile: "\(dir)/perch.toml", atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: "\(dir)/perch.log", contents: nil)
        process.executableURL = URL(fileURLWithPath: IT.binary)
        process.arguments = ["run", "--config", "\(dir)/perch.toml", "--log-level", "debug"]
        var environment = ProcessInfo.processInfo.environment
        environment["JOURNAL_STREAM"] = "8:12345"
        process.environment = environment
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dir)/perch.log"))
        process.standardError = handle
        process.standardOutput = handle
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: "\(dir)/perch.log", encoding: .utf8)) ?? "" }

    func waitFor(_ text: String, count: Int = 1, timeout: TimeInterval = 15) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.components(separatedBy: text).count > count { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return false
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: dir)
    }
}
