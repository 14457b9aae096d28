internal import CIDN

/// GNU libidn at one boundary: stringprep's SASLprep profile (for XMPPSASL) and IDNA ToASCII (for
/// the DNS and TLS names of a non-ASCII domain). ASCII input takes no C call.
public enum IDN {
    /// What stringprep said of a string.
    public enum StringprepResult: Sendable, Equatable {
        case ok(String)
        /// A character the profile prohibits (control, private use, non-character…).
        case prohibited
        /// A code point unassigned in Unicode 3.2 (refused for stored strings).
        case unassigned
        /// Right-to-left and left-to-right characters mixed.
        case bidiBothDirections
        /// Right-to-left characters, but not first and last.
        case bidiLeadTrail
        /// A character the bidi rules prohibit.
        case bidiProhibited
        /// Any other libidn error (the text is probably not valid UTF-8).
        case failed(Int32)
    }

    /// SASLprep (RFC 4013) of `s`; `stored` applies the rules for stored strings (RFC 3454 §7).
    public static func saslprep(_ s: String, stored: Bool) -> StringprepResult {
        var out: UnsafeMutablePointer<CChar>?
        let rc = CIDN_saslprep(s, stored ? 1 : 0, &out)
        defer { CIDN_free(out) }
        switch rc {
        case Int32(STRINGPREP_OK.rawValue): return out.map { .ok(String(cString: $0)) } ?? .failed(rc)
        case Int32(STRINGPREP_CONTAINS_PROHIBITED.rawValue): return .prohibited
        case Int32(STRINGPREP_CONTAINS_UNASSIGNED.rawValue): return .unassigned
        case Int32(STRINGPREP_BIDI_BOTH_L_AND_RAL.rawValue): return .bidiBothDirections
        case Int32(STRINGPREP_BIDI_LEADTRAIL_NOT_RAL.rawValue): return .bidiLeadTrail
        case Int32(STRINGPREP_BIDI_CONTAINS_PROHIBITED.rawValue): return .bidiProhibited
        default: return .failed(rc)
        }
    }

    /// The ASCII form of a domain (IDNA ToASCII, RFC 3490): `münchen.example` → `xn--mnchen-3ya.example`;
    /// an ASCII domain unchanged. Nil when it has no ASCII form (a label too long, a character STD3
    /// does not allow).
    public static func toASCII(_ domain: String) -> String? {
        if domain.utf8.allSatisfy({ $0 < 0x80 }) { return domain }
        var out: UnsafeMutablePointer<CChar>?
        let rc = CIDN_to_ascii(domain, &out)
        defer { CIDN_free(out) }
        guard rc == Int32(IDNA_SUCCESS.rawValue), let out else { return nil }
        return String(cString: out)
    }
}
