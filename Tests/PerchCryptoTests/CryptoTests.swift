import Testing
@testable import PerchCrypto

func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

@Suite struct CryptoTests {
    @Test func digests() {
        #expect(hex(DigestAlgorithm.sha1.hash(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex(DigestAlgorithm.sha256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func hmacRFC4231Case2() {
        let mac = DigestAlgorithm.sha256.hmac(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
        #expect(hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func pbkdf2RFC6070() {
        // RFC 6070 test vectors for PBKDF2-HMAC-SHA1.
        #expect(hex(DigestAlgorithm.sha1.pbkdf2(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 1)) == "0c60c80f961f0e71f3a9b524af6012062fe037a6")
        #expect(hex(DigestAlgorithm.sha1.pbkdf2(password: Array("password".utf8), salt: Array("salt".utf8), iterations: 4096)) == "4b007901b765489abead49d926f721d065a429c1")
    }

    @Test func base64RoundTripAndStrictness() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.decode("Zm8") == nil)
        #expect(Base64.decode("Zm8=Zm8=") == nil)
        #expect(Base64.decode("Zm 8") == nil)
        #expect(Base64.decode("Z===") == nil)
        #expect(Base64.decode("") == [])
    }

    @Test func randomBytesDiffer() {
        let a = SecureRandom.bytes(100)
        let b = SecureRandom.bytes(100)
        #expect(a.count == 100)
        #expect(a != b)
        #expect(!SecureRandom.token().contains("="))
    }

    @Test func randomBytesOfEverySize() {
        #expect(SecureRandom.bytes(0).isEmpty)
        #expect(SecureRandom.bytes(4).count == 4)
        // Past getrandom's 256-byte atomic read: filled to the end, not just the first chunk.
        let big = SecureRandom.bytes(1 << 20)
        #expect(big.count == 1 << 20)
        #expect(big.suffix(4096).contains { $0 != 0 })
        var counts = [Int](repeating: 0, count: 256)
        for b in big { counts[Int(b)] += 1 }
        // About 4096 of each byte value in 1 MiB; a broken source is far off.
        #expect(counts.allSatisfy { (3500...4700).contains($0) }, "byte counts from \(counts.min()!) to \(counts.max()!)")
    }
}
