import Testing
@testable import PerchConfig

@Suite struct AllowPlainTests {
    @Test func allowPlainIsOffByDefaultAndParsed() throws {
        let base = "[account]\njid = \"a@example.org\"\n"
        #expect(try load(base).server.allowPlain == false)
        #expect(try load(base + "[server]\nallow_plain = true\n").server.allowPlain == true)
        #expect(try load(base + "[server]\nallow_plain = false\n").server.allowPlain == false)
        #expect(throws: ConfigurationError.self) { try load(base + "[server]\nallow_plain = \"yes\"\n") }
    }
}
