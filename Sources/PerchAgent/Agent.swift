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
    /// Strangers whose subscription requests wait for an owner's decision (bounded, see SubscriptionAsks).
    var asks = SubscriptionAsks()
    private var asksTimer: EventLoop.Timer?
    /// Strangers an owner let in with `allow` (viewers, kept in state_dir/allowed).
    var guests: AllowedGuests
    /// Every full JID this process has been bound to (the configured one, and any other the server gave
    /// after a conflict): a message from one of them is our own.
    private(set) var boundJIDs: Set<JID> = []
    /// JIDs whose subscription was taken back on this session (so the blocklist and the roster, arriving
    /// in either order, revoke once).
    private var revoked: Set<JID> = []
    /// How stanzas go out (the client; a test records them instead).
    var transmit: (XMLElement) -> Void
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
        transmit = { [client] in client.send($0) }
        boundJIDs = [config.account.jid, client.config.jid]
        guests = AllowedGuests(path: config.device.stateDirectory + "/allowed")
        do {
            try guests.load()
        } catch {
            logger.warning("cannot read the JIDs owners allowed from \(guests.path) (\(error.message)); they are strangers until allowed again")
        }
        for jid in guests.jids where executor.policy.role(of: jid) == .stranger { executor.policy.viewers.append(.jid(jid)) }
    }

    /// The element every chat message Perch sends carries, so that no Perch (this one under another
    /// resource, or another device on the account) takes a Perch reply for a command.
    public static let replyMarkerName = "perch"
    public static let replyMarkerNamespace = "urn:perch:reply"

    static func marked(_ message: XMLElement) -> XMLElement {
        var m = message
        m.append(XMLElement(replyMarkerName, namespace: replyMarkerNamespace))
        return m
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
        client.strangerBudget = { [unowned self] jid, cost in
            switch cost {
            case .answer(let what): self.executor.strangers.mayAnswer(jid, what)
            case .refused(let what, let reply): self.executor.strangers.refuse(jid, what, wantsReply: reply)
            }
        }
        executor.sendBlock = { [unowned self] jid, block in self.sendBlock(jid, block) }
        executor.decideSubscription = { [unowned self] jid, allow in self.decide(jid, allow) }
        executor.onOutputsChanged = { [unowned self] in self.presence.changed() }
        executor.statusDetails = { [unowned self] in self.pubsub.statusLine }
        client.onRosterChange = { [unowned self] items, _ in self.revokeUnwanted(items) }
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
        guard type == "chat" || type == "normal", let from = stanza.from, let body = stanza.child("body")?.text else { return }
        if isOwnEcho(stanza, from: from, type: type) { return }
        if executor.policy.isBlocked(from) { return }
        let role = executor.policy.role(of: from)
        if role == .stranger {
            // The role first: a stranger costs a table look-up, never a log line or a reply of its own.
            // Told off once an hour at most; the repeats are counted without spending the reply budget.
            let first = executor.strangers.firstContact(from, within: 3_600_000)
            if executor.strangers.refuse(from, "chat message", wantsReply: first) {
                reply(to: stanza, "This device only takes commands from the people its owner allows.")
            }
            return
        }
        let text = body.trimmingWhitespace()
        guard !text.isEmpty else { return }
        // XEP-0359: the sender's origin id (or the stanza id) names the command; a message re-delivered
        // (a resend after a lost connection, offline storage after a failed resumption) runs once.
        var key: String?
        if let id = stanza.child("origin-id", namespace: XMPPNamespace.stanzaID)?[attribute: "id"] ?? stanza.stanzaID {
            key = RecentRequests.key(from: from.bare.description, id: id)
            switch recentMessages.check(key!) {
            case .new: break
            case .inProgress:
                logger.info("message \(logQuoted(id)) from \(from.bare) arrived again while its command runs; it runs once")
                return
            case .answered(let previous):
                logger.info("message \(logQuoted(id)) from \(from.bare) arrived again; repeated the answer, not the command")
                transmit(previous)
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

    /// A message this process, or another Perch, sent: never a command. Ours come back from a JID we
    /// have bound (a loop through the server, our own message to our bare JID); a `normal` message from
    /// our own account is never answered (a person at a client logged in as the device chats); and a
    /// message marked as a Perch reply is one whoever sent it.
    func isOwnEcho(_ stanza: XMLElement, from: JID, type: String) -> Bool {
        let why: String
        if boundJIDs.contains(from) {
            why = "sent by this process"
        } else if stanza.child(Self.replyMarkerName, namespace: Self.replyMarkerNamespace) != nil {
            why = "a Perch reply"
        } else if from.bare == config.account.jid.bare, type != "chat" {
            why = "a normal message from our own account"
        } else {
            return false
        }
        logger.debug("ignored a message from \(logQuoted(from.description)): \(why), not a command")
        return true
    }

    func reply(to stanza: XMLElement, _ text: String, key: String? = nil) {
        guard let from = stanza.from else { return }
        var m = Stanza.message(to: from, body: text, type: stanza.stanzaType == "chat" ? "chat" : "normal", id: client.makeID("r"))
        if let thread = stanza.child("thread") { m.append(thread) }
        m = Self.marked(m)
        if let key { recentMessages.answered(key, m) }
        transmit(m)
    }

    // MARK: Subscriptions

    func presenceStanza(_ stanza: XMLElement) {
        guard let from = stanza.from, stanza.stanzaType == "subscribe" else { return }
        let bare = from.bare
        if executor.policy.isBlocked(bare) { return }
        if executor.policy.role(of: bare) >= .viewer { return approve(bare) }
        guard config.access.strangers == .askOwners else { return refuseSubscription(bare) }
        switch asks.request(bare, now: Instant.now().milliseconds) {
        case .alreadyWaiting:
            _ = executor.strangers.refuse(bare, "repeated subscription request", wantsReply: false)
        case .askNow:
            logger.notice("\(logQuoted(bare.description)) asks to subscribe; asking the owners")
            tellOwners("\(bare) asks to see \(executor.deviceName). Reply \"allow \(bare)\" or \"deny \(bare)\".")
        case .later:
            logger.notice("\(logQuoted(bare.description)) asks to subscribe; the owners hear of it with the others waiting, within a minute")
            if asksTimer == nil { asksTimer = loop.schedule(after: 60_000) { [weak self] in self?.tellUntold() } }
        case .full(let tell):
            if tell {
                logger.warning("\(asks.capacity) subscription requests wait for an owner's decision: further requests are refused until owners answer (allow JID / deny JID) or they expire after 24 h")
                tellOwners("\(asks.capacity) subscription requests to \(executor.deviceName) wait for your decision; further requests are refused until you answer (allow JID / deny JID) or they expire after 24 h.")
            }
            refuseSubscription(bare)
        }
    }

    /// Refuses a stranger's subscription: through the gate (a summary line, replies within its budget).
    func refuseSubscription(_ bare: JID) {
        if executor.strangers.refuse(bare, "subscription request") {
            transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribed", "to": bare.description]))
        }
    }

    /// The asks the owners have not heard of, in one message.
    func tellUntold() {
        asksTimer = nil
        let jids = asks.takeUntold(now: Instant.now().milliseconds)
        guard !jids.isEmpty else { return }
        let list = jids.map(\.description).joined(separator: ", ")
        tellOwners("\(jids.count) more ask\(jids.count == 1 ? "s" : "") to see \(executor.deviceName): \(list). Reply \"allow JID\" or \"deny JID\" for each.")
    }

    func tellOwners(_ text: String) {
        for owner in config.access.owners {
            guard case .jid(let jid) = owner else { continue }
            transmit(Self.marked(Stanza.message(to: jid, body: text, id: client.makeID("ask"))))
        }
    }

    /// Accepts a subscription and subscribes back, unless we already are.
    func approve(_ jid: JID) {
        revoked.remove(jid)
        transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribed", "to": jid.description]))
        let item = client.roster.items[jid]
        if item?.subscription != "both" && item?.subscription != "to" && item?.ask != "subscribe" {
            transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": jid.description]))
        }
        logger.info("approved the subscription of \(jid) (\(executor.policy.role(of: jid)))")
    }

    func decide(_ jid: JID, _ allow: Bool) -> String? {
        let bare = jid.bare
        guard asks.remove(bare, now: Instant.now().milliseconds) else {
            // `deny` of a guest allowed earlier takes the access back.
            guard !allow, guests.contains(bare) else { return nil }
            forget(bare)
            revoke(bare, subscription: client.roster.items[bare]?.subscription ?? "both", reason: "an owner denied it")
            return "\(bare) may no longer see \(executor.deviceName)"
        }
        if allow {
            executor.policy.viewers.append(.jid(bare))
            do {
                try guests.add(bare)
            } catch {
                logger.warning("cannot keep \(bare) in \(guests.path) (\(error.message)); it is a viewer until perch restarts")
            }
            approve(bare)
            return "\(bare) may now see \(executor.deviceName) (as a viewer, kept across restarts, until you deny or block it)"
        }
        transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribed", "to": bare.description]))
        return "refused \(bare)"
    }

    /// Removes an allowed guest (its viewer entry and the file's line).
    func forget(_ bare: JID) {
        executor.policy.viewers.removeAll { $0 == .jid(bare) }
        do {
            try guests.remove(bare)
        } catch {
            logger.warning("cannot remove \(bare) from \(guests.path) (\(error.message)); remove the line by hand, or it is a viewer again after a restart")
        }
    }

    // MARK: Revocation

    /// Takes back the presence subscription of every roster item that has no role (or is blocked):
    /// a viewer removed from the configuration, a JID blocked, a contact someone added by hand. Runs on
    /// the roster at login and on every push.
    func revokeUnwanted(_ items: [Roster.Item]) {
        for item in items where item.subscription == "from" || item.subscription == "both" {
            let jid = item.jid.bare
            if jid == config.account.jid.bare { continue }
            if executor.policy.isBlocked(jid) {
                revoke(jid, subscription: item.subscription, reason: "it is blocked")
            } else if executor.policy.role(of: jid) == .stranger {
                let reason = item.subscription == "both"
                    ? "it has no role here (no longer in the access lists: removed from the configuration?)"
                    : "it has no role here"
                revoke(jid, subscription: item.subscription, reason: reason)
            }
        }
    }

    /// Ends the subscription both ways: `unsubscribed` takes our presence from them, `unsubscribe`
    /// ends ours to theirs (we subscribed back when we approved).
    func revoke(_ jid: JID, subscription: String, reason: String) {
        guard revoked.insert(jid).inserted else { return }
        transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribed", "to": jid.description]))
        let item = client.roster.items[jid]
        if subscription == "both" || subscription == "to" || item?.subscription == "both" || item?.subscription == "to" || item?.ask == "subscribe" {
            transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribe", "to": jid.description]))
        }
        logger.notice("took back the presence subscription of \(jid): \(reason)")
    }

    // MARK: Blocking (XEP-0191)

    func sendBlock(_ jid: JID, _ block: Bool) {
        if block {
            // Before the block reaches the server: a server that honours it drops what we send to the
            // blocked JID afterwards, the `unsubscribed` included.
            for guest in guests.jids where executor.policy.isBlocked(guest) { forget(guest) }
            _ = asks.remove(jid, now: Instant.now().milliseconds)
            for item in client.roster.items.values where executor.policy.isBlocked(item.jid) {
                if item.subscription == "from" || item.subscription == "both" {
                    revoke(item.jid, subscription: item.subscription, reason: "it is blocked")
                } else if item.subscription == "to" || item.ask == "subscribe" {
                    transmit(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unsubscribe", "to": item.jid.description]))
                }
            }
        } else {
            revoked.remove(jid.bare)
        }
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
            // A server that makes up a resource on every login would grow the set: keep the last few.
            if boundJIDs.count >= 64 { boundJIDs = [config.account.jid, client.config.jid] }
            if boundJIDs.insert(session.jid).inserted, session.jid != config.account.jid {
                logger.info("the server bound \(session.jid), not the configured \(config.account.jid); messages from either are our own")
            }
            for t in safeTimers.values { t.cancel() }
            safeTimers = [:]
            if !session.resumed {
                revoked = []
                fetchBlocklist()
            }
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
            // The roster may have come first: what the blocklist says applies to it too.
            self.revokeUnwanted(Array(self.client.roster.items.values))
        }
    }
}
