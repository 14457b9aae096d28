/// Basic and literal strings, single and multi-line, and the escapes of basic strings.
extension TOMLParser {
    mutating func basicString(multiline: Bool) throws(TOMLError) -> String {
        let l = line
        var out: [UInt8] = []
        if multiline {
            i += 3
            _ = try newline()  // a line ending right after the opening delimiter is not part of the string
            while true {
                guard let c = peek() else { throw TOMLError(line: l, "the multi-line string opened on line \(l) is not closed with \"\"\"") }
                if c == UInt8(ascii: "\"") && matches("\"\"\"") {
                    try closeMultiline(UInt8(ascii: "\""), &out)
                    return String(decoding: out, as: UTF8.self)
                }
                if c == UInt8(ascii: "\\") {
                    if try lineEndingBackslash() { continue }
                    out += try escape()
                    continue
                }
                if try newline() { out.append(0x0A); continue }
                try refuseControl(c, in: "a string", hint: "write it as the escape \\u\(Self.hex4(c))")
                out.append(c)
                i += 1
            }
        }
        i += 1
        while true {
            guard let c = peek(), c != 0x0A, !matches("\r\n") else { throw TOMLError(line: l, "the string is not closed with \" on its line") }
            if c == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c == UInt8(ascii: "\\") { out += try escape(); continue }
            try refuseControl(c, in: "a string", hint: "write it as the escape \\u\(Self.hex4(c))")
            out.append(c)
            i += 1
        }
    }

    mutating func literalString(multiline: Bool) throws(TOMLError) -> String {
        let l = line
        var out: [UInt8] = []
        let hint = "literal strings have no escapes: use a \"basic string\" with \\u"
        if multiline {
            i += 3
            _ = try newline()
            while true {
                guard let c = peek() else { throw TOMLError(line: l, "the multi-line string opened on line \(l) is not closed with '''") }
                if c == UInt8(ascii: "'") && matches("'''") {
                    try closeMultiline(UInt8(ascii: "'"), &out)
                    return String(decoding: out, as: UTF8.self)
                }
                if try newline() { out.append(0x0A); continue }
                try refuseControl(c, in: "a literal string", hint: hint + Self.hex4(c))
                out.append(c)
                i += 1
            }
        }
        i += 1
        while true {
            guard let c = peek(), c != 0x0A, !matches("\r\n") else { throw TOMLError(line: l, "the string is not closed with ' on its line") }
            if c == UInt8(ascii: "'") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            try refuseControl(c, in: "a literal string", hint: hint + Self.hex4(c))
            out.append(c)
            i += 1
        }
    }

    /// At three quotes: up to two more quotes directly before the closing three belong to the string.
    private mutating func closeMultiline(_ quote: UInt8, _ out: inout [UInt8]) throws(TOMLError) {
        var n = 0
        while i + n < s.count, s[i + n] == quote, n < 6 { n += 1 }
        guard n < 6 else {
            throw TOMLError(line: line, "six or more quotes in a row in a multi-line string: at most two may stand before the closing three; escape the others")
        }
        out += Array(repeating: quote, count: n - 3)
        i += n
    }

    /// A backslash that ends its line (spaces and tabs may follow it) trims the line ending and the
    /// whitespace after it. False, with nothing consumed, for any other backslash.
    private mutating func lineEndingBackslash() throws(TOMLError) -> Bool {
        var j = i + 1
        while j < s.count, s[j] == 0x20 || s[j] == 0x09 { j += 1 }
        guard j < s.count, s[j] == 0x0A || s[j] == 0x0D else {
            if j > i + 1 {
                throw TOMLError(line: line, "a backslash followed by whitespace must end its line; write \\\\ for a backslash")
            }
            return false
        }
        i = j
        while true {
            skipSpaces()
            guard try newline() else { return true }
        }
    }

    /// Tab is the only control character a string may hold as it is; DEL counts as a control.
    private func refuseControl(_ c: UInt8, in what: String, hint: String) throws(TOMLError) {
        if (c < 0x20 && c != 0x09) || c == 0x7F {
            throw TOMLError(line: line, "the control character U+\(Self.hex4(c)) is not allowed in \(what); \(hint)")
        }
    }

    private mutating func escape() throws(TOMLError) -> [UInt8] {
        i += 1
        guard let c = peek() else { throw TOMLError(line: line, "a backslash at the end of the file") }
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
            var v: UInt32 = 0
            var k = 0
            while k < n, i + k < s.count, let d = Self.hexValue(s[i + k]) {
                v = v << 4 | UInt32(d)
                k += 1
            }
            guard k == n else {
                throw TOMLError(line: line, "\\\(Character(Unicode.Scalar(c))) needs exactly \(n) hexadecimal digits")
            }
            let written = String(decoding: s[i..<(i + n)], as: UTF8.self)
            i += n
            guard let scalar = Unicode.Scalar(v) else {
                throw TOMLError(line: line, "\\\(Character(Unicode.Scalar(c)))\(written) is not a Unicode scalar value (surrogates D800-DFFF and values above 10FFFF are not characters)")
            }
            return Array(String(Character(scalar)).utf8)
        default:
            let shown = c >= 0x20 && c < 0x7F ? "'\\\(Character(Unicode.Scalar(c)))'" : "a backslash before \(describe(c))"
            throw TOMLError(line: line, "invalid escape \(shown) (valid: \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX); write \\\\ for a backslash")
        }
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }
}
