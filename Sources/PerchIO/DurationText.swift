/// The one grammar of durations, for the configuration, chat commands and forms alike: a number
/// (whole or decimal) and a unit — `500ms`, `5s`, `1.5s`, `90sec`, `2m`, `2min`, `1h`, `1d`.
/// Case and a space before the unit do not matter. A bare number has no unit and is refused with a
/// hint, so `5` never silently means five seconds in one place and five milliseconds in another.
public enum DurationText {
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case empty
        /// A number without a unit: `5`.
        case noUnit(String)
        /// Not a number and a unit at all.
        case malformed(String)
        /// More than `DurationText.maximum`.
        case tooLong(String)

        public var description: String {
            switch self {
            case .empty: "an empty duration; write one such as \(DurationText.examples)"
            case .noUnit(let s): "\"\(s)\" has no unit: write \(s)s for seconds (or \(s)ms, \(s)m)"
            case .malformed(let s): "\"\(s)\" is not a duration; write one such as \(DurationText.examples)"
            case .tooLong(let s): "\"\(s)\" is longer than any duration perch takes (\(describeDuration(DurationText.maximum)))"
            }
        }
    }

    public static let examples = "500ms, 5s, 1.5s, 2m or 1h"
    /// A year: past it nothing perch times makes sense, and milliseconds stay far from overflow.
    public static let maximum: Int64 = 365 * 86_400_000

    static let units: [(String, Int64)] = [
        ("ms", 1), ("sec", 1000), ("s", 1000), ("min", 60_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000),
    ]

    /// The duration in milliseconds (rounded to the nearest).
    public static func parse(_ text: String) -> Result<Int64, Failure> {
        let s = text.trimmingWhitespace().lowercased()
        guard !s.isEmpty else { return .failure(.empty) }
        for (suffix, factor) in units where s.hasSuffix(suffix) {
            let number = String(s.dropLast(suffix.count)).trimmingWhitespace()
            guard let n = decimal(number) else { return .failure(.malformed(text)) }
            let ms = n * Double(factor)
            guard ms <= Double(maximum) else { return .failure(.tooLong(text)) }
            return .success(Int64(ms.rounded()))
        }
        return decimal(s) != nil ? .failure(.noUnit(s)) : .failure(.malformed(text))
    }

    /// Digits, optionally a point and more digits (`5`, `1.5`, `.5` is refused): no sign, exponent,
    /// hex, inf or nan, which Double(_:) would all take.
    static func decimal(_ s: String) -> Double? {
        var seenDigit = false
        var seenPoint = false
        var digitsAfterPoint = 0
        for c in s.utf8 {
            if c >= 0x30 && c <= 0x39 {
                seenDigit = true
                if seenPoint { digitsAfterPoint += 1 }
            } else if c == 0x2E, !seenPoint, seenDigit {
                seenPoint = true
            } else {
                return nil
            }
        }
        guard seenDigit, !seenPoint || digitsAfterPoint > 0, s.utf8.count <= 24 else { return nil }
        return Double(s)
    }
}
