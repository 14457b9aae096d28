/// Small text helpers every layer needs (Glibc-only targets have no Foundation to lean on).
extension StringProtocol {
    /// Without leading and trailing whitespace (spaces, tabs, newlines).
    public func trimmingWhitespace() -> String {
        // Most text has nothing to trim: an ASCII letter or sign at both ends answers that without
        // walking the scalars.
        if let first = utf8.first, let last = utf8.reversed().first, first > 0x20, first < 0x7F, last > 0x20, last < 0x7F {
            return String(self)
        }
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

/// How long something has lasted, for a person reading a message: whole units, the larger two
/// (`45 s`, `2 min 26 s`, `3 h 5 min`, `2 d 4 h`), never a decimal.
public func describeElapsed(_ ms: Int64) -> String {
    let s = max(ms, 0) / 1000
    if s < 60 { return "\(s) s" }
    if s < 3_600 { return s % 60 == 0 || s >= 600 ? "\(s / 60) min" : "\(s / 60) min \(s % 60) s" }
    if s < 86_400 { return (s / 60) % 60 == 0 ? "\(s / 3_600) h" : "\(s / 3_600) h \((s / 60) % 60) min" }
    return (s / 3_600) % 24 == 0 ? "\(s / 86_400) d" : "\(s / 86_400) d \((s / 3_600) % 24) h"
}

/// Substring search and splitting on UTF-8 bytes. The standard library leaves these to the
/// _StringProcessing module, whose regex engine would come with them into the binary (about 1 MB);
/// Perch only ever looks for literal text.
extension StringProtocol {
    /// Whether `other` occurs in this string (compared as UTF-8, so without Unicode canonical
    /// equivalence, which literal protocol text does not need).
    public func containsText(_ other: some StringProtocol) -> Bool {
        firstByteOffset(of: other) != nil
    }

    /// The parts between occurrences of `separator` (empty parts kept).
    public func splitText(separator: some StringProtocol) -> [String] {
        let bytes = Array(utf8)
        let needle = Array(separator.utf8)
        guard !needle.isEmpty else { return [String(self)] }
        var parts: [String] = []
        var start = 0
        var i = 0
        while i + needle.count <= bytes.count {
            if Array(bytes[i..<(i + needle.count)]) == needle {
                parts.append(String(decoding: bytes[start..<i], as: UTF8.self))
                i += needle.count
                start = i
            } else {
                i += 1
            }
        }
        parts.append(String(decoding: bytes[start...], as: UTF8.self))
        return parts
    }

    private func firstByteOffset(of other: some StringProtocol) -> Int? {
        let bytes = Array(utf8)
        let needle = Array(other.utf8)
        if needle.isEmpty { return 0 }
        guard needle.count <= bytes.count else { return nil }
        for i in 0...(bytes.count - needle.count) where bytes[i] == needle[0] {
            if bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }
}
