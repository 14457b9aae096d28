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
///
/// Keys are compared by their Unicode scalars, as TOML requires: `"\u00e9"` and `"e\u0301"` are two
/// keys, although Swift's `String ==` calls them equal.
public struct TOMLTable: Sendable, Equatable {
    public private(set) var keys: [String] = []
    private var entries: [TOMLKey: TOMLValue] = [:]
    /// The line of the `[header]` that opened it (0 for the root).
    public var line: Int

    public init(line: Int = 0) { self.line = line }

    public subscript(key: String) -> TOMLValue? { entries[TOMLKey(key)] }

    /// The values by key (keys that differ only in Unicode normalization collapse here: use `keys`
    /// and the subscript to see each).
    public var values: [String: TOMLValue] {
        var out: [String: TOMLValue] = [:]
        for key in keys { out[key] = self[key] }
        return out
    }

    mutating func set(_ key: String, _ value: TOMLValue) {
        let k = TOMLKey(key)
        if entries[k] == nil { keys.append(key) }
        entries[k] = value
    }
}

/// A key compared and hashed by its UTF-8 bytes (TOML keys are not normalized).
struct TOMLKey: Hashable, Sendable {
    let text: String
    init(_ text: String) { self.text = text }
    static func == (a: TOMLKey, b: TOMLKey) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }
    func hash(into h: inout Hasher) {
        for b in text.utf8 { h.combine(b) }
        h.combine(0xFF as UInt8)
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
