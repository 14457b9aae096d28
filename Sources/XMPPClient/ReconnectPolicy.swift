/// When to try again after a connection ends: exponential back-off with full jitter, capped, reset once
/// a session has been stable; quick retries while a server restarts; long fixed waits where retrying
/// soon cannot help.
public struct ReconnectPolicy: Sendable, Hashable {
    /// The first back-off ceiling, in milliseconds.
    public var initialDelay: Int64 = 1_000
    /// The largest back-off ceiling.
    public var maximumDelay: Int64 = 300_000
    /// A session that lasted this long resets the back-off.
    public var stableAfter: Int64 = 60_000
    /// After the server refused our credentials: the operator has to act, so try rarely (and never
    /// hammer the server, which may lock the account).
    public var authenticationFailureDelay: Int64 = 900_000
    /// After `conflict` (another client took our resource): wait before taking it back.
    public var conflictDelay: Int64 = 300_000
    /// After `system-shutdown` or a refused connection (the host is up, nothing listens yet): the
    /// server is restarting, which takes seconds. The first retries come `restartDelay` plus up to
    /// `restartJitter` later (1 to 3 s), so a restart costs a few seconds and a fleet does not come
    /// back in one burst; after `restartRetries` of them in a row the exponential back-off takes over
    /// (its ceiling from twice the longest quick retry up), never below `restartDelay`, so a port
    /// nobody listens on is not hammered.
    public var restartDelay: Int64 = 1_000
    public var restartJitter: Int64 = 2_000
    public var restartRetries = 5

    public init() {}

    /// What ended the last attempt, as far as the policy cares.
    public enum Cause: Sendable, Hashable {
        /// A network error, a timeout, a protocol error: back off exponentially.
        case transient
        /// Bad credentials or an unusable security setup.
        case authentication
        /// Our resource was taken over.
        case conflict
        /// The server is shutting down (`system-shutdown`).
        case serverShutdown
        /// Every address refused the TCP connection (ECONNREFUSED): the server is down or restarting.
        case refused
        /// The server redirected us: reconnect at once (the redirect count is bounded elsewhere).
        case redirect
    }

    /// The state carried between attempts.
    public struct State: Sendable, Hashable {
        public var failures = 0
        /// Shutdowns and refusals in a row (a restart in progress).
        public var restarting = 0
        public init() {}
    }

    /// The delay before the next attempt, in milliseconds, and the updated state.
    /// - Parameters:
    ///   - sessionDuration: how long the last session was established (nil when it never was).
    ///   - random: a number in 0...1 (full jitter); injectable for tests.
    public func nextDelay(after cause: Cause, sessionDuration: Int64?, state: inout State, random: Double) -> Int64 {
        if let d = sessionDuration, d >= stableAfter {
            state.failures = 0
            state.restarting = 0
        }
        let jitter = min(max(random, 0), 1)
        if cause != .serverShutdown && cause != .refused { state.restarting = 0 }
        switch cause {
        case .redirect:
            return 0
        case .authentication:
            state.failures += 1
            // A little jitter so a fleet with a shared bad password does not return in lockstep.
            return authenticationFailureDelay + Int64(Double(authenticationFailureDelay) * 0.2 * jitter)
        case .conflict:
            state.failures += 1
            return conflictDelay + Int64(Double(conflictDelay) * 0.2 * jitter)
        case .serverShutdown, .refused:
            state.restarting += 1
            // The quick retries of a restart do not count toward the back-off: a restart soon after
            // another one is as quick. A server that keeps going away after each short session is held
            // off by the back-off of the other failures, and by the cap on quick retries in a row.
            if state.restarting <= restartRetries {
                return restartDelay + Int64(Double(restartJitter) * jitter)
            }
            // Then the back-off, its ceiling above the quick retries' longest.
            let c = max(ceiling(state.failures), 2 * (restartDelay + restartJitter))
            state.failures += 1
            return max(restartDelay, Int64(Double(c) * jitter))
        case .transient:
            let c = ceiling(state.failures)
            state.failures += 1
            return Int64(Double(c) * jitter)
        }
    }

    /// The back-off ceiling after `failures` consecutive failures: initial × 2^failures, capped.
    public func ceiling(_ failures: Int) -> Int64 {
        var c = initialDelay
        for _ in 0..<min(failures, 30) {
            c *= 2
            if c >= maximumDelay { return maximumDelay }
        }
        return min(c, maximumDelay)
    }
}
