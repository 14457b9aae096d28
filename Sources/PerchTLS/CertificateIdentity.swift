/// RFC 6125 §6.4 matching of a certificate's DNS names against reference identifiers. Pure, so the
/// rules are testable without certificates.
public enum CertificateIdentity {
    /// True when any presented name matches any reference name.
    ///
    /// - Parameters:
    ///   - dnsNames: the subjectAltName dNSName entries.
    ///   - commonNames: the subject CN values; consulted only when there is no dNSName (RFC 6125 §6.4.4).
    public static func matches(dnsNames: [String], commonNames: [String], referenceNames: [String]) -> Bool {
        let presented = dnsNames.isEmpty ? commonNames : dnsNames
        for reference in referenceNames {
            let ref = normalize(reference)
            guard !ref.isEmpty else { continue }
            for name in presented where matches(presented: normalize(name), reference: ref) { return true }
        }
        return false
    }

    static func normalize(_ s: String) -> String {
        var n = s.lowercased()
        if n.hasSuffix(".") { n.removeLast() }
        return n
    }

    /// One presented identifier against one reference identifier. A wildcard is allowed only as the
    /// complete left-most label, matches exactly one label, and never matches a public suffix of two
    /// labels or fewer (`*.com`).
    static func matches(presented: String, reference: String) -> Bool {
        if presented == reference { return true }
        guard presented.hasPrefix("*.") else { return false }
        let suffix = presented.dropFirst(2)
        guard suffix.split(separator: ".").count >= 2 else { return false }
        guard let dot = reference.firstIndex(of: ".") else { return false }
        let firstLabel = reference[..<dot]
        guard !firstLabel.isEmpty, !firstLabel.contains("*") else { return false }
        return reference[reference.index(after: dot)...] == suffix
    }
}
