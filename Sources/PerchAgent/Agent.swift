public import PerchConfig
import PerchGPIO
public import PerchHardware
public import PerchIO
public import PerchLog
import PerchSensors
import PerchStore
import XMPPAddress
public import XMPPClient
import XMPPCore

/// The product: connects the hardware to the XMPP session. Chat messages become commands, presence
/// subscriptions follow the access lists, the device's state goes out as presence, and outputs with
/// `safe_after` go to their safe state when the server has been out of reach too long.
public final class Agent {
    public let executor: CommandExecutor
    let config: Configuration
    let client: XMPPClient
    let hardware: Hardware
    let loop: EventLoop
    let logger: Logger
    let presence: PresenceTelemetry
    let adHoc: AdHocFrontEnd
    let pubsub: PubSubPublisher
    /// Strangers told off recently (one refusal per hour each).
    private var refused: [JID: Instant] = [:]
    /// Strangers whose subscription requests wait for an owner's decision.
    private var pendingSubscriptions: Set<JID> = []
    private var safeTimers: [String: EventLoop.Timer] = [:]
    /// Chat commands seen lately (by sender and origin id), so a re-delivered message runs once.
    private var recentMessages = RecentRequests()

    public init(config: Configuration, client: XMPPClient, hardware: Hardware, loop: EventLoop, logger: Logger) {
        self.config = config
        self.client = client
        self.hardware = hardware
        self.loop = loop
        self.logger = logger
        let name = config.device.name ?? config.account.jid.localpart ?? config.account.jid.domainpart
        executor = CommandExecutor(
            hardware: hardware, policy: AccessPolicy(config.access, selfJID: config.account.jid), settings: config.commands,
            deviceName: name, loop: loop, logger: logger.with(label: "command"))
        adHoc = AdHocFrontEnd(executor: executor, client: client, hardware: hardware)
        var outbox: Outbox?
        if config.telemetry.pubsub != .none {
            let o = config.outbox
            outbox = Outbox(
                path: config.device.stateDirectory + "/outbox.db",
                limits: OutboxLimits(maxCount: o.maxEntries, maxBytes: o.maxBytes, maxAge: o.maxAge),
                commitInterval: o.commitInterval, durability: o.syncEveryCommit ? .power : .process, loop: loop,
                logger: logger.with(label: "outbox"))
        }
        pubsub = PubSubPublisher(settings: config.telemetry, client: client, deviceName: name, outbox: outbox, logger: logger.with(label: "pubsub"))
        presence = PresenceTelemetry(client: client, executor: executor, hardware: hardware, minInterval: config.telemetry.minInterval, enabled: config.telemetry.presence, loop: loop)
    }

    /// Writes what the outbox has staged; call at shutdown.
    public func stop() {
        pubsub.commit()
    }

    /// Installs the handlers; call before the client starts.
    public func start() {
        client.onStanza = { [unowned self] stanza in
            switch stanza.stanzaKind {
            case .message: self.message(stanza)
            case .presence: self.presenceStanza(stanza)
            default: break
            }
        }
        let previous = client.onStatus
        client.onStatus = { [unowned self] status in
            previous?(status)
            self.statusChanged(status)
        }
        client.isTrusted = { [unowned self] jid in self.executor.policy.role(of: jid) > .stranger }
        executor.sendBlock = { [unowned self] jid, block in self.sendBlock(jid, block) }
        executor.decideSubscription = { [unowned self] jid, allow in self.decide(jid, allow) }
        executor.onOutputsChanged = { [unowned self] in self.presence.changed() }
        executor.statusDetails = { [unowned self] in self.pubsub.statusLine }
        for output in hardware.outputs { output.onChange = { [unowned self] _ in self.presence.changed() } }
        let previousInput = hardware.onInputChange
        hardware.onInputChange = { [unowned self] input, change in
            previousInput?(input, change)
            self.presence.changed()
            self.pubsub.publishEvent(input: input.name, value: change.value, at: change.wallClockMilliseconds)
        }
        let previousReading = hardware.onReading
        hardware.onReading = { [unowned self] r in
            previousReading?(r)
            self.presence.changed()
            self.pubsub.publish(r, precision: self.hardware.sensors.sensors[r.sensor]?.spec.precision ?? 1)
        }
        if pubsub.enabled {
            executor.listSubscribers = { [unowned self] finish in
                self.pubsub.listSubscriptions { result in
                    switch result {
                    case .success(let subs): finish(.ok(subs.isEmpty ? "no subscribers" : "subscribers: " + subs.joined(separator: ", ")))
                    case .failure(let e): finish(.fail(e.condition, "the pubsub service would not list them: \(e)"))
                    }
                }
            }
            executor.removeSubscriber = { [unowned self] jid, finish in
                self.pubsub.removeSubscription(jid) { result in
                    switch result {
                    case .success: finish(.ok("\(jid) no longer receives the readings"))
                    case .failure(let e): finish(.fail(e.condition, "the pubsub service refused: \(e)"))
                    }
                }
            }
        }
        presence.start()
        IoTFrontEnd(executor: executor, client: client, hardware: hardware).install()
        adHoc.install()
    }

    // MARK: Chat

    func message(_ stanza: XMLElement) {
        let type = stanza.stanzaType ?? "normal"
        guard type == "chat" || type == "normal", let body = stanza.child("body")?.text, let from = stanza.from else { return }
        // Never answer ourselves (a carbon or a loop through the server).
        if from == client.config.jid { return }
        let role = executor.policy.role(of: from)
        if executor.policy.isBlocked(from) { return }
        let text = body.trimmingWhitespace()
        guard !text.isEmpty else { return }
        if role == .stranger {
            let now = Instant.now()
            if let last = refused[from.bare], now - last < 3_600_000 { return }
            refused[from.bare] = now
            if refused.count > 1000 { refused = refused.filter { now - $0.value < 3_600_000 } }
            logger.info("ignored a message from \(from.bare), who has no role here")
            reply(to: stanza, "This device only takes commands from the people its owner allows.")
            return
        }
        // XEP-0359: the sender's origin id (or the stanza id) names the command; a message re-delivered
        // (a resend after a lost connection, offline storage after a failed resumption) runs once.
        var key: String?
        if let id = stanza.child("origin-id", namespace: XMPPNamespace.stanzaID)?[attribute: "id"] ?? stanza.stanzaID {
            key = RecentRequests.key(from: from.bare.description, id: id)
            switch recentMessages.check(key!) {
            case .new: break
            case .inProgress:
                logger.info("message \(id) from \(from.bare) arrived again while its command runs; it runs once")
                return
            case .answered(let previous):
                logger.info("message \(id) from \(from.bare) arrived again; repeated the answer, not the command")
                client.send(previous)
                return
            }
        }
        let age = CommandAge.from(stanza: stanza, now: WallClock.milliseconds())
        switch ChatParser.parse(text, outputs: Set(config.device.outputs.map { $0.name.lowercased() })) {
        case .failure(.unknown(let word)):
            reply(to: stanza, "unknown command \"\(word.prefix(40))\"; send help for the list", key: key)
        case .failure(.badArgument(let why)):
            reply(to: stanza, why, key: key)
        case .success(let command):
            executor.execute(command, CommandContext(from: from, role: role, frontEnd: "chat", age: age)) { [weak self] outcome in
                self?.reply(to: stanza, outcome.text, key: key)
            }
        }
    }

    func reply(to stanza: XMLElement, _ text: String, key: String? = nil) {
        guard let from = stanza.from else { return }
        var m = Stanza.message(to: from, body: text, type: stanza.stanzaType == "chat" ? "chat" : "normal", id: client.makeID("r"))
        if let thread = stanza.child("thread") { m.append(thread) }
        if let key { recentMessages.answered(key, m) }
        client.send(m)
    }

    // MARK: Subscriptions

    func presenceStanza(_ stanza: XMLElement) {
        guard let from = stanza.from else { return }
        switch stanza.stanzaType {
        case "subscribe":
            let bare = from.bare
            if executor.policy.isBlocked(bare) { return }
            if executor.policy.role(of: bare) >= .viewer {
                approve(bare)
            } else if config.access.strangers == .askOwners {
                guard pendingSubscriptions.insert(bare).inserted else { return }
                logger.notice("\(bare) asks to subscribe; asking the owners")
                for owner in config.access.owners {
                    guard case .jid(let jid) = owner else { continue }
                    client.send(Stanza.message(to: jid, body: "\(bare) asks to see \(executor.deviceName). Reply \"allow \(bare)\" or \"deny \(bare)\".", id: client.makeID("ask")))
                }
            } else {
                logger.info("refused a subscription request from \(bare), who has no role here")
                client.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribed", "to": bare.description]))
            }
        default:
            break
        }
    }

    /// Accepts a subscription and subscribes back, unless we already are.
    func approve(_ jid: JID) {
        client.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribed", "to": jid.description]))
        let item = client.roster.items[jid]
        if item?.subscription != "both" && item?.subscription != "to" && item?.ask != "subscribe" {
            client.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": jid.description]))
        }
        logger.info("approved the subscription of \(jid) (\(executor.policy.role(of: jid)))")
    }

    func decide(_ jid: JID, _ allow: Bool) -> String? {
        guard pendingSubscriptions.remove(jid) != nil else { return nil }
        if allow {
            executor.policy.viewers.append(.jid(jid))
            approve(jid)
            return "\(jid) may now see \(executor.deviceName) (as a viewer until the configuration says otherwise)"
        }
        client.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribed", "to": jid.description]))
        return "refused \(jid)"
    }

    // MARK: Blocking (XEP-0191)

    func sendBlock(_ jid: JID, _ block: Bool) {
        let item = XMLElement("item", namespace: "urn:xmpp:blocking", attrs: ["jid": jid.description])
        let payload = XMLElement(block ? "block" : "unblock", namespace: "urn:xmpp:blocking", children: [.element(item)])
        client.sendIQ(Stanza.iq(type: "set", id: client.makeID("blk"), payload: payload)) { [logger] result in
            if case .failure(let e) = result {
                logger.warning("the server did not take the \(block ? "block" : "unblock") of \(jid) (\(e)); perch still ignores \(jid) itself")
            }
        }
    }

    // MARK: Connection state

    func statusChanged(_ status: XMPPClient.Status) {
        switch status {
        case .online(let session):
            for t in safeTimers.values { t.cancel() }
            safeTimers = [:]
            if !session.resumed { fetchBlocklist() }
            pubsub.online(resumed: session.resumed)
        case .offline:
            pubsub.offline()
            for (name, after) in config.device.safeAfter where safeTimers[name] == nil {
                safeTimers[name] = loop.schedule(after: after) { [weak self] in self?.applySafeState(name, after) }
            }
        default:
            break
        }
    }

    func applySafeState(_ name: String, _ after: Int64) {
        safeTimers[name] = nil
        guard let output = hardware.output(named: name), let safe = output.spec.safeState, output.state != safe || output.isPulsing else { return }
        do {
            try output.set(safe)
            logger.warning("output \(name): no server connection for \(describeDuration(after)); switched \(safe ? "on" : "off") (safe_after)")
        } catch {
            logger.error("output \(name): safe_after could not switch it: \(error)")
        }
    }

    /// Mirrors the server's blocklist (XEP-0191) into the policy.
    func fetchBlocklist() {
        let request = Stanza.iq(type: "get", id: client.makeID("bl"), payload: XMLElement("blocklist", namespace: "urn:xmpp:blocking"))
        client.sendIQ(request) { [weak self] result in
            guard let self, case .success(let iq) = result, let list = iq.child("blocklist", namespace: "urn:xmpp:blocking") else { return }
            for item in list.elements {
                if let jid = item[attribute: "jid"].flatMap({ try? JID($0) }) { self.executor.policy.blocked.insert(jid) }
            }
        }
    }
}
