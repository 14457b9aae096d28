import Glibc

/// Log levels, with their syslog priorities (journald reads `<N>` prefixes on stderr, sd-daemon(3)).
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case trace = 0, debug, info, notice, warning, error

    var syslogPriority: Int {
        switch self {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        }
    }

    public var name: String {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        }
    }

    public init?(name: String) {
        guard let l = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = l
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Writes one line per message to stderr.
///
/// Under systemd (`JOURNAL_STREAM` set) each line starts with its syslog priority, `<6>`, which journald
/// turns into the entry's priority; it adds the timestamp itself. On a terminal each line starts with a
/// UTC time and the level. Messages never contain newlines: a multi-line message is joined with " | ",
/// so one event is one journal entry, and every other control (CR, U+2028, escapes…) is written as
/// `\xHH`, so text from a peer cannot forge a line. Quote untrusted fields with `logQuoted(_:)`.
public struct Logger: Sendable {
    public enum Format: Sendable { case journald, terminal, bare }

    public var label: String
    public var level: LogLevel
    public var format: Format
    private let sink: @Sendable (String) -> Void

    public init(label: String, level: LogLevel = .info, format: Format? = nil, sink: (@Sendable (String) -> Void)? = nil) {
        self.label = label
        self.level = level
        self.format = format ?? (getenv("JOURNAL_STREAM") != nil ? .journald : .terminal)
        self.sink = sink ?? { line in
            var bytes = Array(line.utf8)
            bytes.append(0x0A)
            bytes.withUnsafeBytes { buf in
                var off = 0
                while off < buf.count {
                    let n = write(2, buf.baseAddress! + off, buf.count - off)
                    if n <= 0 { break }
                    off += n
                }
            }
        }
    }

    /// A logger with another label (for a subsystem).
    public func with(label: String) -> Logger {
        var copy = self
        copy.label = label
        return copy
    }

    public func isEnabled(_ l: LogLevel) -> Bool { l >= level }

    public func log(_ l: LogLevel, _ message: @autoclosure () -> String) {
        guard l >= level else { return }
        let text = Self.oneLine(message())
        switch format {
        case .journald:
            sink("<\(l.syslogPriority)>\(label): \(text)")
        case .terminal:
            let (s, ms) = Self.now()
            sink("\(s).\(ms) \(l.name.padding(7)) \(label): \(text)")
        case .bare:
            sink("\(l.name): \(text)")
        }
    }

    public func trace(_ m: @autoclosure () -> String) { log(.trace, m()) }
    public func debug(_ m: @autoclosure () -> String) { log(.debug, m()) }
    public func info(_ m: @autoclosure () -> String) { log(.info, m()) }
    public func notice(_ m: @autoclosure () -> String) { log(.notice, m()) }
    public func warning(_ m: @autoclosure () -> String) { log(.warning, m()) }
    public func error(_ m: @autoclosure () -> String) { log(.error, m()) }

    /// `text` as one line: LF joined with " | " as Perch's own multi-line messages expect, every other
    /// control escaped (see `LogText`), so text from a peer cannot start a line of its own.
    static func oneLine(_ text: String) -> String {
        var fast = true
        for b in text.utf8 where b < 0x20 || b >= 0x7F { fast = false; break }
        if fast { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 16)
        LogText.append(text, to: &out, joinLines: true, quoting: false)
        return String(decoding: out, as: UTF8.self)
    }

    private static func now() -> (String, String) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tmv = tm()
        gmtime_r(&t, &tmv)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let ms = Int(ts.tv_nsec / 1_000_000)
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return ("\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec))", msText)
    }
}

extension String {
    fileprivate func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
