import Foundation
import Testing
import XMPPAddress
import XMPPClient
import XMPPCore

/// A long run by hand: commands and telemetry for PERCH_SOAK_SECONDS against a Prosody of its own
/// (port 15290), with the daemon's RSS read at the start and the end. Not part of the suite:
///   PERCH_IT_PROSODY=1 PERCH_SOAK_SECONDS=3600 PERCH_BIN=.build/release/perch \
///       swift test --skip-build --filter SoakTests
@Suite(.serialized)
struct SoakTests {
    static var seconds: Int? { IT.env["PERCH_SOAK_SECONDS"].flatMap { Int($0) } }

    func rss(_ pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return -1 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }

    @Test(.enabled(if: IT.prosody && seconds != nil, "set PERCH_SOAK_SECONDS (and PERCH_IT_PROSODY=1)"))
    func commandsAndTelemetryForAnHour() throws {
        let duration = TimeInterval(Self.seconds ?? 60)
        let server = try ServerProcess(.prosody, port: 15290)
        try server.start()
        let config = FaultTests().config(FaultTests.Target(kind: .prosody, port: 15290, proxyPort: 15290)).replacingOccurrences(of: "trace_xml = true", with: "trace_xml = false")
        let daemon = try DaemonProcess(config: config, password: "perch-secret", setup: { dir in
            try "n=$(cat \(dir)/counter 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > \(dir)/counter\necho $n\n".write(toFile: "\(dir)/count.sh", atomically: true, encoding: .utf8)
        })
        #expect(daemon.waitFor("online as perch@perch.test/board"))
        let owner = try Peer(user: "peer", domain: "perch.test", port: 15290)
        #expect(owner.connect())
        owner.idle(5000)
        let pid = daemon.process.processIdentifier
        let startRSS = rss(pid)
        let start = Date()
        var sent = 0
        var answered = 0
        while Date().timeIntervalSince(start) < duration {
            sent += 1
            let command = ["pump on", "pump off", "status", "read seq"][sent % 4]
            if try owner.say(command, to: "perch@perch.test/board", timeout: 5_000) != nil { answered += 1 }
            owner.idle(2000)
        }
        let endRSS = rss(pid)
        let taken = FaultTests().counter(daemon)
        print("SOAK \(Int(duration)) s: commands \(sent) sent, \(answered) answered; readings taken \(taken); VmRSS \(startRSS) kB at start, \(endRSS) kB at the end")
        #expect(answered == sent)
        #expect(daemon.terminate() == 0)
    }
}
