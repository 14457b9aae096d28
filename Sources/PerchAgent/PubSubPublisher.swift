import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import PerchSensors
import PerchStore
import XMPPAddress
import XMPPClient
import XMPPCore
import XMPPXML

/// Publishes readings and input events as pubsub items: to PEP on the device's own JID (XEP-0163) or to
/// a node on a pubsub service (XEP-0060). The node is created and configured when missing (access
/// model, max_items, persistence from the configuration). Each item carries typed fields with unit and
/// timestamp in the XEP-0323 `fields` shape.
///
/// Every item goes through the durable ``Outbox`` and leaves it only when the service confirms the
/// publish, so nothing taken while offline, or in flight when the connection dropped, is lost:
/// - New readings are published at once (live). The backlog is published oldest first, at most
///   ``window`` at a time, so live readings never wait behind it; a backlog item carries an XEP-0203
///   `<delay/>` with the time it was taken, however short it waited.
/// - While the server's answers are overdue (``XMPPClient/answersOverdue``: it has been silent past
///   half the ping timeout while we wait for it), nothing new is written into the connection: readings
///   wait in the outbox and go out, stamped, once the server answers or on the next connection.
/// - Item ids are `EPOCH-SEQ`: stable across re-sends, so re-publishing never creates a second item.
/// - An item whose fate is unknown (in flight when the connection was lost, or left from an earlier
///   run) is looked up on the node by id first, and published only if it is not there: a subscriber
///   gets each reading once.
final class PubSubPublisher {
    /// Publishes in flight at once.
    static let window = 8

    let settings: Configuration.Telemetry
    let client: XMPPClient
    let logger: Logger
    let deviceName: String
    /// Where items go: the service, or nil for PEP (our own bare JID).
    let service: JID?
    let node: String
    let outbox: Outbox?
    private var ready = false
    /// Entries being published or looked up, by sequence number.
    private var inFlight: Set<Int64> = []
    /// The backlog has been handed out up to here in this session.
    private var cursor: Int64 = 0
    /// Entries sent live, ahead of the cursor.
    private var sentLive: Set<Int64> = []
    /// Entries that may already be on the node: look them up before publishing.
    private var uncertain: Set<Int64> = []
    /// Entries below this came from an earlier run (their fate is unknown).
    private var firstOwnSeq: Int64 = .max
    private var retryTimer: EventLoop.Timer?

    init(settings: Configuration.Telemetry, client: XMPPClient, deviceName: String, outbox: Outbox?, logger: Logger) {
        self.settings = settings
        self.client = client
        self.deviceName = deviceName
        self.outbox = outbox
        self.logger = logger
        service = settings.pubsub == .service ? settings.service.flatMap { try? JID($0) } : nil
        node = settings.node ?? "urn:xmpp:perch:readings:0"
        client.onAnswersOverdue = { [weak self] overdue in self?.answersOverdue(overdue) }
    }

    /// The server stopped answering for a while (or answered again): hold new readings, or send what
    /// was held.
    private func answersOverdue(_ overdue: Bool) {
        guard enabled else { return }
        if overdue {
            logger.info("the server has not answered for a while; new readings wait in the outbox until it does or the connection is replaced")
        } else {
            pump()
        }
    }

    /// Whether new items may be written now: the session is up, the node ready, and the server answers.
    private var mayPublish: Bool {
        guard ready, case .online = client.status else { return false }
        return !client.answersOverdue
    }

    var enabled: Bool { settings.pubsub != .none && outbox != nil }

    /// The session is up: make sure the node exists with our configuration, then publish the backlog.
    /// A resumed session keeps the publishes in flight (their answers come on the resumed stream).
    func online(resumed: Bool) {
        guard enabled else { return }
        ready = false
        if !resumed {
            cursor = 0
            sentLive = []
        }
        if service == nil {
            // PEP creates the node on first publish, with our publish-options.
            ready = true
            pump()
            return
        }
        ensureNode { [weak self] ok in
            guard let self else { return }
            self.ready = ok
            if ok { self.pump() }
        }
    }

    func offline() { ready = false }

    /// Writes what is staged (at shutdown).
    func commit() { outbox?.commit() }

    /// Entries waiting, and dropped, for the status command.
    var statusLine: String? {
        guard let outbox, enabled else { return nil }
        var s = "outbox: \(outbox.count) waiting"
        if outbox.dropped > 0 { s += ", \(outbox.dropped) dropped by its limits" }
        if outbox.memoryOnly { s += " (in memory only: the database cannot be used)" }
        return s
    }

    /// A reading as an item.
    func publish(_ reading: Reading, precision: Int) {
        guard enabled else { return }
        let value: IoTSensorData.Field.Value
        switch reading.value {
        case .number: value = .numeric(reading.value.description, unit: reading.unit, decimals: precision)
        case .boolean(let b): value = .boolean(b)
        }
        enqueue(fields: [.init(name: reading.sensor, value: value, flags: [.momentary, .automaticReadout])], at: reading.timestamp)
    }

    /// An input change, at once (an event, not a sampled value).
    func publishEvent(input: String, value: Bool, at ms: Int64) {
        guard enabled else { return }
        enqueue(fields: [.init(name: input, value: .boolean(value), flags: [.momentary])], at: ms)
    }

    private func enqueue(fields: [IoTSensorData.Field], at ms: Int64) {
        guard let outbox else { return }
        let timestamp = IoTSensorData.timestamp(WallClock.iso8601(milliseconds: ms), fields)
        let payload = IoTSensorData.fields(IoTSensorData.node(deviceName, timestamps: [timestamp]))
        let entry = outbox.add(payload: payload.serialized(), takenAt: ms)
        if firstOwnSeq == .max { firstOwnSeq = entry.seq }
        // Live: out at once when the session is up and answering, whatever the backlog.
        guard mayPublish, inFlight.count < 2 * Self.window else { return }
        sentLive.insert(entry.seq)
        send(entry, payload: payload, delayed: false)
    }

    // MARK: The backlog

    /// Hands out backlog entries while the window has room.
    private func pump() {
        guard mayPublish, let outbox else { return }
        while inFlight.count < Self.window {
            let start = cursor
            let fetched = outbox.items(after: cursor, limit: Self.window - inFlight.count)
            guard let last = fetched.last?.seq else { return }
            cursor = last
            let batch = fetched.filter { !sentLive.contains($0.seq) && !inFlight.contains($0.seq) }
            let check = batch.filter { $0.seq < firstOwnSeq || uncertain.contains($0.seq) }
            for entry in batch where !check.contains(entry) {
                guard let payload = try? XMLElement.parse(entry.payload) else {
                    logger.error("outbox entry \(entry.seq) cannot be read back; dropping it")
                    outbox.remove(entry.seq)
                    continue
                }
                send(entry, payload: payload, delayed: true)
            }
            if !check.isEmpty { lookUpThenPublish(check) }
            // A request that failed at once (no connection) moved the cursor back: stop, rather than
            // hand out the same entries forever; the next session starts the backlog again.
            if cursor <= start { return }
        }
    }

    private func itemID(_ seq: Int64) -> String { "\(outbox?.epoch ?? "0")-\(seq)" }

    private func send(_ entry: OutboxItem, payload: XMLElement, delayed: Bool, retry: Bool = true) {
        var payload = payload
        if delayed {
            // XEP-0203: when the reading was taken, for a subscriber that did not see it live. Every
            // item that waited gets it, even briefly: one held back while the server was silent may
            // go out a moment after the connection is back.
            payload.append(Delay.element(from: client.config.jid.bareString, at: entry.takenAt))
        }
        let withOptions = service == nil && usePublishOptions
        let request = PubSub.publish(id: client.makeID("pub"), to: service, node: node, itemID: itemID(entry.seq), payload: payload,
                                     options: withOptions ? nodeConfiguration : nil)
        inFlight.insert(entry.seq)
        client.sendIQ(request) { [weak self] result in
            guard let self else { return }
            self.inFlight.remove(entry.seq)
            switch result {
            case .success:
                self.delivered(entry.seq)
                if self.service == nil, !self.usePublishOptions, !self.configured {
                    self.configured = true
                    self.configure { _ in }
                }
            case .failure(let e):
                if withOptions && retry && !Self.lostInTransit(e) {
                    self.logger.info("the server refused our publish-options (\(e)); configuring the PEP node instead")
                    self.usePublishOptions = false
                    self.send(entry, payload: Delay.removingDelays(from: payload), delayed: delayed, retry: false)
                    return
                }
                self.publishFailed(entry.seq, e)
            }
            self.pump()
        }
    }

    /// The client's own errors for a request whose answer never came (connection lost, or timed out):
    /// the service may or may not have acted on it.
    static func lostInTransit(_ e: StanzaError) -> Bool {
        e.condition == .recipientUnavailable || e.condition == .remoteServerTimeout
    }

    /// Starts publishing again after `ms`, if the session is still up (it keeps what is in flight).
    private func retryLater(after ms: Int64) {
        retryTimer?.cancel()
        retryTimer = client.loop.schedule(after: ms) { [weak self] in
            guard let self, case .online = self.client.status else { return }
            self.online(resumed: true)
        }
    }

    private func delivered(_ seq: Int64) {
        uncertain.remove(seq)
        sentLive.remove(seq)
        outbox?.remove(seq)
    }

    private func publishFailed(_ seq: Int64, _ e: StanzaError) {
        sentLive.remove(seq)
        if Self.lostInTransit(e) {
            // Lost with the connection, or unanswered: it may have reached the node.
            uncertain.insert(seq)
            cursor = min(cursor, seq - 1)
            return
        }
        switch e.condition {
        case .badRequest, .notAcceptable, .policyViolation:
            logger.error("the pubsub service refused reading \(itemID(seq)) itself (\(e)); dropping it")
            outbox?.remove(seq)
        default:
            // A problem with the node or our rights: keep everything and try again later.
            logger.warning("publishing to \(service?.description ?? "PEP") node \(node) failed: \(e); keeping the readings and trying again in a minute")
            cursor = min(cursor, seq - 1)
            ready = false
            retryLater(after: 60_000)
        }
    }

    /// Entries whose fate is unknown: ask the node which of their ids it holds; those are delivered,
    /// the rest are published.
    private func lookUpThenPublish(_ entries: [OutboxItem]) {
        for e in entries { inFlight.insert(e.seq) }
        let ids = entries.map { itemID($0.seq) }
        let request = PubSub.itemsRequest(id: client.makeID("chk"), to: service, node: node, itemIDs: ids)
        client.sendIQ(request) { [weak self] result in
            guard let self else { return }
            for e in entries { self.inFlight.remove(e.seq) }
            var present: Set<String> = []
            switch result {
            case .success(let iq):
                present.formUnion(PubSub.itemIDs(in: iq))
            case .failure(let e) where Self.lostInTransit(e):
                for entry in entries { self.uncertain.insert(entry.seq) }
                self.cursor = min(self.cursor, (entries.first?.seq ?? 1) - 1)
                return
            case .failure(let e):
                // item-not-found: none of them; anything else: assume none rather than lose them.
                if e.condition != .itemNotFound { self.logger.info("could not look up earlier items on node \(self.node) (\(e)); publishing them again") }
            }
            for entry in entries {
                if present.contains(self.itemID(entry.seq)) {
                    self.delivered(entry.seq)
                } else if let payload = try? XMLElement.parse(entry.payload) {
                    self.uncertain.remove(entry.seq)
                    self.send(entry, payload: payload, delayed: true)
                } else {
                    self.outbox?.remove(entry.seq)
                }
            }
            if !present.isEmpty { self.logger.info("\(present.count) readings from before were already on the node; not publishing them twice") }
            self.pump()
        }
    }

    /// PEP: whether the server takes our configuration as publish-options (ejabberd refuses some
    /// fields there); if not, the node is configured once after the first publish creates it.
    private var usePublishOptions = true
    private var configured = false

    /// The node's configuration from the settings: access model, max_items, persistence.
    var nodeConfiguration: PubSub.NodeConfiguration {
        PubSub.NodeConfiguration(accessModel: settings.accessModel, maxItems: settings.maxItems, persistItems: settings.persist)
    }

    /// Creates the service node if it does not exist, and (re)applies our configuration.
    private func ensureNode(_ done: @escaping (Bool) -> Void) {
        client.sendIQ(PubSub.create(id: client.makeID("create"), to: service, node: node, configuration: nodeConfiguration)) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success:
                self.logger.notice("created pubsub node \(self.node) on \(self.service?.description ?? "PEP") (access model \(self.settings.accessModel))")
                done(true)
            case .failure(let e) where e.condition == .conflict:
                // It exists: apply our configuration to it.
                self.configure(done)
            case .failure(let e):
                let advice: String
                switch e.condition {
                case .forbidden, .notAllowed, .notAuthorized, .registrationRequired:
                    advice = "the account may need the right to create nodes there"
                case .itemNotFound, .serviceUnavailable, .featureNotImplemented, .remoteServerNotFound:
                    advice = "check telemetry.service: it does not look like a pubsub service"
                default:
                    advice = "the service refused our node configuration: check telemetry.max_items (servers cap it, Prosody at 256 by default) and telemetry.access_model"
                }
                self.logger.error("cannot create pubsub node \(self.node) on \(self.service?.description ?? "PEP"): \(e); readings wait in the outbox until it can be published (\(advice))")
                done(false)
                // Try again later in this session too (an operator may fix the server meanwhile).
                self.retryLater(after: 300_000)
            }
        }
    }

    private func configure(_ done: @escaping (Bool) -> Void) {
        client.sendIQ(PubSub.configure(id: client.makeID("cfg"), to: service, node: node, configuration: nodeConfiguration)) { [weak self] result in
            guard let self else { return }
            if case .failure(let e) = result {
                self.logger.warning("cannot configure pubsub node \(self.node): \(e); publishing with its current configuration")
            }
            done(true)
        }
    }

    // MARK: Subscriptions (owners)

    /// The node's subscriptions, as text for a person.
    func listSubscriptions(_ completion: @escaping (Result<[String], StanzaError>) -> Void) {
        client.sendIQ(PubSub.subscriptionsRequest(id: client.makeID("subs"), to: service, node: node)) { result in
            completion(result.map { iq in PubSub.subscriptions(in: iq).map { "\($0.jid) (\($0.state ?? "?"))" } })
        }
    }

    /// Removes a JID's subscription to the node.
    func removeSubscription(_ jid: JID, _ completion: @escaping (Result<Void, StanzaError>) -> Void) {
        client.sendIQ(PubSub.setSubscription(id: client.makeID("unsub"), to: service, node: node, jid: jid, state: "none")) { result in
            completion(result.map { _ in () })
        }
    }
}
