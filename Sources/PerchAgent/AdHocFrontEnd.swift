import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore

/// XEP-0050 ad-hoc commands with XEP-0004 forms, so Gajim, Psi, Converse.js and Cheogram users get
/// buttons and fields: status, read, set an output, pulse an output. Each is listed (disco#items on
/// the commands node) only to roles allowed to run it, and runs through the same executor as chat.
///
/// The device's own disco#items (no node) lists the commands node, so a service-discovery browser
/// (Gajim's) can walk from the full JID to the commands. A command a role holder asked for and that
/// was refused (a pulse over the output's limit, an interlock, the rate limit, too low a role, a
/// value the form does not take) completes with a `<note type='error'/>` saying why: clients show
/// a note, while some (Psi) close the form on an iq error without a word.
final class AdHocFrontEnd {
    struct Command {
        let node: String
        let name: String
        let role: Role
    }

    private(set) var commands: [Command]

    let executor: CommandExecutor
    let client: XMPPClient
    let hardware: Hardware
    /// The `[[alert]]`s by name, for the mute and unmute forms.
    private(set) var alerts: [String]
    /// Multi-stage sessions waiting for their form, by session id: the node and who started it.
    private var sessions: [String: (node: String, owner: JID, started: Instant)] = [:]
    /// Where answers that come after the handler returned (a command's outcome) go.
    var send: (XMLElement) -> Void

    /// - Parameters:
    ///   - alerts: the alerts' names (their commands are listed when there are any).
    ///   - rules: whether rules or schedules are configured (the rules command is listed then).
    init(executor: CommandExecutor, client: XMPPClient, hardware: Hardware, alerts: [String] = [], rules: Bool = false) {
        self.executor = executor
        self.client = client
        self.hardware = hardware
        self.alerts = alerts
        commands = Self.commands(alerts: alerts, rules: rules)
        send = { [client] in client.send($0) }
    }

    /// The commands a reloaded configuration offers (those of alerts and rules come and go with them).
    func reconfigure(alerts: [String], rules: Bool) {
        self.alerts = alerts
        commands = Self.commands(alerts: alerts, rules: rules)
    }

    static func commands(alerts: [String], rules: Bool) -> [Command] {
        var commands = [
            Command(node: "status", name: "Status", role: .viewer),
            Command(node: "read", name: "Read sensors", role: .viewer),
            Command(node: "set-output", name: "Switch an output", role: .operator),
            Command(node: "pulse-output", name: "Pulse an output", role: .operator),
        ]
        if !alerts.isEmpty {
            commands.append(Command(node: "alerts", name: "Alerts", role: .viewer))
            commands.append(Command(node: "mute-alert", name: "Mute an alert", role: .operator))
            commands.append(Command(node: "unmute-alert", name: "Unmute an alert", role: .operator))
        }
        if rules { commands.append(Command(node: "rules", name: "Rules and schedules", role: .viewer)) }
        return commands
    }

    func install() {
        // disco#items: browsers (Gajim's service discovery) only walk an entity that advertises it.
        client.router.iq(DiscoItems.namespace, features: [DiscoItems.namespace]) { [unowned self] iq in self.items(iq) }
        client.discoInfoForNode = { [unowned self] node, iq in self.info(node, iq) }
        client.router.iq(AdHocCommands.namespace, features: [AdHocCommands.namespace, DataForm.ns]) { [unowned self] iq in self.command(iq) }
    }

    private func role(_ iq: XMLElement) -> Role {
        guard let from = iq.from, !executor.policy.isBlocked(from) else { return .stranger }
        return executor.policy.role(of: from)
    }

    private var me: JID {
        if case .online(let session) = client.status { return session.jid }
        return client.config.jid
    }

    // MARK: Discovery

    func items(_ iq: XMLElement) -> IQHandling {
        guard let requested = DiscoItems.requestedNode(iq) else { return .unhandled }
        let node = requested
        var out = DiscoItems(node: node, items: [])
        // The role first, before the node is looked at: strangers get an empty list whatever they ask
        // (what any entity with nothing for them would answer, so it tells them nothing), while the
        // gate has replies for strangers; after that, nothing.
        let role = role(iq)
        if role == .stranger {
            guard let from = iq.from, executor.strangers.refuse(from, "ad-hoc command list") else { return .handled }
            return .reply(Stanza.result(for: iq, payload: out.element))
        }
        guard let node else {
            // XEP-0050 / XEP-0030: the commands node as an item of the device itself, for
            // clients that browse (Gajim's service discovery) rather than ask the node directly.
            out.items.append(AdHocCommands.commandListItem(of: me))
            return .reply(Stanza.result(for: iq, payload: out.element))
        }
        guard node == AdHocCommands.namespace else { return .reply(Stanza.error(for: iq, StanzaError(.itemNotFound))) }
        for c in commands where role >= c.role {
            out.items.append(AdHocCommands.commandItem(of: me, node: c.node, name: c.name))
        }
        return .reply(Stanza.result(for: iq, payload: out.element))
    }

    func info(_ node: String, _ iq: XMLElement) -> XMLElement? {
        if node == AdHocCommands.namespace {
            // The features let a browser walk into the list (disco#items) and offer its "execute
            // command" action on it (commands), as Gajim's does.
            return AdHocCommands.commandListInfo
        }
        guard let c = commands.first(where: { $0.node == node }), role(iq) >= c.role else { return nil }
        return AdHocCommands.commandInfo(node: node, name: c.name)
    }

    // MARK: Execution

    func command(_ iq: XMLElement) -> IQHandling {
        guard let from = iq.from else { return .reply(Stanza.error(for: iq, StanzaError(.badRequest))) }
        // The role first: a stranger gets the same answer whatever it asks for, with no audit line
        // each, and none at all once the gate has spent the replies to strangers.
        let role = role(iq)
        if role == .stranger { return executor.refuseStranger(iq, from, "ad-hoc command", "commands are for the device's viewers, operators and owners") }
        guard case .success(let request) = AdHocCommands.request(in: iq) else {
            return .reply(Stanza.error(for: iq, StanzaError(.badRequest)))
        }
        let node = request.node
        guard let c = commands.first(where: { $0.node == node }) else { return .reply(Stanza.error(for: iq, StanzaError(.itemNotFound, text: "no command \(node)"))) }
        let context = context(iq, from, role)
        guard role >= c.role else {
            let text = "\(c.name) needs the \(c.role) role; you are a \(role) here"
            executor.auditRefused(context, c.name, StanzaError(.forbidden, text: text))
            return .reply(refused(iq, node, request.sessionID ?? SecureRandomSession.id(), text))
        }
        expireSessions()

        if let sid = request.sessionID {
            guard let session = sessions[sid], session.node == node, session.owner == from else {
                return .reply(AdHocCommands.error(for: iq, .badRequest, .badSessionID, text: "the session expired or is not yours; start the command again"))
            }
            switch request.action {
            case .cancel:
                sessions[sid] = nil
                return .reply(Stanza.result(for: iq, payload: AdHocCommands.response(node: node, sessionID: sid, status: .canceled)))
            case .complete, .execute, .next:
                break
            case .prev, .other:
                return .reply(AdHocCommands.error(for: iq, .badRequest, .badAction, text: "\(request.action.rawValue) is not possible here"))
            }
            sessions[sid] = nil
            switch parse(node, request.values) {
            case .failure(let problem):
                executor.auditRefused(context, "\(c.name) form", StanzaError(.badRequest, text: problem.text))
                return .reply(refused(iq, node, sid, problem.text))
            case .success(let command):
                run(command, iq, node, sid, context)
                return .handled
            }
        }

        switch node {
        case "status":
            run(.status, iq, node, SecureRandomSession.id(), context)
        case "read":
            run(.read(sensor: nil), iq, node, SecureRandomSession.id(), context)
        case "alerts":
            run(.alerts, iq, node, SecureRandomSession.id(), context)
        case "rules":
            run(.rules, iq, node, SecureRandomSession.id(), context)
        default:
            let sid = SecureRandomSession.id()
            sessions[sid] = (node, from, .now())
            let response = AdHocCommands.response(node: node, sessionID: sid, status: .executing,
                                                  actions: .init(execute: .complete, allowed: [.complete]), form: form(node))
            return .reply(Stanza.result(for: iq, payload: response))
        }
        return .handled
    }

    func form(_ node: String) -> XMLElement {
        let outputs = hardware.outputs.map { DataForm.Option($0.name) }
        let alertOptions = alerts.map { DataForm.Option($0) } + [DataForm.Option("all", label: "every alert")]
        switch node {
        case "mute-alert":
            return DataForm.form(type: "form", title: "Mute an alert", instructions: "Nothing is sent about it, to anyone, for that long. When the mute ends you are told if it is on then, or if it ended after it was told.", fields: [
                .init(variable: "alert", type: "list-single", label: "Alert", options: alertOptions, value: alertOptions.first?.value, required: true),
                .init(variable: "duration", type: "text-single", label: "For", value: "1h", required: true, desc: "for example 30m, 1h, 1d"),
            ])
        case "unmute-alert":
            return DataForm.form(type: "form", title: "Unmute an alert", instructions: "Its messages go out again; if it is on and was not told, that is told now.", fields: [
                .init(variable: "alert", type: "list-single", label: "Alert", options: alertOptions, value: alertOptions.first?.value, required: true),
            ])
        case "set-output":
            return DataForm.form(type: "form", title: "Switch an output", instructions: nil, fields: [
                .init(variable: "output", type: "list-single", label: "Output", options: outputs, value: outputs.first?.value, required: true),
                .init(variable: "state", type: "list-single", label: "State", options: ["on", "off", "toggle"].map { DataForm.Option($0) }, value: "on", required: true),
            ])
        default:
            // Each output's own limit beside its name: one stage, and every client shows option labels.
            let limited = hardware.outputs.map { DataForm.Option($0.name, label: "\($0.name) (at most \(describeDuration($0.spec.maxPulse)))") }
            return DataForm.form(type: "form", title: "Pulse an output", instructions: "The output returns to where it was afterwards.", fields: [
                .init(variable: "output", type: "list-single", label: "Output", options: limited, value: limited.first?.value, required: true),
                .init(variable: "duration", type: "text-single", label: "Duration", value: "1s", required: true,
                      desc: "for example 500ms, 5s, 2m; each output's longest pulse is beside its name"),
            ])
        }
    }

    /// Why a submitted form cannot become a command, in words for the person who filled it in.
    struct FormProblem: Error {
        let text: String
    }

    func parse(_ node: String, _ values: [String: String]) -> Result<DeviceCommand, FormProblem> {
        if node == "mute-alert" || node == "unmute-alert" {
            guard let alert = values["alert"], !alert.isEmpty else { return .failure(FormProblem(text: "choose an alert")) }
            guard node == "mute-alert" else { return .success(.unmute(alert: alert)) }
            let given = values["duration"] ?? ""
            switch DurationText.parse(given) {
            case .success(let ms) where ms > 0: return .success(.mute(alert: alert, milliseconds: ms))
            case .success: return .failure(FormProblem(text: "mute for how long? such as 1h"))
            case .failure(let why):
                switch why {
                case .noUnit, .empty: return .failure(FormProblem(text: why.description))
                default: return .failure(FormProblem(text: "\(logQuoted(given)) is not a duration: write it like 30m, 1h or 1d"))
                }
            }
        }
        guard let output = values["output"], !output.isEmpty else { return .failure(FormProblem(text: "choose an output")) }
        switch node {
        case "set-output":
            switch values["state"] {
            case "on"?: return .success(.set(output: output, on: true))
            case "off"?: return .success(.set(output: output, on: false))
            case "toggle"?: return .success(.toggle(output: output))
            default: return .failure(FormProblem(text: "choose a state: on, off or toggle"))
            }
        case "pulse-output":
            let given = values["duration"] ?? ""
            switch DurationText.parse(given) {
            case .success(let ms) where ms > 0:
                return .success(.pulse(output: output, milliseconds: ms))
            case .success:
                return .failure(FormProblem(text: "a pulse needs a duration above 0, such as 5s"))
            case .failure(let why):
                switch why {
                case .noUnit, .empty: return .failure(FormProblem(text: why.description))
                default:
                    // Quoted and cut as for a log line: the text goes to the audit log as well.
                    return .failure(FormProblem(text: "\(logQuoted(given)) is not a duration: write it like \(DurationText.examples)"))
                }
            }
        default:
            return .failure(FormProblem(text: "\(node) takes no form"))
        }
    }

    private func context(_ iq: XMLElement, _ from: JID, _ role: Role) -> CommandContext {
        CommandContext(from: from, role: role, frontEnd: "adhoc", age: CommandAge.from(stanza: iq, now: WallClock.milliseconds()))
    }

    /// Runs a command and completes the session with its outcome: a note of type info, or of type
    /// error when the executor refused it.
    func run(_ command: DeviceCommand, _ iq: XMLElement, _ node: String, _ sid: String, _ context: CommandContext) {
        executor.execute(command, context) { [weak self] outcome in
            guard let self else { return }
            if outcome.error != nil {
                self.send(self.refused(iq, node, sid, outcome.text))
                return
            }
            var readings: XMLElement?
            if case .read = command {
                let fields = outcome.text.split(separator: "\n").map { line -> DataForm.Field in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    return .init(variable: String(parts[0]), type: "text-single", label: String(parts[0]), value: parts.count > 1 ? String(parts[1].dropFirst()) : "")
                }
                readings = DataForm.form(type: "result", title: "Readings", instructions: nil, fields: fields)
            }
            let response = AdHocCommands.response(node: node, sessionID: sid, status: .completed, note: .init(.info, outcome.text), form: readings)
            self.send(Stanza.result(for: iq, payload: response))
        }
    }

    /// A command a role holder asked for and did not get: completed, with a note of type error that
    /// says why (an XEP-0050 note). Clients show notes; some (Psi) drop an iq error without a word.
    /// The text starts "Not done": Gajim shows every completed command under a green tick, whatever
    /// the note's type.
    func refused(_ iq: XMLElement, _ node: String, _ sid: String, _ text: String) -> XMLElement {
        let said = text.hasPrefix("not done") ? "N" + text.dropFirst() : "Not done: " + text
        return Stanza.result(for: iq, payload: AdHocCommands.response(node: node, sessionID: sid, status: .completed, note: .init(.error, said)))
    }

    private func expireSessions() {
        let now = Instant.now()
        sessions = sessions.filter { now - $0.value.started < 600_000 }
    }
}

enum SecureRandomSession {
    static func id() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(UInt32.random(in: 0...UInt32.max, using: &g), radix: 36) }.joined()
    }
}
