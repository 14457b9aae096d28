public import PerchBoard
public import PerchGPIO
import PerchIO
public import PerchSensors
import TOML

/// The hardware half of the configuration: the board, the GPIO backend, and the outputs, inputs and
/// sensors that every front-end (chat, ad-hoc commands, iq) is generated from.
public struct DeviceConfiguration: Sendable {
    public enum Backend: String, Sendable { case libgpiod, simulated }

    /// A friendly name for status replies; the JID's localpart when not set.
    public var name: String?
    public var board: BoardProfile?
    public var backend: Backend = .libgpiod
    /// The directory of line files for the simulated backend.
    public var simulatedDirectory = "/run/perch/gpio"
    /// Where state that must survive a restart is kept (outputs' last states).
    public var stateDirectory = "/var/lib/perch"
    public var sysfsRoot = "/sys"
    public var procfsRoot = "/proc"
    public var allowCommands = false
    public var outputs: [OutputSpec] = []
    public var inputs: [InputSpec] = []
    public var sensors: [SensorSpec] = []
    public var interlocks: [InterlockGroup] = []
    /// Outputs that go to their safe state after this long without a server connection (ms), by name.
    public var safeAfter: [String: Int64] = [:]

    public init() {}

    /// Whether any GPIO line is declared (and a backend must be opened).
    public var usesGPIO: Bool { !outputs.isEmpty || !inputs.isEmpty }

    /// The sysfs reader the sensors use.
    public var sysfsReader: SysfsReader { SysfsReader(sysRoot: sysfsRoot, procRoot: procfsRoot, diskPath: stateDirectory) }

    /// `min_switch_interval` when an output does not set it: a relay's contacts need some 5 to 20 ms to
    /// settle, and a motor or a valve behind it much longer; ten switches a second at most keeps a
    /// flood of commands (or one set naming an output many times) from chattering it.
    public static let defaultMinSwitchInterval: Int64 = 100

    /// Words the chat front-end uses as commands, so no output, input or sensor may be called so.
    /// Names no output, input or sensor may have: the chat command words (``ChatWords``).
    public static var reservedNames: Set<String> { ChatWords.reserved }
}

extension ConfigurationLoader {
    /// Line names for a message: `GPIO0 … GPIO27` when they run in one numbered series, else a list.
    static func lineRange(_ names: some Collection<String>) -> String {
        let sorted = names.sorted { a, b in
            let (pa, na) = (a.prefix { !$0.isNumber }, Int(a.drop { !$0.isNumber }) ?? -1)
            let (pb, nb) = (b.prefix { !$0.isNumber }, Int(b.drop { !$0.isNumber }) ?? -1)
            return pa == pb ? na < nb : pa < pb
        }
        if sorted.count > 6, let first = sorted.first, let last = sorted.last { return "\(first) … \(last), \(sorted.count) in all" }
        return sorted.joined(separator: ", ")
    }

    /// Whether `name` is letters then digits with the same letters as a name in `names`
    /// (case-insensitively): `GPIO99` is in the series of `GPIO17`, `DOOR_SENSOR` in none.
    static func inSeries(_ name: String, of names: some Collection<String>) -> Bool {
        func split(_ s: String) -> (String, String)? {
            let letters = s.prefix { !$0.isNumber }
            let digits = s.dropFirst(letters.count)
            guard !letters.isEmpty, !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return (letters.lowercased(), String(digits))
        }
        guard let (prefix, _) = split(name) else { return false }
        return names.contains { split($0)?.0 == prefix }
    }

    func parseDevice(_ root: TOMLTable, _ r: Reader) throws(ConfigurationError) -> DeviceConfiguration {
        var device = DeviceConfiguration()
        let directory = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : "."
        func absolute(_ p: String) -> String { p.hasPrefix("/") ? p : "\(directory)/\(p)" }

        if let t = try r.table(root, "device") {
            try r.allowOnly(t, ["name", "board", "profiles_dir", "gpio", "simulated_dir", "state_dir", "sysfs_root", "procfs_root", "allow_commands"], prefix: "device.")
            device.name = try r.string(t, "name", prefix: "device.")
            if let b = try r.choice(t, "gpio", prefix: "device.", ["libgpiod", "simulated"]) { device.backend = .init(rawValue: b)! }
            if let d = try r.string(t, "simulated_dir", prefix: "device.") { device.simulatedDirectory = absolute(d) }
            if let d = try r.string(t, "state_dir", prefix: "device.") { device.stateDirectory = absolute(d) }
            if let d = try r.string(t, "sysfs_root", prefix: "device.") { device.sysfsRoot = absolute(d) }
            if let d = try r.string(t, "procfs_root", prefix: "device.") { device.procfsRoot = absolute(d) }
            device.allowCommands = try r.bool(t, "allow_commands", prefix: "device.") ?? false
            if let board = try r.string(t, "board", prefix: "device.") {
                var dirs = BoardProfile.searchDirectories
                if let d = try r.string(t, "profiles_dir", prefix: "device.") { dirs.insert(absolute(d), at: 0) }
                do {
                    device.board = try BoardProfile.find(board.hasSuffix(".toml") ? absolute(board) : board, in: dirs)
                } catch {
                    throw r.error(t["board"], "device.board", error.message)
                }
            }
        }

        var names: [String: String] = [:]
        func claim(_ table: TOMLTable, _ key: String) throws(ConfigurationError) -> String {
            let name = try r.string(table, "name", prefix: "\(key).", required: true)!
            guard let first = name.unicodeScalars.first, first.properties.isAlphabetic, name.count <= 32,
                  name.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }) else {
                throw r.error(table["name"], "\(key).name", "\"\(name)\" must start with a letter and hold only letters, digits, - and _ (at most 32)")
            }
            let folded = name.lowercased()
            if let meaning = ChatWords.meaning(of: folded) {
                throw r.error(table["name"], "\(key).name", "\"\(name)\" is a chat command word (\(meaning)), so chat commands could not name it; choose another name, such as \"\(folded)_1\"")
            }
            if let other = names[folded] { throw r.error(table["name"], "\(key).name", "\"\(name)\" is already the name of \(other) (names are case-insensitive)") }
            names[folded] = "\(key) \"\(name)\""
            return name
        }

        var usedLines: [LineAddress: String] = [:]
        func line(_ table: TOMLTable, _ key: String, _ name: String) throws(ConfigurationError) -> LineAddress {
            var chip: ChipSelector?
            if let c = try r.string(table, "chip", prefix: "\(key).") {
                chip = c.hasPrefix("/") || (c.hasPrefix("gpiochip") && c.dropFirst(8).allSatisfy(\.isNumber)) ? .path(c) : .label(c)
            }
            let address: LineAddress
            switch table["line"] {
            case nil:
                throw ConfigurationError(file: file, line: table.line, key: "\(key).line", "is required: a line name (GPIO17), a header pin (pin11) with a board, or an offset with chip")
            case .integer(let offset, _)?:
                guard let chip else { throw r.error(table["line"], "\(key).line", "an offset needs chip (a label such as \"pinctrl-bcm2711\", or a path)") }
                guard offset >= 0 else { throw r.error(table["line"], "\(key).line", "must not be negative") }
                address = LineAddress(chip: chip, line: .offset(Int(offset)))
            case .string(let s, _)?:
                if chip == nil, let board = device.board {
                    do {
                        if let resolved = try board.resolve(s) { address = resolved; break }
                    } catch {
                        throw r.error(table["line"], "\(key).line", error.message)
                    }
                    // A name in the profile's own series (GPIO99 beside GPIO0 … GPIO27) that it does not
                    // list is a mistake; any other name is a device-tree line name, looked up at start.
                    if Self.inSeries(s, of: board.lines.keys) {
                        throw r.error(table["line"], "\(key).line", "the \(board.name) has no line \"\(s)\" (its lines: \(Self.lineRange(board.lines.keys))); see perch gpio list --board \(board.id), or give chip to use a line the profile does not list")
                    }
                }
                if chip == nil, s.lowercased().hasPrefix("pin"), Int(s.dropFirst(3)) != nil, device.board == nil {
                    throw r.error(table["line"], "\(key).line", "\"\(s)\" is a header pin: set [device] board so Perch knows which line it carries")
                }
                address = LineAddress(chip: chip, line: .name(s))
            case let other?:
                throw r.error(other, "\(key).line", "must be a line name or an offset, not \(other.typeName)")
            }
            if let holder = usedLines[address] { throw r.error(table["line"], "\(key).line", "\(address) is already used by \(holder)") }
            usedLines[address] = "\(key) \"\(name)\""
            return address
        }

        for (i, t) in try r.tables(root, "output").enumerated() {
            let key = "output[\(i)]"
            try r.allowOnly(t, ["name", "line", "chip", "active_low", "initial", "safe_state", "max_pulse", "min_switch_interval", "safe_after"], prefix: "\(key).")
            let name = try claim(t, key)
            var spec = OutputSpec(name: name, line: try line(t, key, name))
            spec.activeLow = try r.bool(t, "active_low", prefix: "\(key).") ?? false
            if let s = try r.choice(t, "initial", prefix: "\(key).", InitialState.allCases.map(\.rawValue)) { spec.initial = InitialState(rawValue: s)! }
            switch try r.choice(t, "safe_state", prefix: "\(key).", ["off", "on", "keep"]) {
            case "on": spec.safeState = true
            case "keep": spec.safeState = nil
            default: spec.safeState = false
            }
            spec.maxPulse = try r.duration(t, "max_pulse", prefix: "\(key).", range: 10...86_400_000) ?? spec.maxPulse
            spec.minSwitchInterval = try r.duration(t, "min_switch_interval", prefix: "\(key).", range: 0...60_000) ?? DeviceConfiguration.defaultMinSwitchInterval
            if let after = try r.duration(t, "safe_after", prefix: "\(key).", range: 1_000...604_800_000) {
                guard spec.safeState != nil else { throw r.error(t["safe_after"], "\(key).safe_after", "needs a safe_state of \"off\" or \"on\", not \"keep\"") }
                device.safeAfter[name] = after
            }
            device.outputs.append(spec)
        }

        for (i, t) in try r.tables(root, "input").enumerated() {
            let key = "input[\(i)]"
            try r.allowOnly(t, ["name", "line", "chip", "active_low", "bias", "debounce", "states"], prefix: "\(key).")
            let name = try claim(t, key)
            var spec = InputSpec(name: name, line: try line(t, key, name))
            spec.activeLow = try r.bool(t, "active_low", prefix: "\(key).") ?? false
            if let b = try r.choice(t, "bias", prefix: "\(key).", Bias.allCases.map(\.rawValue)) { spec.bias = Bias(rawValue: b)! }
            spec.debounce = try r.duration(t, "debounce", prefix: "\(key).", range: 0...10_000) ?? spec.debounce
            if let states = t["states"] {
                // states = { on = "open", off = "closed" }: what chat, status and presence call them.
                guard case .table(let words, _) = states else { throw r.error(states, "\(key).states", "must be an inline table such as { on = \"open\", off = \"closed\" }, not \(states.typeName)") }
                try r.allowOnly(words, ["on", "off"], prefix: "\(key).states.")
                for (k, fallback) in [("on", "on"), ("off", "off")] {
                    let word = try r.string(words, k, prefix: "\(key).states.", required: true) ?? fallback
                    guard !word.isEmpty, word.count <= 16, word.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || $0 == "-" || $0 == "_" }) else {
                        throw r.error(words[k], "\(key).states.\(k)", "\"\(word)\" must be one word of letters (at most 16)")
                    }
                    if k == "on" { spec.onWord = word } else { spec.offWord = word }
                }
                guard spec.onWord.lowercased() != spec.offWord.lowercased() else {
                    throw r.error(states, "\(key).states", "on and off must be different words")
                }
            }
            device.inputs.append(spec)
        }

        for (i, t) in try r.tables(root, "sensor").enumerated() {
            let key = "sensor[\(i)]"
            let common = ["name", "source", "unit", "interval", "precision", "deadband", "heartbeat", "presence"]
            let name = try claim(t, key)
            let p = "\(key)."
            let kind = try r.choice(t, "source", prefix: p, ["thermal", "hwmon", "iio", "w1", "gpio", "system", "file", "command"])
            guard let kind else { throw ConfigurationError(file: file, line: t.line, key: "\(key).source", "is required: thermal, hwmon, iio, w1, gpio, system, file or command") }
            func need(_ k: String) throws(ConfigurationError) -> String {
                guard let v = try r.string(t, k, prefix: p) else { throw ConfigurationError(file: file, line: t.line, key: p + k, "is required for source = \"\(kind)\"") }
                return v
            }
            let source: SensorSource
            switch kind {
            case "thermal":
                try r.allowOnly(t, common + ["zone"], prefix: p)
                source = .thermal(zone: try r.string(t, "zone", prefix: p) ?? device.board?.thermalZone ?? "thermal_zone0")
            case "hwmon":
                try r.allowOnly(t, common + ["chip", "attribute"], prefix: p)
                source = .hwmon(chip: try need("chip"), attribute: try need("attribute"))
            case "iio":
                try r.allowOnly(t, common + ["device", "channel"], prefix: p)
                source = .iio(device: try need("device"), channel: try need("channel"))
            case "w1":
                try r.allowOnly(t, common + ["id"], prefix: p)
                source = .w1(id: try r.string(t, "id", prefix: p))
            case "gpio":
                try r.allowOnly(t, common + ["input"], prefix: p)
                let input = try need("input")
                guard device.inputs.contains(where: { $0.name.lowercased() == input.lowercased() }) else {
                    throw r.error(t["input"], p + "input", "no [[input]] is named \"\(input)\" (declare inputs before the sensors that read them)")
                }
                source = .gpio(input: device.inputs.first { $0.name.lowercased() == input.lowercased() }!.name)
            case "system":
                try r.allowOnly(t, common + ["figure"], prefix: p)
                let f = try r.choice(t, "figure", prefix: p, SystemFigure.allCases.map(\.rawValue))
                guard let f else { throw ConfigurationError(file: file, line: t.line, key: p + "figure", "is required for source = \"system\"") }
                source = .system(SystemFigure(rawValue: f)!)
            case "file":
                try r.allowOnly(t, common + ["path", "scale"], prefix: p)
                source = .file(path: absolute(try need("path")), scale: try r.number(t, "scale", prefix: p) ?? 1)
            default:
                try r.allowOnly(t, common + ["command", "timeout", "key"], prefix: p)
                guard device.allowCommands else {
                    throw r.error(t["source"], p + "source", "command sensors run programs and are opt-in: set allow_commands = true under [device]")
                }
                let argv = try r.strings(t, "command", prefix: p)
                guard let first = argv.first, first.hasPrefix("/") else {
                    throw ConfigurationError(file: file, line: t.line, key: p + "command", "must be an array starting with an absolute path, e.g. [\"/usr/local/bin/read-tank\", \"--json\"]")
                }
                source = .command(argv: argv, timeout: try r.duration(t, "timeout", prefix: p, range: 100...300_000) ?? 10_000, key: try r.string(t, "key", prefix: p))
            }
            var spec = SensorSpec(name: name, source: source)
            spec.unit = try r.stringAllowingEmpty(t, "unit", prefix: p)
            spec.interval = try r.duration(t, "interval", prefix: p, range: 1_000...86_400_000) ?? spec.interval
            if let precision = try r.integer(t, "precision", prefix: p) {
                guard (0...6).contains(precision) else { throw r.error(t["precision"], p + "precision", "must be between 0 and 6 decimal places") }
                spec.precision = Int(precision)
            }
            if let d = try r.number(t, "deadband", prefix: p) {
                guard d >= 0 else { throw r.error(t["deadband"], p + "deadband", "must not be negative") }
                spec.deadband = d
            }
            spec.heartbeat = try r.duration(t, "heartbeat", prefix: p, range: 1_000...604_800_000)
            spec.presence = try r.bool(t, "presence", prefix: p)
            if let hb = spec.heartbeat, hb < spec.interval {
                throw r.error(t["heartbeat"], p + "heartbeat", "is shorter than the interval (\(spec.interval / 1000) s): a heartbeat can only repeat readings that were taken")
            }
            device.sensors.append(spec)
        }

        for (i, t) in try r.tables(root, "interlock").enumerated() {
            let key = "interlock[\(i)]"
            try r.allowOnly(t, ["name", "outputs", "wait"], prefix: "\(key).")
            let name = try r.string(t, "name", prefix: "\(key).") ?? "interlock\(i + 1)"
            let members = try r.strings(t, "outputs", prefix: "\(key).")
            guard members.count >= 2 else { throw ConfigurationError(file: file, line: t.line, key: "\(key).outputs", "needs at least two outputs") }
            var canonical: [String] = []
            for m in members {
                guard let spec = device.outputs.first(where: { $0.name.lowercased() == m.lowercased() }) else {
                    throw r.error(t["outputs"], "\(key).outputs", "no [[output]] is named \"\(m)\"")
                }
                if let other = device.interlocks.first(where: { $0.contains(spec.name) }) {
                    throw r.error(t["outputs"], "\(key).outputs", "\(spec.name) is already in interlock \"\(other.name)\"")
                }
                canonical.append(spec.name)
            }
            device.interlocks.append(InterlockGroup(name: name, outputs: canonical, wait: try r.duration(t, "wait", prefix: "\(key).", range: 0...600_000) ?? 0))
        }
        return device
    }
}

extension Reader {
    /// A string that may be empty (a unit of "" means "no unit").
    func stringAllowingEmpty(_ t: TOMLTable, _ key: String, prefix: String) throws(ConfigurationError) -> String? {
        switch t[key] {
        case nil: return nil
        case .string(let s, _)?: return s
        case let other?: throw error(other, prefix + key, "must be a string, not \(other.typeName)")
        }
    }
}
