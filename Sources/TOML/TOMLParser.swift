/// A TOML 1.0 parser for configuration files: tables, dotted keys, arrays of tables, inline tables,
/// basic and literal strings (single and multi-line), integers (decimal, hex, octal, binary, with
/// underscores), floats, booleans and arrays. Date-times are rejected with a clear message; no
/// configuration key uses them.
public struct TOMLParser {
    private let s: [UInt8]
    private var i = 0
    private var line = 1
    private var root = TOMLTable()
    /// The path of the current `[table]` or `[[array]]` element.
    private var current: [PathStep] = []
    /// Tables defined by a header or by key assignment, to refuse redefinition.
    private var defined: Set<[String]> = []

    enum PathStep: Equatable { case key(String), arrayElement(String) }

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var p = TOMLParser(s: Array(text.utf8))
        try p.document()
        return p.root
    }

    private init(s: [UInt8]) { self.s = s }

    // MARK: Document structure

    private mutating func document() throws(TOMLError) {
        while true {
            skipWhitespaceAndComments(newlines: true)
            guard i < s.count else { return }
            if s[i] == UInt8(ascii: "[") {
                try header()
            } else {
                let keyLine = line
                let key = try dottedKey()
                skipSpaces()
                try expect("=")
                skipSpaces()
                let value = try self.value()
                try assign(path: current, key: key, value: value, line: keyLine)
            }
            try endOfLine()
        }
    }

    private mutating func header() throws(TOMLError) {
        let headerLine = line
        i += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { i += 1 }
        skipSpaces()
        let key = try dottedKey()
        skipSpaces()
        try expect("]")
        if isArray { try expect("]") }
        if isArray {
            try withTable(path: [], create: key.dropLast().map { .key($0) }, line: headerLine) { (t: inout TOMLTable) throws(TOMLError) in
                let name = key.last!
                var elements: [TOMLValue] = []
                if let existing = t[name] {
                    guard case .array(let a, _) = existing, a.allSatisfy({ if case .table = $0 { true } else { false } }) else {
                        throw TOMLError(line: headerLine, "'\(key.joined(separator: "."))' is already defined as \(existing.typeName)")
                    }
                    elements = a
                }
                elements.append(.table(TOMLTable(line: headerLine), line: headerLine))
                t.set(name, .array(elements, line: headerLine))
            }
            current = key.dropLast().map { .key($0) } + [.arrayElement(key.last!)]
        } else {
            let full = resolvedPath(key.map { .key($0) })
            guard !defined.contains(full) else { throw TOMLError(line: headerLine, "table [\(key.joined(separator: "."))] is defined twice") }
            defined.insert(full)
            try withTable(path: [], create: key.map { .key($0) }, line: headerLine) { _ throws(TOMLError) in }
            current = key.map { .key($0) }
        }
    }

    /// The path with array elements pinned to their current index, for redefinition checks.
    private func resolvedPath(_ steps: [PathStep]) -> [String] {
        steps.map { if case .key(let k) = $0 { k } else if case .arrayElement(let k) = $0 { k + "[]" } else { "" } }
    }

    private mutating func assign(path: [PathStep], key: [String], value: TOMLValue, line: Int) throws(TOMLError) {
        let parents = key.dropLast().map { PathStep.key($0) }
        try withTable(path: path, create: parents, line: line) { (t: inout TOMLTable) throws(TOMLError) in
            let name = key.last!
            if t[name] != nil { throw TOMLError(line: line, "key '\(key.joined(separator: "."))' is defined twice") }
            t.set(name, value)
        }
    }

    /// Walks (creating tables as needed) from the root along `path` then `create`, and runs `body` on
    /// the table found there.
    private mutating func withTable(path: [PathStep], create: [PathStep], line: Int, _ body: (inout TOMLTable) throws(TOMLError) -> Void) throws(TOMLError) {
        try Self.walk(&root, Array(path + create)[...], line: line, body)
    }

    private static func walk(_ t: inout TOMLTable, _ steps: ArraySlice<PathStep>, line: Int, _ body: (inout TOMLTable) throws(TOMLError) -> Void) throws(TOMLError) {
        guard let step = steps.first else { return try body(&t) }
        switch step {
        case .key(let k):
            var child: TOMLTable
            switch t[k] {
            case nil: child = TOMLTable(line: line)
            case .table(let existing, _)?: child = existing
            case .array(var elements, let l)?:
                // A dotted path through an array of tables goes to its last element.
                guard case .table(var last, let tl)? = elements.last else { throw TOMLError(line: line, "'\(k)' is not a table") }
                try walk(&last, steps.dropFirst(), line: line, body)
                elements[elements.count - 1] = .table(last, line: tl)
                t.set(k, .array(elements, line: l))
                return
            case let other?: throw TOMLError(line: line, "'\(k)' is already \(other.typeName), not a table")
            }
            try walk(&child, steps.dropFirst(), line: line, body)
            t.set(k, .table(child, line: child.line))
        case .arrayElement(let k):
            guard case .array(var elements, let l)? = t[k], case .table(var last, let tl)? = elements.last else {
                throw TOMLError(line: line, "'\(k)' is not an array of tables")
            }
            try walk(&last, steps.dropFirst(), line: line, body)
            elements[elements.count - 1] = .table(last, line: tl)
            t.set(k, .array(elements, line: l))
        }
    }

    // MARK: Keys

    private mutating func dottedKey() throws(TOMLError) -> [String] {
        var parts = [try simpleKey()]
        while true {
            skipSpaces()
            guard peek() == UInt8(ascii: ".") else { return parts }
            i += 1
            skipSpaces()
            parts.append(try simpleKey())
        }
    }

    private mutating func simpleKey() throws(TOMLError) -> String {
        guard let c = peek() else { throw TOMLError(line: line, "expected a key") }
        if c == UInt8(ascii: "\"") { return try basicString() }
        if c == UInt8(ascii: "'") { return try literalString() }
        let start = i
        while let c = peek(), Self.isBareKey(c) { i += 1 }
        guard i > start else { throw TOMLError(line: line, "expected a key, found '\(Character(Unicode.Scalar(c)))'") }
        return String(decoding: s[start..<i], as: UTF8.self)
    }

    static func isBareKey(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }

    // MARK: Values

    private mutating func value() throws(TOMLError) -> TOMLValue {
        let l = line
        guard let c = peek() else { throw TOMLError(line: l, "expected a value") }
        switch c {
        case UInt8(ascii: "\""): return .string(try basicString(), line: l)
        case UInt8(ascii: "'"): return .string(try literalString(), line: l)
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "{"): return try inlineTable()
        case UInt8(ascii: "t") where matches("true"): i += 4; return .boolean(true, line: l)
        case UInt8(ascii: "f") where matches("false"): i += 5; return .boolean(false, line: l)
        default: return try number()
        }
    }

    private mutating func array() throws(TOMLError) -> TOMLValue {
        let l = line
        i += 1
        var items: [TOMLValue] = []
        while true {
            skipWhitespaceAndComments(newlines: true)
            if peek() == UInt8(ascii: "]") { i += 1; return .array(items, line: l) }
            items.append(try value())
            skipWhitespaceAndComments(newlines: true)
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            guard peek() == UInt8(ascii: "]") else { throw TOMLError(line: line, "expected ',' or ']' in the array opened on line \(l)") }
        }
    }

    private mutating func inlineTable() throws(TOMLError) -> TOMLValue {
        let l = line
        i += 1
        var t = TOMLTable(line: l)
        skipSpaces()
        if peek() == UInt8(ascii: "}") { i += 1; return .table(t, line: l) }
        while true {
            skipSpaces()
            let key = try dottedKey()
            skipSpaces()
            try expect("=")
            skipSpaces()
            let v = try value()
            try Self.walk(&t, key.dropLast().map { PathStep.key($0) }[...], line: l) { (tt: inout TOMLTable) throws(TOMLError) in
                if tt[key.last!] != nil { throw TOMLError(line: l, "key '\(key.joined(separator: "."))' is defined twice") }
                tt.set(key.last!, v)
            }
            skipSpaces()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            try expect("}")
            return .table(t, line: l)
        }
    }

    private mutating func number() throws(TOMLError) -> TOMLValue {
        let l = line
        let start = i
        while let c = peek(), !(c == UInt8(ascii: ",") || c == UInt8(ascii: "]") || c == UInt8(ascii: "}") || c == UInt8(ascii: "#") || c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D) { i += 1 }
        let text = String(decoding: s[start..<i], as: UTF8.self)
        guard !text.isEmpty else { throw TOMLError(line: l, "expected a value") }
        if text.contains(where: { $0 == ":" }) || (text.count >= 10 && text.dropFirst(4).first == "-" && text.first?.isNumber == true) {
            throw TOMLError(line: l, "dates and times are not supported here; write durations as strings such as \"90s\"")
        }
        let digits = text.replacingUnderscores()
        if let v = Self.integer(digits) { return .integer(v, line: l) }
        switch digits {
        case "inf", "+inf": return .float(.infinity, line: l)
        case "-inf": return .float(-.infinity, line: l)
        case "nan", "+nan", "-nan": return .float(.nan, line: l)
        default: break
        }
        if digits.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let d = Double(digits), !digits.hasPrefix("."), !digits.hasSuffix(".") {
            return .float(d, line: l)
        }
        if text.first?.isLetter == true {
            throw TOMLError(line: l, "'\(text)' is not a value; strings need quotes: \"\(text)\"")
        }
        throw TOMLError(line: l, "'\(text)' is not a valid number")
    }

    static func integer(_ t: String) -> Int64? {
        if t.hasPrefix("0x") { return Int64(t.dropFirst(2), radix: 16) }
        if t.hasPrefix("0o") { return Int64(t.dropFirst(2), radix: 8) }
        if t.hasPrefix("0b") { return Int64(t.dropFirst(2), radix: 2) }
        let body = t.hasPrefix("+") || t.hasPrefix("-") ? t.dropFirst() : Substring(t)
        guard !body.isEmpty, body.allSatisfy(\.isNumber), body == "0" || !body.hasPrefix("0") else { return nil }
        return Int64(t)
    }

    // MARK: Strings

    private mutating func basicString() throws(TOMLError) -> String {
        let l = line
        if matches("\"\"\"") {
            i += 3
            if peek() == 0x0A { i += 1; line += 1 } else if matches("\r\n") { i += 2; line += 1 }
            var out: [UInt8] = []
            while true {
                guard i < s.count else { throw TOMLError(line: l, "unterminated multi-line string") }
                if matches("\"\"\"") {
                    i += 3
                    // Up to two quotes may directly precede the closing delimiter.
                    while peek() == UInt8(ascii: "\""), out.count < Int.max { out.append(UInt8(ascii: "\"")); i += 1 }
                    return String(decoding: out, as: UTF8.self)
                }
                if s[i] == UInt8(ascii: "\\") {
                    // A line-ending backslash trims the newline and following whitespace.
                    var j = i + 1
                    while j < s.count, s[j] == 0x20 || s[j] == 0x09 { j += 1 }
                    if j < s.count, s[j] == 0x0A || s[j] == 0x0D {
                        i = j
                        while let c = peek(), c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { if c == 0x0A { line += 1 }; i += 1 }
                        continue
                    }
                    out += try escape()
                    continue
                }
                if s[i] == 0x0A { line += 1 }
                out.append(s[i])
                i += 1
            }
        }
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek(), c != 0x0A else { throw TOMLError(line: l, "unterminated string") }
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c == UInt8(ascii: "\\") { out += try escape(); continue }
            if c < 0x20 && c != 0x09 { throw TOMLError(line: l, "control character in a string") }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func escape() throws(TOMLError) -> [UInt8] {
        i += 1
        guard let c = peek() else { throw TOMLError(line: line, "unterminated escape") }
        i += 1
        switch c {
        case UInt8(ascii: "b"): return [0x08]
        case UInt8(ascii: "t"): return [0x09]
        case UInt8(ascii: "n"): return [0x0A]
        case UInt8(ascii: "f"): return [0x0C]
        case UInt8(ascii: "r"): return [0x0D]
        case UInt8(ascii: "\""): return [0x22]
        case UInt8(ascii: "\\"): return [0x5C]
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let n = c == UInt8(ascii: "u") ? 4 : 8
            guard i + n <= s.count, let v = UInt32(String(decoding: s[i..<(i + n)], as: UTF8.self), radix: 16), let scalar = Unicode.Scalar(v) else {
                throw TOMLError(line: line, "invalid unicode escape")
            }
            i += n
            return Array(String(Character(scalar)).utf8)
        default:
            throw TOMLError(line: line, "invalid escape '\\\(Character(Unicode.Scalar(c)))'")
        }
    }

    private mutating func literalString() throws(TOMLError) -> String {
        let l = line
        if matches("'''") {
            i += 3
            if peek() == 0x0A { i += 1; line += 1 } else if matches("\r\n") { i += 2; line += 1 }
            let start = i
            while i < s.count, !matches("'''") { if s[i] == 0x0A { line += 1 }; i += 1 }
            guard i < s.count else { throw TOMLError(line: l, "unterminated multi-line string") }
            var end = i
            i += 3
            while peek() == UInt8(ascii: "'") { i += 1; end += 1 }
            return String(decoding: s[start..<end], as: UTF8.self)
        }
        i += 1
        let start = i
        while let c = peek(), c != UInt8(ascii: "'") {
            if c == 0x0A { throw TOMLError(line: l, "unterminated string") }
            i += 1
        }
        guard peek() != nil else { throw TOMLError(line: l, "unterminated string") }
        let text = String(decoding: s[start..<i], as: UTF8.self)
        i += 1
        return text
    }

    // MARK: Lexing helpers

    private func peek() -> UInt8? { i < s.count ? s[i] : nil }

    private func matches(_ text: String) -> Bool {
        let t = Array(text.utf8)
        return i + t.count <= s.count && Array(s[i..<(i + t.count)]) == t
    }

    private mutating func expect(_ c: Character) throws(TOMLError) {
        guard let b = peek(), Character(Unicode.Scalar(b)) == c else {
            let found = peek().map { "'\(Character(Unicode.Scalar($0)))'" } ?? "the end of the file"
            throw TOMLError(line: line, "expected '\(c)', found \(found)")
        }
        i += 1
    }

    private mutating func skipSpaces() {
        while let c = peek(), c == 0x20 || c == 0x09 { i += 1 }
    }

    private mutating func skipWhitespaceAndComments(newlines: Bool) {
        while let c = peek() {
            if c == 0x20 || c == 0x09 || c == 0x0D { i += 1 } else if c == 0x0A && newlines { i += 1; line += 1 } else if c == UInt8(ascii: "#") {
                while let d = peek(), d != 0x0A { i += 1 }
            } else { break }
        }
    }

    private mutating func endOfLine() throws(TOMLError) {
        skipSpaces()
        if peek() == UInt8(ascii: "#") { while let d = peek(), d != 0x0A { i += 1 } }
        if peek() == 0x0D { i += 1 }
        guard let c = peek() else { return }
        guard c == 0x0A else { throw TOMLError(line: line, "unexpected text after the value: '\(Character(Unicode.Scalar(c)))'") }
        i += 1
        line += 1
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(filter { $0 != "_" })
    }
}
