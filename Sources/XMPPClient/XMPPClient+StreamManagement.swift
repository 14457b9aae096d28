import PerchIO
import XMPPAddress
import XMPPCore
import XMPPXML
import PerchLog

/// XEP-0198 in the client: counting, acknowledgements, resumption, and the saved state.
///
/// Delivery rules, in one place:
/// - A resumed session (same process): the server says how many of our stanzas it handled; the rest
///   are sent again, iq requests included (their callers are still waiting).
/// - A resumed session after a restart (state from disk): messages the server never handled are sent
///   again; iq requests and presence are not, because nobody in this process waits for their answers
///   (the outbox checks and re-publishes its own items) and presence is sent fresh.
/// - A new session, because resumption failed or was impossible: the same as after a restart. The
///   messages keep their XEP-0359 origin ids so a receiver can tell a re-send from a new message.
extension XMPPClient {
    /// Loads the saved state at start-up, so the first connection tries to resume.
    func loadResumption() {
        guard let store = resumptionStore else { return }
        do {
            guard let saved = try store.load() else { return }
            let age = WallClock.milliseconds() - saved.savedAt
            streamMgmt.state = saved.state
            streamMgmt.jid = saved.jid
            streamMgmt.fromDisk = true
            if saved.state.resumable, age < saved.state.resumeWindow {
                logger.info("found session state from \(describeDuration(max(age, 0))) ago; will try to resume it (\(saved.state.unacknowledged.count) stanzas unacknowledged)")
            } else {
                streamMgmt.state?.resumptionID = nil
                if !saved.state.unacknowledged.isEmpty {
                    logger.info("the saved session is too old to resume; its \(saved.state.unacknowledged.count) unacknowledged stanzas go out on the new session")
                }
            }
        } catch {
            logger.warning("ignoring the saved session state: \(error); starting a new session")
            store.remove()
        }
    }

    /// What the next connection asks to resume, if anything.
    var resumptionRequest: ResumptionRequest? {
        guard let sm = streamMgmt.state, let id = sm.resumptionID, let jid = streamMgmt.jid else { return nil }
        if let lostAt = streamMgmt.lostAt, WallClock.milliseconds() - lostAt >= sm.resumeWindow { return nil }
        return ResumptionRequest(id: id, handled: sm.inbound, jid: jid)
    }

    /// The connection is up: adopt the new or resumed XEP-0198 state. Returns what to send again once
    /// the session is ready, and whether the session was resumed.
    func adoptStreamManagement(_ session: NegotiatedSession) -> [XMLElement] {
        streamMgmt.lostAt = nil
        // From here on the connection counts stanzas; the ones over the parser's limits come here.
        connection?.onOversized = { [unowned self] in self.receivedOversized($0) }
        if session.resumed, var state = streamMgmt.state {
            let everything = !streamMgmt.fromDisk
            let resend = state.resumed(serverHandled: session.serverHandled ?? state.acknowledged)
            streamMgmt.state = state
            streamMgmt.active = true
            streamMgmt.fromDisk = false
            let kept = everything ? resend : resend.filter { $0.stanzaKind == .message }
            logger.notice("resumed the session; \(kept.count) stanzas sent again\(kept.count < resend.count ? " (\(resend.count - kept.count) requests and presences from before the restart dropped)" : "")")
            saveResumption()
            return kept
        }
        // A new session: whatever the old one never delivered goes out again (messages only).
        var leftovers: [XMLElement] = []
        if var old = streamMgmt.state {
            if let h = session.serverHandled { _ = old.resumed(serverHandled: h) }
            leftovers = old.unacknowledged.filter { $0.stanzaKind == .message }
            // A reply in a room makes sense only in its conversation, which went on without us: the
            // room is joined again, and the reply would land after whatever was said meanwhile.
            let roomReplies = leftovers.count { $0.messageType == .groupchat }
            if roomReplies > 0 {
                leftovers.removeAll { $0.messageType == .groupchat }
                logger.notice("dropped \(roomReplies) unacknowledged group chat message\(roomReplies == 1 ? "" : "s") from the lost session: out of context once the room is joined again (1:1 replies are sent again)")
            }
            if session.resumptionFailed {
                logger.notice("the server could not resume the session; starting a new one\(leftovers.isEmpty ? "" : " and sending \(leftovers.count) unacknowledged messages again")")
            }
        }
        failPendingIQs()
        streamMgmt.state = session.streamManagement
        streamMgmt.jid = session.jid
        streamMgmt.active = streamMgmt.state != nil
        streamMgmt.fromDisk = false
        if streamMgmt.state == nil {
            resumptionStore?.remove()
        } else {
            saveResumption()
        }
        return leftovers
    }

    /// The connection ended. With a resumable session, requests stay pending: the answers may still
    /// come on the resumed stream.
    func streamManagementLost() {
        streamMgmt.active = false
        streamMgmt.ackTimer?.cancel()
        streamMgmt.ackTimer = nil
        if streamMgmt.state?.resumable == true {
            streamMgmt.lostAt = streamMgmt.lostAt ?? WallClock.milliseconds()
            saveResumption()
        } else {
            failPendingIQs()
        }
    }

    /// Counts a stanza we are writing, and asks for an acknowledgement when due. A `quiet` stanza (the
    /// keepalive ping) neither starts the ack timer nor a save: an idle session stays one wake-up a
    /// minute, and the ping waits for the next acknowledgement.
    func countSent(_ stanza: XMLElement, quiet: Bool = false) {
        guard streamMgmt.active, StreamManagement.counts(stanza), streamMgmt.state != nil else { return }
        // In place: a copy of the state would copy the array of unacknowledged stanzas on every send.
        let due = streamMgmt.state!.didSend(stanza)
        let unacknowledged = streamMgmt.state!.unacknowledged.count
        if unacknowledged > StreamManagement.maxUnacknowledged, let connection {
            logger.warning("the server has not acknowledged \(unacknowledged) stanzas; the connection is stuck")
            connection.abort()
            ended(connection, connection.candidate, .timeout("the server stopped acknowledging stanzas"))
            return
        }
        if due {
            requestAck()
        } else if quiet {
            return
        } else if streamMgmt.ackTimer == nil {
            streamMgmt.ackTimer = loop.schedule(after: StreamManagement.requestDelay) { [weak self] in
                self?.streamMgmt.ackTimer = nil
                self?.requestAck()
            }
        }
        if stanza.stanzaKind != .message {
            saveResumptionSoon()
        } else if streamMgmt.inBatch {
            streamMgmt.batchSavePending = true
        } else {
            saveResumption()
        }
    }

    private func requestAck() {
        guard streamMgmt.active, let connection, streamMgmt.state.map({ $0.sentSinceRequest > 0 }) == true else { return }
        streamMgmt.ackTimer?.cancel()
        streamMgmt.ackTimer = nil
        connection.send(streamMgmt.state!.request())
        // The server answers an <r/> itself, at once: an unanswered one is a sign the connection died.
        keepalive.acksAwaited += 1
        settleLiveness()
    }

    /// Counts a stanza from the server before it is handled. Messages and iq sets (commands) mark
    /// the batch for a save before any of it is handled, so a restart never makes the server deliver
    /// them twice.
    func countReceived(_ stanza: XMLElement) {
        guard streamMgmt.active, streamMgmt.state != nil else { return }
        streamMgmt.state!.didReceive()
        // Other stanzas (iq results and gets such as pings, presence) are saved with the next save:
        // if a restart comes first, the server only sends them again, and answering them twice is
        // harmless.
        if stanza.stanzaKind == .message || (stanza.stanzaKind == .iq && stanza.stanzaType == "set") { streamMgmt.batchSavePending = true }
    }

    /// A stanza the parser skipped for crossing a limit (size, depth, attributes). It was handled as far
    /// as the server is concerned: counted like any other, an iq request answered with
    /// `policy-violation`, and one line logged saying who sent it. Messages and presence are dropped.
    /// Nothing of its content was kept.
    func receivedOversized(_ o: OversizedStanza) {
        let stanza = XMLElement(o.name, namespace: o.namespace, attrs: ["id": o.id, "type": o.type, "from": o.from, "to": o.to])
        if stanza.stanzaKind != nil {
            streamMgmt.batchSavePending = false
            countReceived(stanza)
            if streamMgmt.batchSavePending { saveResumptionSoon() }
            streamMgmt.batchSavePending = false
        }
        let request = stanza.isIQRequest && o.id != nil
        let answer: Bool
        if let budget = strangerBudget, let from = untrustedSender(stanza) {
            // A stranger's are not logged one by one: the stranger budget logs the first and sums up the rest.
            answer = budget(from, .refused("stanza over the limits", reply: request)) && request
        } else {
            logger.warning(request ? "answered \(o) with policy-violation; the sender must send less" : "dropped \(o)")
            answer = request
        }
        if answer {
            _ = send(Stanza.error(for: stanza, StanzaError(.policyViolation, text: "the request is over this device's limits (\(o.detail))")))
        }
    }

    /// `<r/>` and `<a/>` from the server.
    func receivedStreamManagement(_ element: XMLElement) {
        guard streamMgmt.active, streamMgmt.state != nil, let connection else { return }
        switch element.name {
        case "r":
            connection.send(streamMgmt.state!.answer)
        case "a":
            guard let h = StreamManagement.handledCount(element) else { return }
            // h is cumulative: one <a/> answers every <r/> before it.
            keepalive.acksAwaited = 0
            do throws(StreamManagement.AckError) {
                // In place, as in countSent: no copy of the unacknowledged stanzas.
                try streamMgmt.state!.acknowledge(h)
                saveResumptionSoon()
            } catch {
                logger.warning("\(error); ending the stream")
                var e = StreamError(.undefinedCondition)
                e.text = "h=\(h) is more than the \(streamMgmt.state!.sent) stanzas sent"
                connection.send(e.element)
                connection.abort()
                ended(connection, connection.candidate, .timeout("the server's acknowledgements do not add up"))
            }
        default:
            logger.debug("ignoring stream management element <\(element.name)>")
        }
    }

    // MARK: Saving

    func saveResumption() {
        streamMgmt.saveTimer?.cancel()
        streamMgmt.saveTimer = nil
        guard let store = resumptionStore, let sm = streamMgmt.state, let jid = streamMgmt.jid else { return }
        do {
            try store.save(.init(state: sm, jid: jid, savedAt: streamMgmt.lostAt ?? WallClock.milliseconds()))
            streamMgmt.saveFailing = false
        } catch {
            if !streamMgmt.saveFailing { logger.warning("cannot save the session state (\(error)); a restart will start a new session") }
            streamMgmt.saveFailing = true
        }
    }

    /// Acknowledgements and iq traffic: saved within a couple of seconds, not on every stanza.
    func saveResumptionSoon() {
        guard resumptionStore != nil, streamMgmt.saveTimer == nil else { return }
        streamMgmt.saveTimer = loop.schedule(after: 2000) { [weak self] in
            self?.streamMgmt.saveTimer = nil
            self?.saveResumption()
        }
    }

    /// A clean stop ends the session on the server too: nothing is left to resume.
    func forgetResumption() {
        streamMgmt.saveTimer?.cancel()
        streamMgmt.saveTimer = nil
        streamMgmt.ackTimer?.cancel()
        streamMgmt.ackTimer = nil
        resumptionStore?.remove()
    }
}
