/// A TOML value with the line it was written on, so configuration errors can point at it.
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String, line: Int)
    case integer(Int64, line: Int)
    case float(Double, line: Int)
    case boolean(Bool, line: Int)
    case array([TOMLValue], line: Int)
    case table(TOMLTable, line: Int)

    public var line: Int {
        switch self {
        case .string(_, let l), .integer(_, let l), .float(_, let l), .boolean(_, let l), .array(_, let l), .table(_, let l): l
        }
    }

    /// The TOML type name, for error messages.
    public var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .boolean: "a boolean"
        case .array: "an array"
        case .table: "a table"
        }
    }
}

/// A table: keys in the order they were written.
public struct TOMLTable: Sendable, Equatable {
    public private(set) var keys: [String] = []
    public private(set) var values: [String: TOMLValue] = [:]
    /// The line of the `[header]` that opened it (0 for the root).
    public var line: Int

    public init(line: Int = 0) { self.line = line }

    public subscript(key: String) -> TOMLValue? { values[key] }

    mutating func set(_ key: String, _ value: TOMLValue) {
        if values[key] == nil { keys.append(key) }
        values[key] = value
    }
}

/// A syntax error with its line.
public struct TOMLError: Error, Equatable, Sendable, CustomStringConvertible {
    public let line: Int
    public let message: String
    public init(line: Int, _ message: String) {
        self.line = line
        self.message = message
    }
    public var description: String { "line \(line): \(message)" }
}
