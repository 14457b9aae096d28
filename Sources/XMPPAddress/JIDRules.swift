/// The RFC 7622 preparation and enforcement rules for each part.
///
/// The full PRECIS profiles need Unicode normalization tables that the Swift standard library does not
/// expose; these rules implement what matters for addresses a device agent meets: length limits, the
/// forbidden ASCII characters, control and unassigned-style code points, case folding of the localpart
/// and domain, and the width mapping of fullwidth ASCII forms. Comparison of non-ASCII parts uses Swift's
/// canonical-equivalence string equality.
enum JIDRules {
    static let maxBytes = 1023

    static func localpart(_ s: String) throws(JIDError) -> String {
        guard !s.isEmpty else { throw JIDError(.localpart, .empty) }
        // The common case, already in canonical form: lower-case ASCII with nothing to map or refuse.
        if s.utf8.count <= maxBytes, s.utf8.allSatisfy({ b in
            (0x21...0x7E).contains(b) && !(0x41...0x5A).contains(b) && !Self.forbiddenInLocalpart.contains(b)
        }) { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            let mapped = widthMapped(scalar)
            if isControlOrDisallowed(mapped) { throw JIDError(.localpart, .disallowedCodePoint) }
            // RFC 7622 §3.3.1: these characters are forbidden in a localpart; space is disallowed by
            // the IdentifierClass.
            switch mapped {
            case "\"", "&", "'", "/", ":", "<", ">", "@", " ": throw JIDError(.localpart, .forbiddenCharacter)
            default: break
            }
            if isSpace(mapped) { throw JIDError(.localpart, .forbiddenCharacter) }
            out.unicodeScalars.append(mapped)
        }
        out = out.lowercased()
        guard out.utf8.count <= maxBytes else { throw JIDError(.localpart, .tooLong) }
        return out
    }

    /// `" & ' / : < > @` (RFC 7622 §3.3.1), as bytes.
    static let forbiddenInLocalpart: [UInt8] = Array("\"&'/:<>@".utf8)

    static func domainpart(_ input: String) throws(JIDError) -> String {
        if input.utf8.count <= maxBytes, isCanonicalHostName(input.utf8) { return input }
        var s = input
        // RFC 7622 §3.2: a trailing dot is removed before any other processing.
        if s.hasSuffix(".") { s.removeLast() }
        guard !s.isEmpty else { throw JIDError(.domainpart, .empty) }
        guard s.utf8.count <= maxBytes else { throw JIDError(.domainpart, .tooLong) }
        if s.hasPrefix("[") {
            // An IPv6 literal: hex digits, ':' and '.', between brackets.
            guard s.hasSuffix("]"), s.count > 2,
                s.dropFirst().dropLast().allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }),
                s.contains(":")
            else { throw JIDError(.domainpart, .invalidDomain) }
            return s.lowercased()
        }
        var mapped = ""
        for scalar in s.unicodeScalars {
            let m = widthMapped(scalar)
            if isControlOrDisallowed(m) || isSpace(m) { throw JIDError(.domainpart, .disallowedCodePoint) }
            // Characters that can never appear in a host name (RFC 7622 §3.2 via IDNA2008 / RFC 5892).
            switch m {
            case "@", "/", "\"", "&", "'", ":", "<", ">", "\\", "[", "]", "%", "?", "#", ",", ";", "=", "+",
                "*", "!", "$", "(", ")", "{", "}", "|", "^", "`", "~":
                throw JIDError(.domainpart, .invalidDomain)
            default: mapped.unicodeScalars.append(m)
            }
        }
        mapped = mapped.lowercased()
        // Each label is 1...63 octets; labels may not start or end with a hyphen.
        for label in mapped.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63, !label.hasPrefix("-"), !label.hasSuffix("-") else {
                throw JIDError(.domainpart, .invalidDomain)
            }
        }
        return mapped
    }

    /// Lower-case letters, digits, hyphens and dots in labels of 1...63 octets that neither start nor
    /// end with a hyphen: a host name with nothing to map.
    static func isCanonicalHostName(_ bytes: String.UTF8View) -> Bool {
        var label = 0
        var previous: UInt8 = UInt8(ascii: ".")
        for b in bytes {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                label += 1
            case UInt8(ascii: "-"):
                guard label > 0 else { return false }
                label += 1
            case UInt8(ascii: "."):
                guard label > 0, previous != UInt8(ascii: "-") else { return false }
                label = 0
            default:
                return false
            }
            guard label <= 63 else { return false }
            previous = b
        }
        return label > 0 && previous != UInt8(ascii: "-")
    }

    static func resourcepart(_ s: String) throws(JIDError) -> String {
        guard !s.isEmpty else { throw JIDError(.resourcepart, .empty) }
        // Printable ASCII is its own canonical form.
        if s.utf8.count <= maxBytes, s.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) { return s }
        var out = ""
        for scalar in s.unicodeScalars {
            if isControlOrDisallowed(scalar) { throw JIDError(.resourcepart, .disallowedCodePoint) }
            // OpaqueString maps non-ASCII spaces to U+0020.
            out.unicodeScalars.append(isSpace(scalar) ? " " : scalar)
        }
        guard out.utf8.count <= maxBytes else { throw JIDError(.resourcepart, .tooLong) }
        return out
    }

    /// PRECIS width mapping (RFC 8264 §9.1 step 1 for UsernameCaseMapped): fullwidth ASCII forms
    /// U+FF01...U+FF5E map to U+0021...U+007E.
    static func widthMapped(_ s: Unicode.Scalar) -> Unicode.Scalar {
        if (0xFF01...0xFF5E).contains(s.value) { return Unicode.Scalar(s.value - 0xFF01 + 0x21)! }
        return s
    }

    static func isSpace(_ s: Unicode.Scalar) -> Bool {
        // ASCII first: nearly every address is ASCII, and the Unicode property look-up is not cheap.
        if s.isASCII { return s == " " }
        return s.properties.generalCategory == .spaceSeparator
    }

    /// Control characters, surrogates, private use, noncharacters, unassigned code points and
    /// default-ignorable code points are disallowed in every PRECIS class.
    static func isControlOrDisallowed(_ s: Unicode.Scalar) -> Bool {
        // In ASCII only the C0 controls and DEL are disallowed.
        if s.isASCII { return s.value < 0x20 || s.value == 0x7F }
        switch s.properties.generalCategory {
        case .control, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .format:
            return true
        default:
            return s.properties.isNoncharacterCodePoint || s.properties.isDefaultIgnorableCodePoint
        }
    }
}
