import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore

/// The keepalive: XEP-0199 pings while idle, and the answers we wait for (see Liveness.swift): a
/// connection silent too long while we wait is dead.
extension XMPPClient {
    /// The timer for the next liveness check, from the state as it is now.
    func scheduleLiveness() {
        keepalive.timer?.cancel()
        let delay = keepalive.liveness.nextCheck(at: Instant.now().milliseconds)
        keepalive.timer = loop.schedule(after: delay) { [weak self] in self?.checkLiveness() }
    }

    /// Whether we wait for the server now: an iq request, an acknowledgement or a ping unanswered.
    var awaitingAnswers: Bool { !iqs.pending.isEmpty || keepalive.acksAwaited > 0 || keepalive.pingOutstanding }

    /// Tells the liveness check whether we wait for answers now (after a request went out, or after
    /// what arrived was handled); the next check moves only when that changed.
    func settleLiveness() {
        guard case .online = status, connection != nil else { return }
        if keepalive.liveness.waiting(awaitingAnswers, at: Instant.now().milliseconds) { scheduleLiveness() }
    }

    /// A fresh liveness state for a new connection.
    func resetLiveness() {
        keepalive.liveness = Liveness(interval: config.pingInterval, timeout: config.pingTimeout, now: Instant.now().milliseconds)
        keepalive.pingOutstanding = false
        keepalive.acksAwaited = 0
        answersOverdue = false
    }

    /// Bytes arrived: the server is there, and they answer a ping that was out. Silence starts over,
    /// which only moves the next check later, so the timer stays (it re-evaluates when it fires).
    func activity() {
        keepalive.liveness.heard(at: Instant.now().milliseconds)
        keepalive.pingOutstanding = false
        answersOverdue = false
    }

    private func checkLiveness() {
        guard case .online = status, let connection else { return }
        let now = Instant.now().milliseconds
        let waitingFor = describeAwaited()
        switch keepalive.liveness.check(at: now) {
        case .dead(let silent):
            logger.warning("no answer from the server for \(describeDuration(silent)) while waiting for \(waitingFor); the connection is dead. Reconnecting; what it did not confirm goes out again once connected")
            connection.abort()
            ended(connection, connection.candidate, .timeout("the server stopped answering (nothing for \(describeDuration(silent)) while waiting for \(waitingFor))"))
            return
        case .ping:
            if awaitingAnswers {
                logger.info("no answer from the server for \(describeDuration(keepalive.liveness.silence(at: now) ?? 0)) while waiting for \(waitingFor); asking with a ping (the connection counts as dead after \(describeDuration(config.pingTimeout)) of silence)")
            }
            keepalive.pingOutstanding = true
            // The reply (or any other traffic) ends the wait; the iq itself needs no tracking.
            send(BasicIQHandlers.pingRequest(id: makeID("ping"), to: config.jid.domainpart), quiet: true)
            keepalive.liveness.waiting(true, at: now)
        case .none:
            break
        }
        answersOverdue = keepalive.liveness.overdue(at: now)
        scheduleLiveness()
    }

    /// What we wait for, for a log line: "3 requests and an acknowledgement".
    func describeAwaited() -> String {
        var parts: [String] = []
        if keepalive.pingOutstanding { parts.append("a ping") }
        if !iqs.pending.isEmpty { parts.append(iqs.pending.count == 1 ? "a request" : "\(iqs.pending.count) requests") }
        if keepalive.acksAwaited > 0 { parts.append("an acknowledgement") }
        switch parts.count {
        case 0: return "nothing"
        case 1: return parts[0]
        default: return parts.dropLast().joined(separator: ", ") + " and " + parts[parts.count - 1]
        }
    }
}
