/// Escaping of text for a log line, on UTF-8 bytes.
///
/// A log line must stay one line whatever a peer sends: a stranger's iq id holding CR LF, a form field
/// holding U+2028 or a terminal escape must not start a new journal entry, change a terminal, or read
/// like a line Perch wrote. Every control is written as `\xHH`, one escape per UTF-8 byte (CR is
/// `\x0d`, U+2028 is `\xe2\x80\xa8`), so the bytes that arrived can be read back from the log.
///
/// Escaped: C0 controls (U+0000–U+001F), DEL (U+007F), C1 controls (U+0080–U+009F, NEL included),
/// LINE and PARAGRAPH SEPARATOR (U+2028, U+2029) and the bidirectional overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069), which reorder what a terminal shows.
enum LogText {
    /// Appends `text` to `out` with every control escaped. With `joinLines`, LF is written " | "
    /// (empty lines dropped), for Perch's own multi-line messages; otherwise LF is `\x0a` like the rest.
    /// With `quoting`, `"` and `\` are escaped as `\"` and `\\` too. Stops after `limit` Unicode scalars
    /// and returns whether it did.
    @discardableResult
    static func append(_ text: String, to out: inout [UInt8], joinLines: Bool, quoting: Bool, limit: Int = .max) -> Bool {
        var pendingBreak = false
        var scalars = 0
        for scalar in text.unicodeScalars {
            if scalars == limit { return true }
            scalars += 1
            let v = scalar.value
            if joinLines && v == 0x0A {
                pendingBreak = true
                continue
            }
            if pendingBreak {
                if !out.isEmpty { out += " | ".utf8 }
                pendingBreak = false
            }
            if quoting && (v == 0x22 || v == 0x5C) {
                out.append(0x5C)
                out.append(UInt8(v))
            } else if isEscaped(v) {
                for byte in String(scalar).utf8 { appendEscape(byte, to: &out) }
            } else if v < 0x80 {
                out.append(UInt8(v))
            } else {
                out += String(scalar).utf8
            }
        }
        return false
    }

    static func isEscaped(_ v: UInt32) -> Bool {
        v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029
            || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }

    private static func appendEscape(_ byte: UInt8, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out += [0x5C, UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
    }

    /// The most of an untrusted field `logQuoted` shows.
    static let quotedLimit = 200
}

/// An untrusted field (an iq id, a form value, a JID's resource, a command's output) for a log line:
/// in double quotes, with `"` as `\"`, `\` as `\\` and every control, LF included, as `\xHH` per UTF-8
/// byte (see `LogText`). Longer than 200 Unicode scalars, it is cut there and `…` follows the closing
/// quote: `"aaaa…aaaa"…`.
///
///     log.info("iq \(logQuoted(id)) from \(from)")   // iq "a\x0d\x0a<2>perch: …" from …
public func logQuoted(_ s: String) -> String {
    var out: [UInt8] = [0x22]
    out.reserveCapacity(min(s.utf8.count, 4 * LogText.quotedLimit) + 8)
    let cut = LogText.append(s, to: &out, joinLines: false, quoting: true, limit: LogText.quotedLimit)
    out.append(0x22)
    if cut { out += "…".utf8 }
    return String(decoding: out, as: UTF8.self)
}
