import Glibc
import PerchConfig
import PerchGPIO
import PerchIO
import PerchLog
import PerchRules
import PerchSensors
import XMPPAddress
import XMPPClient
import XMPPCore

/// Takes alert messages to people: chat messages to JIDs (the roles' lists, or JIDs named in `to`) and
/// group chat lines to rooms with `alerts = true`.
///
/// Every message asks servers to keep it for an owner who is offline (`<store xmlns='urn:xmpp:hints'/>`,
/// XEP-0334), and carries the Perch reply marker, so no Perch takes an alert for a command. While the
/// device is offline (or a room is not joined), or the client refused them, messages wait, in order, in
/// `state_dir/alerts` (at most ``limit``, with a log line for each dropped), and go out when the session
/// (or the room) is back, stamped with the time they were raised (XEP-0203); a new message to someone
/// for whom others wait goes behind them. An alert that started and ended while they waited
/// becomes one message, "was hot 14:02–14:20", and an alert that did so again and again (flapping) stays
/// one message, "was hot 3 times …"; reminders of an alert whose start is still waiting are dropped (the
/// start says it). A full queue drops ends, reminders and "was" messages before any start: a start is
/// what a person must not miss. What waits for someone no longer to be told (blocked, named by no
/// alert's `to`, a room the device left) is dropped, with a log line (``dropStale()``).
final class AlertDelivery {
    /// One message waiting for its recipient.
    struct Pending: Equatable {
        enum Kind: String { case started, ended, reminder, was }
        var alert: String
        var kind: Kind
        /// `jid:someone@example.org` or `room:fleet@conference.example.org`.
        var recipient: String
        /// When it happened (Unix ms): the delay stamp.
        var stamp: Int64
        var text: String
        /// A "was" message's times on: the first and the latest few (``maxSpans``).
        var spans: [Span] = []
        /// How many times a "was" message says the alert was on.
        var times = 1
    }

    /// When an alert that waited started and ended (wall ms).
    struct Span: Equatable {
        var start: Int64
        var end: Int64
    }

    /// How many of a flapping alert's times a "was" message lists (the first and the latest).
    static let maxSpans = 4

    static let limit = 256
    let path: String
    let logger: Logger
    /// The device's bare JID (the `from` of delay stamps); a reload may change the account.
    var selfJID: JID
    private(set) var pending: [Pending] = []
    /// Whether the session is up (messages to JIDs go out at once).
    var online = false
    /// Whether the device is in a room now.
    var isInRoom: (JID) -> Bool = { _ in false }
    /// How a message goes out (the client; a test records them instead); false when the client did not
    /// take it (not online, the stream ending): the message waits again.
    var transmit: (XMLElement) -> Bool = { _ in false }
    var makeID: () -> String = { "alert" }
    /// The access lists as they are now (owners may have allowed viewers since the start).
    var policy: () -> AccessPolicy
    /// Everyone the configured alerts' `to` name (owners, the default `to`, when no alert is
    /// configured): a waiting message to anyone else is dropped.
    var named: [AlertRecipient] = [.role("owners")]
    /// Whether the device knows a room (configured or remembered, joined or not): a waiting message to
    /// any other room is dropped.
    var knowsRoom: (JID) -> Bool = { _ in true }

    init(path: String, selfJID: JID, logger: Logger, policy: @escaping () -> AccessPolicy) {
        self.path = path
        self.selfJID = selfJID
        self.logger = logger
        self.policy = policy
        load()
    }

    /// The JIDs and rooms `to` names, now.
    func recipients(_ to: [AlertRecipient]) -> [String] {
        var out: [String] = []
        let p = policy()
        for r in to {
            switch r {
            case .role(let role):
                let list = role == "owners" ? p.owners : role == "operators" ? p.operators : p.viewers
                for case .jid(let j) in list { out.append("jid:\(j.bare)") }
            case .jid(let j): out.append("jid:\(j.bare)")
            case .room(let r): out.append("room:\(r.bare)")
            }
        }
        // A JID an owner blocked gets nothing from the device, alerts included.
        var seen: Set<String> = p.blocked.map { "jid:\($0.bare)" }.reduce(into: []) { $0.insert($1) }
        return out.filter { seen.insert($0).inserted }
    }

    /// An alert's event, to everyone its `to` names.
    /// - Parameter wasText: the text of an alert that started and ended while its messages waited: its
    ///   times on (the first and the latest), and how many times it was on.
    func send(_ alert: AlertConfiguration, _ event: AlertTracker.Event, _ text: String, now: Int64, wasText: (_ spans: [Span], _ times: Int) -> String) {
        let (kind, stamp): (Pending.Kind, Int64) = switch event {
        case .started(_, let wall): (.started, wall)
        case .ended: (.ended, now)
        case .reminder: (.reminder, now)
        }
        deliver(alert.name, kind, to: recipients(alert.to), stamp: stamp, text: text, wasText: wasText)
    }

    /// The end of an alert that was on before a restart and is configured no more (renamed or
    /// removed), to those of `recipients` (as saved with it) who are still to be told (see
    /// ``dropStale()``). Returns who is told, and who not.
    func sendEnd(ofGone alert: String, to recipients: [String], text: String, now: Int64, wasText: (_ spans: [Span], _ times: Int) -> String) -> (told: [String], not: [String]) {
        let current = currentRecipients()
        let told = recipients.filter { isCurrent($0, current) }
        deliver(alert, .ended, to: told, stamp: now, text: text, wasText: wasText)
        return (told, recipients.filter { !told.contains($0) })
    }

    private func deliver(_ alert: String, _ kind: Pending.Kind, to recipients: [String], stamp: Int64, text: String, wasText: (_ spans: [Span], _ times: Int) -> String) {
        var queued = false
        for recipient in recipients {
            let item = Pending(alert: alert, kind: kind, recipient: recipient, stamp: stamp, text: text)
            // Behind what already waits for this recipient (a message the client refused): in order.
            if canSend(recipient), !pending.contains(where: { $0.recipient == recipient }), transmit(message(item, delayed: false)) { continue }
            enqueue(item, wasText: wasText)
            queued = true
        }
        if queued { save() }
    }

    private func canSend(_ recipient: String) -> Bool {
        guard online else { return false }
        if recipient.hasPrefix("room:"), let room = try? JID(String(recipient.dropFirst(5))) { return isInRoom(room) }
        return true
    }

    private func enqueue(_ item: Pending, wasText: (_ spans: [Span], _ times: Int) -> String) {
        let same = { (p: Pending) in p.alert == item.alert && p.recipient == item.recipient }
        switch item.kind {
        case .ended:
            // Started and over while waiting: one message says both.
            if let i = pending.lastIndex(where: { same($0) && $0.kind == .started }) {
                let span = Span(start: pending[i].stamp, end: item.stamp)
                pending.remove(at: i)
                pending.removeAll { same($0) && $0.kind == .reminder }
                // And again (a flapping alert): the one "was" message counts it, where it waits.
                if let w = pending.firstIndex(where: { same($0) && $0.kind == .was && !$0.spans.isEmpty }) {
                    pending[w].times += 1
                    pending[w].spans.append(span)
                    if pending[w].spans.count > Self.maxSpans { pending[w].spans.remove(at: 1) }
                    pending[w].text = wasText(pending[w].spans, pending[w].times)
                    return
                }
                var was = Pending(alert: item.alert, kind: .was, recipient: item.recipient, stamp: span.start, text: wasText([span], 1))
                was.spans = [span]
                pending.append(was)
                trim()
                return
            }
            pending.removeAll { same($0) && $0.kind == .reminder }
        case .reminder:
            if pending.contains(where: { same($0) && $0.kind == .started }) { return }
            pending.removeAll { same($0) && $0.kind == .reminder }
        case .started, .was:
            break
        }
        pending.append(item)
        trim()
    }

    /// Keeps at most ``limit`` messages: the oldest end, reminder or "was" goes first, a start only when
    /// nothing else waits.
    private func trim() {
        for dropped in evicted() {
            let what = switch dropped.kind {
            case .started: "start (every waiting message is a start)"
            case .ended: "end"
            case .reminder: "reminder"
            case .was: "\"was\" message"
            }
            logger.warning("more than \(Self.limit) alert messages wait for the server; dropped the oldest \(what) (\(dropped.alert) to \(Self.address(dropped.recipient)))")
        }
    }

    /// Takes out what is over ``limit``, by the rule of ``trim()``, and returns it.
    private func evicted() -> [Pending] {
        var out: [Pending] = []
        while pending.count > Self.limit {
            out.append(pending.remove(at: pending.firstIndex { $0.kind != .started } ?? 0))
        }
        return out
    }

    /// `someone@example.org` for `jid:someone@example.org`.
    static func address(_ recipient: String) -> Substring { recipient.drop { $0 != ":" }.dropFirst() }

    /// Drops what waits for someone who is no longer to be told: a JID an owner blocked, or one no
    /// alert's `to` names any more (directly or through a role), and rooms the device no longer knows
    /// (left, or taken out of the configuration). One log line a recipient says why. Returns whether
    /// anything went.
    @discardableResult
    func dropStale() -> Bool {
        guard !pending.isEmpty else { return false }
        let current = currentRecipients()
        let blocked = Set(policy().blocked.map { "jid:\($0.bare)" })
        var dropped: [(recipient: String, count: Int)] = []
        pending.removeAll { item in
            if isCurrent(item.recipient, current) { return false }
            if let i = dropped.firstIndex(where: { $0.recipient == item.recipient }) { dropped[i].count += 1 } else { dropped.append((item.recipient, 1)) }
            return true
        }
        for (recipient, count) in dropped {
            let why = recipient.hasPrefix("room:") ? "the device is no longer in that room (left, or taken out of the configuration)"
                : blocked.contains(recipient) ? "an owner blocked that JID"
                : "no alert's to names that JID any more (directly or through a role)"
            logger.notice("dropped \(count) waiting alert message\(count == 1 ? "" : "s") to \(Self.address(recipient)): \(why)")
        }
        guard !dropped.isEmpty else { return false }
        save()
        return true
    }

    /// The JIDs the configured alerts name now (without the blocked).
    private func currentRecipients() -> Set<String> { Set(recipients(named).filter { $0.hasPrefix("jid:") }) }

    /// Whether `recipient` is still to be told: a JID the alerts name now, a room the device knows.
    private func isCurrent(_ recipient: String, _ current: Set<String>) -> Bool {
        if recipient.hasPrefix("jid:") { return current.contains(recipient) }
        guard let room = try? JID(String(Self.address(recipient))) else { return false }
        return knowsRoom(room)
    }

    /// The session is up: what waited for JIDs (and rooms the device is in) goes out.
    func flush() {
        dropStale()
        guard online, !pending.isEmpty else { return }
        var kept: [Pending] = []
        var sent = 0
        var refused = false
        for item in pending {
            // Once the client refuses one, the rest wait with it, in order.
            if !refused, canSend(item.recipient) {
                if transmit(message(item, delayed: true)) {
                    sent += 1
                    continue
                }
                refused = true
            }
            kept.append(item)
        }
        if refused {
            logger.warning("the client did not take the waiting alert messages (the session ended meanwhile?); \(kept.count) wait for the server again")
        }
        guard sent > 0 else { return }
        pending = kept
        logger.info("sent \(sent) alert message\(sent == 1 ? "" : "s") that waited for the server\(kept.isEmpty || refused ? "" : " (\(kept.count) wait for their rooms)")")
        save()
    }

    /// The message for `item`; `delayed`: stamped with when it happened.
    func message(_ item: Pending, delayed: Bool) -> XMLElement {
        let isRoom = item.recipient.hasPrefix("room:")
        let to = (try? JID(String(item.recipient.drop { $0 != ":" }.dropFirst()))) ?? selfJID
        var m = isRoom ? MUC.groupchat(to, body: item.text, id: makeID()) : Stanza.message(to: to, body: item.text, type: "chat", id: makeID())
        m.append(Hints.store)
        if delayed { m.append(Delay.element(from: selfJID.description, at: item.stamp)) }
        return Agent.marked(m)
    }

    // MARK: The file

    /// `kind<TAB>alert<TAB>recipient<TAB>stamp<TAB>text[<TAB>times<TAB>start-end,start-end…]` a line
    /// (the last two for a "was" message, to count it on); tabs, newlines and backslashes in the text
    /// escaped.
    private func load() {
        guard fileExists(path) else { return }
        guard let text = readTextFile(path, limit: 1 << 20) else {
            logger.warning("cannot read the alert messages waiting in \(path) (unreadable, or over 1 MB); they are lost: remove the file")
            return
        }
        var unreadable = 0
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 5 || f.count == 7, let kind = Pending.Kind(rawValue: String(f[0])), let stamp = Int64(f[3]),
                  f[2].hasPrefix("jid:") || f[2].hasPrefix("room:"), (try? JID(String(f[2].drop { $0 != ":" }.dropFirst()))) != nil else {
                unreadable += 1
                continue
            }
            var item = Pending(alert: String(f[1]), kind: kind, recipient: String(f[2]), stamp: stamp, text: Self.unescape(String(f[4])))
            if f.count == 7, kind == .was, let times = Int(f[5]), times > 0 {
                let spans = f[6].split(separator: ",").compactMap { s -> Span? in
                    let ends = s.split(separator: "-")
                    guard ends.count == 2, let a = Int64(ends[0]), let b = Int64(ends[1]) else { return nil }
                    return Span(start: a, end: b)
                }
                if !spans.isEmpty {
                    item.times = times
                    item.spans = spans
                }
            }
            pending.append(item)
        }
        if unreadable > 0 { logger.warning("skipped \(unreadable) unreadable line\(unreadable == 1 ? "" : "s") in \(path); the other waiting alert messages are kept") }
        let dropped = evicted()
        if !dropped.isEmpty {
            logger.warning("\(path) holds more than \(Self.limit) alert messages; dropped the oldest \(dropped.count) (ends, reminders and \"was\" messages before any start)")
        }
        if !pending.isEmpty { logger.info("\(pending.count) alert message\(pending.count == 1 ? "" : "s") from before the restart wait for the server") }
    }

    func save() {
        if pending.isEmpty {
            _ = removeFile(path)
            return
        }
        let text = pending.map { p in
            let counted = p.spans.isEmpty ? "" : "\t\(p.times)\t" + p.spans.map { "\($0.start)-\($0.end)" }.joined(separator: ",")
            return "\(p.kind.rawValue)\t\(p.alert)\t\(p.recipient)\t\(p.stamp)\t\(Self.escape(p.text))\(counted)\n"
        }.joined()
        do { try writeFileAtomically(path, Array(text.utf8), mode: 0o600, sync: false) } catch {
            logger.warning("cannot keep the waiting alert messages in \(path) (\(error.message)); they go when the server is back unless the daemon restarts first")
        }
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.append(c)
            }
        }
        return out
    }

    static func unescape(_ s: String) -> String {
        var out = ""
        var escaped = false
        for c in s {
            if escaped {
                switch c {
                case "t": out.append("\t")
                case "n": out.append("\n")
                case "r": out.append("\r")
                default: out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }
}
