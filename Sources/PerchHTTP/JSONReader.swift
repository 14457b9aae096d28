/// A JSON value (RFC 8259), as far as host-meta.json needs: numbers are kept as their text.
public indirect enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in document order; a repeated name keeps every occurrence (``subscript(_:)`` takes the last).
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)), (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(b)
        case .number(let s), .string(let s): hasher.combine(s)
        case .array(let a): hasher.combine(a)
        case .object(let o): for (k, v) in o { hasher.combine(k); hasher.combine(v) }
        }
    }

    /// The member `name` of an object (the last one if repeated).
    public subscript(_ name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == name }?.1
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// Why a JSON document was refused, and at which byte.
public struct JSONError: Error, Sendable, Hashable, CustomStringConvertible {
    public let offset: Int
    public let detail: String
    public init(at offset: Int, _ detail: String) {
        self.offset = offset
        self.detail = detail
    }
    public var description: String { "JSON error at byte \(offset): \(detail)" }
}

/// A small strict JSON reader, bounded in size and nesting, for documents from the network.
public struct JSONReader {
    public var maxBytes = 64 * 1024
    public var maxDepth = 16

    public init(maxBytes: Int = 64 * 1024, maxDepth: Int = 16) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
    }

    public func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        guard bytes.count <= maxBytes else { throw JSONError(at: maxBytes, "the document is over \(maxBytes) bytes") }
        var p = Parser(b: bytes, maxDepth: maxDepth)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.i = 3 }
        let v = try p.value(depth: 0)
        p.space()
        guard p.i == bytes.count else { throw JSONError(at: p.i, "text after the value") }
        return v
    }

    private struct Parser {
        let b: [UInt8]
        let maxDepth: Int
        var i = 0

        mutating func space() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
        }

        func peek() -> UInt8? { i < b.count ? b[i] : nil }

        mutating func expect(_ c: UInt8, _ what: String) throws(JSONError) {
            guard peek() == c else { throw JSONError(at: i, "expected \(what)") }
            i += 1
        }

        mutating func value(depth: Int) throws(JSONError) -> JSONValue {
            space()
            guard let c = peek() else { throw JSONError(at: i, "a value was expected, the document ended") }
            switch c {
            case UInt8(ascii: "{"):
                guard depth < maxDepth else { throw JSONError(at: i, "nested deeper than \(maxDepth)") }
                i += 1
                var members: [(String, JSONValue)] = []
                space()
                if peek() == UInt8(ascii: "}") { i += 1; return .object(members) }
                while true {
                    space()
                    guard peek() == UInt8(ascii: "\"") else { throw JSONError(at: i, "expected a member name in quotes") }
                    let name = try string()
                    space()
                    try expect(UInt8(ascii: ":"), "':' after a member name")
                    members.append((name, try value(depth: depth + 1)))
                    space()
                    if peek() == UInt8(ascii: ",") { i += 1; continue }
                    try expect(UInt8(ascii: "}"), "',' or '}' in an object")
                    return .object(members)
                }
            case UInt8(ascii: "["):
                guard depth < maxDepth else { throw JSONError(at: i, "nested deeper than \(maxDepth)") }
                i += 1
                var items: [JSONValue] = []
                space()
                if peek() == UInt8(ascii: "]") { i += 1; return .array(items) }
                while true {
                    items.append(try value(depth: depth + 1))
                    space()
                    if peek() == UInt8(ascii: ",") { i += 1; continue }
                    try expect(UInt8(ascii: "]"), "',' or ']' in an array")
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try word("true"); return .bool(true)
            case UInt8(ascii: "f"): try word("false"); return .bool(false)
            case UInt8(ascii: "n"): try word("null"); return .null
            case UInt8(ascii: "-"), 0x30...0x39:
                return .number(try number())
            default:
                throw JSONError(at: i, "unexpected byte \(HTTPText.printable([c]))")
            }
        }

        mutating func word(_ w: String) throws(JSONError) {
            let u = Array(w.utf8)
            guard b.count - i >= u.count, b[i..<(i + u.count)].elementsEqual(u) else { throw JSONError(at: i, "expected \(w)") }
            i += u.count
        }

        mutating func number() throws(JSONError) -> String {
            let start = i
            func digits(_ p: inout Parser) -> Int {
                let s = p.i
                while let c = p.peek(), c >= 0x30 && c <= 0x39 { p.i += 1 }
                return p.i - s
            }
            if peek() == UInt8(ascii: "-") { i += 1 }
            if peek() == UInt8(ascii: "0") {
                i += 1
            } else if digits(&self) == 0 {
                throw JSONError(at: i, "a number without digits")
            }
            if peek() == UInt8(ascii: ".") {
                i += 1
                guard digits(&self) > 0 else { throw JSONError(at: i, "no digits after the decimal point") }
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                i += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { i += 1 }
                guard digits(&self) > 0 else { throw JSONError(at: i, "no digits in the exponent") }
            }
            return String(decoding: b[start..<i], as: UTF8.self)
        }

        mutating func hex4() throws(JSONError) -> UInt32 {
            guard b.count - i >= 4 else { throw JSONError(at: i, "a \\u escape cut short") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = b[i]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw JSONError(at: i, "a \\u escape with a non-hex digit")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func string() throws(JSONError) -> String {
            let open = i
            i += 1
            var out: [UInt8] = []
            while true {
                guard let c = peek() else { throw JSONError(at: open, "an unterminated string") }
                i += 1
                switch c {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else { throw JSONError(at: open, "a string that is not valid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    guard let e = peek() else { throw JSONError(at: i, "an escape cut short") }
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        let at = i - 2
                        var scalar = try hex4()
                        if scalar >= 0xD800 && scalar < 0xDC00 {
                            guard b.count - i >= 6, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") else {
                                throw JSONError(at: at, "a high surrogate without its low half")
                            }
                            i += 2
                            let low = try hex4()
                            guard low >= 0xDC00 && low < 0xE000 else { throw JSONError(at: at, "a high surrogate followed by \\u\(low)") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if scalar >= 0xDC00 && scalar < 0xE000 {
                            throw JSONError(at: at, "a lone low surrogate")
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw JSONError(at: at, "an escape that is not a character") }
                        out += Array(String(Character(u)).utf8)
                    default:
                        throw JSONError(at: i - 1, "the escape \\\(HTTPText.printable([e]))")
                    }
                case 0x00..<0x20:
                    throw JSONError(at: i - 1, "a control character in a string")
                default:
                    out.append(c)
                }
            }
        }
    }
}
