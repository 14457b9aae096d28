import PerchGPIO
import PerchIO
public import PerchRules
import PerchSensors
import TOML
public import XMPPAddress

/// Who an alert goes to (`to`).
public enum AlertRecipient: Sendable, Hashable, CustomStringConvertible {
    /// Everyone on the access list of that role (its JIDs; a whole domain cannot be messaged).
    case role(String)
    case jid(JID)
    /// A `[[room]]` with `alerts = true`.
    case room(JID)

    public var description: String {
        switch self {
        case .role(let r): r
        case .jid(let j): j.description
        case .room(let r): "room \(r)"
        }
    }
}

/// `[[alert]]`: a message to people when a condition starts and stops holding.
public struct AlertConfiguration: Sendable, Hashable {
    public var name: String
    public var when: Condition
    public var clear: Condition?
    /// `for`, `repeat`, `on_error`.
    public var policy: AlertPolicy
    /// `message`: the start's text, with `{name}` standing for a sensor's or input's value.
    public var message: String?
    public var to: [AlertRecipient]
    public var line: Int?
}

/// `[[rule]]`: a command when a condition starts holding, another when it stops.
public struct RuleConfiguration: Sendable, Hashable {
    public var name: String
    public var when: Condition
    /// `do` and `else`: chat commands, as an operator would send them.
    public var action: String
    public var otherwise: String?
    /// `override`: how long the rule leaves an output alone after a person switched it (ms).
    public var override: Int64 = 30 * 60_000
    public var line: Int?
    /// The lines of `do` and `else` (for messages).
    public var actionLine: Int?
    public var otherwiseLine: Int?
}

/// `[[schedule]]`: a command at a time of day, or on a cron line, in the system's time zone.
public struct ScheduleConfiguration: Sendable, Hashable {
    public var name: String
    public var timing: ScheduleSpec
    public var action: String
    /// `catch_up`: a run missed (the daemon was down, the clock jumped over it) this recently still runs
    /// when the daemon can (ms); nil: a missed run is skipped.
    public var catchUp: Int64?
    public var line: Int?
    public var actionLine: Int?
}

// The settings without where they are written in the file: a reload that only moves lines
// changes nothing.
extension AlertConfiguration {
    public var unplaced: AlertConfiguration { var a = self; a.line = nil; return a }
}
extension RuleConfiguration {
    public var unplaced: RuleConfiguration { var r = self; (r.line, r.actionLine, r.otherwiseLine) = (nil, nil, nil); return r }
}
extension ScheduleConfiguration {
    public var unplaced: ScheduleConfiguration { var s = self; (s.line, s.actionLine) = (nil, nil); return s }
}

/// Where in the file a command of a rule or schedule is, for the checks only the agent can make (the
/// command language is the chat front-end's).
public struct AutomationCommand: Sendable, Hashable {
    public var text: String
    /// `rule[0].do`, `schedule[1].do`.
    public var key: String
    public var line: Int?
    /// `rule cool`, `schedule morning`.
    public var owner: String
}

extension Configuration {
    /// The commands of every rule and schedule, with where they are written.
    public var automationCommands: [AutomationCommand] {
        var out: [AutomationCommand] = []
        for (i, r) in rules.enumerated() {
            out.append(AutomationCommand(text: r.action, key: "rule[\(i)].do", line: r.actionLine ?? r.line, owner: "rule \(r.name)"))
            if let e = r.otherwise { out.append(AutomationCommand(text: e, key: "rule[\(i)].else", line: r.otherwiseLine ?? r.line, owner: "rule \(r.name)")) }
        }
        for (i, s) in schedules.enumerated() {
            out.append(AutomationCommand(text: s.action, key: "schedule[\(i)].do", line: s.actionLine ?? s.line, owner: "schedule \(s.name)"))
        }
        return out
    }
}

extension ConfigurationLoader {
    /// `[[alert]]`, `[[rule]]` and `[[schedule]]`, after the device and the rooms.
    func parseAutomation(_ root: TOMLTable, _ r: Reader, _ config: inout Configuration) throws(ConfigurationError) {
        for (i, t) in try r.tables(root, "alert").enumerated() {
            let p = "alert[\(i)]."
            try r.allowOnly(t, ["name", "when", "clear", "for", "message", "to", "repeat", "on_error"], prefix: p)
            let name = try automationName(t, r, p, taken: config.alerts.map(\.name), kind: "alert")
            let when = try condition(t, "when", r, p, config.device, required: true)!
            let clear = try condition(t, "clear", r, p, config.device)
            var policy = AlertPolicy()
            policy.holdFor = try r.duration(t, "for", prefix: p, range: 0...DurationText.maximum) ?? 0
            policy.repeatEvery = try r.duration(t, "repeat", prefix: p, range: 60_000...DurationText.maximum)
            policy.hasClear = clear != nil
            policy.onError = try r.bool(t, "on_error", prefix: p) ?? false
            let message = try r.string(t, "message", prefix: p)
            if let message { try checkPlaceholders(message, t["message"], p + "message", r, config.device) }
            var to: [AlertRecipient] = []
            let names = t["to"] == nil ? ["owners"] : try r.strings(t, "to", prefix: p)
            guard !names.isEmpty else { throw r.error(t["to"], p + "to", "names nobody; write owners, operators, viewers, a JID or a [[room]]'s JID") }
            for (j, text) in names.enumerated() {
                let key = "\(p)to[\(j)]"
                if ["owners", "operators", "viewers"].contains(text) {
                    to.append(.role(text))
                    continue
                }
                guard let jid = try? JID(text), jid.localpart != nil, jid.resourcepart == nil else {
                    throw r.error(t["to"], key, "\"\(text)\" is not a recipient: write owners, operators, viewers, a bare JID (someone@example.org) or the JID of a [[room]]")
                }
                if let room = config.rooms.first(where: { $0.jid == jid }) {
                    guard room.alerts else {
                        throw r.error(t["to"], key, "the room \(jid) has alerts = false (line \(room.line ?? 0)); set it to true there or take the room out of to")
                    }
                    to.append(.room(jid))
                } else {
                    to.append(.jid(jid))
                }
            }
            config.alerts.append(AlertConfiguration(name: name, when: when, clear: clear, policy: policy, message: message, to: to, line: t.line))
        }
        for (i, t) in try r.tables(root, "rule").enumerated() {
            let p = "rule[\(i)]."
            try r.allowOnly(t, ["name", "when", "do", "else", "override"], prefix: p)
            let name = try automationName(t, r, p, taken: config.rules.map(\.name) + config.schedules.map(\.name), kind: "rule")
            let when = try condition(t, "when", r, p, config.device, required: true)!
            var rule = RuleConfiguration(name: name, when: when, action: try r.string(t, "do", prefix: p, required: true)!, otherwise: try r.string(t, "else", prefix: p), line: t.line)
            rule.override = try r.duration(t, "override", prefix: p, range: 0...DurationText.maximum) ?? rule.override
            rule.actionLine = t["do"]?.line
            rule.otherwiseLine = t["else"]?.line
            config.rules.append(rule)
        }
        for (i, t) in try r.tables(root, "schedule").enumerated() {
            let p = "schedule[\(i)]."
            try r.allowOnly(t, ["name", "at", "cron", "do", "catch_up"], prefix: p)
            let name = try automationName(t, r, p, taken: config.rules.map(\.name) + config.schedules.map(\.name), kind: "schedule")
            let at = try r.string(t, "at", prefix: p)
            let cron = try r.string(t, "cron", prefix: p)
            let timing: ScheduleSpec
            switch (at, cron) {
            case (let at?, nil):
                switch ScheduleSpec.parseAt(at) {
                case .success(let s): timing = s
                case .failure(let why): throw r.error(t["at"], p + "at", "\(why)")
                }
            case (nil, let cron?):
                switch CronSpec.parse(cron) {
                case .success(let c): timing = .cron(c)
                case .failure(let why): throw r.error(t["cron"], p + "cron", "\(why)")
                }
            case (nil, nil):
                throw ConfigurationError(file: file, line: t.line, key: p + "at", "a schedule needs at = \"06:00\" (every day) or cron = \"0 6 * * 1-5\"")
            default:
                throw r.error(t["cron"], p + "cron", "give at or cron, not both")
            }
            let action = try r.string(t, "do", prefix: p, required: true)!
            let catchUp = try r.duration(t, "catch_up", prefix: p, range: 1_000...DurationText.maximum)
            config.schedules.append(ScheduleConfiguration(name: name, timing: timing, action: action, catchUp: catchUp, line: t.line, actionLine: t["do"]?.line))
        }
    }

    /// A name people type in chat (`mute hot 1h`): one word, unique among its kind.
    private func automationName(_ t: TOMLTable, _ r: Reader, _ p: String, taken: [String], kind: String) throws(ConfigurationError) -> String {
        let name = try r.string(t, "name", prefix: p, required: true)!
        guard name.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw r.error(t["name"], p + "name", "\"\(name)\" must be one word (letters, digits, - _ .): people type it, as in mute \(kind == "alert" ? name.split(separator: " ").first.map(String.init) ?? "hot" : "hot") 1h")
        }
        if taken.contains(where: { $0.lowercased() == name.lowercased() }) {
            throw r.error(t["name"], p + "name", "\"\(name)\" is taken by another \(kind == "alert" ? "alert" : "rule or schedule"); give each its own name")
        }
        return name
    }

    /// A condition, with its names checked against the device's sensors and inputs.
    private func condition(_ t: TOMLTable, _ key: String, _ r: Reader, _ p: String, _ device: DeviceConfiguration, required: Bool = false) throws(ConfigurationError) -> Condition? {
        guard let text = try r.string(t, key, prefix: p, required: required) else { return nil }
        let condition: Condition
        switch Condition.parse(text) {
        case .success(let c): condition = c
        case .failure(let why): throw r.error(t[key], p + key, why.message)
        }
        for c in condition.comparisons {
            if let why = Self.problem(c, device) { throw r.error(t[key], p + key, why) }
        }
        return condition
    }

    /// Why a comparison cannot be evaluated on this device, or nil.
    static func problem(_ c: Condition.Comparison, _ device: DeviceConfiguration) -> String? {
        if let input = device.inputs.first(where: { $0.name == c.name }) {
            guard case .word(let w) = c.value else {
                if case .number(let n) = c.value, n == 0 || n == 1 { return nil }
                return "\(c.name) is an input: compare it with \(input.onWord) or \(input.offWord) (\(c.name) == \(input.onWord))"
            }
            let words = [input.onWord.lowercased(), input.offWord.lowercased()]
            guard words.contains(w.lowercased()) || Condition.Comparison.boolWord(w) != nil else {
                return "\(c.name) is \(input.onWord) or \(input.offWord), never \"\(w)\""
            }
            return nil
        }
        if let sensor = device.sensors.first(where: { $0.name == c.name }) {
            if case .word(let w) = c.value {
                guard case .gpio = sensor.source, Condition.Comparison.boolWord(w) != nil else {
                    return "\(c.name) is a sensor: compare it with a number (\(c.name) > 30), not \"\(w)\""
                }
            }
            return nil
        }
        if let output = device.outputs.first(where: { $0.name == c.name }) {
            return "\(output.name) is an output; conditions read sensors and inputs"
        }
        let known = device.sensors.map(\.name) + device.inputs.map(\.name)
        return "no sensor or input \"\(c.name)\"" + (known.isEmpty ? " (none is configured)" : "; known: \(known.joined(separator: ", "))")
    }

    /// `{name}` in a message must name a sensor or an input.
    private func checkPlaceholders(_ message: String, _ value: TOMLValue?, _ key: String, _ r: Reader, _ device: DeviceConfiguration) throws(ConfigurationError) {
        for name in AlertText.placeholders(in: message) {
            guard device.sensors.contains(where: { $0.name == name }) || device.inputs.contains(where: { $0.name == name }) else {
                throw r.error(value, key, "{\(name)} names no sensor or input")
            }
        }
    }
}
