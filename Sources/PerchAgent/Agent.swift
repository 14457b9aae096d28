import Glibc
public import PerchConfig
import PerchGPIO
public import PerchHardware
public import PerchIO
public import PerchLog
public import PerchRules
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
    /// The configuration running now (``reload(_:_:)`` replaces it).
    var config: Configuration
    let client: XMPPClient
    let hardware: Hardware
    let loop: EventLoop
    let logger: Logger
    let presence: PresenceTelemetry
    let adHoc: AdHocFrontEnd
    let iot: IoTFrontEnd
    let pubsub: PubSubPublisher
    /// The group chat rooms (Agent+Rooms.swift).
    let rooms: RoomManager
    /// Alerts, rules and schedules (Agent+Alerts.swift), and where alert messages wait.
    var automation: Automation
    let alertDelivery: AlertDelivery
    /// Strangers whose subscription requests wait for an owner's decision (bounded, see SubscriptionAsks).
    var asks = SubscriptionAsks()
    var asksTimer: EventLoop.Timer?
    /// Strangers an owner let in with `allow` (viewers, kept in state_dir/allowed).
    var guests: AllowedGuests
    /// Every full JID this process has been bound to (the configured one, and any other the server gave
    /// after a conflict): a message from one of them is our own.
    var boundJIDs: Set<JID> = []
    /// JIDs whose subscription was taken back on this session (so the blocklist and the roster, arriving
    /// in either order, revoke once).
    var revoked: Set<JID> = []
    /// JIDs an owner blocked that the server did not take (it has no XEP-0191, or refused): they stay
    /// blocked here whatever the server's list says.
    var localBlocks: Set<JID> = []
    /// How stanzas go out (the client; a test records them instead).
    var transmit: (XMLElement) -> Void
    private var safeTimers: [String: EventLoop.Timer] = [:]
    /// Chat commands seen lately (by sender and origin id), so a re-delivered message runs once.
    var recentMessages = RecentRequests()
    /// The names chat commands may start with, lowercased: outputs, and the sensors and inputs a name
    /// alone reads (a reload changes them).
    var chatOutputs: Set<String>
    var chatReadings: Set<String>
    /// The time zone the agent was given (tests); nil: the system's.
    let givenZone: TimeZoneRules?
    /// A reload while offline changed the access lists: the next session checks the roster again.
    var revokeOnNextSession = false

    /// - Parameter zone: the time zone schedules and alert times use; nil: the system's (TZ, else
    ///   /etc/localtime).
    public init(config: Configuration, client: XMPPClient, hardware: Hardware, loop: EventLoop, logger: Logger, zone: TimeZoneRules? = nil) {
        self.config = config
        self.client = client
        self.hardware = hardware
        self.loop = loop
        self.logger = logger
        chatOutputs = Set(config.device.outputs.map { $0.name.lowercased() })
        chatReadings = Set(config.device.sensors.map { $0.name.lowercased() } + config.device.inputs.map { $0.name.lowercased() })
        let name = config.device.name ?? config.account.jid.localpart ?? config.account.jid.domainpart
        executor = CommandExecutor(
            hardware: hardware, policy: AccessPolicy(config.access, selfJID: config.account.jid), settings: config.commands,
            deviceName: name, loop: loop, logger: logger.with(label: "command"))
        adHoc = AdHocFrontEnd(executor: executor, client: client, hardware: hardware, alerts: config.alerts.map(\.name), rules: !(config.rules.isEmpty && config.schedules.isEmpty))
        iot = IoTFrontEnd(executor: executor, client: client, hardware: hardware)
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
        rooms = RoomManager(rooms: config.rooms, defaultNick: name, client: client, loop: loop, logger: logger.with(label: "rooms"),
                            path: config.device.stateDirectory + "/rooms")
        boundJIDs = [config.account.jid, client.config.jid]
        givenZone = zone
        automation = Automation(config: config, executor: executor, hardware: hardware, loop: loop, logger: logger.with(label: "rules"),
                                zone: Self.zone(zone, for: config, logger: logger))
        alertDelivery = AlertDelivery(path: config.device.stateDirectory + "/alerts", selfJID: config.account.jid.bare, logger: logger.with(label: "alerts"),
                                      policy: { [executor] in executor.policy })
        guests = AllowedGuests(path: config.device.stateDirectory + "/allowed")
        do {
            try guests.load()
        } catch {
            logger.warning("cannot read the JIDs owners allowed from \(guests.path) (\(error.message)); they are strangers until allowed again")
        }
        for jid in guests.jids where executor.policy.role(of: jid) == .stranger { executor.policy.viewers.append(.jid(jid)) }
    }

    /// The time zone of schedules and alert times: the one given, else the system's when anything
    /// uses it (read once per configuration that does).
    static func zone(_ given: TimeZoneRules?, for config: Configuration, logger: Logger) -> TimeZoneRules {
        if let given { return given }
        guard !(config.schedules.isEmpty && config.alerts.isEmpty) else { return .utc }
        let (system, warning) = TimeZoneRules.system(environment: getenv("TZ").map { String(cString: $0) })
        if let warning { logger.warning(warning) }
        return system
    }

    /// The element every chat message Perch sends carries, so that no Perch (this one under another
    /// resource, or another device on the account) takes a Perch reply for a command.
    public static let replyMarkerName = "perch"
    public static let replyMarkerNamespace = "urn:perch:reply"

    /// Marks a message as a Perch reply; `error` (a stanza error condition) says the command was
    /// refused or failed, so a script (`perch send`) can tell without reading the text.
    static func marked(_ message: XMLElement, error: StanzaError.Condition? = nil) -> XMLElement {
        var m = message
        m.append(XMLElement(replyMarkerName, namespace: replyMarkerNamespace, attrs: ["error": error?.rawValue]))
        return m
    }

    /// Writes what the outbox has staged and closes it cleanly (so the next start need not read all
    /// of it); call once, at shutdown.
    public func stop() {
        pubsub.outbox?.close()
    }

    /// Installs the handlers; call before the client starts.
    public func start() {
        // Commands come in chat and normal messages (a body, or an XEP-0325 set); every presence
        // is the agent's (subscriptions, probes, the owners' availability).
        client.router.messages(ofType: [.chat, .normal]) { [unowned self] stanza in
            self.message(stanza)
            return .handled
        }
        client.router.presences { [unowned self] stanza in
            if self.rooms.presence(stanza) { return .handled }
            self.presenceStanza(stanza)
            return .handled
        }
        client.observeStatus { [unowned self] status in self.statusChanged(status) }
        client.isTrusted = { [unowned self] jid in self.executor.policy.role(of: jid) > .stranger }
        client.strangerBudget = { [unowned self] jid, cost in
            switch cost {
            case .answer(let what): self.executor.strangers.mayAnswer(jid, what)
            case .refused(let what, let reply): self.executor.strangers.refuse(jid, what, wantsReply: reply)
            }
        }
        executor.sendBlock = { [unowned self] jid, block in self.sendBlock(jid, block) }
        client.router.iq(Blocking.namespace) { [unowned self] iq in self.blockingPush(iq) }
        executor.decideSubscription = { [unowned self] jid, allow in self.decide(jid, allow) }
        // Switches and input changes reach presence at once; readings when min_interval allows.
        executor.onOutputsChanged = { [unowned self] in self.presence.changed(urgent: true) }
        executor.statusDetails = { [unowned self] in self.pubsub.statusLine }
        client.onRosterChange = { [unowned self] items, _ in self.revokeUnwanted(items) }
        hardware.observeOutputs { [unowned self] _ in self.presence.changed(urgent: true) }
        hardware.observeInputs { [unowned self] input, change in
            self.presence.changed(urgent: true)
            self.pubsub.publishEvent(input: input.name, value: change.value, at: change.wallClockMilliseconds)
        }
        hardware.observeReadings { [unowned self] r in
            self.presence.reading(r.sensor)
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
        installRooms()
        installAutomation()
        presence.start()
        iot.install()
        adHoc.install()
    }

    // MARK: Chat

    func message(_ stanza: XMLElement) {
        let type = stanza.stanzaType ?? "normal"
        guard type == "chat" || type == "normal", let origin = stanza.from else { return }
        // A private message through a room is judged by the occupant's real JID (the reply goes back
        // through the room).
        let from = sender(of: stanza, from: origin)
        let control = stanza.child("set", namespace: IoTFrontEnd.control)
        let body = stanza.child("body")?.text
        guard control != nil || body != nil else { return }
        if isOwnEcho(stanza, from: from, type: type) { return }
        if executor.policy.isBlocked(from) { return }
        // XEP-0325 §3.1: a set in a message (a body beside it is the human-readable fallback).
        if let control { return controlMessage(stanza, control, from: from) }
        guard let body else { return }
        let role = executor.policy.role(of: from)
        if role == .stranger {
            // The role first: a stranger costs a table look-up, never a log line or a reply of its own.
            // Told off once an hour at most; the repeats are counted without spending the reply budget.
            let first = executor.strangers.firstContact(from, within: 3_600_000)
            if executor.strangers.refuse(from, "chat message", wantsReply: first) {
                reply(to: stanza, "This device only takes commands from the people its owner allows.", error: .forbidden)
            }
            return
        }
        let text = body.trimmingWhitespace()
        guard !text.isEmpty else { return }
        // The body is part of the request: a client that reuses ids sends another command under one.
        guard case .run(let key) = repeatCheck(stanza, from: from, payload: text, what: "message") else { return }
        let age = CommandAge.from(stanza: stanza, now: WallClock.milliseconds())
        switch ChatParser.parse(text, outputs: chatOutputs, readings: chatReadings) {
        case .failure(.unknown(let word)):
            logger.info("chat from \(from.bare) (\(role)): unknown command \(logQuoted(String(word.prefix(40)))); answered with the hint to send help")
            reply(to: stanza, "unknown command \"\(word.prefix(40))\"; send help for the list", key: key, error: .badRequest)
        case .failure(.badArgument(let why)):
            logger.info("chat from \(from.bare) (\(role)): \(logQuoted(String(text.prefix(60)))) refused: \(why)")
            reply(to: stanza, why, key: key, error: .badRequest)
        case .success(let command):
            executor.execute(command, CommandContext(from: from, role: role, frontEnd: "chat", age: age)) { [weak self] outcome in
                self?.reply(to: stanza, outcome.text, key: key, error: outcome.error?.condition)
            }
        }
    }

    /// What the repeat check says of a message request.
    enum Repeat {
        /// New: run it, and record its answer under `key` (nil: the message has no id).
        case run(key: String?)
        /// Seen before: its answer, if it had one, went out again; do not run it.
        case repeated
    }

    /// XEP-0359: the sender's origin id (or the stanza id) names a request; a message re-delivered
    /// (a resend after a lost connection, offline storage after a failed resumption) runs once. A
    /// repeat is the same `payload` as the last request under that id.
    func repeatCheck(_ stanza: XMLElement, from: JID, payload: some Hashable, what: String) -> Repeat {
        guard let id = stanza.child("origin-id", namespace: XMPPNamespace.stanzaID)?[attribute: "id"] ?? stanza.stanzaID else { return .run(key: nil) }
        let bare = from.bare.description
        let key = RecentRequests.key(from: bare, id: id, payload: payload)
        switch recentMessages.check(key, request: RecentRequests.key(from: bare, id: id), sender: bare) {
        case .new:
            return .run(key: key)
        case .inProgress, .done:
            logger.info("\(what) \(logQuoted(id)) from \(from.bare) arrived again; it runs once")
        case .answered(let previous):
            logger.info("\(what) \(logQuoted(id)) from \(from.bare) arrived again; repeated the answer, not the command")
            transmit(previous)
        }
        return .repeated
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

    func reply(to stanza: XMLElement, _ text: String, key: String? = nil, error: StanzaError.Condition? = nil) {
        guard let from = stanza.from else { return }
        var m = Stanza.message(to: from, body: text, type: stanza.stanzaType == "chat" ? "chat" : "normal", id: client.makeID("r"))
        if let thread = stanza.child("thread") { m.append(thread) }
        m = Self.marked(m, error: error)
        if let key { recentMessages.answered(key, m) }
        transmit(m)
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
            } else if revokeOnNextSession {
                // A reload while offline took roles away; a resumed session brings no roster to check.
                revokeUnwanted(Array(client.roster.items.values))
            }
            revokeOnNextSession = false
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

    /// After a reload while offline: outputs no longer under `safe_after` lose their timers, new ones
    /// get theirs (counted from now; a timer already running keeps its time).
    func rescheduleSafeStates() {
        for (name, timer) in safeTimers where config.device.safeAfter[name] == nil {
            timer.cancel()
            safeTimers[name] = nil
        }
        for (name, after) in config.device.safeAfter where safeTimers[name] == nil {
            safeTimers[name] = loop.schedule(after: after) { [weak self] in self?.applySafeState(name, after) }
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
}
