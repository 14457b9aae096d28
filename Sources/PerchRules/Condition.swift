/// A condition of an alert or a rule: `air > 30`, `door == open`, `air > 30 and door == closed`.
///
/// Each comparison puts a sensor or an input (by name) against a number or a state word, with one of
/// `>`, `>=`, `<`, `<=`, `==`, `!=`. Comparisons join with `and` and `or` (`and` binds tighter); there
/// are no parentheses. A value that cannot be known (a sensor in error, not read yet) makes its
/// comparison unknown, and unknown is never true: `and` with a false side is false, `or` with a true
/// side is true, anything else with an unknown side is unknown (Kleene's three-valued logic).
public struct Condition: Sendable, Hashable, CustomStringConvertible {
    public enum Operator: String, Sendable, Hashable, CaseIterable {
        case greater = ">", greaterOrEqual = ">=", less = "<", lessOrEqual = "<=", equal = "==", notEqual = "!="
    }

    /// What a comparison's right side is.
    public enum Value: Sendable, Hashable, CustomStringConvertible {
        case number(Double)
        /// A state word (`open`, `on`), matched against the input's words case-insensitively.
        case word(String)

        public var description: String {
            switch self {
            case .number(let d): d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
            case .word(let w): w
            }
        }
    }

    public struct Comparison: Sendable, Hashable, CustomStringConvertible {
        public var name: String
        public var op: Operator
        public var value: Value
        public var description: String { "\(name) \(op.rawValue) \(value)" }
    }

    /// Comparisons joined by `or` of groups joined by `and`.
    public var anyOf: [[Comparison]]

    /// Every comparison, in the order written.
    public var comparisons: [Comparison] { anyOf.flatMap { $0 } }

    /// The sensors and inputs it reads, in the order written, once each.
    public var names: [String] {
        var seen: Set<String> = []
        return comparisons.map(\.name).filter { seen.insert($0).inserted }
    }

    public var description: String {
        anyOf.map { $0.map(\.description).joined(separator: " and ") }.joined(separator: " or ")
    }

    /// Why a condition's text could not be read, worded for the configuration's error line.
    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    static let example = "write it as NAME OP VALUE, such as air > 30 or door == open"

    /// Reads `text`; the operators need no spaces around them (`air>30`).
    public static func parse(_ text: String) -> Result<Condition, ParseError> {
        let tokens = tokenize(text)
        guard !tokens.isEmpty else { return .failure(ParseError(message: "an empty condition; " + example)) }
        var groups: [[Comparison]] = [[]]
        var i = 0
        while i < tokens.count {
            guard Operator(rawValue: tokens[i]) == nil, !isJoin(tokens[i]) else {
                return .failure(ParseError(message: "a comparison starts with a sensor or an input, not \"\(tokens[i])\"; " + example))
            }
            guard i + 2 < tokens.count else {
                return .failure(ParseError(message: "\"\(tokens[i...].joined(separator: " "))\" is not a comparison; " + example))
            }
            let name = tokens[i], opText = tokens[i + 1], valueText = tokens[i + 2]
            guard let op = Operator(rawValue: opText) else {
                let hint = opText == "=" ? " (write == to compare)" : ""
                return .failure(ParseError(message: "\"\(opText)\" after \(name) is not one of > >= < <= == !=\(hint)"))
            }
            guard Operator(rawValue: valueText) == nil, !isJoin(valueText) else {
                return .failure(ParseError(message: "\(name) \(opText) needs a number or a state after it"))
            }
            let value: Value
            if let number = Self.number(valueText) {
                value = .number(number)
            } else {
                guard valueText.unicodeScalars.allSatisfy({ isWordScalar($0) }) else {
                    return .failure(ParseError(message: "\"\(valueText)\" is neither a number nor a state word"))
                }
                guard op == .equal || op == .notEqual else {
                    return .failure(ParseError(message: "\(name) \(opText) \(valueText): a state is compared with == or != only"))
                }
                value = .word(valueText)
            }
            groups[groups.count - 1].append(Comparison(name: name, op: op, value: value))
            i += 3
            guard i < tokens.count else { break }
            switch tokens[i].lowercased() {
            case "and", "&&": break
            case "or", "||": groups.append([])
            default:
                return .failure(ParseError(message: "\"\(tokens[i])\" after \(name) \(opText) \(valueText): join comparisons with and / or"))
            }
            i += 1
            guard i < tokens.count else { return .failure(ParseError(message: "the condition ends with \"\(tokens[i - 1])\"; another comparison must follow it")) }
        }
        return .success(Condition(anyOf: groups))
    }

    private static func isJoin(_ t: String) -> Bool { ["and", "or", "&&", "||"].contains(t.lowercased()) }

    private static func isWordScalar(_ u: Unicode.Scalar) -> Bool {
        u.properties.isAlphabetic || ("0"..."9").contains(u) || u == "_" || u == "-" || u == "."
    }

    /// A decimal number with an optional sign: `30`, `-4.5`, `+2`. No exponents, hex, inf or nan.
    static func number(_ s: String) -> Double? {
        var body = Substring(s)
        if body.first == "-" || body.first == "+" { body = body.dropFirst() }
        guard let first = body.first, first.isASCII, first.isNumber, body.last?.isNumber == true else { return nil }
        var points = 0
        for c in body {
            if c == "." { points += 1 } else if !(c.isASCII && c.isNumber) { return nil }
        }
        return points <= 1 ? Double(s) : nil
    }

    /// Splits into names, operators and values; an operator needs no spaces around it.
    static func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        let chars = Array(text)
        var i = 0
        func flush() {
            if !current.isEmpty { tokens.append(current) }
            current = ""
        }
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace {
                flush()
            } else if "<>=!".contains(c) {
                flush()
                if i + 1 < chars.count, chars[i + 1] == "=" {
                    tokens.append(String([c, "="]))
                    i += 1
                } else {
                    tokens.append(String(c))
                }
            } else {
                current.append(c)
            }
            i += 1
        }
        flush()
        return tokens
    }
}

/// What is known now of a sensor or an input a condition reads.
public enum Observation: Sendable, Hashable {
    case number(Double)
    /// An input: its state, and the words it is called (`open` for on, `closed` for off).
    case state(Bool, on: String, off: String)
    /// The sensor's last read failed.
    case failed
    /// Not read yet, or not there.
    case unknown
}

/// Three-valued truth: unknown is never true.
public enum Truth: Sendable, Hashable {
    case yes, no, unknown

    init(_ b: Bool) { self = b ? .yes : .no }
}

extension Condition {
    /// Evaluates the condition with what `observe` says of each name.
    public func evaluate(_ observe: (String) -> Observation) -> Truth {
        var any: Truth = .no
        for group in anyOf {
            var all: Truth = .yes
            for c in group {
                switch c.evaluate(observe(c.name)) {
                case .no: all = .no
                case .unknown where all == .yes: all = .unknown
                default: break
                }
                if all == .no { break }
            }
            if all == .yes { return .yes }
            if all == .unknown { any = .unknown }
        }
        return any
    }

    /// Whether a name's value being in error is what makes the condition unknown (for `on_error`).
    public func failing(_ observe: (String) -> Observation) -> [String] {
        names.filter { observe($0) == .failed }
    }
}

extension Condition.Comparison {
    public func evaluate(_ o: Observation) -> Truth {
        switch (o, value) {
        case (.failed, _), (.unknown, _):
            return .unknown
        case (.number(let x), .number(let y)):
            return Truth(Self.compare(x, op, y))
        case (.number, .word(let w)):
            // A sensor copying an input reads 1 or 0: on / off words still compare.
            guard case .number(let x) = o, let b = Self.boolWord(w) else { return .unknown }
            return Truth(Self.compare(x, op, b ? 1 : 0))
        case (.state(let s, _, _), .number(let y)):
            return Truth(Self.compare(s ? 1 : 0, op, y))
        case (.state(let s, let on, let off), .word(let w)):
            let lw = w.lowercased()
            let wanted: Bool
            if lw == on.lowercased() { wanted = true } else if lw == off.lowercased() { wanted = false } else if let b = Self.boolWord(w) { wanted = b } else { return .unknown }
            return Truth(op == .equal ? s == wanted : op == .notEqual ? s != wanted : false)
        }
    }

    /// The words every input answers to besides its own.
    public static func boolWord(_ w: String) -> Bool? {
        switch w.lowercased() {
        case "on", "true", "high", "active": true
        case "off", "false", "low", "inactive": false
        default: nil
        }
    }

    static func compare(_ x: Double, _ op: Condition.Operator, _ y: Double) -> Bool {
        switch op {
        case .greater: x > y
        case .greaterOrEqual: x >= y
        case .less: x < y
        case .lessOrEqual: x <= y
        case .equal: x == y
        case .notEqual: x != y
        }
    }
}
