import Glibc
import PerchIO

/// Reads sensor sources from sysfs and procfs. The roots are configurable so tests run against
/// fixture trees that copy real boards' files (and a container can point at a bind mount).
public struct SysfsReader: Sendable {
    public var sysRoot: String
    public var procRoot: String
    /// The filesystem `disk_free` reports on.
    public var diskPath: String

    public init(sysRoot: String = "/sys", procRoot: String = "/proc", diskPath: String = "/") {
        self.sysRoot = sysRoot
        self.procRoot = procRoot
        self.diskPath = diskPath
    }

    /// Reads a source other than `gpio` and `command` (which need the daemon's inputs, or a process).
    public func read(_ source: SensorSource) throws(SensorError) -> SourceValue {
        switch source {
        case .thermal(let zone): return try thermal(zone)
        case .hwmon(let chip, let attribute): return try hwmon(chip, attribute)
        case .iio(let device, let channel): return try iio(device, channel)
        case .w1(let id): return try w1(id)
        case .system(let figure): return try system(figure)
        case .file(let path, let scale): return SourceValue(try number(path) * scale, "")
        case .gpio, .command: throw SensorError("\(source) is not read from sysfs")
        }
    }

    // MARK: Thermal zones

    public func thermal(_ zone: String) throws(SensorError) -> SourceValue {
        let base = "\(sysRoot)/class/thermal"
        let dir: String
        if zone.hasPrefix("thermal_zone") {
            dir = "\(base)/\(zone)"
        } else {
            let zones = (directoryEntries(base) ?? []).filter { $0.hasPrefix("thermal_zone") }
            guard let match = zones.first(where: { text("\(base)/\($0)/type") == zone }) else {
                let types = zones.map { "\($0) (\(text("\(base)/\($0)/type") ?? "?"))" }
                throw SensorError("no thermal zone of type \"\(zone)\"; " + (types.isEmpty ? "\(base) has no zones" : "zones: " + types.joined(separator: ", ")))
            }
            dir = "\(base)/\(match)"
        }
        return SourceValue(try number("\(dir)/temp") / 1000, "°C")
    }

    // MARK: hwmon

    public func hwmon(_ chip: String, _ attribute: String) throws(SensorError) -> SourceValue {
        let base = "\(sysRoot)/class/hwmon"
        let dir: String
        if chip.hasPrefix("hwmon") && chip.dropFirst(5).allSatisfy(\.isNumber) {
            dir = "\(base)/\(chip)"
        } else {
            let chips = (directoryEntries(base) ?? []).filter { $0.hasPrefix("hwmon") }
            guard let match = chips.first(where: { text("\(base)/\($0)/name") == chip }) else {
                let names = chips.map { "\($0) (\(text("\(base)/\($0)/name") ?? "?"))" }
                throw SensorError("no hwmon chip named \"\(chip)\"; " + (names.isEmpty ? "\(base) is empty" : "chips: " + names.joined(separator: ", ")))
            }
            dir = "\(base)/\(match)"
        }
        let raw = try number("\(dir)/\(attribute)")
        // Documentation/hwmon/sysfs-interface.rst: the units each attribute family uses.
        let families: [(String, Double, String)] = [
            ("temp", 1000, "°C"), ("in", 1000, "V"), ("curr", 1000, "A"), ("power", 1_000_000, "W"),
            ("energy", 1_000_000, "J"), ("humidity", 1000, "%"), ("fan", 1, "RPM"), ("pwm", 1, ""),
        ]
        for (prefix, divisor, unit) in families where attribute.hasPrefix(prefix) {
            let rest = attribute.dropFirst(prefix.count)
            if let first = rest.first, first.isNumber { return SourceValue(raw / divisor, unit) }
        }
        return SourceValue(raw, "")
    }

    // MARK: IIO

    public func iio(_ device: String, _ channel: String) throws(SensorError) -> SourceValue {
        let base = "\(sysRoot)/bus/iio/devices"
        let dir: String
        if device.hasPrefix("iio:device") {
            dir = "\(base)/\(device)"
        } else {
            let devices = (directoryEntries(base) ?? []).filter { $0.hasPrefix("iio:device") }
            guard let match = devices.first(where: { text("\(base)/\($0)/name") == device }) else {
                let names = devices.map { "\($0) (\(text("\(base)/\($0)/name") ?? "?"))" }
                throw SensorError("no IIO device named \"\(device)\"; " + (names.isEmpty ? "\(base) is empty (is the driver loaded?)" : "devices: " + names.joined(separator: ", ")))
            }
            dir = "\(base)/\(match)"
        }
        // The channel type without its index: voltage0 → voltage (shared scale and offset files).
        let type = String(channel.reversed().drop(while: \.isNumber).reversed())
        let value: Double
        if fileExists("\(dir)/in_\(channel)_input") {
            value = try number("\(dir)/in_\(channel)_input")
        } else if fileExists("\(dir)/in_\(channel)_raw") {
            let raw = try number("\(dir)/in_\(channel)_raw")
            let scale = try attribute(dir, channel, type, "scale") ?? 1
            let offset = try attribute(dir, channel, type, "offset") ?? 0
            // Documentation/ABI/testing/sysfs-bus-iio: processed = (raw + offset) × scale.
            value = (raw + offset) * scale
        } else {
            let channels = (directoryEntries(dir) ?? []).compactMap { f -> String? in
                guard f.hasPrefix("in_"), f.hasSuffix("_input") || f.hasSuffix("_raw") else { return nil }
                return String(f.dropFirst(3)).replacingSuffix("_input").replacingSuffix("_raw")
            }
            throw SensorError("\(dir) has no channel \"\(channel)\"; channels: \(channels.isEmpty ? "none" : channels.joined(separator: ", "))")
        }
        // IIO's units: milli-degrees, kilopascal, milli-percent, millivolts, milliamps.
        switch type {
        case "temp": return SourceValue(value / 1000, "°C")
        case "humidityrelative": return SourceValue(value / 1000, "%")
        case "pressure": return SourceValue(value * 10, "hPa")
        case "voltage": return SourceValue(value / 1000, "V")
        case "current": return SourceValue(value / 1000, "A")
        case "illuminance": return SourceValue(value, "lx")
        default: return SourceValue(value, "")
        }
    }

    // MARK: 1-Wire

    /// Families of 1-Wire thermometers the kernel's w1_therm driver handles.
    static let thermometerFamilies = ["10-", "22-", "28-", "3b-", "42-"]

    public func w1(_ id: String?) throws(SensorError) -> SourceValue {
        let base = "\(sysRoot)/bus/w1/devices"
        let found = (directoryEntries(base) ?? []).filter { n in Self.thermometerFamilies.contains { n.hasPrefix($0) } }
        let device: String
        if let id {
            guard found.contains(id) else {
                throw SensorError("no 1-Wire device \(id); " + (found.isEmpty ? "none found in \(base) (is dtoverlay=w1-gpio set and the pull-up resistor fitted?)" : "found: " + found.joined(separator: ", ")))
            }
            device = id
        } else {
            guard found.count == 1 else {
                throw SensorError(found.isEmpty
                    ? "no 1-Wire thermometer in \(base) (is dtoverlay=w1-gpio set and the pull-up resistor fitted?)"
                    : "several 1-Wire thermometers (\(found.joined(separator: ", "))): name one with id")
            }
            device = found[0]
        }
        let dir = "\(base)/\(device)"
        let milli: Double
        if fileExists("\(dir)/w1_slave") {
            milli = try Self.parseW1Slave(try contents("\(dir)/w1_slave"), device: device)
        } else {
            milli = try number("\(dir)/temperature")
        }
        try Self.checkW1(milli, device: device)
        return SourceValue(milli / 1000, "°C")
    }

    /// `w1_slave`: the scratchpad with the driver's CRC verdict, then the temperature.
    ///     72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
    ///     72 01 4b 46 7f ff 0e 10 57 t=23125
    static func parseW1Slave(_ text: String, device: String) throws(SensorError) -> Double {
        let lines = text.split(separator: "\n")
        guard lines.count >= 2 else { throw SensorError("\(device): w1_slave is incomplete (\(lines.count) lines)") }
        guard lines[0].hasSuffix("YES") else {
            throw SensorError("\(device): CRC check failed (noise on the bus: check the wiring and the 4.7 kΩ pull-up)")
        }
        guard let t = lines[1].splitText(separator: "t=").last, let v = Double(t.trimmingWhitespace()) else {
            throw SensorError("\(device): no temperature in w1_slave")
        }
        return v
    }

    /// Values a DS18B20 gives when it is not really measuring.
    static func checkW1(_ milli: Double, device: String) throws(SensorError) {
        if milli == 85000 { throw SensorError("\(device): 85 °C is the power-on value, not a measurement (the sensor reset or lost power during conversion)") }
        if milli <= -55000 - 1 || milli >= 125000 + 1 { throw SensorError("\(device): \(milli / 1000) °C is outside the sensor's range (a disconnected sensor reads -127)") }
    }

    // MARK: System

    public func system(_ figure: SystemFigure) throws(SensorError) -> SourceValue {
        switch figure {
        case .load1, .load5, .load15:
            let fields = try contents("\(procRoot)/loadavg").split(separator: " ")
            let index = figure == .load1 ? 0 : figure == .load5 ? 1 : 2
            guard fields.count > index, let v = Double(fields[index]) else { throw SensorError("\(procRoot)/loadavg is not as expected") }
            return SourceValue(v, "")
        case .memoryAvailable, .memoryUsed:
            var fields: [Substring: Double] = [:]
            for line in try contents("\(procRoot)/meminfo").split(separator: "\n") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                if parts.count >= 2, let v = Double(parts[1]) { fields[parts[0].dropLast()] = v }
            }
            guard let total = fields["MemTotal"], let available = fields["MemAvailable"], total > 0 else {
                throw SensorError("\(procRoot)/meminfo has no MemTotal/MemAvailable")
            }
            if figure == .memoryAvailable { return SourceValue(available / 1024, "MiB") }
            return SourceValue((total - available) / total * 100, "%")
        case .uptime:
            guard let first = try contents("\(procRoot)/uptime").split(separator: " ").first, let v = Double(first) else {
                throw SensorError("\(procRoot)/uptime is not as expected")
            }
            return SourceValue(v, "s")
        case .diskFree:
            var s = statvfs()
            guard statvfs(diskPath, &s) == 0 else { throw SensorError("statvfs \(diskPath): \(String(cString: strerror(errno)))") }
            return SourceValue(Double(s.f_bavail) * Double(s.f_frsize) / 1_048_576, "MiB")
        }
    }

    // MARK: Files

    func contents(_ path: String) throws(SensorError) -> String {
        do {
            return String(decoding: try readFileOrError(path, limit: 1 << 16), as: UTF8.self)
        } catch {
            // sysfs reports a failing device as EIO/ENODEV/EAGAIN on read: say which file and why.
            throw SensorError("cannot read \(path): \(error.message)")
        }
    }

    func text(_ path: String) -> String? {
        readTextFile(path, limit: 4096).map { $0.trimmingWhitespace() }
    }

    func number(_ path: String) throws(SensorError) -> Double {
        let s = try contents(path).trimmingWhitespace()
        guard let v = Double(s), v.isFinite else { throw SensorError("\(path) holds \"\(s.prefix(40))\", not a number") }
        return v
    }

    /// An IIO channel's own attribute (`in_voltage0_scale`), else the one its type shares (`in_voltage_scale`).
    func attribute(_ dir: String, _ channel: String, _ type: String, _ name: String) throws(SensorError) -> Double? {
        for path in ["\(dir)/in_\(channel)_\(name)", "\(dir)/in_\(type)_\(name)"] where fileExists(path) {
            return try number(path)
        }
        return nil
    }
}

extension StringProtocol {
    func replacingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : String(self)
    }
}
