public import XMPPCore

/// XEP-0198 bookkeeping for one logical session, which may span several connections when the server
/// lets us resume it. Pure state: the client feeds it what was sent and received and acts on what it
/// returns, so every counting rule is testable without a socket.
///
/// Counters are the protocol's: unsigned 32-bit, wrapping (XEP-0198 §4). `inbound` is what we handled
/// (our `h`); `acknowledged` is the server's last `h` for our stanzas; `unacknowledged` holds what we
/// sent since, oldest first.
public struct StreamManagement: Sendable, Hashable {
    /// The server's resumption id; nil when the session cannot be resumed.
    public var resumptionID: String?
    /// Where the server prefers us to reconnect for a resumption (`host`, `host:port`, `[v6]:port`).
    public var location: String?
    /// How long the server keeps the session after the connection is lost (ms).
    public var resumeWindow: Int64
    /// Stanzas received and handled on this session.
    public var inbound: UInt32 = 0
    /// The server's last acknowledgement of our stanzas.
    public var acknowledged: UInt32 = 0
    /// Stanzas sent and not yet acknowledged, oldest first.
    public var unacknowledged: [XMLElement] = []
    /// Stanzas sent since we last asked for an acknowledgement.
    public var sentSinceRequest = 0

    /// Most stanzas we hold for re-sending; past this the server is not acknowledging and the
    /// connection is treated as stuck rather than letting the queue grow.
    public static let maxUnacknowledged = 1000
    /// Ask for an acknowledgement after this many stanzas, or ``requestDelay`` after the first one.
    public static let requestEvery = 10
    public static let requestDelay: Int64 = 1000
    /// XEP-0198 lets the server choose; ours for when it does not say (ms).
    public static let defaultResumeWindow: Int64 = 300_000

    public init(resumptionID: String?, location: String? = nil, resumeWindow: Int64 = Self.defaultResumeWindow) {
        self.resumptionID = resumptionID
        self.location = location
        self.resumeWindow = resumeWindow
    }

    /// From the server's `<enabled/>`.
    public init(enabled: XMLElement) {
        let resumable = ["true", "1"].contains(enabled[attribute: "resume"] ?? "")
        let window = enabled[attribute: "max"].flatMap { Int64($0) }.map { $0 * 1000 }
        self.init(
            resumptionID: resumable ? enabled[attribute: "id"] : nil, location: enabled[attribute: "location"],
            resumeWindow: window ?? Self.defaultResumeWindow)
    }

    public var resumable: Bool { resumptionID != nil }

    /// Everything we have sent on this session, as the server counts it.
    public var sent: UInt32 { acknowledged &+ UInt32(truncatingIfNeeded: unacknowledged.count) }

    /// Only stanzas count (XEP-0198 §4): not SM's own elements, not anything else at the top level.
    public static func counts(_ element: XMLElement) -> Bool { element.stanzaKind != nil }

    /// We sent a stanza. Returns true when it is time to ask for an acknowledgement.
    public mutating func didSend(_ stanza: XMLElement) -> Bool {
        unacknowledged.append(stanza)
        sentSinceRequest += 1
        return sentSinceRequest >= Self.requestEvery
    }

    /// We handled a stanza from the server.
    public mutating func didReceive() { inbound &+= 1 }

    /// The answer to the server's `<r/>`.
    public var answer: XMLElement {
        XMLElement("a", namespace: XMPPNamespace.streamManagement, attrs: ["h": String(inbound)])
    }

    /// A request for an acknowledgement (`<r/>`); resets the count toward the next one.
    public mutating func request() -> XMLElement {
        sentSinceRequest = 0
        return XMLElement("r", namespace: XMPPNamespace.streamManagement)
    }

    public enum AckError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The server acknowledged more than we ever sent (XEP-0198 §4 `handled-count-too-high`).
        case tooHigh(h: UInt32, sent: UInt32)

        public var description: String {
            switch self {
            case .tooHigh(let h, let sent): "the server acknowledged \(h) stanzas but only \(sent) were sent"
            }
        }
    }

    /// The server's `h`: drops what it acknowledged. Returns how many stanzas that released.
    @discardableResult
    public mutating func acknowledge(_ h: UInt32) throws(AckError) -> Int {
        let newly = Int(h &- acknowledged)
        guard newly <= unacknowledged.count else { throw .tooHigh(h: h, sent: sent) }
        unacknowledged.removeFirst(newly)
        acknowledged = h
        return newly
    }

    /// The server resumed the session having handled `h` of our stanzas: returns the ones it never
    /// got, to send again in order. When `h` is beyond what we know of (our saved state lagged behind
    /// what we actually sent before a restart), everything known counts as delivered.
    public mutating func resumed(serverHandled h: UInt32) -> [XMLElement] {
        do {
            try acknowledge(h)
        } catch {
            unacknowledged.removeAll()
            acknowledged = h
        }
        let resend = unacknowledged
        // The re-sent stanzas are sent (and counted) again as new.
        unacknowledged.removeAll()
        sentSinceRequest = 0
        return resend
    }

    /// The `<resume/>` request for a new connection.
    public var resumeRequest: XMLElement? {
        guard let resumptionID else { return nil }
        return XMLElement("resume", namespace: XMPPNamespace.streamManagement, attrs: ["h": String(inbound), "previd": resumptionID])
    }

    /// The `<enable/>` request after binding a new session.
    public static var enableRequest: XMLElement {
        XMLElement("enable", namespace: XMPPNamespace.streamManagement, attrs: ["resume": "true"])
    }

    /// `h` from an `<a/>`, `<resumed/>` or `<failed/>`, if present and valid.
    public static func handledCount(_ element: XMLElement) -> UInt32? {
        element[attribute: "h"].flatMap { UInt32($0) }
    }
}
