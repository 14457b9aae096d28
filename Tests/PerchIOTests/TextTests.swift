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
    ])
    func trimmingWhitespace(_ input: String, _ expected: String) {
        #expect(input.trimmingWhitespace() == expected)
    }
}
