import PerchCrypto
public import XMPPCore
public import XMPPXML

/// The client side of one BOSH session (XEP-0124, XEP-0206) as a state machine over request ids: it
/// says which bodies to POST and when, reads the responses in rid order (they may come back out of
/// order on separate connections), keeps at most `requests` in flight, and resends a request whose
/// response was lost with the same rid (§14). No sockets and no timers: the caller POSTs each
/// ``Request`` on a free HTTP connection, gives back what came of it with ``received(rid:response:)``
/// or ``lost(rid:)``, and asks ``nextRequest()`` again after each.
///
/// The caller's own deadline for one request is ``requestTimeout`` seconds; past it, the response
/// counts as lost.
public struct BOSHSession: Sendable {
    public struct Request: Sendable, Hashable {
        public let rid: Int64
        /// The body to POST (Content-Type: text/xml; charset=utf-8).
        public let body: String
    }

    /// What responses delivered, in rid order.
    public struct Delivery: Sendable, Hashable {
        /// The stanzas and the skipped ones, in order.
        public var items: [BOSHItem] = []
        public var stanzas: [XMLElement] { items.compactMap { if case .stanza(let s) = $0 { s } else { nil } } }
        /// The manager ended the session (the stanzas before it are still delivered).
        public var termination: BOSHTermination?
    }

    public enum State: Sendable, Hashable {
        case idle
        /// The creation request is out.
        case creating
        case active
        /// Terminated (by us, by the manager or by lost responses): nothing more is sent.
        case ended
    }

    public let domain: String
    public let lang: String
    public let limits: XMLStreamLimits
    /// Retries of one request before the session counts as lost.
    public var maxRetries = 3
    public private(set) var state = State.idle
    public private(set) var sid: String?
    /// Negotiated in the creation response (the request's values until then).
    public private(set) var wait: Int
    public private(set) var hold: Int
    /// How many requests may be in flight at once (1 until the manager says).
    public private(set) var requests = 1
    /// Seconds of silence after which the manager ends the session (its `inactivity`).
    public private(set) var inactivity: Int?
    /// The least interval, in seconds, between two empty requests when the manager holds none (`polling`).
    public private(set) var polling: Int?
    /// The manager acknowledges requests (`ack` in its creation response).
    public private(set) var managerAcks = false

    private var nextRID: Int64
    private var inFlight: [Int64: (request: Request, tries: Int)] = [:]
    private var resend: [Int64] = []
    /// Responses read but not yet delivered (an earlier rid is still out).
    private var arrived: [Int64: BOSHResponse] = [:]
    /// Every rid below this has been answered and delivered.
    private var delivered: Int64
    private var queue: [XMLElement] = []
    private var restartPending = false
    private var terminatePending: [XMLElement]?

    /// `rid` is for tests; by default a random start well below 2^53 with room to grow (§7.1).
    public init(domain: String, lang: String = "en", wait: Int = 60, hold: Int = 1, rid: Int64? = nil, limits: XMLStreamLimits = .default) {
        self.domain = domain
        self.lang = lang
        self.wait = wait
        self.hold = hold
        self.limits = limits
        let start = rid ?? Self.randomRID()
        self.nextRID = start
        self.delivered = start
    }

    static func randomRID() -> Int64 {
        var v: UInt64 = 0
        for b in SecureRandom.bytes(8) { v = v << 8 | UInt64(b) }
        return 1 + Int64(v % (1 << 48))
    }

    /// Seconds to wait for one response before treating it as lost: the manager may hold it `wait`
    /// seconds; the margin covers the round trip.
    public var requestTimeout: Int { wait + 15 }

    /// How many requests are out.
    public var inFlightCount: Int { inFlight.count }

    /// Whether the next request would carry something (stanzas, a restart, the terminate, a resend)
    /// rather than be an empty one asking for what the manager has.
    public var hasQueuedWork: Bool { !queue.isEmpty || restartPending || terminatePending != nil || !resend.isEmpty }

    /// The session creation request.
    public mutating func start() -> Request {
        precondition(state == .idle, "start() once per session")
        state = .creating
        return issue(BOSHBody.create(rid: nextRID, to: domain, lang: lang, wait: wait, hold: hold))
    }

    /// Queues a stanza for the next request.
    public mutating func enqueue(_ stanza: XMLElement) { queue.append(stanza) }

    /// Asks for the stream restart after SASL success; it goes out with the next request.
    public mutating func restart() { restartPending = true }

    /// Ends the session with these last stanzas; the terminate body goes out with the next request.
    public mutating func terminate(_ stanzas: [XMLElement] = []) { terminatePending = stanzas }

    /// The next body to POST now, or nil: none may be sent (`requests` are out) or none is needed
    /// (the manager already holds `hold` empty requests and nothing is queued). Call it after every
    /// ``enqueue(_:)``, ``received(rid:response:)`` and ``lost(rid:)``, and POST each request on its own
    /// connection. With a manager that holds nothing (`hold` 0, a polling session), leave ``polling``
    /// seconds between empty requests.
    public mutating func nextRequest() -> Request? {
        if let rid = resend.first, let entry = inFlight[rid] {
            resend.removeFirst()
            return entry.request
        }
        guard state == .active, let sid, inFlight.count < max(requests, 1) else { return nil }
        if let last = terminatePending {
            terminatePending = nil
            queue = []
            state = .ended
            return issue(BOSHBody.terminate(rid: nextRID, sid: sid, stanzas: last))
        }
        if restartPending {
            restartPending = false
            return issue(BOSHBody.restart(rid: nextRID, sid: sid, to: domain, lang: lang))
        }
        // Leave a slot for stanzas: with requests=2, hold=1 one empty request waits at the manager.
        guard !queue.isEmpty || inFlight.count < max(hold, 1) else { return nil }
        let stanzas = queue
        queue = []
        let ack: Int64? = managerAcks && inFlight.count > 0 ? delivered - 1 : nil
        return issue(BOSHBody.request(rid: nextRID, sid: sid, ack: ack, stanzas: stanzas))
    }

    private mutating func issue(_ body: String) -> Request {
        let r = Request(rid: nextRID, body: body)
        inFlight[nextRID] = (r, 0)
        nextRID += 1
        return r
    }

    /// The HTTP response to request `rid`. Returns what became deliverable (this response and any
    /// later ones that were waiting for it).
    public mutating func received(rid: Int64, response: HTTPResponse) throws(BOSHError) -> Delivery {
        guard inFlight[rid] != nil else {
            throw BOSHError(.unexpected, "a response to rid \(rid), which is not in flight")
        }
        inFlight[rid] = nil
        resend.removeAll { $0 == rid }
        guard response.head.status == 200 else {
            state = .ended
            throw BOSHError(.httpStatus, "the connection manager answered \(response.head) to rid \(rid)" + Self.hint(response.head.status))
        }
        let body: BOSHResponse
        do throws(BOSHError) {
            body = try BOSHBody.parse(response.body, limits: limits)
        } catch {
            state = .ended
            throw error
        }
        if state == .creating {
            guard let sid = body.sid, !sid.isEmpty else {
                state = .ended
                if let t = body.termination { return Delivery(items: body.items, termination: t) }
                throw BOSHError(.malformedBody, "the session creation response has no sid")
            }
            self.sid = sid
            if let w = body.wait { wait = min(wait, w) }
            if let h = body.hold { hold = min(hold, h) }
            requests = max(1, min(body.requests ?? (hold + 1), 8))
            inactivity = body.inactivity
            polling = body.polling
            managerAcks = body.ack != nil
            state = .active
        }
        if let report = body.report, inFlight[report] != nil, !resend.contains(report) { resend.append(report) }
        arrived[rid] = body
        var out = Delivery()
        while let next = arrived.removeValue(forKey: delivered) {
            out.items += next.items
            delivered += 1
            if let t = next.termination {
                out.termination = t
                state = .ended
                break
            }
        }
        return out
    }

    /// The response to `rid` never came (the connection broke, or ``requestTimeout`` passed): the
    /// same request to POST again, with the same rid (§14).
    public mutating func lost(rid: Int64) throws(BOSHError) -> Request {
        guard var entry = inFlight[rid] else { throw BOSHError(.unexpected, "rid \(rid) is not in flight") }
        entry.tries += 1
        guard entry.tries <= maxRetries else {
            state = .ended
            throw BOSHError(.sessionLost, "no response to rid \(rid) after \(maxRetries) retries")
        }
        inFlight[rid] = entry
        resend.removeAll { $0 == rid }
        return entry.request
    }

    private static func hint(_ status: Int) -> String {
        switch status {
        case 400: return " (bad request: the manager refused the body)"
        case 403: return " (forbidden: policy refused the session)"
        case 404: return " (the session is unknown to the manager: it ended, or this is not its BOSH URL)"
        default: return ""
        }
    }
}
