/// Why a string is not a valid JID. Each case names the RFC 7622 rule that failed.
public struct JIDError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Which part of the JID is wrong.
    public enum Part: String, Sendable { case localpart, domainpart, resourcepart }

    /// The rule that was broken.
    public enum Rule: String, Sendable {
        /// A part is present (its separator is there) but empty (RFC 7622 §3.3.1, §3.2.1, §3.4.1).
        case empty = "is empty"
        /// A part is longer than 1023 octets once canonicalised (RFC 7622 §3.2-3.4).
        case tooLong = "is longer than 1023 bytes"
        /// The localpart contains one of `" & ' / : < > @` or a space (RFC 7622 §3.3.1).
        case forbiddenCharacter = "contains a character that is not allowed"
        /// A control character, or another code point PRECIS disallows.
        case disallowedCodePoint = "contains a control or disallowed character"
        /// The domain is not a host name, an IPv4 address or a bracketed IPv6 address.
        case invalidDomain = "is not a valid domain name or IP address"
    }

    public let part: Part
    public let rule: Rule

    public init(_ part: Part, _ rule: Rule) {
        self.part = part
        self.rule = rule
    }

    public var description: String { "the \(part.rawValue) \(rule.rawValue)" }
}
