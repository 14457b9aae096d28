/// A TOML 1.0 parser for configuration files: tables, dotted keys, arrays of tables, inline tables,
/// basic and literal strings (single and multi-line), integers (decimal, hex, octal, binary, with
/// underscores, 64-bit), floats, booleans and arrays, with the specification's rules on which table
/// may be defined or extended where. Two refusals, each with a clear message: date-times and local
/// dates and times (no configuration key uses them), and integers outside the 64-bit range (the
/// specification lets a parser refuse what it cannot hold losslessly). Containers (tables, arrays,
/// inline tables) nest at most ``maxDepth`` deep, so no input can exhaust the stack.
public struct TOMLParser {
    /// The deepest nesting of tables, arrays and inline tables a document may have.
    public static let maxDepth = 128

    let s: [UInt8]
    var i = 0
    var line = 1
    private let root = TOMLNode(origin: .root, line: 0, depth: 0)
    /// The table of the last `[header]` or `[[header]]`, where key/value pairs go.
    private var current: TOMLNode
    /// The number of the current header section, for the dotted-key rule.
    private var section = 0
    /// The last number given to a section (each header and each inline table gets its own).
    private var sections = 0

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var p = TOMLParser(s: Array(text.utf8))
        try p.document()
        return p.root.table()
    }

    private init(s: [UInt8]) {
        self.s = s
        current = root
    }

    // MARK: Document structure

    private mutating func document() throws(TOMLError) {
        while true {
            try skipBlankLines()
            guard i < s.count else { return }
            if s[i] == UInt8(ascii: "[") {
                try header()
            } else {
                try keyValue(into: current, section: section)
            }
            try endOfLine()
        }
    }

    private mutating func header() throws(TOMLError) {
        let l = line
        i += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { i += 1 }
        skipSpaces()
        let key = try dottedKey()
        skipSpaces()
        try expect("]", context: isArray ? "to close the [[header]]" : "to close the [header]")
        if isArray { try expect("]", context: "to close the [[header]]") }
        let name = Self.quoted(key)
        sections += 1
        section = sections

        var t = root
        for (n, k) in key.dropLast().enumerated() {
            let path = { Self.quoted(key[...n]) }
            switch t[k] {
            case nil:
                let child = try newNode(.implicit, line: l, depth: t.depth + 1)
                t[k] = .table(child)
                t = child
            case .table(let child)?: t = child
            case .tables(let a)?: t = a.nodes[a.nodes.count - 1]
            case .value(let v)?: throw Self.notExtensible(path(), v, line: l)
            }
        }
        let last = key[key.count - 1]
        switch t[last] {
        case nil:
            if isArray {
                let element = try newNode(.arrayElement, line: l, depth: t.depth + 2)
                t[last] = .tables(TOMLTableArray(first: element))
                current = element
            } else {
                let table = try newNode(.header, line: l, depth: t.depth + 1)
                t[last] = .table(table)
                current = table
            }
        case .table(let table)?:
            if isArray {
                throw TOMLError(line: l, "[[\(name)]] adds to an array of tables, but '\(name)' is already a table (line \(table.line))")
            }
            switch table.origin {
            case .implicit:
                table.origin = .header
                table.line = l
                current = table
            case .header:
                throw TOMLError(line: l, "table [\(name)] is defined twice (first on line \(table.line))")
            case .dotted:
                throw TOMLError(line: l, "table [\(name)] was already defined by dotted keys on line \(table.line); a header cannot define it again")
            case .root, .arrayElement:
                throw TOMLError(line: l, "table [\(name)] is defined twice")
            }
        case .tables(let a)?:
            guard isArray else {
                throw TOMLError(line: l, "[\(name)] is an array of tables (from [[\(name)]] on line \(a.line)); write [[\(name)]] to add an element")
            }
            let element = try newNode(.arrayElement, line: l, depth: t.depth + 2)
            a.nodes.append(element)
            current = element
        case .value(let v)?:
            if isArray, case .array = v {
                throw TOMLError(line: l, "[[\(name)]] cannot add to '\(name)', an array written as a value on line \(v.line)")
            }
            throw Self.notExtensible(name, v, line: l)
        }
    }

    /// `key = value` into `table`; the dotted parts of the key name tables under it.
    private mutating func keyValue(into table: TOMLNode, section: Int) throws(TOMLError) {
        let l = line
        let key = try dottedKey()
        skipSpaces()
        try expect("=", context: "after the key '\(Self.quoted(key))'")
        skipSpaces()
        var t = table
        for (n, k) in key.dropLast().enumerated() {
            let path = { Self.quoted(key[...n]) }
            switch t[k] {
            case nil:
                let child = try newNode(.dotted(section: section), line: l, depth: t.depth + 1)
                t[k] = .table(child)
                t = child
            case .table(let child)?:
                switch child.origin {
                case .dotted(let s) where s == section: break
                case .implicit: child.origin = .dotted(section: section)
                case .header:
                    throw TOMLError(line: l, "'\(path())' is a table defined by a header on line \(child.line); dotted keys under another header cannot add to it")
                default:
                    throw TOMLError(line: l, "'\(path())' is a table defined on line \(child.line); dotted keys under another header cannot add to it")
                }
                t = child
            case .tables(let a)?:
                throw TOMLError(line: l, "'\(path())' is an array of tables (line \(a.line)); dotted keys cannot add to it")
            case .value(let v)?:
                throw Self.notExtensible(path(), v, line: l)
            }
        }
        let last = key[key.count - 1]
        if let existing = t[last] {
            let first: Int
            switch existing {
            case .table(let n): first = n.line
            case .tables(let a): first = a.line
            case .value(let v): first = v.line
            }
            throw TOMLError(line: l, "key '\(Self.quoted(key))' is defined twice (first on line \(first))")
        }
        t[last] = .value(try value(depth: t.depth))
    }

    private func newNode(_ origin: TOMLNode.Origin, line l: Int, depth: Int) throws(TOMLError) -> TOMLNode {
        guard depth <= Self.maxDepth else { throw Self.tooDeep(line: l) }
        return TOMLNode(origin: origin, line: l, depth: depth)
    }

    static func tooDeep(line: Int) -> TOMLError {
        TOMLError(line: line, "tables, arrays and inline tables nest more than \(maxDepth) levels deep here")
    }

    private static func notExtensible(_ path: String, _ v: TOMLValue, line: Int) -> TOMLError {
        switch v {
        case .table: TOMLError(line: line, "'\(path)' is an inline table (line \(v.line)), which cannot be extended")
        case .array: TOMLError(line: line, "'\(path)' is an array (line \(v.line)), not a table")
        default: TOMLError(line: line, "'\(path)' is already \(v.typeName) (line \(v.line)), not a table")
        }
    }

    /// A key for messages: bare parts as written, others quoted.
    static func quoted<C: Collection>(_ key: C) -> String where C.Element == String {
        key.map { k in !k.isEmpty && k.utf8.allSatisfy(isBareKey) ? k : "\"\(k)\"" }.joined(separator: ".")
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
        guard let c = peek() else { throw TOMLError(line: line, "expected a key, found the end of the file") }
        if c == UInt8(ascii: "\"") { return try basicString(multiline: false) }
        if c == UInt8(ascii: "'") { return try literalString(multiline: false) }
        let start = i
        while let c = peek(), Self.isBareKey(c) { i += 1 }
        guard i > start else { throw TOMLError(line: line, "expected a key, found \(describe(c))") }
        return String(decoding: s[start..<i], as: UTF8.self)
    }

    static func isBareKey(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }

    // MARK: Values

    /// A value inside a container `depth` deep.
    private mutating func value(depth: Int) throws(TOMLError) -> TOMLValue {
        let l = line
        guard let c = peek() else { throw TOMLError(line: l, "expected a value, found the end of the file") }
        switch c {
        case UInt8(ascii: "\""): return .string(try basicString(multiline: matches("\"\"\"")), line: l)
        case UInt8(ascii: "'"): return .string(try literalString(multiline: matches("'''")), line: l)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "{"): return try inlineTable(depth: depth + 1)
        default: return try scalar()
        }
    }

    private mutating func array(depth: Int) throws(TOMLError) -> TOMLValue {
        let l = line
        guard depth <= Self.maxDepth else { throw Self.tooDeep(line: l) }
        i += 1
        var items: [TOMLValue] = []
        while true {
            try skipBlankLines()
            if peek() == UInt8(ascii: "]") { i += 1; return .array(items, line: l) }
            items.append(try value(depth: depth))
            try skipBlankLines()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            guard peek() == UInt8(ascii: "]") else {
                throw TOMLError(line: line, "expected ',' or ']' in the array opened on line \(l), found \(describe(peek()))")
            }
        }
    }

    /// `{ k = v, ... }` on one line, no trailing comma (TOML 1.0); it cannot be extended afterwards.
    private mutating func inlineTable(depth: Int) throws(TOMLError) -> TOMLValue {
        let l = line
        guard depth <= Self.maxDepth else { throw Self.tooDeep(line: l) }
        i += 1
        sections += 1
        let own = sections
        let t = TOMLNode(origin: .dotted(section: own), line: l, depth: depth)
        skipSpaces()
        if peek() == UInt8(ascii: "}") { i += 1; return .table(t.table(), line: l) }
        while true {
            skipSpaces()
            if peek() == 0x0A || peek() == 0x0D || peek() == UInt8(ascii: "}") {
                throw TOMLError(line: line, "expected a key in the inline table opened on line \(l), found \(describe(peek())) (TOML 1.0 inline tables stay on one line and have no trailing comma)")
            }
            try keyValue(into: t, section: own)
            skipSpaces()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            guard peek() == UInt8(ascii: "}") else {
                throw TOMLError(line: line, "expected ',' or '}' in the inline table opened on line \(l), found \(describe(peek())) (TOML 1.0 inline tables stay on one line)")
            }
            i += 1
            return .table(t.table(), line: l)
        }
    }

    // MARK: Lexing helpers

    func peek() -> UInt8? { i < s.count ? s[i] : nil }

    func matches(_ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard i + n <= s.count else { return false }
        let p = text.utf8Start
        for k in 0..<n where s[i + k] != p[k] { return false }
        return true
    }

    /// A byte for messages: the character, or its code for controls and the end of the file.
    func describe(_ c: UInt8?) -> String {
        guard let c else { return "the end of the file" }
        if c == 0x0A { return "the end of the line" }
        if c < 0x20 || c == 0x7F { return "the control character U+\(Self.hex4(c))" }
        if c >= 0x80 { return "a non-ASCII character" }
        return "'\(Character(Unicode.Scalar(c)))'"
    }

    static func hex4(_ c: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        return String(decoding: [0x30, 0x30, digits[Int(c >> 4)], digits[Int(c & 0xF)]], as: UTF8.self)
    }

    private mutating func expect(_ c: UInt8, context: @autoclosure () -> String) throws(TOMLError) {
        guard peek() == c else {
            throw TOMLError(line: line, "expected '\(Character(Unicode.Scalar(c)))' \(context()), found \(describe(peek()))")
        }
        i += 1
    }

    private mutating func expect(_ c: Character, context: @autoclosure () -> String) throws(TOMLError) {
        try expect(c.asciiValue!, context: context())
    }

    mutating func skipSpaces() {
        while let c = peek(), c == 0x20 || c == 0x09 { i += 1 }
    }

    /// A line ending (LF or CRLF) at `i`, consumed; false if there is none. A lone CR is an error.
    mutating func newline() throws(TOMLError) -> Bool {
        if peek() == 0x0A { i += 1; line += 1; return true }
        if peek() == 0x0D {
            guard i + 1 < s.count, s[i + 1] == 0x0A else { throw TOMLError(line: line, "a carriage return must be followed by a line feed") }
            i += 2
            line += 1
            return true
        }
        return false
    }

    /// Spaces, tabs, line endings and comments.
    private mutating func skipBlankLines() throws(TOMLError) {
        while true {
            skipSpaces()
            if peek() == UInt8(ascii: "#") { try comment() }
            guard try newline() else { return }
        }
    }

    /// A comment up to (not including) the end of its line: no control characters but tab.
    private mutating func comment() throws(TOMLError) {
        i += 1
        while let c = peek(), c != 0x0A {
            if c == 0x0D, i + 1 < s.count, s[i + 1] == 0x0A { return }
            if (c < 0x20 && c != 0x09) || c == 0x7F {
                throw TOMLError(line: line, "the control character U+\(Self.hex4(c)) is not allowed in a comment")
            }
            i += 1
        }
    }

    private mutating func endOfLine() throws(TOMLError) {
        skipSpaces()
        if peek() == UInt8(ascii: "#") { try comment() }
        guard let c = peek() else { return }
        guard try newline() else { throw TOMLError(line: line, "unexpected text after the value: \(describe(c))") }
    }
}
