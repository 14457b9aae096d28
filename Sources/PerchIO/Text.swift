/// Small text helpers every layer needs (Glibc-only targets have no Foundation to lean on).
extension StringProtocol {
    /// Without leading and trailing whitespace (spaces, tabs, newlines).
    public func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isWhitespaceScalar($0) }),
            let last = scalars.lastIndex(where: { !isWhitespaceScalar($0) })
        else { return "" }
        var out = ""
        out.unicodeScalars.append(contentsOf: scalars[first...last])
        return out
    }
}

/// Unicode White_Space, with the common ASCII cases answered without a property look-up.
@inline(__always)
func isWhitespaceScalar(_ s: Unicode.Scalar) -> Bool {
    if s.isASCII { return s == " " || (0x09...0x0D).contains(s.value) }
    return s.properties.isWhitespace
}

/// A duration for people: `300 ms`, `5 s`, `1.5 s`, `15 min`, `3 h`.
public func describeDuration(_ ms: Int64) -> String {
    let ms = max(ms, 0)
    if ms < 1000 { return "\(ms) ms" }
    if ms < 120_000 {
        if ms % 1000 == 0 { return "\(ms / 1000) s" }
        let tenths = (ms + 50) / 100
        return tenths % 10 == 0 ? "\(tenths / 10) s" : "\(tenths / 10).\(tenths % 10) s"
    }
    if ms < 7_200_000 { return "\(ms / 60_000) min" }
    return "\(ms / 3_600_000) h"
}
