internal import CLinux
import Glibc
import PerchIO

/// Runs a sensor's command (opt-in in the configuration): no shell, a timeout, at most 64 KiB of output.
/// Its standard output is a number (`21.5`), `true`/`false`, or a JSON object from which `key` (a dotted
/// path, `sensors.temp`) picks a number or boolean.
enum CommandSource {
    static func read(argv: [String], timeout: Int64, key: String?) throws(SensorError) -> SourceValue {
        let output = try run(argv, timeout: timeout)
        return try parse(output, key: key, command: argv[0])
    }

    static func parse(_ output: String, key: String?, command: String) throws(SensorError) -> SourceValue {
        let text = output.trimmingWhitespace()
        if let key {
            var parser = JSONScanner(Array(text.utf8))
            guard let root = parser.parse() else { throw SensorError("\(command) did not print JSON: \(text.prefix(60))") }
            var node = root
            for part in key.split(separator: ".") {
                guard case .object(let members) = node, let next = members[String(part)] else {
                    throw SensorError("\(command)'s JSON has no \"\(key)\"")
                }
                node = next
            }
            switch node {
            case .number(let d): return SourceValue(d, "")
            case .bool(let b): return SourceValue(.boolean(b), "")
            default: throw SensorError("\(command)'s \"\(key)\" is not a number or boolean")
            }
        }
        if text == "true" { return SourceValue(.boolean(true), "") }
        if text == "false" { return SourceValue(.boolean(false), "") }
        guard let d = Double(text), d.isFinite else { throw SensorError("\(command) printed \"\(text.prefix(60))\", not a number") }
        return SourceValue(d, "")
    }

    /// The whole environment a command gets: the daemon's own (its credentials directory, anything a
    /// service manager or a shell set) stays with the daemon. A command that needs more names it in
    /// argv: `["/usr/bin/env", "VAR=value", "/usr/local/bin/probe"]`. LANG=C.UTF-8 also keeps numbers
    /// printed with a decimal point.
    static let environment = ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]

    /// How often (ms) the child is looked at once its standard output is closed, and while the
    /// output stays open and quiet (a grandchild may hold it open after the child exited).
    static let exitCheckInterval: Int64 = 20
    static let quietOutputCheckInterval: Int64 = 100

    /// Runs `argv` (argv[0] an absolute path) and returns its standard output.
    ///
    /// The child runs in a process group of its own, with the minimal ``environment``, no inherited
    /// descriptors beyond stdin (/dev/null), stdout (a pipe) and stderr, an empty signal mask and every
    /// signal at its default (the daemon blocks SIGTERM for its signalfd and ignores SIGPIPE). The
    /// timeout covers the whole run: at the deadline the group is killed (SIGKILL), whether or not
    /// the child has closed its output. When the child exits, whatever it left running in its group
    /// is killed too, so a grandchild cannot hold the pipe, or the reading, open. Blocks the calling
    /// thread (SensorMonitor runs commands off the event loop).
    static func run(_ argv: [String], timeout: Int64) throws(SensorError) -> String {
        guard let path = argv.first, path.hasPrefix("/") else { throw SensorError("a sensor command must be an absolute path") }
        var fds: [Int32] = [0, 0]
        // Close-on-exec from the start, so no child spawned meanwhile by another thread inherits the
        // pipe; dup2 clears it on the child's stdout.
        guard perch_pipe2(&fds, O_CLOEXEC) == 0 else { throw SensorError("pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // Descriptors the daemon forgot to mark close-on-exec do not reach the command either.
        perch_spawn_closefrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        let cEnv = environment.map { strdup($0) } + [nil]
        defer { for e in cEnv { free(e) } }
        let rc = posix_spawn(&pid, path, &actions, &attributes, cArgs, cEnv)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw SensorError("cannot run \(path): \(String(cString: strerror(rc)))")
        }

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var pipeOpen = true
        /// Reads what the child wrote before it exited, without waiting for more.
        func drain() {
            // Bounded: a grandchild still writing cannot keep the reading going.
            for _ in 0...(65536 / 4096) where pipeOpen {
                var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
                let r = poll(&p, 1, 0)
                if r < 0 && errno == EINTR { continue }
                if r <= 0 { return }
                let n = Glibc.read(fds[0], &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { pipeOpen = false; return }
                if output.count < 65536 { output += buffer[0..<min(n, 65536 - output.count)] }
            }
        }
        let end = Self.nowMilliseconds() + timeout
        var timedOut = false
        while true {
            if Self.hasExited(pid) { drain(); break }
            let left = end - Self.nowMilliseconds()
            if left <= 0 { timedOut = true; break }
            if pipeOpen {
                // Wakes on output or on EOF, and at least every quietOutputCheckInterval to see the
                // child exit while a grandchild holds the pipe.
                var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
                let r = poll(&p, 1, Int32(min(left, Self.quietOutputCheckInterval)))
                if r < 0 && errno == EINTR { continue }
                if r <= 0 { continue }
                let n = Glibc.read(fds[0], &buffer, buffer.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { pipeOpen = false; continue }
                if output.count < 65536 { output += buffer[0..<min(n, 65536 - output.count)] }
            } else {
                // Output closed, child still running: look again shortly, until the deadline.
                _ = poll(nil, 0, Int32(min(left, Self.exitCheckInterval)))
            }
        }
        close(fds[0])
        // The child is exited but not reaped (or past its deadline), so its pid, and the group's id,
        // cannot have been reused: killing the group reaches only what it left behind.
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if timedOut { throw SensorError("\(path) did not finish within \(timeout) ms and was killed") }
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw SensorError(exited ? "\(path) exited with status \(code)" : "\(path) was killed by signal \(status & 0x7f)")
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Whether `pid` has exited, leaving it to be reaped (WNOWAIT), so its pid stays reserved.
    private static func hasExited(_ pid: pid_t) -> Bool {
        var info = siginfo_t()
        while true {
            let r = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
            if r < 0 && errno == EINTR { continue }
            // WNOHANG leaves si_pid 0 while the child runs.
            return r == 0 && info._sifields._sigchld.si_pid == pid
        }
    }

    private static func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// Just enough JSON for a command's output.
enum JSONValue: Hashable {
    case object([String: JSONValue]), array([JSONValue]), string(String), number(Double), bool(Bool), null
}

struct JSONScanner {
    let bytes: [UInt8]
    var i = 0
    var depth = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func parse() -> JSONValue? {
        guard let v = value() else { return nil }
        skip()
        return i == bytes.count ? v : nil
    }

    mutating func skip() { while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 } }

    mutating func value() -> JSONValue? {
        skip()
        guard i < bytes.count else { return nil }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            depth += 1
            guard depth < 64 else { return nil }
            defer { depth -= 1 }
            i += 1
            var members: [String: JSONValue] = [:]
            skip()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skip()
                guard case .string(let k)? = string() else { return nil }
                skip()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                guard let v = value() else { return nil }
                members[k] = v
                skip()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                return nil
            }
        case UInt8(ascii: "["):
            depth += 1
            guard depth < 64 else { return nil }
            defer { depth -= 1 }
            i += 1
            var items: [JSONValue] = []
            skip()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                guard let v = value() else { return nil }
                items.append(v)
                skip()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                return nil
            }
        case UInt8(ascii: "\""):
            return string()
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        default:
            let start = i
            while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
            return Double(String(decoding: bytes[start..<i], as: UTF8.self)).map { .number($0) }
        }
    }

    mutating func literal(_ word: String, _ v: JSONValue) -> JSONValue? {
        let w = Array(word.utf8)
        guard bytes.count - i >= w.count, Array(bytes[i..<i + w.count]) == w else { return nil }
        i += w.count
        return v
    }

    /// A string (escapes other than \" and \\ are kept as written: keys and values here are plain).
    mutating func string() -> JSONValue? {
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if b == UInt8(ascii: "\"") { return .string(String(decoding: out, as: UTF8.self)) }
            if b == UInt8(ascii: "\\"), i < bytes.count { out.append(bytes[i]); i += 1; continue }
            out.append(b)
        }
        return nil
    }
}
