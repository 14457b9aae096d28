/// Whether the server is still there, judged from what we wait for and what comes back. Pure state:
/// the client tells it when bytes arrive and when it starts or stops waiting for an answer, and acts
/// on what ``check(at:)`` returns, so every timing rule is testable without a socket.
///
/// Two situations, one rule: the connection is dead when the server stays silent for ``timeout``
/// while we wait for it.
/// - Idle (nothing outstanding): after ``interval`` without a byte from the server, ping it
///   (XEP-0199); the ping is then what we wait for.
/// - Busy (an iq request, an XEP-0198 `<r/>` or a ping unanswered): silence is counted from the later
///   of the first unanswered request and the last byte heard. After ``overdueAfter`` (half the
///   timeout) the answers are overdue: the client pings once as a probe, so an iq that is merely slow
///   at its far end does not pass for a dead server, and senders of new data hold it back. After
///   ``timeout`` the connection is dead.
///
/// Any byte from the server counts as a sign of life and as the answer to a ping (a frozen server or a
/// silent middlebox sends none). Times are milliseconds on the monotonic clock.
public struct Liveness: Sendable, Hashable {
    /// Ping after this long without a byte from the server.
    public let interval: Int64
    /// Dead after this long of silence while waiting for an answer.
    public let timeout: Int64
    /// When bytes last arrived from the server.
    public private(set) var lastHeard: Int64
    /// When we started waiting for answers that have not all come; nil while nothing is outstanding.
    public private(set) var waitingSince: Int64?
    /// A ping went out in the current silence (the idle ping or the probe).
    public private(set) var pinged = false

    public init(interval: Int64, timeout: Int64, now: Int64) {
        self.interval = interval
        self.timeout = timeout
        lastHeard = now
    }

    /// Answers count as overdue after this much silence while waiting: new data should wait.
    public var overdueAfter: Int64 { max(timeout / 2, 1) }

    public enum Action: Sendable, Hashable {
        /// Nothing to do now.
        case none
        /// Send a ping to the server (the idle keepalive, or the probe when answers are overdue).
        case ping
        /// The server has been silent for ``timeout`` while we waited: end the connection.
        case dead(silentFor: Int64)
    }

    /// Bytes arrived from the server.
    public mutating func heard(at now: Int64) {
        lastHeard = now
        pinged = false
    }

    /// Whether something is outstanding now (an iq request, an `<r/>`, a ping), after a send or once
    /// what arrived has been handled. Returns true when that changed (the next check moves).
    @discardableResult
    public mutating func waiting(_ outstanding: Bool, at now: Int64) -> Bool {
        if outstanding {
            guard waitingSince == nil else { return false }
            waitingSince = now
            return true
        }
        guard waitingSince != nil else { return false }
        waitingSince = nil
        pinged = false
        return true
    }

    /// How long the server has been silent while we wait; nil when nothing is outstanding.
    public func silence(at now: Int64) -> Int64? {
        waitingSince.map { now - max($0, lastHeard) }
    }

    /// True when answers are overdue: we wait, and the server has been silent for ``overdueAfter``.
    public func overdue(at now: Int64) -> Bool {
        (silence(at: now) ?? 0) >= overdueAfter
    }

    /// What to do now. A `.ping` is recorded as sent (the caller sends it, and reports it with
    /// ``waiting(_:at:)``).
    public mutating func check(at now: Int64) -> Action {
        if let silent = silence(at: now) {
            if silent >= timeout { return .dead(silentFor: silent) }
            if silent >= overdueAfter && !pinged {
                pinged = true
                return .ping
            }
            return .none
        }
        if now - lastHeard >= interval {
            pinged = true
            return .ping
        }
        return .none
    }

    /// Milliseconds until ``check(at:)`` may have something new to say (or the overdue state change).
    public func nextCheck(at now: Int64) -> Int64 {
        guard let since = waitingSince else { return max(lastHeard + interval - now, 0) }
        let start = max(since, lastHeard)
        let due = now - start < overdueAfter ? start + overdueAfter : start + timeout
        return max(due - now, 0)
    }
}
