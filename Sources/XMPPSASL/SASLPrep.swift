import PerchIDN

/// SASLprep (RFC 4013), the stringprep profile SCRAM (RFC 5802 §2.2) and PLAIN (RFC 4616 §2) apply to
/// user names and passwords, by GNU libidn: mapping (non-ASCII spaces to U+0020, "commonly mapped to
/// nothing" removed), NFKC, prohibited output and the bidi rules. Prosody derives its stored SCRAM keys
/// from the SASLprep'd password and ejabberd from its NFKC form (Resourceprep), so a non-ASCII password
/// logs in only when the client prepares it the same way. ASCII text without control characters is
/// unchanged.
public enum SASLPrep {
    /// The prepared string, or why SASLprep refuses it.
    ///
    /// - Parameters:
    ///   - what: names the string in the error ("the password").
    ///   - stored: the rules for stored strings (RFC 3454 §7): unassigned code points are refused, as
    ///     they may map differently in a later Unicode version. For passwords; user names sent to the
    ///     server are prepared as queries.
    public static func prepare(_ s: String, what: String = "the string", stored: Bool = true) throws(SASLError) -> String {
        if !s.utf8.contains(where: { $0 >= 0x80 || $0 < 0x20 || $0 == 0x7F }) { return s }
        if s.utf8.contains(0) { throw SASLError(.preparation, "\(what) contains U+0000, which SASLprep prohibits") }
        switch IDN.saslprep(s, stored: stored) {
        case .ok(let prepared): return prepared
        case let refusal: throw SASLError(.preparation, "\(what) cannot be used with SASL: \(reason(refusal, s, stored: stored))")
        }
    }

    /// What is wrong, naming the offending character where there is one.
    static func reason(_ result: IDN.StringprepResult, _ s: String, stored: Bool) -> String {
        func offending() -> String {
            for scalar in s.unicodeScalars where scalar.value >= 0x80 || scalar.value < 0x20 || scalar.value == 0x7F {
                switch IDN.saslprep(String(Character(scalar)), stored: stored) {
                case .prohibited, .unassigned: return " (U+\(hex(scalar.value)))"
                default: continue
                }
            }
            return ""
        }
        switch result {
        case .prohibited:
            return "it contains a character SASLprep prohibits\(offending()): a control character, a private-use or non-character code point, or the like (RFC 4013 §2.3); choose a password without it"
        case .unassigned:
            return "it contains a code point unassigned in Unicode 3.2\(offending()), which a stored password may not hold (RFC 4013 §2.5); choose a password without it"
        case .bidiBothDirections:
            return "it mixes right-to-left and left-to-right characters, which SASLprep's bidi rules refuse (RFC 3454 §6)"
        case .bidiLeadTrail:
            return "it holds right-to-left characters but does not start and end with one, which SASLprep's bidi rules refuse (RFC 3454 §6)"
        case .bidiProhibited:
            return "it contains a character the bidi rules prohibit (RFC 3454 §6)"
        case .failed(let rc):
            return "SASLprep failed (libidn error \(rc)): the text is probably not valid UTF-8"
        case .ok:
            return "it was accepted"
        }
    }

    private static func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// SCRAM's `saslname` escaping (RFC 5802 §5.1) of a prepared name: `=` becomes `=3D` and `,` becomes `=2C`.
    public static func scramName(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "=": out += "=3D"
            case ",": out += "=2C"
            default: out.append(c)
            }
        }
        return out
    }
}
