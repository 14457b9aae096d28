import Glibc
public import PerchGPIO
import PerchIO
import TOML

/// A board profile from `devices/`: the board's GPIO chips by label, its header pins, its lines by SoC
/// name, and what it has built in. It lets a configuration say `GPIO17` or `pin11` on any kernel.
public struct BoardProfile: Sendable, Hashable {
    public struct Header: Sendable, Hashable {
        public var name: String
        /// What a pin is called in a configuration: the prefix and the pin number (`pin11`, `P9_12`).
        public var prefix: String
        /// What each pin carries, pin 1 first: a line name, or a power/ground/other name.
        public var pins: [String]
    }

    public struct Line: Sendable, Hashable {
        public var name: String
        /// The chip's alias in ``BoardProfile/chips``.
        public var chip: String
        public var offset: Int
    }

    public var id: String
    public var name: String
    public var soc: String?
    /// Chip aliases to labels.
    public var chips: [String: String]
    public var headers: [Header]
    public var lines: [String: Line]
    /// The SoC's own thermal zone, by type.
    public var thermalZone: String?
    /// The file it came from.
    public var file: String

    /// A line address for a configuration's name: a line (`GPIO17`, any case) or a header pin
    /// (`pin11`, `P9_12`). Nil when the name is neither; an error when it is a pin that is not a line.
    public func resolve(_ text: String) throws(BoardError) -> LineAddress? {
        if let line = lines[text] ?? lines.first(where: { $0.key.lowercased() == text.lowercased() })?.value {
            return address(line)
        }
        for header in headers {
            let p = header.prefix.lowercased()
            let t = text.lowercased()
            guard t.hasPrefix(p), let n = Int(t.dropFirst(p.count)) else { continue }
            guard n >= 1, n <= header.pins.count else {
                throw BoardError("\(name) has no pin \(text): header \(header.name) has pins 1 to \(header.pins.count)")
            }
            let carried = header.pins[n - 1]
            guard let line = lines[carried] else {
                throw BoardError("\(text) on the \(name) is \(carried), not a GPIO line")
            }
            return address(line)
        }
        return nil
    }

    func address(_ line: Line) -> LineAddress {
        LineAddress(chip: chips[line.chip].map { .label($0) }, line: .offset(line.offset), name: line.name)
    }

    /// The header pins carrying a line, for `perch gpio list` (`pin11`, `P9_12`).
    public func pins(for lineName: String) -> [String] {
        headers.flatMap { h in h.pins.enumerated().filter { $0.element == lineName }.map { "\(h.prefix)\($0.offset + 1)" } }
    }

    /// The profile line on a chip label at an offset, if any.
    public func line(chipLabel: String, offset: Int) -> Line? {
        lines.values.first { chips[$0.chip] == chipLabel && $0.offset == offset }
    }
}

public struct BoardError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension BoardProfile {
    /// Where profiles are looked for when a configuration names one by id.
    public static let standardDirectories = ["/etc/perch/devices", "/usr/share/perch/devices"]

    /// Where profiles are looked for: the standard directories, then, for a perch built in a source
    /// checkout (`…/.build/debug/perch`), the checkout's own `devices/`, so the README's commands
    /// work from the tree.
    public static var searchDirectories: [String] {
        standardDirectories + (checkoutDevices.map { [$0] } ?? [])
    }

    /// `devices/` of the checkout this executable was built in, if it was and the folder is there.
    static var checkoutDevices: String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let exe = String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // The part before the first build folder (.build, .build-benchmarks, …).
        let parts = exe.splitText(separator: "/.build")
        guard parts.count > 1, let root = parts.first, !root.isEmpty else { return nil }
        let devices = root + "/devices"
        return fileExists(devices + "/README.md") || !(directoryEntries(devices) ?? []).filter({ $0.hasSuffix(".toml") }).isEmpty ? devices : nil
    }

    /// Finds a profile by id in `directories` (a path ending in `.toml` is read directly).
    public static func find(_ idOrPath: String, in directories: [String]) throws(BoardError) -> BoardProfile {
        if idOrPath.hasSuffix(".toml") { return try load(idOrPath) }
        for dir in directories where fileExists("\(dir)/\(idOrPath).toml") {
            return try load("\(dir)/\(idOrPath).toml")
        }
        let known = directories.flatMap { d in (directoryEntries(d) ?? []).filter { $0.hasSuffix(".toml") }.map { String($0.dropLast(5)) } }
        throw BoardError("no board profile \"\(idOrPath)\" in \(directories.joined(separator: ", "))" + (known.isEmpty ? "; give the folder that has it (perch gpio list --profiles DIR, or device.profiles_dir; a source checkout has them in devices/)" : "; profiles there: \(Set(known).sorted().joined(separator: ", "))"))
    }

    /// Reads and checks a profile file.
    public static func load(_ path: String) throws(BoardError) -> BoardProfile {
        guard let text = readTextFile(path, limit: 1 << 20) else { throw BoardError("cannot read the board profile \(path)") }
        return try parse(text, file: path)
    }

    /// Parses and checks a profile: every header line exists, chip aliases resolve, offsets are unique.
    public static func parse(_ text: String, file: String) throws(BoardError) -> BoardProfile {
        let root: TOMLTable
        do { root = try TOMLParser.parse(text) } catch { throw BoardError("\(file):\(error.line): \(error.message)") }
        func fail(_ line: Int?, _ key: String, _ message: String) -> BoardError {
            BoardError("\(file):\(line.map(String.init) ?? "?"): \(key): \(message)")
        }
        func string(_ t: TOMLTable, _ key: String, _ path: String) throws(BoardError) -> String? {
            switch t[key] {
            case nil: return nil
            case .string(let s, _)?: return s
            case let v?: throw fail(v.line, path, "must be a string")
            }
        }
        for key in root.keys where !["id", "name", "soc", "chips", "builtin", "headers", "lines"].contains(key) {
            throw fail(root[key]?.line, key, "unknown key")
        }
        guard let id = try string(root, "id", "id") else { throw fail(nil, "id", "is required") }
        guard let name = try string(root, "name", "name") else { throw fail(nil, "name", "is required") }
        var profile = BoardProfile(id: id, name: name, soc: try string(root, "soc", "soc"), chips: [:], headers: [], lines: [:], thermalZone: nil, file: file)

        guard case .table(let chips, let chipsLine)? = root["chips"] else { throw fail(nil, "chips", "a [chips] table is required") }
        for alias in chips.keys {
            guard let label = try string(chips, alias, "chips.\(alias)") else { continue }
            profile.chips[alias] = label
        }
        guard !profile.chips.isEmpty else { throw fail(chipsLine, "chips", "names no chip") }

        if case .table(let builtin, _)? = root["builtin"] {
            for key in builtin.keys where key != "thermal_zone" { throw fail(builtin[key]?.line, "builtin.\(key)", "unknown key") }
            profile.thermalZone = try string(builtin, "thermal_zone", "builtin.thermal_zone")
        }

        guard case .table(let lines, _)? = root["lines"] else { throw fail(nil, "lines", "a [lines] table is required") }
        var used: Set<String> = []
        for lineName in lines.keys {
            guard case .array(let parts, let l)? = lines[lineName], parts.count == 2,
                  case .string(let alias, _) = parts[0], case .integer(let offset, _) = parts[1] else {
                throw fail(lines[lineName]?.line, "lines.\(lineName)", "must be [\"chip\", offset]")
            }
            guard profile.chips[alias] != nil else { throw fail(l, "lines.\(lineName)", "chip \"\(alias)\" is not in [chips]") }
            guard offset >= 0 else { throw fail(l, "lines.\(lineName)", "offset must not be negative") }
            guard used.insert("\(alias):\(offset)").inserted else { throw fail(l, "lines.\(lineName)", "another line already has \(alias) offset \(offset)") }
            profile.lines[lineName] = Line(name: lineName, chip: alias, offset: Int(offset))
        }

        if case .table(let headers, _)? = root["headers"] {
            for headerName in headers.keys {
                guard case .table(let h, let hl)? = headers[headerName] else { throw fail(headers[headerName]?.line, "headers.\(headerName)", "must be a table") }
                guard let prefix = try string(h, "prefix", "headers.\(headerName).prefix") else { throw fail(hl, "headers.\(headerName).prefix", "is required") }
                guard case .array(let items, let pl)? = h["pins"] else { throw fail(hl, "headers.\(headerName).pins", "is required") }
                var pins: [String] = []
                for item in items {
                    guard case .string(let s, _) = item else { throw fail(pl, "headers.\(headerName).pins", "must be strings") }
                    // A pin that looks like a line must be one: a typo here would mislead a user.
                    if s.hasPrefix("GPIO") && profile.lines[s] == nil { throw fail(pl, "headers.\(headerName).pins", "\(s) is not in [lines]") }
                    pins.append(s)
                }
                profile.headers.append(Header(name: headerName, prefix: prefix, pins: pins))
            }
        }
        return profile
    }
}
