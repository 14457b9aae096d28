import Foundation
import Glibc
import Testing
@testable import PerchSensors

/// What a command sensor's child gets from the daemon (nothing but a minimal environment) and how
/// its timeout holds whatever the child does with its output.
@Suite(.serialized) struct CommandIsolationTests {
    /// A directory with `script` written to DIR/probe (executable); returns the directory.
    func scriptDir(_ script: String) throws -> String {
        let dir = NSTemporaryDirectory() + "perch-cmd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let text = "#!/bin/sh\n" + script.replacingOccurrences(of: "@DIR@", with: dir)
        try text.write(toFile: "\(dir)/probe", atomically: true, encoding: .utf8)
        chmod("\(dir)/probe", 0o755)
        return dir
    }

    /// `CommandSource.read` of DIR/probe, tried again while the exec fails with ETXTBSY: another
    /// suite's child, forked on another thread while `scriptDir` had the file open for writing,
    /// holds that descriptor until its own exec. A failed exec runs nothing of the script.
    func readProbe(_ dir: String, timeout: Int64) throws(SensorError) -> SourceValue {
        var attempt = 0
        while true {
            do {
                return try CommandSource.read(argv: ["\(dir)/probe"], timeout: timeout, key: nil)
            } catch where error.message.contains("Text file busy") && attempt < 50 {
                attempt += 1
                usleep(20_000)
            }
        }
    }

    func pidFrom(_ file: String) -> pid_t? {
        for _ in 0..<50 {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return pid }
            usleep(20_000)
        }
        return nil
    }

    /// Whether `pid` is gone: no such process, or a zombie waiting for whoever inherited it.
    func isGone(_ pid: pid_t) -> Bool {
        for _ in 0..<100 {
            if kill(pid, 0) != 0 && errno == ESRCH { return true }
            if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
               status.split(separator: "\n").contains(where: { $0.hasPrefix("State:") && $0.contains("Z") }) { return true }
            usleep(20_000)
        }
        return false
    }

    @Test func theChildGetsAMinimalEnvironmentAndDefaultSignals() throws {
        let dir = try scriptDir("""
        /usr/bin/env > @DIR@/env
        grep -E '^(SigBlk|SigIgn):' /proc/self/status > @DIR@/signals
        read -r stat < /proc/self/stat
        echo "$stat" > @DIR@/stat
        echo $$ > @DIR@/pid
        ls /proc/self/fd > @DIR@/fds
        echo 1
        """)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The daemon's environment holds the password when it came from PERCH_PASSWORD; its loop
        // thread blocks SIGTERM for the signalfd and it ignores SIGPIPE.
        setenv("PERCH_PASSWORD", "hunter2-secret", 1)
        defer { unsetenv("PERCH_PASSWORD") }
        var block = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGUSR1)
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, &block, &old)
        let oldPipe = signal(SIGPIPE, SIG_IGN)
        defer {
            pthread_sigmask(SIG_SETMASK, &old, nil)
            signal(SIGPIPE, oldPipe)
        }
        let leaked = open("/dev/null", O_RDONLY)  // not close-on-exec
        defer { close(leaked) }

        #expect(try readProbe(dir, timeout: 5_000).value == .number(1))

        let env = try String(contentsOfFile: "\(dir)/env", encoding: .utf8)
        #expect(!env.contains("hunter2"), "the password reached the command:\n\(env)")
        let names = Set(env.split(separator: "\n").map { String($0.prefix { $0 != "=" }) })
        // /bin/sh exports PWD itself; everything else is what the daemon passed.
        #expect(names.subtracting(["PWD"]) == ["PATH", "LANG"], "environment:\n\(env)")
        #expect(env.contains("PATH=/usr/local/bin:/usr/bin:/bin\n"))
        #expect(env.contains("LANG=C.UTF-8\n"))

        let signals = try String(contentsOfFile: "\(dir)/signals", encoding: .utf8)
        // Signals 32 and 33 are glibc's own (cancellation, setxid): no program can set or reset them.
        let masks = signals.split(separator: "\n").map { UInt64($0.split(separator: "\t").last ?? "", radix: 16).map { $0 & ~UInt64(0x1_8000_0000) } }
        #expect(masks == [0, 0], "signals blocked and ignored in the child:\n\(signals)")

        // Its own process group: /proc/self/stat field 5 (pgrp) is its pid.
        let fields = try String(contentsOfFile: "\(dir)/stat", encoding: .utf8).split(separator: ")").last?.split(separator: " ") ?? []
        let pid = try String(contentsOfFile: "\(dir)/pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        // After ")": state, ppid, pgrp.
        #expect(fields.count > 2 && String(fields[2]) == pid, "stat: \(fields.prefix(4))")

        // stdin, stdout, stderr, and the descriptor ls opens on the directory; nothing of ours.
        let fds = try String(contentsOfFile: "\(dir)/fds", encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        #expect(!fds.contains(leaked), "descriptors: \(fds)")
        #expect(fds.allSatisfy { $0 <= 3 }, "descriptors: \(fds)")
    }

    /// The child closes its output, then sleeps: the reading fails as a timeout at the deadline, not
    /// when the child is done, and the child and the grandchild it started are killed.
    @Test func theTimeoutHoldsAfterTheChildClosesItsOutput() throws {
        let dir = try scriptDir("""
        sleep 30 >/dev/null 2>&1 &
        echo $! > @DIR@/grandchild
        echo $$ > @DIR@/child
        exec >&-
        sleep 20
        """)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = Date()
        do {
            _ = try readProbe(dir, timeout: 1_000)
            Issue.record("a command ran past its timeout")
        } catch {
            #expect(error.message.contains("did not finish within 1000 ms and was killed"), "\(error.message)")
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.9 && elapsed < 2.5, "took \(elapsed) s")
        let child = try #require(pidFrom("\(dir)/child"))
        let grandchild = try #require(pidFrom("\(dir)/grandchild"))
        #expect(isGone(child), "the child \(child) survived")
        #expect(isGone(grandchild), "the grandchild \(grandchild) survived")
    }

    /// The child prints its value and exits, leaving a grandchild that holds the output open: the
    /// reading is the child's value at once, and the grandchild is killed.
    @Test func aGrandchildHoldingTheOutputDoesNotHoldTheReading() throws {
        let dir = try scriptDir("""
        sleep 30 &
        echo $! > @DIR@/grandchild
        echo 21.5
        """)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = Date()
        let value = try readProbe(dir, timeout: 5_000)
        let elapsed = Date().timeIntervalSince(start)
        #expect(value.value == .number(21.5))
        #expect(elapsed < 1.5, "took \(elapsed) s")
        let grandchild = try #require(pidFrom("\(dir)/grandchild"))
        #expect(isGone(grandchild), "the grandchild \(grandchild) survived")
    }
}
