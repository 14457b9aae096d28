import Testing
import PerchCrypto
@testable import XMPPSASL

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct SCRAMTests {
    /// RFC 5802 §5: SCRAM-SHA-1, user "user", password "pencil".
    @Test func rfc5802Vector() throws {
        var scram = SCRAM(algorithm: .sha1, username: "user", password: "pencil", clientNonce: "fyko+d2lbbFgONRv9qkxdawL")
        #expect(scram.initialResponse() == bytes("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"))
        let final = try scram.respond(to: bytes("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"))
        #expect(final == bytes("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="))
        try scram.verifySuccess(bytes("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="))
        #expect(scram.serverVerified)
        #expect(scram.name == "SCRAM-SHA-1")
    }

    /// RFC 7677 §3: SCRAM-SHA-256, user "user", password "pencil".
    @Test func rfc7677Vector() throws {
        var scram = SCRAM(algorithm: .sha256, username: "user", password: "pencil", clientNonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(scram.initialResponse() == bytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
        let final = try scram.respond(to: bytes("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
        #expect(final == bytes("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
        try scram.verifySuccess(bytes("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
        #expect(scram.serverVerified)
    }

    @Test func wrongServerSignatureIsRefused() throws {
        var scram = SCRAM(algorithm: .sha1, username: "user", password: "pencil", clientNonce: "fyko+d2lbbFgONRv9qkxdawL")
        _ = scram.initialResponse()
        _ = try scram.respond(to: bytes("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"))
        #expect(throws: SASLError.self) { try scram.verifySuccess(bytes("v=AAAApqV8S7suAoZWja4dJRkFsKQ=")) }
        #expect(!scram.serverVerified)
    }

    @Test func hostileServerFirstMessages() {
        let cases: [(String, SASLError.Code)] = [
            ("r=other3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096", .nonceMismatch),
            ("r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096", .nonceMismatch),
            ("r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=1", .unacceptableIterationCount),
            ("r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=2147483647", .unacceptableIterationCount),
            ("r=fyko+d2lbbFgONRv9qkxdawLx,s=not base64!,i=4096", .malformedChallenge),
            ("r=fyko+d2lbbFgONRv9qkxdawLx,i=4096", .malformedChallenge),
            ("m=ext,r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=4096", .malformedChallenge),
            ("e=other-error", .serverError),
            ("garbage", .malformedChallenge),
            ("", .malformedChallenge),
        ]
        for (message, code) in cases {
            var scram = SCRAM(algorithm: .sha1, username: "user", password: "pencil", clientNonce: "fyko+d2lbbFgONRv9qkxdawL")
            _ = scram.initialResponse()
            #expect { try scram.respond(to: bytes(message)) } throws: { ($0 as? SASLError)?.code == code }
        }
        var scram = SCRAM(algorithm: .sha1, username: "user", password: "pencil")
        _ = scram.initialResponse()
        #expect(throws: SASLError.self) { try scram.respond(to: [0xFF, 0xFE]) }
        #expect(throws: SASLError.self) { try scram.verifySuccess(bytes("v=xx")) }
    }

    @Test func channelBindingHeaders() throws {
        let cb = ChannelBinding(type: "tls-unique", data: [1, 2, 3, 4])
        var plus = SCRAM(algorithm: .sha256, username: "user", password: "pencil", binding: .bound(cb), clientNonce: "abc")
        #expect(plus.name == "SCRAM-SHA-256-PLUS")
        #expect(plus.initialResponse() == bytes("p=tls-unique,,n=user,r=abc"))
        let final = try plus.respond(to: bytes("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096"))
        let c = String(decoding: final, as: UTF8.self).split(separator: ",")[0]
        #expect(c == "c=" + Base64.encode(bytes("p=tls-unique,,") + [1, 2, 3, 4]))

        var y = SCRAM(algorithm: .sha1, username: "user", password: "pencil", binding: .supportedNotOffered, clientNonce: "abc")
        #expect(y.initialResponse() == bytes("y,,n=user,r=abc"))
        let yFinal = try y.respond(to: bytes("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096"))
        #expect(String(decoding: yFinal, as: UTF8.self).hasPrefix("c=eSws,"))
    }

    @Test func usernameEscaping() {
        var scram = SCRAM(algorithm: .sha1, username: "a=b,c", password: "p", clientNonce: "n")
        #expect(scram.initialResponse() == bytes("n,,n=a=3Db=2Cc,r=n"))
    }

    @Test func cacheAvoidsRepeatingPBKDF2() throws {
        let cache = SCRAMCache()
        for _ in 0..<2 {
            var scram = SCRAM(algorithm: .sha1, username: "user", password: "pencil", clientNonce: "fyko+d2lbbFgONRv9qkxdawL", cache: cache)
            _ = scram.initialResponse()
            _ = try scram.respond(to: bytes("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"))
            try scram.verifySuccess(bytes("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="))
        }
        #expect(cache.lookup(algorithm: .sha1, salt: Base64.decode("QSXCR+Q6sek8bf92")!, iterations: 4096) != nil)
    }

    @Test func plain() throws {
        var p = SASLPlain(username: "juliet", password: "s3cr3t")
        #expect(p.initialResponse() == [0] + bytes("juliet") + [0] + bytes("s3cr3t"))
        #expect(throws: SASLError.self) { try p.respond(to: []) }
    }

    @Test func saslPrep() throws {
        #expect(try SASLPrep.prepare("pass\u{00A0}word\u{00AD}") == "pass word")
        #expect(try SASLPrep.prepare("ascii") == "ascii")
        #expect(try SASLPrep.prepare("") == "")
    }
}

/// SASLprep by libidn: NFKC, prohibited output, bidi. Compared as scalars: Swift's String equality
/// treats canonically equivalent strings as equal, which would hide a missing normalisation.
@Suite struct SASLPrepTests {
    func scalars(_ s: String) -> [UInt32] { s.unicodeScalars.map(\.value) }

    @Test func nfkcFoldsLigaturesAndComposes() throws {
        // "ﬁsh-é" with a decomposed é: Prosody stores the keys of "fish-é" (U+00E9).
        #expect(scalars(try SASLPrep.prepare("\u{FB01}sh-e\u{0301}")) == scalars("fish-\u{00E9}"))
        #expect(scalars(try SASLPrep.prepare("I\u{2168}")) == scalars("IIX"))  // Roman numeral nine
        // RFC 4013 §3 examples.
        #expect(try SASLPrep.prepare("I\u{00AD}X") == "IX")
        #expect(scalars(try SASLPrep.prepare("\u{00AA}")) == scalars("a"))
    }

    @Test func prohibitedCharactersAreNamed() {
        #expect { try SASLPrep.prepare("pass\u{0007}word", what: "the password") } throws: { error in
            guard let e = error as? SASLError else { return false }
            return e.code == .preparation && e.detail.contains("the password") && e.detail.contains("prohibits (U+0007)")
        }
        #expect { try SASLPrep.prepare("key\u{E000}") } throws: { ($0 as? SASLError)?.detail.contains("U+E000") == true }
    }

    @Test func unassignedCodePointsAreRefusedInStoredStringsOnly() throws {
        // U+0221 was assigned in Unicode 4.0, after stringprep's Unicode 3.2.
        #expect { try SASLPrep.prepare("a\u{0221}", stored: true) } throws: { ($0 as? SASLError)?.detail.contains("unassigned") == true }
        #expect(scalars(try SASLPrep.prepare("a\u{0221}", stored: false)) == [0x61, 0x221])
    }

    @Test func bidiRules() {
        #expect { try SASLPrep.prepare("\u{05D0}a") } throws: { ($0 as? SASLError)?.detail.contains("mixes right-to-left and left-to-right") == true }
        #expect { try SASLPrep.prepare("\u{0627}1") } throws: { ($0 as? SASLError)?.detail.contains("start and end") == true }
        #expect(throws: Never.self) { try SASLPrep.prepare("\u{0627}1\u{0628}") }
    }
}

@Suite struct MechanismSelectionTests {
    let unique = ChannelBinding(type: "tls-unique", data: [1])
    let endpoint = ChannelBinding(type: "tls-server-end-point", data: [2])

    @Test func prefersPlusWithABindingTheServerAccepts() {
        let offered = ["SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "PLAIN"]
        #expect(MechanismSelection.choose(offered: offered, tls: true, bindings: [unique, endpoint], serverBindingTypes: nil) == .scram(algorithm: .sha256, binding: .bound(unique)))
        #expect(MechanismSelection.choose(offered: offered, tls: true, bindings: [unique, endpoint], serverBindingTypes: ["tls-server-end-point"]) == .scram(algorithm: .sha256, binding: .bound(endpoint)))
        // The server offers -PLUS but only with a binding we cannot produce: plain SCRAM with 'n'.
        #expect(MechanismSelection.choose(offered: offered, tls: true, bindings: [unique], serverBindingTypes: ["tls-exporter"]) == .scram(algorithm: .sha256, binding: .unsupported))
    }

    @Test func flagsYWhenPlusWasNotOffered() {
        #expect(MechanismSelection.choose(offered: ["SCRAM-SHA-1"], tls: true, bindings: [unique], serverBindingTypes: nil) == .scram(algorithm: .sha1, binding: .supportedNotOffered))
        #expect(MechanismSelection.choose(offered: ["SCRAM-SHA-1"], tls: false, bindings: [], serverBindingTypes: nil) == .scram(algorithm: .sha1, binding: .unsupported))
    }

    @Test func plainOnlyWhenAllowedInsideTLSAndOnlyWithoutSCRAM() {
        #expect(MechanismSelection.choose(offered: ["PLAIN"], tls: true, bindings: [], serverBindingTypes: nil, allowPlain: true) == .plain)
        #expect(MechanismSelection.choose(offered: ["PLAIN"], tls: false, bindings: [], serverBindingTypes: nil, allowPlain: true) == nil)
        #expect(MechanismSelection.choose(offered: ["PLAIN", "SCRAM-SHA-512"], tls: true, bindings: [], serverBindingTypes: nil, allowPlain: true) == nil)
        #expect(MechanismSelection.choose(offered: ["DIGEST-MD5", "X-OAUTH2"], tls: true, bindings: [], serverBindingTypes: nil, allowPlain: true) == nil)
    }

    @Test func plainIsNotChosenUnlessAllowed() {
        #expect(MechanismSelection.choose(offered: ["PLAIN"], tls: true, bindings: [], serverBindingTypes: nil) == nil)
        #expect(MechanismSelection.choose(offered: ["PLAIN"], tls: true, bindings: [], serverBindingTypes: nil, allowPlain: false) == nil)
    }
}
