import Testing
@testable import TOML

/// The TOML 1.0 rules the parser once broke, each by name; the differential test
/// (TOMLDifferentialTests) holds the wider corpus.
@Suite struct TOMLConformanceTests {
    func refusal(_ text: String) -> TOMLError? {
        do {
            _ = try TOMLParser.parse(text)
            return nil
        } catch { return error }
    }

    @Test func arrayOfTablesTakesASubtablePerElement() throws {
        // The specification's own example: [fruits.physical] once in each [[fruits]] element.
        let t = try TOMLParser.parse("""
            [[fruits]]
            name = "apple"
            [fruits.physical]
            color = "red"
            [[fruits.varieties]]
            name = "red delicious"
            [[fruits]]
            name = "banana"
            [fruits.physical]
            color = "yellow"
            """)
        guard case .array(let fruits, _)? = t["fruits"], fruits.count == 2,
            case .table(let apple, _) = fruits[0], case .table(let banana, _) = fruits[1],
            case .table(let applePhysical, _)? = apple["physical"], case .table(let bananaPhysical, _)? = banana["physical"]
        else { Issue.record("wrong shape: \(t)"); return }
        #expect(applePhysical["color"] == .string("red", line: 4))
        #expect(bananaPhysical["color"] == .string("yellow", line: 10))
        #expect(banana["varieties"] == nil)
        #expect(bananaPhysical.line == 9)
    }

    @Test func aSubtableTwiceInOneElementIsStillRefused() {
        #expect(refusal("[[a]]\n[a.b]\n[a.b]")?.line == 3)
    }

    @Test(arguments: [
        ("a = { b = 1 }\na.c = 2", 2, "inline table"),
        ("a = { b = 1 }\n[a.c]", 2, "inline table"),
        ("a = {}\n[a]", 2, "inline table"),
        ("a = [{ b = 1 }]\n[a.c]", 2, "array"),
        ("a = { b = { c = 1 }, b.d = 2 }", 1, "inline table"),
    ])
    func inlineTablesCannotBeExtended(_ text: String, _ line: Int, _ words: String) {
        let e = refusal(text)
        #expect(e?.line == line)
        #expect(e?.message.contains(words) == true, "\(String(describing: e))")
    }

    @Test func aTableDefinedByDottedKeysCannotBeDefinedByAHeader() {
        let e = refusal("a.b = 1\n[a]\nc = 2")
        #expect(e?.line == 2)
        #expect(e?.message.contains("dotted keys on line 1") == true)
        #expect(refusal("[t]\na.b = 1\n[t.a]")?.line == 3)
    }

    @Test func dottedKeysCannotAddToATableAHeaderDefined() {
        #expect(refusal("[a.b]\nx = 1\n[a]\nb.y = 2")?.line == 4)
    }

    @Test func dottedKeysMayAddToTheirOwnTablesAndHeadersMayDefineSubtables() throws {
        let t = try TOMLParser.parse("[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true")
        guard case .table(let fruit, _)? = t["fruit"], case .table(let apple, _)? = fruit["apple"] else { Issue.record("no apple"); return }
        #expect(apple.keys == ["color", "taste", "texture"])
    }

    @Test func aPlainHeaderCannotReopenAnArrayOfTables() {
        let e = refusal("[[a]]\nb = 1\n[a]\nc = 2")
        #expect(e?.line == 3)
        #expect(e?.message.contains("[[a]]") == true)
        #expect(refusal("[a]\n[[a]]")?.line == 2)
        #expect(refusal("a = []\n[[a]]")?.line == 2)
    }

    @Test func duplicateKeysAreRefusedWhereverTheyAre() {
        #expect(refusal("a = 1\n\"a\" = 2")?.message.contains("first on line 1") == true)
        #expect(refusal("a.b = 1\na.b = 2")?.line == 2)
        #expect(refusal("a = 1\na.b = 2")?.line == 2)
        #expect(refusal("a = { b = 1, b = 2 }")?.line == 1)
        #expect(refusal("[a]\nb = 1\n[a.b]")?.line == 3)
    }

    @Test func keysDifferingOnlyInNormalizationAreTwoKeys() throws {
        let t = try TOMLParser.parse("\"\\u00e9\" = 1\n\"e\\u0301\" = 2")
        #expect(t.keys.count == 2)
        #expect(t["\u{e9}"] == .integer(1, line: 1))
    }

    @Test(arguments: ["1__000", "1000_", "_1", "01.5", "01", "00", "-01", "1.e5", "1.", ".5", "1e", "1e_5", "1_e5", "1._5",
        "0x1.8p3", "0x1p3", "0x_1", "0x1_", "+0x1", "-0x1", "0X1", "0b2", "0o8", "0x", "+in_f", "1e5e5", "1.5.5"])
    func numbersOutsideTheGrammarAreRefused(_ number: String) {
        let e = refusal("a = \(number)")
        #expect(e?.line == 1)
        #expect(e?.message.contains("not a valid number") == true, "\(String(describing: e))")
    }

    @Test func numbersInTheGrammar() throws {
        let t = try TOMLParser.parse("a = 1_000\nb = 0xdead_BEEF\nc = 1e5\nd = -0.0\ne = 224_617.445_991\nf = 0o755\ng = 0b1_0\nh = 1e400")
        #expect(t["a"] == .integer(1000, line: 1))
        #expect(t["b"] == .integer(0xDEAD_BEEF, line: 2))
        #expect(t["c"] == .float(1e5, line: 3))
        if case .float(let d, _)? = t["d"] { #expect(d == 0 && d.sign == .minus) } else { Issue.record("no -0.0") }
        #expect(t["e"] == .float(224_617.445_991, line: 5))
        #expect(t["f"] == .integer(0o755, line: 6))
        #expect(t["g"] == .integer(2, line: 7))
        #expect(t["h"] == .float(.infinity, line: 8))
    }

    @Test func integersOutsideSixtyFourBitsAreAnErrorNotATrap() throws {
        let t = try TOMLParser.parse("max = 9223372036854775807\nmin = -9223372036854775808\nhex = 0x7fffffffffffffff")
        #expect(t["max"] == .integer(.max, line: 1))
        #expect(t["min"] == .integer(.min, line: 2))
        #expect(t["hex"] == .integer(.max, line: 3))
        for big in ["9223372036854775808", "-9223372036854775809", "0x8000000000000000", "0o1777777777777777777777", "9" + String(repeating: "0", count: 400)] {
            let e = refusal("\n a = \(big)")
            #expect(e?.line == 2)
            #expect(e?.message.contains("does not fit a 64-bit integer") == true)
        }
    }

    @Test(arguments: ["a = \"x\u{7F}y\"", "a = 'x\u{7F}y'", "a = \"\"\"x\u{7F}y\"\"\"", "a = '''x\u{7F}y'''", "a = \"x\u{01}y\"", "a = \"\"\"\u{0B}\"\"\""])
    func controlCharactersAndDELAreRefusedInStrings(_ text: String) {
        #expect(refusal(text)?.message.contains("control character") == true)
    }

    @Test(arguments: ["# x\u{01}", "a = 1 # \u{7F}", "# \u{00}", "# x\ry\n", "#\u{1B}[31m"])
    func controlCharactersAreRefusedInComments(_ text: String) {
        let e = refusal(text)
        #expect(e?.line == 1)
        #expect(e?.message.contains("comment") == true || e?.message.contains("carriage return") == true, "\(String(describing: e))")
    }

    @Test func commentsMayHoldTabsAndAnyNonASCII() throws {
        _ = try TOMLParser.parse("# tab\there ☃ 😀\na = 1 # \u{80}\r\n")
    }

    @Test func atMostTwoQuotesBeforeTheClosingThree() throws {
        let t = try TOMLParser.parse(#"""
            a = """x"""""
            b = """""""
            c = '''x'''''
            d = """"""
            """#)
        #expect(t["a"] == .string("x\"\"", line: 1))
        #expect(t["b"] == .string("\"", line: 2))  // seven quotes: one in the string
        #expect(t["c"] == .string("x''", line: 3))
        #expect(t["d"] == .string("", line: 4))
        let q = { (n: Int) in String(repeating: "\"", count: n) }
        for six in ["a = \(q(3))x\(q(6))", "a = \(q(9))", "a = '''x''''''"] {
            #expect(refusal(six)?.message.contains("six or more quotes") == true, "\(six)")
        }
    }

    @Test(arguments: [#"\uD800"#, #"\uDFFF"#, #"\U0000D83D"#, #"\U00110000"#, #"\UFFFFFFFF"#])
    func unicodeEscapesMustBeScalarValues(_ escape: String) {
        #expect(refusal("a = \"\(escape)\"")?.message.contains("not a Unicode scalar value") == true)
    }

    @Test(arguments: [#"\u12"#, #"\u+123"#, #"\U0001F60"#, #"\u-12f"#])
    func unicodeEscapesTakeExactlyTheirHexDigits(_ escape: String) {
        #expect(refusal("a = \"\(escape)\"")?.message.contains("hexadecimal digits") == true)
    }

    @Test func unicodeEscapesUpToTheLastScalar() throws {
        let t = try TOMLParser.parse(#"a = "\U0010FFFF\uD7FF\uE000\U0001F600""#)
        #expect(t["a"] == .string("\u{10FFFF}\u{D7FF}\u{E000}😀", line: 1))
    }

    @Test func multiLineKeysAreRefused() {
        #expect(refusal(#""""a""" = 1"#) != nil)
        #expect(refusal("'''a''' = 1") != nil)
    }

    @Test func crlfIsALineEndingAndALoneCRIsNot() throws {
        let t = try TOMLParser.parse("a = 1\r\nb = \"\"\"\r\nx\r\ny\"\"\"\r\n[t]\r\nc = 2")
        #expect(t["b"] == .string("x\ny", line: 2))
        if case .table(let tt, _)? = t["t"] { #expect(tt["c"] == .integer(2, line: 6)) } else { Issue.record("no t") }
        #expect(refusal("a = 1\rb = 2")?.message.contains("carriage return") == true)
        #expect(refusal("a = '''x\ry'''")?.message.contains("carriage return") == true)
    }

    @Test func datesAndTimesAreRefusedWithAReason() {
        for v in ["1979-05-27T07:32:00Z", "1979-05-27 07:32:00", "1979-05-27", "07:32:00", "1979-05-27T00:32:00.999999-07:00"] {
            #expect(refusal("a = \(v)")?.message.contains("dates and times are not supported") == true, "\(v)")
        }
    }

    @Test func deepArraysAreRefusedWithoutExhaustingTheStack() {
        let deep = "a = " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let e = refusal(deep)
        #expect(e?.line == 1)
        #expect(e?.message.contains("nest more than \(TOMLParser.maxDepth) levels") == true)
    }

    @Test func deepInlineTablesKeysAndHeadersAreRefused() {
        let inline = "a = " + String(repeating: "{b=", count: 100_000) + "1" + String(repeating: "}", count: 100_000)
        #expect(refusal(inline)?.message.contains("nest more than") == true)
        let key = Array(repeating: "k", count: 100_000).joined(separator: ".") + " = 1"
        #expect(refusal(key)?.message.contains("nest more than") == true)
        let header = "[" + Array(repeating: "k", count: 100_000).joined(separator: ".") + "]"
        #expect(refusal(header)?.message.contains("nest more than") == true)
        // Nesting adds up across headers, dotted keys and values.
        let mixed = "[" + Array(repeating: "h", count: 60).joined(separator: ".") + "]\n" + Array(repeating: "k", count: 60).joined(separator: ".") + " = [[[[[[[[[[1]]]]]]]]]]"
        #expect(refusal(mixed)?.line == 2)
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let depth = TOMLParser.maxDepth
        _ = try TOMLParser.parse("a = " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
        #expect(refusal("a = " + String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)) != nil)
    }

    @Test func inlineTablesStayOnOneLineWithoutATrailingComma() {
        #expect(refusal("a = {\n b = 1\n}")?.message.contains("one line") == true)
        #expect(refusal("a = { b = 1, }")?.message.contains("trailing comma") == true)
    }

    @Test func errorsPointAtTheLineOfTheOffendingKey() {
        #expect(refusal("a = 1\n\n\nb = [\n 1,\n 2\n]\nb = 3")?.line == 8)
        #expect(refusal("[x]\ny = \"\"\"\n\n\n\"\"\"\ny = 1")?.line == 6)
    }
}
