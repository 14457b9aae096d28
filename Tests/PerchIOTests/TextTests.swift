import PerchIO
import Testing

@Suite struct TextTests {
    @Test(arguments: [
        ("  pump on \n", "pump on"),
        ("\t\r\nstatus\r\n", "status"),
        ("\u{00A0}lamp off\u{2003}", "lamp off"),
        ("read  cpu", "read  cpu"),
        ("   ", ""),
        ("", ""),
        ("ünïcödé", "ünïcödé"),
        ("pump on\u{2003}", "pump on"),
        ("x", "x"),
    ])
    func trimmingWhitespace(_ input: String, _ expected: String) {
        #expect(input.trimmingWhitespace() == expected)
    }
}

@Suite struct LiteralTextTests {
    @Test func containsText() {
        #expect("lamp.tmp-123".containsText(".tmp-"))
        #expect(!"lamp".containsText(".tmp-"))
        #expect("ab".containsText(""))
        #expect(!"".containsText("a"))
        #expect("übung".containsText("bun"))
    }

    @Test func splitText() {
        #expect("c4 01 t=23125".splitText(separator: "t=") == ["c4 01 ", "23125"])
        #expect("abc".splitText(separator: "t=") == ["abc"])
        #expect("t=t=".splitText(separator: "t=") == ["", "", ""])
    }
}
