public import XMPPCore

/// XEP-0334 Message Processing Hints: what a sender asks servers to do with a message.
public enum Hints {
    public static let namespace = "urn:xmpp:hints"

    /// Keep the message for a recipient who is offline (offline storage, MAM), even without a body a
    /// server would store anyway.
    public static var store: XMLElement { XMLElement("store", namespace: namespace) }
}
