/// Booleans, integers and floats, read as one token and checked against the TOML 1.0 grammar, so
/// nothing looser than TOML (a hex float, `1.e5`, a leading zero) reaches a conversion; and the
/// refusal of dates and times.
extension TOMLParser {
    mutating func scalar() throws(TOMLError) -> TOMLValue {
        let l = line
        let start = i
        while let c = peek(), Self.isBareKey(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") { i += 1 }
        let tok = s[start..<i]
        let text = String(decoding: tok, as: UTF8.self)
        guard !tok.isEmpty else { throw TOMLError(line: l, "expected a value, found \(describe(peek()))") }
        switch text {
        case "true": return .boolean(true, line: l)
        case "false": return .boolean(false, line: l)
        case "inf", "+inf": return .float(.infinity, line: l)
        case "-inf": return .float(-.infinity, line: l)
        case "nan", "+nan": return .float(.nan, line: l)
        case "-nan": return .float(-.nan, line: l)
        default: break
        }
        if Self.looksLikeDateOrTime(tok) {
            throw TOMLError(line: l, "dates and times are not supported here (\(text)); quote it if it is text, and write durations as strings such as \"90s\"")
        }
        if let first = tok.first, Self.isLetter(first) {
            throw TOMLError(line: l, "'\(text)' is not a value; strings need quotes: \"\(text)\"")
        }
        switch Self.number(tok) {
        case .integer(let v): return .integer(v, line: l)
        case .float(let v): return .float(v, line: l)
        case .outOfRange: throw TOMLError(line: l, "\(text) does not fit a 64-bit integer (\(Int64.min) to \(Int64.max))")
        case .invalid(let why): throw TOMLError(line: l, "'\(text)' is not a valid number: \(why)")
        }
    }

    enum Number: Equatable {
        case integer(Int64), float(Double), outOfRange, invalid(String)
    }

    /// A TOML integer or float (not inf or nan), exactly by the grammar.
    static func number(_ tok: ArraySlice<UInt8>) -> Number {
        let t = Array(tok)
        // 0x, 0o, 0b: no sign, no underscore right after the prefix.
        if t.count >= 2, t[0] == UInt8(ascii: "0"), let radix = radix(t[1]) {
            let digits = t[2...]
            guard let why = digitRunProblem(digits, radix: radix) else {
                var v: UInt64 = 0
                for c in digits where c != UInt8(ascii: "_") {
                    let (m, o1) = v.multipliedReportingOverflow(by: UInt64(radix))
                    let (a, o2) = m.addingReportingOverflow(UInt64(hexValue(c)!))
                    if o1 || o2 { return .outOfRange }
                    v = a
                }
                return v <= UInt64(Int64.max) ? .integer(Int64(v)) : .outOfRange
            }
            return .invalid(why)
        }
        var j = 0
        if j < t.count, t[j] == UInt8(ascii: "+") || t[j] == UInt8(ascii: "-") { j += 1 }
        let intStart = j
        while j < t.count, isDigit(t[j]) || t[j] == UInt8(ascii: "_") { j += 1 }
        let intPart = t[intStart..<j]
        var frac: ArraySlice<UInt8>?
        var exp: ArraySlice<UInt8>?
        if j < t.count, t[j] == UInt8(ascii: ".") {
            j += 1
            let fs = j
            while j < t.count, isDigit(t[j]) || t[j] == UInt8(ascii: "_") { j += 1 }
            frac = t[fs..<j]
        }
        if j < t.count, t[j] == UInt8(ascii: "e") || t[j] == UInt8(ascii: "E") {
            j += 1
            if j < t.count, t[j] == UInt8(ascii: "+") || t[j] == UInt8(ascii: "-") { j += 1 }
            let es = j
            while j < t.count, isDigit(t[j]) || t[j] == UInt8(ascii: "_") { j += 1 }
            exp = t[es..<j]
        }
        guard j == t.count else {
            if t[j] == UInt8(ascii: "x") || t[j] == UInt8(ascii: "o") || t[j] == UInt8(ascii: "b") || t[j] == UInt8(ascii: "X") {
                return .invalid("hexadecimal, octal and binary integers are written 0x, 0o, 0b, without a sign")
            }
            return .invalid("unexpected '\(Character(Unicode.Scalar(t[j])))'")
        }
        if intPart.isEmpty { return .invalid("a number needs digits before its decimal point or exponent") }
        if let why = digitRunProblem(intPart, radix: 10) { return .invalid(why) }
        if intPart.count > 1, intPart.first == UInt8(ascii: "0") { return .invalid("leading zeros are not allowed") }
        if let frac {
            if frac.isEmpty { return .invalid("a decimal point needs digits on both sides") }
            if let why = digitRunProblem(frac, radix: 10) { return .invalid(why) }
        }
        if let exp {
            if exp.isEmpty { return .invalid("an exponent needs digits") }
            if let why = digitRunProblem(exp, radix: 10) { return .invalid(why) }
        }
        let plain = String(decoding: t.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
        if frac == nil && exp == nil {
            guard let v = Int64(plain) else { return .outOfRange }
            return .integer(v)
        }
        // The grammar has been checked: what is left is a decimal float Double reads exactly (with
        // IEEE rounding; too large a magnitude is infinity, as in other TOML parsers).
        return .float(Double(plain) ?? (t[0] == UInt8(ascii: "-") ? -.infinity : .infinity))
    }

    /// Why a run of digits with underscores is not one (nil if it is): it must be non-empty, of the
    /// radix's digits, and each underscore must stand between two digits.
    static func digitRunProblem(_ run: ArraySlice<UInt8>, radix: Int) -> String? {
        guard !run.isEmpty else { return "digits are missing" }
        var previousDigit = false
        for c in run {
            if c == UInt8(ascii: "_") {
                guard previousDigit else { return "an underscore must stand between two digits" }
                previousDigit = false
            } else {
                guard let d = hexValue(c), Int(d) < radix else {
                    return "'\(Character(Unicode.Scalar(c)))' is not a digit in base \(radix)"
                }
                previousDigit = true
            }
        }
        return previousDigit ? nil : "an underscore must stand between two digits"
    }

    static func radix(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "x"): 16
        case UInt8(ascii: "o"): 8
        case UInt8(ascii: "b"): 2
        default: nil
        }
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isLetter(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }

    /// A date (`1979-05-27`) or a time (anything with a colon).
    static func looksLikeDateOrTime(_ tok: ArraySlice<UInt8>) -> Bool {
        if tok.contains(UInt8(ascii: ":")) { return true }
        let t = Array(tok.prefix(5))
        return t.count == 5 && t[0..<4].allSatisfy(isDigit) && t[4] == UInt8(ascii: "-")
    }
}
