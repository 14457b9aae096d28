/// Chooses the SASL mechanism from what the server offers (RFC 6120 §6.3.3: the client picks).
///
/// Preference: SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS (when we hold a channel binding of a type the server
/// accepts), SCRAM-SHA-256, SCRAM-SHA-1, then PLAIN, which is chosen only when allowed (the operator set
/// `server.allow_plain` and no pins), only inside TLS and only when the server offers no SCRAM at all (a
/// server that offers SCRAM but has it fail must not push us to PLAIN). PLAIN hands the password itself
/// to whoever terminates the TLS session, so a pinned or SCRAM-capable setup never uses it.
public enum MechanismSelection {
    /// The decision: which mechanism and with which binding.
    public enum Choice: Sendable, Hashable {
        case scram(algorithm: DigestAlgorithmChoice, binding: SCRAM.Binding)
        case plain
    }

    /// The SCRAM hash, named without importing the crypto module's type into call sites.
    public enum DigestAlgorithmChoice: Sendable, Hashable {
        case sha1, sha256
    }

    /// - Parameters:
    ///   - offered: mechanism names from `<mechanisms/>`.
    ///   - tls: whether the stream is protected by TLS.
    ///   - bindings: the channel bindings the TLS layer can produce, in our order of preference.
    ///   - serverBindingTypes: the types listed by XEP-0440 `<sasl-channel-binding/>`, or nil if the server
    ///     did not say (then `tls-unique`, RFC 5802's default, is assumed for TLS 1.2).
    ///   - allowPlain: whether PLAIN may be used at all.
    public static func choose(offered: [String], tls: Bool, bindings: [ChannelBinding], serverBindingTypes: [String]?, allowPlain: Bool = false) -> Choice? {
        let set = Set(offered.map { $0.uppercased() })
        let acceptedTypes = serverBindingTypes ?? ["tls-unique"]
        let usable = tls ? bindings.first { acceptedTypes.contains($0.type) } : nil
        let serverOffersPlus = set.contains("SCRAM-SHA-256-PLUS") || set.contains("SCRAM-SHA-1-PLUS")
        if let usable {
            if set.contains("SCRAM-SHA-256-PLUS") { return .scram(algorithm: .sha256, binding: .bound(usable)) }
            if set.contains("SCRAM-SHA-1-PLUS") { return .scram(algorithm: .sha1, binding: .bound(usable)) }
        }
        // Without -PLUS: 'y' tells the server we could have bound, so a stripped -PLUS offer is detected.
        // If the server does offer -PLUS but with no binding type we can produce, 'n' is the honest answer.
        let canBind = tls && !bindings.isEmpty
        let plainBinding: SCRAM.Binding = canBind && !serverOffersPlus ? .supportedNotOffered : .unsupported
        if set.contains("SCRAM-SHA-256") { return .scram(algorithm: .sha256, binding: plainBinding) }
        if set.contains("SCRAM-SHA-1") { return .scram(algorithm: .sha1, binding: plainBinding) }
        let anySCRAM = set.contains { $0.hasPrefix("SCRAM-") }
        if allowPlain, tls, !anySCRAM, set.contains("PLAIN") { return .plain }
        return nil
    }
}
