import Foundation
import Testing
@testable import TOML

/// Thousands of small documents mixing `[t]`, `[[t]]`, dotted keys, inline tables and arrays over
/// three key names, from a fixed seed: the table rules (what may define or extend what) must give
/// tomllib's verdict and values on every one.
@Suite(.enabled(if: TOMLDiffPython.available, TOMLDiffPython.missingReason))
struct TOMLTableRulesDiffTests {
    @Test func generatedDocumentsAgreeWithTomllib() throws {
        let dir = NSTemporaryDirectory() + "perch-toml-rules-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = TOMLRulesRandom(seed: 20_261_201)
        var docs: [String: String] = [:]
        for n in 0..<3000 {
            let path = "\(dir)/\(n).toml"
            docs[path] = rng.document()
            try docs[path]!.write(toFile: path, atomically: false, encoding: .utf8)
        }
        let verdicts = TOMLDiffPython.verdicts(docs.keys.sorted())
        #expect(verdicts.count == docs.count)
        var accepted = 0
        for (path, text) in docs.sorted(by: { $0.key < $1.key }) {
            let perch = Result { () throws(TOMLError) in try TOMLParser.parse(text) }
            switch (verdicts[path], perch) {
            case (.accepted(let v?)?, .success(let t)):
                accepted += 1
                #expect(TOMLDiffValue(t) == v, "\(text)")
            case (.rejected?, .failure): break
            case (.accepted?, .failure(let e)): Issue.record("Perch refuses what tomllib accepts (\(e)):\n\(text)")
            case (.rejected(_, let m)?, .success): Issue.record("Perch accepts what tomllib refuses (\(m)):\n\(text)")
            default: Issue.record("no verdict from tomllib:\n\(text)")
            }
        }
        // Both verdicts must be well represented, or the generator tests little.
        #expect(accepted > 1000 && accepted < 2500, "accepted \(accepted) of \(docs.count)")
    }
}

/// SplitMix64, and the documents it draws.
struct TOMLRulesRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next(_ n: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(n))
    }

    mutating func key(_ parts: Int) -> String {
        (0..<parts).map { _ in ["a", "b", "c"][next(3)] }.joined(separator: ".")
    }

    mutating func value() -> String {
        switch next(20) {
        case 0..<10: "1"
        case 10..<13: "{}"
        case 13..<16: "{ \(key(1 + next(2))) = 1 }"
        case 16..<18: "[]"
        default: "[{ \(key(1)) = 2 }]"
        }
    }

    mutating func document() -> String {
        (0..<(1 + next(7))).map { _ in
            switch next(20) {
            case 0..<5: "[\(key(1 + next(3)))]"
            case 5..<9: "[[\(key(1 + next(3)))]]"
            default: "\(key(1 + next(3))) = \(value())"
            }
        }.joined(separator: "\n") + "\n"
    }
}
