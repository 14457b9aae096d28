/// Where a sensor's value comes from.
public enum SensorSource: Hashable, Sendable, CustomStringConvertible {
    /// A thermal zone: `thermal_zone0`, or the zone's type (`cpu-thermal`). Millidegrees Celsius.
    case thermal(zone: String)
    /// A hwmon attribute: the chip by its `name` file or `hwmonN`, and the attribute (`temp1_input`).
    case hwmon(chip: String, attribute: String)
    /// An IIO channel: the device by its `name` file or `iio:deviceN`, and the channel (`temp`,
    /// `humidityrelative`, `pressure`, `voltage0`): `in_<channel>_input`, or raw × scale + offset.
    case iio(device: String, channel: String)
    /// A DS18B20 (or other 1-Wire thermometer): its id (`28-0316a2795bff`), or nil for the only one.
    case w1(id: String?)
    /// An input's state (1 or 0), by the input's name.
    case gpio(input: String)
    /// A figure of the system itself.
    case system(SystemFigure)
    /// A number read from a file, multiplied by `scale`.
    case file(path: String, scale: Double)
    /// An executable run with a timeout; its output is a number, or a JSON object whose `key` is used.
    case command(argv: [String], timeout: Int64, key: String?)

    public var description: String {
        switch self {
        case .thermal(let z): "thermal zone \(z)"
        case .hwmon(let c, let a): "hwmon \(c)/\(a)"
        case .iio(let d, let c): "IIO \(d) channel \(c)"
        case .w1(let id): "1-Wire \(id ?? "thermometer")"
        case .gpio(let i): "input \(i)"
        case .system(let f): "system \(f.rawValue)"
        case .file(let p, _): "file \(p)"
        case .command(let argv, _, _): "command \(argv.first ?? "")"
        }
    }

    /// Sources whose read can take long (a 1-Wire conversion takes 750 ms, a command its timeout): they
    /// run off the event loop's thread.
    public var isSlow: Bool {
        switch self {
        case .w1, .command: true
        default: false
        }
    }
}

public enum SystemFigure: String, Hashable, Sendable, CaseIterable {
    case load1, load5, load15
    /// MemAvailable, in MiB.
    case memoryAvailable = "memory_available"
    /// (MemTotal − MemAvailable) / MemTotal, in percent.
    case memoryUsed = "memory_used"
    /// Seconds since boot.
    case uptime
    /// Free space for unprivileged users on the filesystem holding the state directory, in MiB.
    case diskFree = "disk_free"
}

/// One sensor as the configuration declares it.
public struct SensorSpec: Hashable, Sendable {
    public var name: String
    public var source: SensorSource
    /// The unit reported; nil takes the source's natural one (°C for temperatures, and so on).
    public var unit: String?
    /// How often to read, in milliseconds.
    public var interval: Int64 = 60_000
    /// Decimal places kept.
    public var precision: Int = 1
    /// Report only when the value moved by more than this since the last report (nil: any change).
    public var deadband: Double?
    /// Report at least this often even without a change (milliseconds; nil: only on change).
    public var heartbeat: Int64?
    /// Whether the presence status line shows it (nil: unsaid; when no sensor says, the first two do).
    public var presence: Bool?

    public init(name: String, source: SensorSource) {
        self.name = name
        self.source = source
    }
}
