public import XMPPCore
import PerchIO

/// XEP-0203: Delayed Delivery. The `<delay/>` a server adds to a stanza it stored (or a sender to one
/// it held back): when it was first sent, and by whom the stamp was written.
///
/// Which of several delays to believe is the reader's policy, not the protocol's: any of them may come
/// from the sender (see PerchAgent's `CommandAge`).
public struct Delay: Sendable, Hashable {
    public static let namespace = XMPPNamespace.delay

    /// When, in milliseconds since the Unix epoch (the `stamp`, an XEP-0082 DateTime).
    public var stamp: Int64
    /// Who wrote the stamp, as the attribute says (unchecked: a sender may write anything).
    public var from: String?
    /// The natural-language reason, if given (§4).
    public var reason: String?

    public init(stamp: Int64, from: String? = nil, reason: String? = nil) {
        self.stamp = stamp
        self.from = from
        self.reason = reason
    }

    /// A `<delay/>` element: nil when `element` is not one, or its `stamp` is missing or not an
    /// XEP-0082 DateTime (such a delay says nothing about when).
    public init?(_ element: XMLElement) {
        guard element.name == "delay", element.namespace == Self.namespace,
              let stamp = element[attribute: "stamp"].flatMap(XMPPDateTime.parse) else { return nil }
        let reason = element.text
        self.init(stamp: stamp, from: element[attribute: "from"], reason: reason.isEmpty ? nil : reason)
    }

    /// The delays directly inside `stanza`, in document order; unreadable ones are left out.
    public static func all(in stanza: XMLElement) -> [Delay] {
        stanza.elements.compactMap(Delay.init)
    }

    /// The element: stamped `at` (Unix milliseconds) by `from`.
    public static func element(from: String?, at milliseconds: Int64) -> XMLElement {
        XMLElement("delay", namespace: namespace, attrs: ["from": from, "stamp": WallClock.iso8601(milliseconds: milliseconds)])
    }

    /// This delay as an element (the stamp in UTC, to the millisecond).
    public var element: XMLElement {
        var e = Self.element(from: from, at: stamp)
        if let reason { e.append(text: reason) }
        return e
    }

    /// `element` without the children in the delay namespace (a copy to send where a delay is not
    /// wanted).
    public static func removingDelays(from element: XMLElement) -> XMLElement {
        var copy = element
        copy.children.removeAll { if case .element(let c) = $0 { c.namespace == namespace } else { false } }
        return copy
    }
}
