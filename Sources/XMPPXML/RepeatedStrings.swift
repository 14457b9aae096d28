internal import Glibc
import XMPPCore

/// Attribute values seen lately, by content: the same JIDs stand in `from` and `to` stanza after
/// stanza, and the same pubsub node names and caps hashes recur, so a value read again is handed
/// out as the String already made (a retain) instead of a new allocation and UTF-8 check.
///
/// Only values 16 to 64 bytes long are kept: shorter ones are stored inline in a String and cost no
/// allocation anyway, longer ones are rarely repeated. A direct-mapped table of fixed size, so it
/// holds at most ``slots`` values of at most ``maxLength`` bytes, whatever a peer sends; a value
/// that does not match what its slot holds replaces it.
struct RepeatedValues {
    static let slots = 64
    static let minLength = 16
    static let maxLength = 64
    private var entries = [String](repeating: "", count: RepeatedValues.slots)

    /// The String of `bytes` (valid UTF-8: libxml2 has checked it), from the table when it is there;
    /// nil when they hold an `&`, which the caller has to unescape (a value in the table never holds
    /// one, so a match needs no check).
    mutating func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let n = bytes.count
        guard n >= Self.minLength, n <= Self.maxLength, let p = bytes.baseAddress else {
            return bytes.contains(UInt8(ascii: "&")) ? nil : String(decoding: bytes, as: UTF8.self)
        }
        // The first and last eight bytes and the length pick the slot; the bytes decide the match.
        let first = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
        let last = UnsafeRawPointer(p + n - 8).loadUnaligned(as: UInt64.self)
        let mixed = (first &* 0x9E37_79B9_7F4A_7C15) ^ (last &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(n)
        let slot = Int(truncatingIfNeeded: mixed >> 58) & (Self.slots - 1)
        let held = entries[slot]
        if held.utf8.count == n, held.utf8.withContiguousStorageIfAvailable({ memcmp($0.baseAddress!, p, n) == 0 }) == true {
            return held
        }
        if memchr(p, 0x26, n) != nil { return nil }
        let made = String(decoding: bytes, as: UTF8.self)
        entries[slot] = made
        return made
    }
}

/// Namespace URIs as the String constants the program is built with: a constant's text is never
/// reference counted, so elements in these namespaces (most of what a client stream carries) cost
/// no retain and release of their namespace as they are built, copied and freed.
enum KnownNamespaces {
    /// The namespaces Perch reads, and those that ride along on most stanzas a device receives.
    static let all: [String] = [
        XMPPNamespace.xml, XMPPNamespace.stream, XMPPNamespace.streamErrors, XMPPNamespace.stanzaErrors,
        XMPPNamespace.tls, XMPPNamespace.sasl, XMPPNamespace.bind, XMPPNamespace.session, XMPPNamespace.roster,
        XMPPNamespace.discoInfo, XMPPNamespace.discoItems, XMPPNamespace.version, XMPPNamespace.caps,
        XMPPNamespace.saslChannelBinding,
        "urn:ietf:params:xml:ns:xmpp-framing",
        "http://jabber.org/protocol/pubsub", "http://jabber.org/protocol/pubsub#event",
        "http://jabber.org/protocol/pubsub#owner", "http://jabber.org/protocol/pubsub#errors",
        "http://jabber.org/protocol/pubsub#publish-options", "http://jabber.org/protocol/pubsub#node_config",
        "http://jabber.org/protocol/muc", "http://jabber.org/protocol/muc#user",
        "http://jabber.org/protocol/muc#owner", "http://jabber.org/protocol/muc#roomconfig",
        "http://jabber.org/protocol/commands", "http://jabber.org/protocol/chatstates",
        "http://jabber.org/protocol/nick", "http://jabber.org/protocol/httpbind",
        "urn:xmpp:iot:sensordata", "urn:xmpp:iot:control", "urn:xmpp:occupant-id:0",
        "urn:xmpp:alt-connections:websocket", "urn:xmpp:alt-connections:xbosh",
        "urn:xmpp:perch:readings:0", "urn:xmpp:perch:resumption:0",
    ]

    /// Each constant with its length and first eight bytes, to rule most out without comparing.
    private static let table: [(length: Int, head: UInt64, string: String)] = all.map { s in
        let bytes = Array(s.utf8)
        return (bytes.count, bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }, s)
    }

    /// The constant spelled as the NUL-terminated `p` (of `length` bytes), if there is one.
    static func constant(_ p: UnsafePointer<UInt8>, length: Int) -> String? {
        guard length >= 16 else { return nil }  // shorter ones are inline Strings: nothing to share
        let head = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
        for entry in table where entry.length == length && entry.head == head {
            if entry.string.utf8.withContiguousStorageIfAvailable({ memcmp($0.baseAddress!, p, length) == 0 }) == true { return entry.string }
        }
        return nil
    }
}
