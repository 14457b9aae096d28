public import PerchConfig
import PerchGPIO
public import PerchHardware
public import PerchIO
public import PerchLog
import PerchSensors
public import XMPPAddress
public import XMPPCore

/// Who sent a command, how, and how late it arrived.
public struct CommandContext: Sendable {
    public var from: JID
    public var role: Role
    /// `chat`, `adhoc`, `iot` — for the audit log.
    public var frontEnd: String
    /// How long ago the command was sent, when the stanza carried an XEP-0203 delay (ms).
    public var age: Int64?

    public init(from: JID, role: Role, frontEnd: String, age: Int64? = nil) {
        self.from = from
        self.role = role
        self.frontEnd = frontEnd
        self.age = age
    }
}

/// A command's answer: text for a person, and the stanza error when it failed.
public struct CommandOutcome: Sendable, Hashable {
    public var text: String
    public var error: StanzaError?

    public static func ok(_ text: String) -> CommandOutcome { CommandOutcome(text: text, error: nil) }
    public static func fail(_ condition: StanzaError.Condition, _ text: String) -> CommandOutcome {
        CommandOutcome(text: text, error: StanzaError(condition, text: text))
    }
}

/// Runs ``DeviceCommand``s against the hardware, whatever front-end they came by, with the checks
/// every front-end shares: the sender's role, stale messages, the rate limit, output limits and
/// interlocks, the outputs' minimum switching interval. Every command from a role holder is audited:
/// one log line with who, what, the result and the latency (strangers go to ``strangers``).
public final class CommandExecutor {
    public let hardware: Hardware
    public var policy: AccessPolicy
    public let deviceName: String
    /// Refusals to senders without a role, shared by every front-end: bounded replies and log lines.
    public let strangers: StrangerGate
    /// Sends an XEP-0191 block or unblock to the server; the executor has already updated ``policy``.
    public var sendBlock: ((JID, Bool) -> Void)?
    /// Answers a pending subscription request (true: allow); returns the reply text, or nil when no
    /// request from that JID is pending.
    public var decideSubscription: ((JID, Bool) -> String?)?
    /// Lists the readings node's subscriptions / removes one; nil when pubsub is not configured.
    public var listSubscribers: ((@escaping (CommandOutcome) -> Void) -> Void)?
    public var removeSubscriber: ((JID, @escaping (CommandOutcome) -> Void) -> Void)?
    /// The group chat rooms: answers `rooms`, `join` and `leave` (the agent's room manager).
    public var roomCommand: ((DeviceCommand) -> CommandOutcome)?
    /// Alerts, rules and schedules: answers `alerts`, `rules`, `mute` and `unmute`.
    public var automationCommand: ((DeviceCommand, CommandContext) -> CommandOutcome)?
    /// Told of every command a role holder ran, with its outcome (the rules learn of a person's switch).
    public func observeCommands(_ observer: @escaping (DeviceCommand, CommandContext, CommandOutcome) -> Void) { commandObservers.append(observer) }
    private var commandObservers: [(DeviceCommand, CommandContext, CommandOutcome) -> Void] = []
    /// More lines for the status command (the outbox's backlog).
    public var statusDetails: (() -> String?)?
    /// Called after any output changed by a command (for presence and pubsub).
    public var onOutputsChanged: (() -> Void)?

    /// max_age and rate_limit; a reload may change them (the rate limit starts counting afresh).
    var settings: Configuration.Commands {
        didSet { if settings.rateLimit != oldValue.rateLimit { limiter = RateLimiter(perMinute: settings.rateLimit) } }
    }
    private var interlocks: [InterlockGroup] { hardware.config.interlocks }
    private var limiter: RateLimiter
    private let loop: EventLoop
    private let logger: Logger
    /// Interlock groups waiting out their `wait`, by name, with when the wait ends.
    private var switching: [String: Instant] = [:]

    public init(
        hardware: Hardware, policy: AccessPolicy, settings: Configuration.Commands, deviceName: String, loop: EventLoop, logger: Logger,
        strangers: StrangerGate? = nil
    ) {
        self.hardware = hardware
        self.strangers = strangers ?? StrangerGate(logger: logger.with(label: "access"), loop: loop)
        self.policy = policy
        self.settings = settings
        self.deviceName = deviceName
        limiter = RateLimiter(perMinute: settings.rateLimit)
        self.loop = loop
        self.logger = logger
    }

    /// Vets and runs a command; `completion` gets the outcome, at once or after an interlock's wait.
    ///
    /// Role holders get one audit line per command. A sender without a role runs nothing and is not
    /// audited one by one: the refusal goes to ``strangers`` (a line for the first, a summary for the
    /// rest), and `completion` is called only when the gate allows a reply, so a flood of them costs
    /// neither log lines nor stanzas. (The front-ends refuse strangers before they get here.)
    public func execute(_ command: DeviceCommand, _ context: CommandContext, completion: @escaping (CommandOutcome) -> Void) {
        guard context.role > .stranger else {
            if strangers.refuse(context.from, "\(context.frontEnd) command") {
                completion(.fail(.forbidden, "\(deviceName) only takes commands from the people its owner allows"))
            }
            return
        }
        let started = loop.now
        let finish: (CommandOutcome) -> Void = { [logger, loop, weak self] outcome in
            let ms = loop.now - started
            let result = outcome.error.map { "refused (\($0.condition.rawValue)): \(outcome.text)" } ?? "ok"
            logger.notice("command from \(context.from.bare) (\(context.role)) via \(context.frontEnd): \(command.summary) → \(result) [\(ms) ms]")
            for observer in self?.commandObservers ?? [] { observer(command, context, outcome) }
            completion(outcome)
        }
        if let refusal = vet(command, context) { return finish(refusal) }
        run(command, context, finish)
    }

    /// The audit line of a request refused before it became a command (a malformed XEP-0325 set, an
    /// output that does not exist), in the shape of the executed ones.
    func auditRefused(_ context: CommandContext, _ what: String, _ e: StanzaError) {
        logger.notice("command from \(context.from.bare) (\(context.role)) via \(context.frontEnd): \(what) → refused (\(e.condition.rawValue)): \(e.text ?? "")")
    }

    /// The checks before anything runs.
    func vet(_ command: DeviceCommand, _ context: CommandContext) -> CommandOutcome? {
        guard context.role >= command.requiredRole else {
            return .fail(.forbidden, "\(command.summary) needs the \(command.requiredRole) role; you are a \(context.role) here")
        }
        guard command.isAction else { return nil }
        if let age = context.age, age > settings.maxAge {
            return .fail(.notAllowed, "not done: this command was sent \(describeDuration(age)) ago (delivered late, probably from offline storage), older than the \(describeDuration(settings.maxAge)) allowed. Send it again if you still want it.")
        }
        if let age = context.age, age < -CommandAge.futureSkew {
            return .fail(.notAllowed, "not done: this command is stamped \(describeDuration(-age)) in the future, so its age cannot be told (clocks may differ by \(describeDuration(CommandAge.futureSkew)) at most); the sender's clock or this device's is wrong: check NTP, then send it again.")
        }
        if let wait = limiter.take(context.from) {
            return .fail(.resourceConstraint, "too many commands; try again in \(describeDuration(wait))")
        }
        return nil
    }

    private func run(_ command: DeviceCommand, _ context: CommandContext, _ finish: @escaping (CommandOutcome) -> Void) {
        switch command {
        case .help:
            finish(.ok(help(for: context.role)))
        case .status:
            finish(.ok(statusText() + (statusDetails?().map { "\n" + $0 } ?? "")))
        case .read(let name):
            finish(read(name))
        case .describe(let name):
            withOutput(name, finish) { output in
                var text = describe(output)
                if context.role >= .operator {
                    text += "; send \(output.name) on, \(output.name) off, \(output.name) toggle or pulse \(output.name) 5s (at most \(describeDuration(output.spec.maxPulse)))"
                }
                finish(.ok(text))
            }
        case .set(let name, let on):
            withOutput(name, finish) { output in
                if on { self.switchOn(output, .set(true), finish) } else { self.act(output, .set(false), finish) }
            }
        case .toggle(let name):
            withOutput(name, finish) { output in
                if output.state { self.act(output, .set(false), finish) } else { self.switchOn(output, .set(true), finish) }
            }
        case .pulse(let name, let ms):
            withOutput(name, finish) { output in
                guard ms <= output.spec.maxPulse else {
                    return finish(.fail(.notAllowed, "\(output.name): \(OutputError.pulseTooLong(requested: ms, maximum: output.spec.maxPulse))"))
                }
                // A pulse from off switches on for a while: the interlock applies as to `on`.
                if output.resting { self.act(output, .pulse(ms), finish) } else { self.switchOn(output, .pulse(ms), finish) }
            }
        case .block(let jid):
            policy.blocked.insert(jid)
            sendBlock?(jid, true)
            finish(.ok("blocked \(jid): it gets nothing from \(deviceName) now"))
        case .unblock(let jid):
            policy.blocked.remove(jid)
            sendBlock?(jid, false)
            finish(.ok("unblocked \(jid)"))
        case .subscribers:
            guard let list = listSubscribers else { return finish(.fail(.featureNotImplemented, "readings are not published to pubsub ([telemetry] pubsub)")) }
            list(finish)
        case .removeSubscriber(let jid):
            guard let remove = removeSubscriber else { return finish(.fail(.featureNotImplemented, "readings are not published to pubsub ([telemetry] pubsub)")) }
            remove(jid, finish)
        case .rooms, .join, .leave:
            finish(roomCommand?(command) ?? .fail(.featureNotImplemented, "group chat rooms are not available"))
        case .alerts, .rules, .mute, .unmute:
            finish(automationCommand?(command, context) ?? .fail(.featureNotImplemented, "alerts and rules are not available"))
        case .allow(let jid), .deny(let jid):
            let allow = if case .allow = command { true } else { false }
            if let text = decideSubscription?(jid, allow) { finish(.ok(text)) } else {
                finish(.fail(.itemNotFound, "\(jid) has not asked to subscribe"))
            }
        }
    }

    private func withOutput(_ name: String, _ finish: (CommandOutcome) -> Void, _ body: (Output) -> Void) {
        if let output = hardware.output(named: name) { return body(output) }
        if let why = hardware.unavailable.first(where: { $0.key.lowercased() == name.lowercased() }) {
            return finish(.fail(.internalServerError, "\(why.key) is unavailable: \(why.value)"))
        }
        let names = hardware.config.outputs.map(\.name)
        if hardware.input(named: name) != nil {
            return finish(.fail(.notAllowed, "\(name) is an input; it can be read, not switched"))
        }
        finish(.fail(.itemNotFound, "no output \"\(name)\"" + (names.isEmpty ? "" : "; outputs: \(names.joined(separator: ", "))")))
    }

    enum Change {
        case set(Bool)
        case pulse(Int64)
    }

    /// Runs a change that needs no interlock.
    private func act(_ output: Output, _ change: Change, _ finish: (CommandOutcome) -> Void) {
        // While a group waits to switch a member on, nothing else in it may come on (off is always fine).
        let turnsOn: Bool
        switch change {
        case .set(let on): turnsOn = on
        case .pulse: turnsOn = !output.resting
        }
        if turnsOn, let group = interlocks.first(where: { $0.contains(output.name) }), let until = switching[group.name] {
            return finish(.fail(.notAllowed, "interlock \(group.name) is switching; try again in \(describeDuration(until - loop.now))"))
        }
        if switches(output, change), let refusal = tooSoon(output) { return finish(refusal) }
        do throws(OutputError) {
            switch change {
            case .set(let on): try output.set(on)
            case .pulse(let ms): try output.pulse(milliseconds: ms)
            }
            onOutputsChanged?()
            finish(.ok(describe(output)))
        } catch {
            finish(outcome(error, output))
        }
    }

    /// Switches an output on through its interlock group: the others off first, then the group's wait.
    private func switchOn(_ output: Output, _ change: Change, _ finish: @escaping (CommandOutcome) -> Void) {
        guard let group = interlocks.first(where: { $0.contains(output.name) }) else { return act(output, change, finish) }
        if let until = switching[group.name] {
            return finish(.fail(.notAllowed, "interlock \(group.name) is switching; try again in \(describeDuration(until - loop.now))"))
        }
        // Refused before the others go off, so a refusal changes nothing. Switching the others off is
        // the interlock's safety step and is not held back (their next switch on is).
        if switches(output, change), let refusal = tooSoon(output) { return finish(refusal) }
        // A member resting on but pulsed off counts as on: its pulse would end by switching it back on.
        let others = group.outputs.compactMap { hardware.output(named: $0) }.filter { $0 !== output && ($0.state || $0.resting) }
        for other in others {
            do { try other.set(false) } catch {
                return finish(.fail(.internalServerError, "\(output.name) stays off: \(other.name) could not be switched off first (\(error))"))
            }
        }
        guard !others.isEmpty, group.wait > 0 else { return act(output, change, finish) }
        onOutputsChanged?()
        switching[group.name] = loop.now + group.wait
        loop.schedule(after: group.wait) { [weak self] in
            guard let self else { return }
            self.switching[group.name] = nil
            // A reload during the wait may have moved the output to another line or group: the
            // others this wait was for may not be the ones that must be off now.
            guard self.hardware.output(named: output.name) === output, self.interlocks.first(where: { $0.contains(output.name) }) == group else {
                return finish(.fail(.conflict, "\(output.name) stays off: the configuration was reloaded while interlock \(group.name) was switching; send the command again"))
            }
            // Nothing of the group may have come on meanwhile: only this path switches members on.
            self.act(output, change) { outcome in
                var o = outcome
                if o.error == nil { o.text += " (after switching \(others.map(\.name).joined(separator: ", ")) off)" }
                finish(o)
            }
        }
    }

    /// Whether `change` drives the line to another level now (a pulse during a pulse, or `on` for an
    /// output that is on, does not).
    private func switches(_ output: Output, _ change: Change) -> Bool {
        switch change {
        case .set(let on): output.state != on
        case .pulse: output.state == output.resting
        }
    }

    /// The refusal of a switch that would come sooner than the output's `min_switch_interval` after
    /// its last one. Only commands are held back: the end of a pulse, the safe state and shutdown are not.
    private func tooSoon(_ output: Output) -> CommandOutcome? {
        guard let since = output.switchedTooRecently() else { return nil }
        let minimum = output.spec.minSwitchInterval
        return .fail(.resourceConstraint, "\(output.name) switched \(describeDuration(since)) ago; relays need \(describeDuration(minimum)) between switches (min_switch_interval): try again in \(describeDuration(minimum - since))")
    }

    private func outcome(_ error: OutputError, _ output: Output) -> CommandOutcome {
        switch error {
        case .pulseTooLong: .fail(.notAllowed, "\(output.name): \(error)")
        case .invalidPulse: .fail(.badRequest, "\(output.name): \(error)")
        case .gpio(let e): .fail(.internalServerError, "\(output.name) could not be switched: \(e)")
        }
    }

    // MARK: Texts

    func describe(_ output: Output) -> String {
        if let ends = output.pulseEnds {
            return "\(output.name) \(output.state ? "on" : "off") for \(describeDuration(max(0, ends - loop.now))), then \(output.resting ? "on" : "off")"
        }
        return "\(output.name) \(output.state ? "on" : "off")"
    }

    public func help(for role: Role) -> String {
        var lines = ["\(deviceName) commands:"]
        lines.append("status · read [sensor] · alerts · rules")
        if role >= .operator {
            lines.append("<output> on|off|toggle · pulse <output> <duration>")
            lines.append("mute <alert> [duration] · unmute <alert>")
        }
        if role >= .owner { lines.append("block|unblock <jid> · allow|deny <jid> (subscription requests) · subscribers · unsubscribe <jid>")
            lines.append("rooms · join <room> [nick] · leave <room>")
        }
        let outputs = hardware.config.outputs.map(\.name)
        let sensors = hardware.config.sensors.map(\.name) + hardware.config.inputs.map(\.name)
        if !outputs.isEmpty { lines.append("outputs: \(outputs.joined(separator: ", "))") }
        if !sensors.isEmpty { lines.append("readings: \(sensors.joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }

    /// Everything at a glance: outputs, inputs, sensors, and what is unavailable. Sensors are read
    /// now, as `read` does: the two never disagree about a value a moment apart.
    public func statusText() -> String {
        statusLine(sensors: hardware.sensors.order, fresh: true)
    }

    /// The presence status line: short enough for a roster tooltip. Outputs and inputs first, then
    /// the sensors marked `presence = true` (when none is marked either way, the first two that are
    /// not an input's copy), then what is unavailable. `status` has the rest.
    public func presenceText() -> String {
        let specs = hardware.config.sensors
        let shown: [String]
        if specs.contains(where: { $0.presence != nil }) {
            shown = specs.filter { $0.presence == true }.map(\.name)
        } else {
            shown = Array(specs.filter { if case .gpio = $0.source { false } else { true } }.map(\.name).prefix(Self.presenceSensors))
        }
        return statusLine(sensors: shown, fresh: false)
    }

    /// Outputs, inputs, then `sensors`, then what is unavailable, on one line.
    private func statusLine(sensors: [String], fresh: Bool) -> String {
        var parts = hardware.outputs.map(describe) + hardware.inputs.map(describe)
        for name in sensors {
            if let text = sensorText(name, fresh: fresh) { parts.append("\(name) \(text)") }
        }
        for name in hardware.unavailable.keys.sorted() { parts.append("\(name) unavailable") }
        return parts.isEmpty ? "\(deviceName): nothing is configured" : parts.joined(separator: " · ")
    }

    /// How many sensors the presence line shows when none says `presence`.
    static let presenceSensors = 2

    func describe(_ input: Input) -> String { "\(input.name) \(input.spec.word(input.value))" }

    /// A sensor's value for a line of text; one that copies an input (source gpio) shows the input
    /// as it is now, so the two never disagree on one line. `fresh`: read now where that is cheap
    /// (the `status` command); else the last reported value (presence). Nil when there is nothing to
    /// show yet.
    func sensorText(_ name: String, fresh: Bool = false) -> String? {
        if case .gpio(let inputName)? = hardware.sensors.sensors[name]?.spec.source, let input = hardware.input(named: inputName) {
            return input.value ? "1" : "0"
        }
        switch fresh ? hardware.sensors.current(name) : hardware.sensors.sensors[name]?.state {
        case .ok(let r)?: return r.text
        case .failed?: return "error"
        default: return nil
        }
    }

    private func read(_ name: String?) -> CommandOutcome {
        guard let name else {
            var lines: [String] = []
            for input in hardware.inputs { lines.append("\(input.name): \(input.spec.word(input.value))") }
            for s in hardware.sensors.order { lines.append(line(s, hardware.sensors.current(s))) }
            return lines.isEmpty ? .ok("no sensors or inputs are configured") : .ok(lines.joined(separator: "\n"))
        }
        if let input = hardware.input(named: name) { return .ok("\(input.name): \(input.spec.word(input.value))") }
        if let s = hardware.sensors.order.first(where: { $0.lowercased() == name.lowercased() }) {
            let state = hardware.sensors.current(s)
            if case .failed(let e, _) = state { return .fail(.internalServerError, "\(s): \(e)") }
            return .ok(line(s, state))
        }
        let names = hardware.sensors.order + hardware.inputs.map(\.name)
        return .fail(.itemNotFound, "no sensor \"\(name)\"" + (names.isEmpty ? "" : "; readings: \(names.joined(separator: ", "))"))
    }

    private func line(_ name: String, _ state: SensorState) -> String {
        switch state {
        case .ok(let r): return "\(name): \(r.text)"
        case .failed(let e, _): return "\(name): error: \(e)"
        case .unknown: return "\(name): not read yet"
        }
    }
}
