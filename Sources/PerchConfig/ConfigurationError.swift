/// A configuration problem, located: `FILE:LINE: KEY: what is wrong`.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let key: String?
    public let message: String
    /// The errors found after this one in other sections of the file (a reload logs each one).
    public var more: [ConfigurationError] = []
    /// This error and those after it.
    public var all: [ConfigurationError] {
        var first = self
        first.more = []
        return [first] + more
    }

    public init(file: String, line: Int?, key: String?, _ message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var s = file
        if let line, line > 0 { s += ":\(line)" }
        s += ": "
        if let key { s += "\(key): " }
        return s + message
    }
}
