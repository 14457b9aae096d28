import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import PerchRules
import PerchSensors
import XMPPAddress
import XMPPCore

/// What the device decides on its own: the `[[alert]]`s, `[[rule]]`s and `[[schedule]]`s, run on the
/// loop whatever the network does.
///
/// Conditions are evaluated on every sample of a sensor they read and every change of an input (no
/// polling loop of their own). Alerts go to ``deliver`` (the agent's ``AlertDelivery``); rules and
/// schedules run their commands through the executor like a person's, with the checks that go with
/// it (interlocks, max_pulse, min_switch_interval, the audit line `via rule cool`). A person's switch
/// takes precedence: a rule leaves that output alone for its `override`, then brings it back to what
/// the rule says.
final class Automation {
    struct Alert {
        let config: AlertConfiguration
        var tracker: AlertTracker
        var timer: EventLoop.Timer?
    }

    struct Rule {
        let config: RuleConfiguration
        var tracker = RuleTracker()
        let apply: DeviceCommand
        let revert: DeviceCommand?
        /// The timer that gives an overridden output back to the rule.
        var overrideTimer: EventLoop.Timer?
        /// The timer that tries a refused command again (an interlock switching, min_switch_interval).
        var retryTimer: EventLoop.Timer?
    }

    let executor: CommandExecutor
    let hardware: Hardware
    let loop: EventLoop
    let logger: Logger
    let zone: TimeZoneRules
    let deviceName: String
    let stateDirectory: String
    /// Who the rules' and schedules' commands are audited as: the device's own account.
    let selfJID: JID
    private(set) var alerts: [Alert] = []
    private(set) var rules: [Rule] = []
    let schedules: ScheduleRunner
    /// A person's last switch of each output (a reload hands it to the new automation).
    var manual = ManualSwitches()
    /// Alerts and rules by the names they read, for evaluating only those a change concerns.
    private var readers: [String: (alerts: [Int], rules: [Int])] = [:]

    /// Where alert messages go: the alert, what happened, and the text for people.
    var deliver: ((AlertConfiguration, AlertTracker.Event, String) -> Void)?
    /// Called when an alert starts or ends (presence shows the active ones).
    var onActiveChange: (() -> Void)?
    /// Who an alert's `to` reaches now (`jid:…`, `room:…`), kept with an alert that is on.
    var recipientsOf: (([AlertRecipient]) -> [String])?
    /// Tells the end of an alert that was on before a restart and is configured no more: the alert,
    /// the recipients it had, the text, when it began (wall ms). Returns who is told and who not.
    var tellGoneEnd: ((_ alert: String, _ recipients: [String], _ text: String, _ since: Int64) -> (told: [String], not: [String]))?

    init(config: Configuration, executor: CommandExecutor, hardware: Hardware, loop: EventLoop, logger: Logger, zone: TimeZoneRules) {
        self.executor = executor
        self.hardware = hardware
        self.loop = loop
        self.logger = logger
        self.zone = zone
        deviceName = executor.deviceName
        stateDirectory = config.device.stateDirectory
        selfJID = config.account.jid.bare
        schedules = ScheduleRunner(schedules: config.schedules, loop: loop, zone: zone, logger: logger,
                                   path: config.device.stateDirectory + "/schedules")
        let outputs = Set(config.device.outputs.map { $0.name.lowercased() })
        let readings = Set(config.device.sensors.map { $0.name.lowercased() } + config.device.inputs.map { $0.name.lowercased() })
        for (i, a) in config.alerts.enumerated() {
            alerts.append(Alert(config: a, tracker: AlertTracker(policy: a.policy)))
            for name in a.when.names + (a.clear?.names ?? []) { readers[name, default: ([], [])].alerts.append(i) }
        }
        for r in config.rules {
            // Checked when the configuration was loaded (AutomationCheck): these parse.
            guard case .success(let apply) = ChatParser.parse(r.action, outputs: outputs, readings: readings) else { continue }
            var revert: DeviceCommand?
            if let e = r.otherwise, case .success(let c) = ChatParser.parse(e, outputs: outputs, readings: readings) { revert = c }
            for name in r.when.names { readers[name, default: ([], [])].rules.append(rules.count) }
            rules.append(Rule(config: r, apply: apply, revert: revert))
        }
        for key in readers.keys {
            readers[key]!.alerts = Array(Set(readers[key]!.alerts)).sorted()
            readers[key]!.rules = Array(Set(readers[key]!.rules)).sorted()
        }
        schedules.run = { [unowned self] schedule, late in self.runSchedule(schedule, late: late) }
    }

    var isEmpty: Bool { alerts.isEmpty && rules.isEmpty && schedules.isEmpty }

    /// Alerts and rules taken over from the automation a reload replaced (by name): ``start()``
    /// neither restores them from the file nor evaluates them anew.
    private var takenOver: Set<String> = []

    /// After a reload, before ``start()``: what the replaced automation knew of the alerts and rules
    /// the new configuration keeps as they were — an alert's phase, what was told, a mute, a `for`
    /// in progress; a rule's last answer (so `do` and `else` do not run again) — and a person's
    /// switches. A changed alert or rule starts afresh, as at a restart.
    func takeOver(from old: Automation) {
        manual = old.manual
        for i in alerts.indices {
            guard let o = old.alerts.first(where: { $0.config.unplaced == alerts[i].config.unplaced }) else { continue }
            alerts[i].tracker = o.tracker
            takenOver.insert("alert " + alerts[i].config.name)
        }
        for i in rules.indices {
            guard let o = old.rules.first(where: { $0.config.unplaced == rules[i].config.unplaced }) else { continue }
            rules[i].tracker = o.tracker
            takenOver.insert("rule " + rules[i].config.name)
        }
    }

    /// Starts watching the hardware and planning the schedules.
    func start() {
        // Alerts on before the restart but configured no more are told over, even with none left.
        guard !isEmpty else { return restoreActive() }
        // Weak: a reload replaces the automation, and the hardware and executor keep their observers.
        hardware.observeSamples { [weak self] name in self?.changed(name) }
        hardware.observeInputs { [weak self] input, _ in self?.changed(input.name) }
        executor.observeCommands { [weak self] command, context, outcome in self?.commandRan(command, context, outcome) }
        schedules.start()
        restoreActive()
        // Taken over from before a reload: their timers (for, repeat, the end of a mute) again.
        for i in alerts.indices where takenOver.contains("alert " + alerts[i].config.name) { handle(i, [], wasActive: alerts[i].tracker.isActive) }
        if !activeNames.isEmpty { onActiveChange?() }
        // Inputs are known at once: rules on them act now, not at their first change.
        for name in readers.keys where hardware.input(named: name) != nil { changed(name) }
        if !alerts.isEmpty || !rules.isEmpty {
            logger.info("\(alerts.count) alert\(alerts.count == 1 ? "" : "s") and \(rules.count) rule\(rules.count == 1 ? "" : "s") watch \(readers.keys.sorted().joined(separator: ", "))")
        }
    }

    // MARK: Evaluating

    /// What is known of a sensor or input now.
    func observe(_ name: String) -> Observation {
        if let input = hardware.input(named: name) {
            return .state(input.value, on: input.spec.onWord, off: input.spec.offWord)
        }
        switch hardware.sensors.sensors[name]?.state {
        case .ok(let r)?:
            switch r.value {
            case .number(let d): return .number(d)
            case .boolean(let b): return .number(b ? 1 : 0)
            }
        case .failed?: return .failed
        default: return .unknown
        }
    }

    /// A sensor was sampled or an input changed: evaluates what reads it.
    func changed(_ name: String) {
        guard let who = readers[name] else { return }
        for i in who.alerts { evaluateAlert(i) }
        for i in who.rules { evaluateRule(i) }
    }

    private func evaluateAlert(_ i: Int) {
        let a = alerts[i].config
        let wasActive = alerts[i].tracker.isActive
        // Closure literals, not `observe` itself: a method reference would be allocated on every call.
        let when = a.when.evaluate { self.observe($0) }
        let clear = a.clear?.evaluate { self.observe($0) }
        // Which sensors fail matters only to on_error, and only while the answer is unknown.
        let failing = a.policy.onError && when == .unknown ? a.when.failing { self.observe($0) } : []
        let events = alerts[i].tracker.update(when: when, clear: clear, failing: failing, now: loop.now, wall: loop.wallMilliseconds)
        handle(i, events, wasActive: wasActive)
    }

    /// Tells what the tracker said, and sets its timer for what it waits for next.
    private func handle(_ i: Int, _ events: [AlertTracker.Event], wasActive: Bool) {
        alerts[i].timer?.cancel()
        alerts[i].timer = nil
        if let due = alerts[i].tracker.nextDeadline {
            alerts[i].timer = loop.schedule(after: max(0, due - loop.now)) { [weak self] in self?.tick(i) }
        }
        for event in events {
            let a = alerts[i].config
            let text = self.text(a, event)
            switch event {
            case .started: logger.notice("alert \(a.name) started: \(text)")
            case .ended: logger.notice("alert \(a.name) ended: \(text)")
            case .reminder: logger.info("alert \(a.name) still on: \(text)")
            }
            deliver?(a, event, text)
        }
        if alerts[i].tracker.isActive != wasActive, events.isEmpty, alerts[i].tracker.mutedUntil != nil {
            logger.notice("alert \(alerts[i].config.name) \(wasActive ? "ended" : "started") while muted: not told (\(values(alerts[i].config.when.names)))")
        }
        // Presence shows active alerts, muted or not.
        if alerts[i].tracker.isActive != wasActive {
            onActiveChange?()
            saveActive()
        } else if !events.isEmpty {
            saveActive()
        }
    }

    // MARK: Alerts on across a restart

    /// `name<TAB>wall ms since<TAB>told (1/0)<TAB>failing sensors, comma-separated (empty: the
    /// condition)<TAB>recipients (jid:… and room:…, space-separated)` a line, in state_dir/alerts.active:
    /// an alert on when the daemon stops is neither told again at the next start nor forgotten (its end
    /// is told when it comes, and at once to the recipients it had when it is configured no more).
    /// Lines without the recipients (older files) are read too.
    var activePath: String { stateDirectory + "/alerts.active" }

    func saveActive() {
        let lines = alerts.compactMap { a -> String? in
            guard case .active(_, let wallSince, let cause) = a.tracker.phase else { return nil }
            let failing = if case .failing(let names) = cause { names.joined(separator: ",") } else { "" }
            let recipients = recipientsOf?(a.config.to).joined(separator: " ") ?? ""
            return "\(a.config.name)\t\(wallSince)\t\(a.tracker.told ? 1 : 0)\t\(failing)\t\(recipients)\n"
        }
        if lines.isEmpty {
            _ = removeFile(activePath)
            return
        }
        do { try writeFileAtomically(activePath, Array(lines.joined().utf8), mode: 0o600, sync: false) } catch {
            logger.warning("cannot keep the alerts that are on in \(activePath) (\(error.message)); after a restart they would be told again")
        }
    }

    /// Takes up the alerts that were on when the daemon stopped.
    func restoreActive() {
        guard let text = readTextFile(activePath, limit: 64 * 1024) else { return }
        var restored: [String] = []
        var gone = false
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 4 || f.count == 5, let since = Int64(f[1]) else { continue }
            if takenOver.contains("alert " + f[0]) { continue }
            guard let i = alerts.firstIndex(where: { $0.config.name == String(f[0]) }) else {
                endGone(String(f[0]), since: since, told: f[2] == "1", recipients: f.count == 5 ? f[4].split(separator: " ").map(String.init) : nil)
                gone = true
                continue
            }
            let cause: AlertTracker.Cause = f[3].isEmpty ? .condition : .failing(f[3].split(separator: ",").map(String.init))
            alerts[i].tracker.restore(since: since, told: f[2] == "1", cause: cause, now: loop.now, wall: loop.wallMilliseconds)
            handle(i, [], wasActive: true)
            restored.append("\(f[0]) (since \(timeText(since)))")
        }
        if !restored.isEmpty { logger.info("alerts still on: \(restored.joined(separator: ", ")); their end is told when it comes") }
        // They are told: the file keeps only the configured alerts.
        if gone { saveActive() }
    }

    /// An alert on before the restart that is configured no more (renamed or removed): it is over
    /// for the device, and those who were told its start are told so. `recipients`: nil when the file
    /// does not say (written by an older version).
    private func endGone(_ name: String, since: Int64, told: Bool, recipients: [String]?) {
        let what = "alert \(name) was on (since \(timeText(since))) and is no longer configured (renamed or removed)"
        guard told else { return logger.notice("\(what); its start was not told (muted), so nobody is told its end") }
        guard let recipients, !recipients.isEmpty, let tellGoneEnd else {
            return logger.notice("\(what); nobody is told its end: \(activePath) does not say who was told its start")
        }
        let lasted = max(0, loop.wallMilliseconds - since)
        let text = "✓ \(deviceName): \(name) is over: it is no longer configured (renamed or removed); it was on since \(timeText(since)) (\(describeElapsed(lasted)))"
        let (yes, no) = tellGoneEnd(name, recipients, text, since)
        let addresses = { (r: [String]) in r.map { String(AlertDelivery.address($0)) }.joined(separator: ", ") }
        let skipped = no.isEmpty ? "" : "; not to \(addresses(no)) (blocked, no longer named by any alert's to, or a room the device left)"
        logger.notice("\(what); its end is told to \(yes.isEmpty ? "nobody" : addresses(yes))\(skipped)")
    }

    func setMute(_ i: Int, until: Instant) {
        let wasActive = alerts[i].tracker.isActive
        alerts[i].tracker.mute(until: until)
        handle(i, [], wasActive: wasActive)
    }

    func endMute(_ i: Int) {
        let wasActive = alerts[i].tracker.isActive
        handle(i, alerts[i].tracker.unmute(now: loop.now, wall: loop.wallMilliseconds), wasActive: wasActive)
    }

    /// Until when a person has `output` for a rule with this override.
    func manualHold(_ output: String, _ override: Int64) -> Instant? {
        manual.heldUntil(output, override: override, now: loop.now)
    }

    private func tick(_ i: Int) {
        let wasActive = alerts[i].tracker.isActive
        handle(i, alerts[i].tracker.tick(now: loop.now, wall: loop.wallMilliseconds), wasActive: wasActive)
    }

    private func evaluateRule(_ i: Int) {
        let truth = rules[i].config.when.evaluate { self.observe($0) }
        guard let action = rules[i].tracker.update(truth) else { return }
        run(i, action, why: action == .apply ? "\(rules[i].config.when) holds" : "\(rules[i].config.when) no longer holds")
    }

    /// Runs a rule's `do` or `else`, unless a person has the output.
    private func run(_ i: Int, _ action: RuleTracker.Action, why: String) {
        let rule = rules[i]
        guard let command = action == .apply ? rule.apply : rule.revert else { return }
        if let output = Self.output(of: command) {
            if let until = manual.heldUntil(output, override: rule.config.override, now: loop.now) {
                logger.info("rule \(rule.config.name): \(why), but \(output) was switched by a person; the rule leaves it alone for \(describeDuration(until - loop.now)) more (override \(describeDuration(rule.config.override)))")
                rules[i].overrideTimer?.cancel()
                rules[i].overrideTimer = loop.schedule(after: until - loop.now) { [weak self] in self?.overrideEnded(i) }
                return
            }
            // Already as the rule wants it: nothing to switch, nothing to audit.
            if case .set(_, let on) = command, let o = hardware.output(named: output), o.state == on, !o.isPulsing { return }
        }
        logger.info("rule \(rule.config.name): \(why): \(command.summary)")
        rules[i].retryTimer?.cancel()
        executor.execute(command, CommandContext(from: selfJID, role: .operator, frontEnd: "rule \(rule.config.name)")) { [weak self] outcome in
            guard let self, let e = outcome.error else { return }
            // Held back for a while (min_switch_interval, an interlock's wait, the rate limit): the
            // output must not stay against the rule until the next crossing, so try again.
            let passing = e.condition == .resourceConstraint || e.condition == .notAllowed
            self.logger.warning("rule \(rule.config.name): \(command.summary) was not done (\(e.condition.rawValue)): \(outcome.text)\(passing ? "; trying again in \(describeDuration(Self.retryDelay))" : "")")
            guard passing else { return }
            self.rules[i].retryTimer = self.loop.schedule(after: Self.retryDelay) { [weak self] in
                guard let self, self.rules[i].tracker.current == action else { return }
                self.run(i, action, why: "trying again")
            }
        }
    }

    /// How long a rule waits before trying a held-back command again.
    static let retryDelay: Int64 = 5_000

    private func overrideEnded(_ i: Int) {
        rules[i].overrideTimer = nil
        guard let action = rules[i].tracker.current else { return }
        run(i, action, why: "a person's override ended")
    }

    /// The output a command switches, if it switches one.
    static func output(of command: DeviceCommand) -> String? {
        switch command {
        case .set(let o, _), .toggle(let o), .pulse(let o, _): o
        default: nil
        }
    }

    /// A person (anyone but a rule or a schedule) switched an output: the rules on it step back.
    private func commandRan(_ command: DeviceCommand, _ context: CommandContext, _ outcome: CommandOutcome) {
        guard outcome.error == nil, !context.frontEnd.hasPrefix("rule "), !context.frontEnd.hasPrefix("schedule "),
              let output = Self.output(of: command) else { return }
        manual.switched(output, now: loop.now)
        for (i, rule) in rules.enumerated() {
            let touches = [rule.apply, rule.revert].compactMap { $0 }.contains { Self.output(of: $0)?.lowercased() == output.lowercased() }
            guard touches, rule.config.override > 0 else { continue }
            logger.info("rule \(rule.config.name) leaves \(output) alone for \(describeDuration(rule.config.override)) (override): \(context.from.bare) switched it")
            rules[i].overrideTimer?.cancel()
            rules[i].overrideTimer = loop.schedule(after: rule.config.override) { [weak self] in self?.overrideEnded(i) }
        }
    }

    private func runSchedule(_ schedule: ScheduleConfiguration, late: Int64?) {
        let outputs = Set(hardware.config.outputs.map { $0.name.lowercased() })
        guard case .success(let command) = ChatParser.parse(schedule.action, outputs: outputs) else { return }
        let lateNote = late.map { " (\(describeDuration($0)) late: catch_up)" } ?? ""
        logger.info("schedule \(schedule.name): \(command.summary)\(lateNote)")
        executor.execute(command, CommandContext(from: selfJID, role: .operator, frontEnd: "schedule \(schedule.name)")) { [logger] outcome in
            if let e = outcome.error { logger.warning("schedule \(schedule.name): \(command.summary) was not done (\(e.condition.rawValue)): \(outcome.text)") }
        }
    }

    // MARK: Texts

    /// The alerts on now, for presence: their names.
    var activeNames: [String] { alerts.filter { $0.tracker.isActive }.map(\.config.name) }

    /// A time for a message: `14:02`, or with the date when it is not today.
    func timeText(_ wall: Int64) -> String {
        let t = zone.local(wall / 1000)
        let today = zone.local(loop.wallMilliseconds / 1000)
        return t.dateText == today.dateText ? t.text : "\(t.dateText) \(t.text)"
    }

    /// The values a condition reads, as a person reads them: `air 31.2 °C, door open`.
    func values(_ names: [String]) -> String {
        names.map { name in
            if let input = hardware.input(named: name) { return "\(name) \(input.spec.word(input.value))" }
            switch hardware.sensors.sensors[name]?.state {
            case .ok(let r)?: return "\(name) \(r.text)"
            case .failed(let e, _)?: return "\(name) cannot be read (\(e))"
            default: return "\(name) not read yet"
            }
        }.joined(separator: ", ")
    }

    func valueText(_ name: String) -> String? {
        if let input = hardware.input(named: name) { return input.spec.word(input.value) }
        if case .ok(let r)? = hardware.sensors.sensors[name]?.state { return r.text }
        if case .failed? = hardware.sensors.sensors[name]?.state { return "error" }
        return nil
    }

    /// `14:02–14:20`; to the second when both fall in one minute (`14:02:10–14:02:35`).
    func rangeText(_ from: Int64, _ to: Int64) -> String {
        let (a, b) = (timeText(from), timeText(to))
        guard a == b else { return "\(a)–\(b)" }
        func seconds(_ wall: Int64) -> String {
            let s = zone.local(wall / 1000).second
            return s < 10 ? ":0\(s)" : ":\(s)"
        }
        return "\(a)\(seconds(from))–\(b)\(seconds(to))"
    }

    /// The values a condition reads, with the condition where it compares numbers (`air 31.2 °C (air >
    /// 30)`); a state says it alone (`door open`).
    func described(_ a: AlertConfiguration) -> String {
        let numeric = a.when.comparisons.contains { if case .number = $0.value { true } else { false } }
        return values(a.when.names) + (numeric ? " (\(a.when))" : "")
    }

    /// The message for an alert's event.
    func text(_ a: AlertConfiguration, _ event: AlertTracker.Event) -> String {
        let names = a.when.names
        switch event {
        case .started(.condition, let wall):
            if let message = a.message { return AlertText.fill(message) { self.valueText($0) } }
            return "⚠ \(deviceName): \(a.name): \(described(a)) since \(timeText(wall))"
        case .started(.failing(let failing), let wall):
            return "⚠ \(deviceName): \(a.name): \(values(failing)) since \(timeText(wall))"
        case .ended(.condition, let since, let lasted):
            return "✓ \(deviceName): \(a.name) is over: \(values(names)); it lasted \(describeElapsed(lasted)) (\(rangeText(since, loop.wallMilliseconds)))"
        case .ended(.failing(let failing), _, let lasted):
            return "✓ \(deviceName): \(a.name): \(failing.joined(separator: ", ")) read\(failing.count == 1 ? "s" : "") again (\(values(names))) after \(describeElapsed(lasted))"
        case .reminder(let cause, let since, let lasted):
            let what = if case .failing(let f) = cause { values(f) } else { described(a) }
            return "⚠ \(deviceName): still \(a.name): \(what) since \(timeText(since)), for \(describeElapsed(lasted))"
        }
    }
}
