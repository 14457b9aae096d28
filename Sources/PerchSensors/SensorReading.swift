/// A value a sensor produced.
public enum SensorValue: Hashable, Sendable, CustomStringConvertible {
    case number(Double)
    case boolean(Bool)

    public var description: String {
        switch self {
        case .number(let d): Self.format(d)
        case .boolean(let b): b ? "1" : "0"
        }
    }

    /// A number without a trailing `.0` for integers.
    static func format(_ d: Double) -> String {
        if d == d.rounded() && abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }
}

/// A reading as delivered: the value in its unit, with the wall-clock time it was taken.
public struct Reading: Hashable, Sendable {
    public var sensor: String
    public var value: SensorValue
    public var unit: String
    /// Milliseconds since the Unix epoch.
    public var timestamp: Int64

    public init(sensor: String, value: SensorValue, unit: String, timestamp: Int64) {
        self.sensor = sensor
        self.value = value
        self.unit = unit
        self.timestamp = timestamp
    }

    /// `21.5 °C` (a unit of "" gives the value alone).
    public var text: String { unit.isEmpty ? value.description : "\(value) \(unit)" }
}

/// Why a sensor could not be read, worded for the operator.
public struct SensorError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A raw value and the unit the source naturally gives it in.
public struct SourceValue: Hashable, Sendable {
    public var value: SensorValue
    public var unit: String
    public init(_ value: SensorValue, _ unit: String) {
        self.value = value
        self.unit = unit
    }
    public init(_ number: Double, _ unit: String) { self.init(.number(number), unit) }
}
