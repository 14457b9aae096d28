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

    /// Runs `argv` (argv[0] an absolute path) and returns its standard output.
    static func run(_ argv: [String], timeout: Int64) throws(SensorError) -> String {
        guard let path = argv.first, path.hasPrefix("/") else { throw SensorError("a sensor command must be an absolute path") }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SensorError("pipe: \(String(cString: strerror(errno)))") }
        // Close-on-exec, so no other child inherits the pipe; dup2 clears it on the child's stdout.
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        let rc = posix_spawn(&pid, path, &actions, nil, cArgs, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw SensorError("cannot run \(path): \(String(cString: strerror(rc)))")
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let end = Int64(deadline.tv_sec) * 1000 + Int64(deadline.tv_nsec) / 1_000_000 + timeout
        var timedOut = false
        while true {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let left = end - (Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000)
            if left <= 0 { timedOut = true; break }
            var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, Int32(min(left, 60_000)))
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { continue }
            let n = Glibc.read(fds[0], &buffer, buffer.count)
            if n <= 0 { break }
            if output.count < 65536 { output += buffer[0..<min(n, 65536 - output.count)] }
        }
        close(fds[0])
        if timedOut { kill(pid, SIGKILL) }
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
