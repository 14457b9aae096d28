import Testing
@testable import PerchIDN

/// libidn at its boundary: IDNA ToASCII for DNS and TLS names, SASLprep's results.
@Suite struct IDNTests {
    @Test func aNonASCIIDomainHasItsACEForm() {
        #expect(IDN.toASCII("münchen.example") == "xn--mnchen-3ya.example")
        #expect(IDN.toASCII("bücher.example.org") == "xn--bcher-kva.example.org")
        #expect(IDN.toASCII("perch.test") == "perch.test", "ASCII unchanged")
    }

    @Test func aDomainWithoutAnASCIIFormIsNil() {
        #expect(IDN.toASCII("ü" + String(repeating: "a", count: 70) + ".example") == nil, "a label over 63 octets")
        #expect(IDN.toASCII("bad_ü.example") == nil, "STD3: no underscore")
    }

    @Test func saslprepResults() {
        #expect(IDN.saslprep("I\u{00AD}X", stored: true) == .ok("IX"), "soft hyphen mapped to nothing (RFC 4013 §3)")
        #expect(IDN.saslprep("\u{0007}", stored: true) == .prohibited)
        #expect(IDN.saslprep("\u{0627}1", stored: true) == .bidiLeadTrail)
    }
}
