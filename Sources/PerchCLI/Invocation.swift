/// What `perch` was asked to do, parsed from its arguments before anything else is read: a usage
/// error is found (and explained) without touching the configuration.
public enum Invocation: Sendable, Equatable {
    case run(config: String, traceXML: Bool, logLevel: String?)
    case checkConfig(config: String)
    case doctor(config: String)
    /// `config` is nil when no `--config` was given (the default file is used when readable).
    case gpioList(config: String?, board: String?, profiles: String?)
    case sensorsRead(config: String)
    /// `perch send DEVICE-JID TEXT…`: one chat command, its answer printed. `timeout` is as written
    /// (a duration, checked by the caller with the one duration grammar).
    case send(config: String, device: String, text: String, timeout: String?)
    case version
    case help

    /// The configuration read when no `--config` is given.
    public static let defaultConfig = "/etc/perch/perch.toml"

    /// The exit statuses of sysexits.h that perch uses.
    public enum ExitStatus {
        /// The command line is wrong (EX_USAGE).
        public static let usage: Int32 = 64
        /// The configuration is wrong (EX_CONFIG): the unit does not restart on it.
        public static let config: Int32 = 78
    }

    /// The verbs, each with the options it takes (a value after the option, or a flag).
    struct Verb {
        let name: String
        let options: [String]
        /// What its arguments after the options are, when it takes any (for the usage error).
        var positionals: String? = nil
    }

    static let verbs: [Verb] = [
        Verb(name: "run", options: ["--config", "--trace-xml", "--log-level"]),
        Verb(name: "check-config", options: ["--config"]),
        Verb(name: "doctor", options: ["--config"]),
        Verb(name: "gpio list", options: ["--config", "--board", "--profiles"]),
        Verb(name: "sensors read", options: ["--config"]),
        Verb(name: "send", options: ["--config", "--timeout"], positionals: "DEVICE-JID TEXT"),
    ]
    /// Verbs of two words, by their first.
    static let groups: [String: [String]] = ["gpio": ["list"], "sensors": ["read"]]
    static let flags: Set<String> = ["--trace-xml"]
    static let aliases: [String: String] = ["-c": "--config"]
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error"]

    /// Parses the arguments after the program name.
    public static func parse(_ arguments: [String]) -> Result<Invocation, UsageError> {
        var args = arguments[...]
        if args.contains("--help") || args.contains("-h") || args.first == "help" { return .success(.help) }
        if args.contains("--version") || args.first == "version" {
            guard args.count == 1 else { return .failure(UsageError("--version takes nothing else")) }
            return .success(.version)
        }
        guard let first = args.popFirst() else { return .failure(UsageError("no command given")) }
        if first.hasPrefix("-") { return .failure(UsageError("a command comes first, before \(first)")) }
        var name = first
        if let subs = groups[first] {
            guard let sub = args.first, !sub.hasPrefix("-") else {
                return .failure(UsageError("perch \(first) needs a subcommand: \(subs.map { "perch \(first) \($0)" }.joined(separator: ", "))"))
            }
            guard subs.contains(sub) else {
                return .failure(UsageError("unknown subcommand '\(sub)' of perch \(first); valid: \(subs.joined(separator: ", "))"))
            }
            args.removeFirst()
            name += " " + sub
        }
        guard let verb = verbs.first(where: { $0.name == name }) else {
            let hint = suggestion(for: first).map { "; did you mean '\($0)'?" } ?? "; valid commands: \(verbs.map(\.name).joined(separator: ", "))"
            return .failure(UsageError("unknown command '\(first)'\(hint)"))
        }

        var values: [String: String] = [:]
        var seenFlags: Set<String> = []
        var positionals: [String] = []
        while let a = args.popFirst() {
            if a == "--", verb.positionals != nil {
                positionals += args
                break
            }
            var option = a
            var inline: String?
            if a.hasPrefix("--"), let eq = a.firstIndex(of: "=") {
                option = String(a[..<eq])
                inline = String(a[a.index(after: eq)...])
            }
            option = aliases[option] ?? option
            guard option.hasPrefix("-") else {
                guard verb.positionals != nil else { return .failure(UsageError("perch \(verb.name) takes no argument '\(a)'")) }
                positionals.append(a)
                continue
            }
            guard verb.options.contains(option) else {
                let known = verbs.contains { $0.options.contains(option) }
                let valid = verb.options.isEmpty ? "it takes no options" : "it takes \(verb.options.joined(separator: ", "))"
                return .failure(UsageError(known ? "\(option) is not an option of perch \(verb.name); \(valid)" : "unknown option '\(option)'; perch \(verb.name) takes \(verb.options.joined(separator: ", "))"))
            }
            if flags.contains(option) {
                guard inline == nil else { return .failure(UsageError("\(option) takes no value")) }
                guard seenFlags.insert(option).inserted else { return .failure(UsageError("\(option) is given twice")) }
                continue
            }
            guard values[option] == nil else { return .failure(UsageError("\(option) is given twice")) }
            let value: String
            if let inline {
                value = inline
            } else if let next = args.first, !next.hasPrefix("-") {
                value = next
                args.removeFirst()
            } else {
                value = ""
            }
            guard !value.isEmpty else { return .failure(UsageError("\(option) needs \(valueName(option))")) }
            if option == "--log-level", !logLevels.contains(value) {
                return .failure(UsageError("--log-level needs one of \(logLevels.joined(separator: ", ")), not '\(value)'"))
            }
            values[option] = value
        }

        let config = values["--config"] ?? defaultConfig
        if verb.name == "send" {
            guard positionals.count >= 2 else {
                return .failure(UsageError("perch send needs the device's JID and the command: perch send --config FILE DEVICE-JID \"pump on\""))
            }
            let text = positionals.dropFirst().joined(separator: " ")
            guard text.contains(where: { !$0.isWhitespace }) else {
                return .failure(UsageError("perch send needs a command to send, such as \"status\""))
            }
            return .success(.send(config: config, device: positionals[0], text: text, timeout: values["--timeout"]))
        }
        switch verb.name {
        case "run": return .success(.run(config: config, traceXML: seenFlags.contains("--trace-xml"), logLevel: values["--log-level"]))
        case "check-config": return .success(.checkConfig(config: config))
        case "doctor": return .success(.doctor(config: config))
        case "gpio list": return .success(.gpioList(config: values["--config"], board: values["--board"], profiles: values["--profiles"]))
        default: return .success(.sensorsRead(config: config))
        }
    }

    static func valueName(_ option: String) -> String {
        switch option {
        case "--config": "a file"
        case "--board": "a profile id or file"
        case "--profiles": "a directory"
        case "--timeout": "a duration such as 30s"
        default: "one of \(logLevels.joined(separator: ", "))"
        }
    }

    /// The command a typo most likely meant (at most two edits away), if any.
    static func suggestion(for word: String) -> String? {
        let candidates = verbs.map(\.name) + groups.keys.map { $0 }
        let scored = candidates.map { ($0, distance(word, $0.split(separator: " ").first.map(String.init) ?? $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2 else { return nil }
        return best.0
    }

    /// Levenshtein distance, with a swap of neighbours counting as one edit.
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8), y = Array(b.utf8)
        if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[x.count][y.count]
    }

    public static let usage = """
        usage: perch run --config FILE [--trace-xml] [--log-level LEVEL]
               perch check-config --config FILE
               perch doctor --config FILE
               perch gpio list [--config FILE | --board ID [--profiles DIR]]
               perch sensors read --config FILE
               perch send --config FILE [--timeout 30s] DEVICE-JID TEXT
               perch --version

        run            connect to the XMPP server and serve until SIGTERM or SIGINT; SIGHUP
                       (systemctl reload perch) reads FILE again and applies it, keeping the session
        check-config   validate FILE and the password source, print what would be used, exit
        doctor         check the board: GPIO chips and permissions, every configured line and sensor
        gpio list      every GPIO chip and line, with the board profile's names and pins beside them
        sensors read   read every configured sensor once and print the values
        send           log in as the configured account (another resource), send TEXT to DEVICE-JID
                       as a chat command, print its answer and exit: 0 done, 1 refused or no answer
        --config FILE  the TOML configuration (default /etc/perch/perch.toml)
        --board ID     a board profile for gpio list without a configuration (the profiles are in
                       /etc/perch/devices, /usr/share/perch/devices or a checkout's devices/)
        --trace-xml    log every XML element sent and received (SASL payloads redacted)
        --log-level    trace, debug, info, notice, warning or error (overrides log.level)

        exit status: 0 done, 1 failed (a check, a sensor, the connection at start), 64 usage error,
        78 configuration error (the unit does not restart on it)
        """
}

/// A command line perch cannot take, with what would be valid.
public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
