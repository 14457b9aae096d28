public import XMPPAddress

/// The opening and closing tags of a client-to-server stream (RFC 6120 §4.2, §4.7).
public enum StreamHeader {
    /// The initial stream header a client sends. `from` is included once the stream is protected by TLS
    /// (RFC 6120 §4.7.1 recommends it; sending it in the clear leaks the account name).
    public static func open(to domain: String, from: JID?, lang: String = "en") -> String {
        var s = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
        s += " to='" + XMLEscaping.escapeAttribute(domain) + "'"
        if let from { s += " from='" + XMLEscaping.escapeAttribute(from.bareString) + "'" }
        s += " version='1.0' xml:lang='" + XMLEscaping.escapeAttribute(lang) + "'>"
        return s
    }

    /// The closing tag.
    public static let close = "</stream:stream>"
}

/// What a client's stream header says, whatever the framing writes it as: the RFC 6120 header, the
/// RFC 7395 `<open/>`, or the attributes of a BOSH session request.
public struct StreamOpening: Sendable, Hashable {
    public var to: String
    /// The account, once the stream is protected by TLS (RFC 6120 §4.7.1).
    public var from: JID?
    public var lang: String

    public init(to: String, from: JID?, lang: String = "en") {
        self.to = to
        self.from = from
        self.lang = lang
    }

    /// The RFC 6120 stream header.
    public var header: String { StreamHeader.open(to: to, from: from, lang: lang) }
}
