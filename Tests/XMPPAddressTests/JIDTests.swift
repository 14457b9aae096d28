import Testing
@testable import XMPPAddress

@Suite struct JIDTests {
    @Test func parsesParts() throws {
        let j = try JID("juliet@example.com/foo")
        #expect(j.localpart == "juliet")
        #expect(j.domainpart == "example.com")
        #expect(j.resourcepart == "foo")
        #expect(j.description == "juliet@example.com/foo")
        #expect(j.bare.description == "juliet@example.com")
        #expect(j.domain.description == "example.com")
        #expect(!j.isBare)
    }

    @Test(arguments: [
        "juliet@example.com", "juliet@example.com/foo", "juliet@example.com/foo bar",
        "juliet@example.com/foo@bar", "foo\\20bar@example.com", "fussball@example.com", "fußball@example.com",
        "π@example.com", "Σ@example.com/foo", "example.com", "example.com/foobar", "a.example.com/b@example.net",
        "juliet@[::1]", "juliet@192.0.2.1/r", "example.com/a/b", "user@localhost",
    ])
    func rfc7622ValidExamples(_ s: String) throws {
        _ = try JID(s)
    }

    @Test(arguments: [
        "\"juliet\"@example.com", "foo bar@example.com", "juliet@example.com/", "@example.com", "@example.com/",
        "user@", "", "/foo", "a@b@c", "<x>@example.com", "juliet@exa mple.com", "x@-bad.example", "x@a..b",
        "x@[nothex]", "juliet@example.com/\u{0007}",
    ])
    func rfc7622InvalidExamples(_ s: String) {
        #expect(throws: JIDError.self) { try JID(s) }
    }

    @Test func lengthLimits() throws {
        let ok = String(repeating: "a", count: 1023)
        _ = try JID("\(ok)@example.com")
        #expect(throws: JIDError(.localpart, .tooLong)) { try JID("\(ok)a@example.com") }
        #expect(throws: JIDError(.resourcepart, .tooLong)) { try JID("a@example.com/\(ok)a") }
        // Multi-byte characters count as their UTF-8 bytes.
        #expect(throws: JIDError(.localpart, .tooLong)) { try JID(String(repeating: "é", count: 512) + "@example.com") }
    }

    @Test func canonicalComparison() throws {
        #expect(try JID("Juliet@Example.COM/Foo") == JID("juliet@example.com/Foo"))
        #expect(try JID("juliet@example.com/Foo") != JID("juliet@example.com/foo"))
        #expect(try JID("juliet@example.com.") == JID("juliet@example.com"))
        // Fullwidth forms map to ASCII in the localpart.
        #expect(try JID("ｊｕｌｉｅｔ@example.com") == JID("juliet@example.com"))
        // Canonically equivalent Unicode compares equal.
        #expect(try JID("caf\u{E9}@example.com") == JID("cafe\u{301}@example.com"))
    }

    @Test func resourceMayContainSlashesAndAts() throws {
        let j = try JID("a@b.c/d/e@f")
        #expect(j.resourcepart == "d/e@f")
    }

    @Test func errorNamesThePart() {
        #expect(throws: JIDError(.localpart, .forbiddenCharacter)) { try JID("a:b@example.com") }
        #expect(throws: JIDError(.domainpart, .empty)) { try JID("a@") }
        #expect(throws: JIDError(.resourcepart, .empty)) { try JID("a@b/") }
        #expect(JIDError(.localpart, .forbiddenCharacter).description == "the localpart contains a character that is not allowed")
    }

    @Test func withResource() throws {
        let j = try JID("a@b").with(resource: "r")
        #expect(j.description == "a@b/r")
        #expect(throws: JIDError.self) { try JID("a@b").with(resource: "") }
    }
}
