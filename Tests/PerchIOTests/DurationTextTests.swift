import Testing
@testable import PerchIO

/// The one duration grammar of the configuration, chat and forms.
@Suite struct DurationTextTests {
    func ms(_ s: String) -> Int64? { try? DurationText.parse(s).get() }

    @Test func numbersWithUnits() {
        #expect(ms("500ms") == 500)
        #expect(ms("5s") == 5_000)
        #expect(ms("1.5s") == 1_500)
        #expect(ms("90sec") == 90_000)
        #expect(ms("2m") == 120_000)
        #expect(ms("2min") == 120_000)
        #expect(ms("1h") == 3_600_000)
        #expect(ms("1d") == 86_400_000)
        #expect(ms("0s") == 0, "zero is a duration; whoever takes it says whether it may be zero")
        #expect(ms(" 5 S ") == 5_000, "case and a space before the unit do not matter")
        #expect(ms("0.0004s") == 0, "rounded to the millisecond")
    }

    @Test func refusalsSayWhatToWrite() {
        #expect(DurationText.parse("5") == .failure(.noUnit("5")))
        #expect(DurationText.parse("5").failureText?.contains("\"5\" has no unit: write 5s") == true)
        #expect(DurationText.parse("") == .failure(.empty))
        for bad in ["soon", "s", "-5s", "+5s", "1e3s", "0x10s", "infs", "nans", "5.s", ".5s", "5..1s", "5 s s", "1_000ms"] {
            guard case .failure(.malformed) = DurationText.parse(bad) else { Issue.record("\(bad) accepted or misjudged: \(DurationText.parse(bad))"); continue }
        }
        #expect(DurationText.parse("400d") == .failure(.tooLong("400d")))
        #expect(DurationText.parse("99999999999999999999999h") == .failure(.tooLong("99999999999999999999999h")) || DurationText.parse("99999999999999999999999h") == .failure(.malformed("99999999999999999999999h")))
    }
}

extension Result where Failure == DurationText.Failure {
    var failureText: String? {
        if case .failure(let f) = self { return f.description }
        return nil
    }
}
