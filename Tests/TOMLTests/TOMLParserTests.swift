import Testing
@testable import TOML

@Suite struct TOMLParserTests {
    @Test func parsesTheShapesConfigsUse() throws {
        let t = try TOMLParser.parse("""
            # comment
            title = "Perch" # trailing
            [account]
            jid = 'a@b/c'
            n = 1_000
            hex = 0xff
            f = 2.5
            on = true
            list = [
              "x", # inside
              "y",
            ]
            inline = { a = 1, b.c = "d" }
            [server.tls]
            pins = []
            [[output]]
            name = "relay1"
            [[output]]
            name = "relay2"
            """)
        #expect(t["title"] == .string("Perch", line: 2))
        guard case .table(let account, _)? = t["account"] else { Issue.record("no account"); return }
        #expect(account["jid"] == .string("a@b/c", line: 4))
        #expect(account["n"] == .integer(1000, line: 5))
        #expect(account["hex"] == .integer(255, line: 6))
        #expect(account["f"] == .float(2.5, line: 7))
        #expect(account["on"] == .boolean(true, line: 8))
        #expect(account["list"]?.line == 9)
        if case .array(let items, _)? = account["list"] { #expect(items.count == 2) } else { Issue.record("no list") }
        if case .table(let inline, _)? = account["inline"], case .table(let b, _)? = inline["b"] {
            #expect(b["c"] == .string("d", line: 13))
        } else { Issue.record("no inline table") }
        if case .array(let outputs, _)? = t["output"] { #expect(outputs.count == 2) } else { Issue.record("no outputs") }
    }

    @Test func strings() throws {
        let t = try TOMLParser.parse(#"""
            a = "tab\there \"q\" \u00e9"
            b = """
            line1
            line2\
               joined"""
            c = '''raw \n'''
            """#)
        #expect(t["a"] == .string("tab\there \"q\" é", line: 1))
        #expect(t["b"] == .string("line1\nline2joined", line: 2))
        #expect(t["c"] == .string("raw \\n", line: 6))
    }

    @Test(arguments: [
        ("a = ", 1), ("a = \"open", 1), ("[x]\n[x]", 2), ("a = 1\na = 2", 2), ("a = nope", 1),
        ("a = 1 b = 2", 1), ("x = 1979-05-27T07:32:00Z", 1), ("a = [1, 2", 1), ("= 1", 1), ("a = 1\n\n[t\nb=1", 3),
        ("a = 1\n[a]", 2),
    ])
    func errorsCarryTheLine(_ input: String, _ line: Int) {
        #expect { try TOMLParser.parse(input) } throws: { ($0 as? TOMLError)?.line == line }
    }

    @Test func unquotedStringHint() {
        #expect { try TOMLParser.parse("transport = starttls") } throws: { ($0 as? TOMLError)?.message.contains("\"starttls\"") == true }
    }
}
