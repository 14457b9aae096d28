import PerchConfig
import PerchGPIO
import PerchIO
import PerchLog
import PerchRules
import PerchSensors
import XMPPAddress
import XMPPCore

extension Automation {
    /// `alerts`, `rules`, `mute NAME [duration]`, `unmute NAME`.
    func command(_ command: DeviceCommand, _ context: CommandContext) -> CommandOutcome {
        switch command {
        case .alerts: return .ok(alertsText())
        case .rules: return .ok(rulesText())
        case .mute(let name, let ms): return mute(name, ms, by: context)
        case .unmute(let name): return unmute(name, by: context)
        default: return .fail(.badRequest, "not an alert or rule command")
        }
    }

    /// The alerts by `name` (any case), or all for `all`.
    private func indices(_ name: String) -> [Int]? {
        if name.lowercased() == "all" { return Array(alerts.indices) }
        guard let i = alerts.firstIndex(where: { $0.config.name.lowercased() == name.lowercased() }) else { return nil }
        return [i]
    }

    private func unknown(_ name: String) -> CommandOutcome {
        let names = alerts.map(\.config.name)
        return .fail(.itemNotFound, "no alert \"\(name)\"" + (names.isEmpty ? "; none is configured" : "; alerts: \(names.joined(separator: ", "))"))
    }

    func mute(_ name: String, _ ms: Int64, by context: CommandContext) -> CommandOutcome {
        guard let which = indices(name), !which.isEmpty else { return unknown(name) }
        let until = loop.now + ms
        for i in which { setMute(i, until: until) }
        let names = which.map { alerts[$0].config.name }.joined(separator: ", ")
        let end = timeText(loop.wallMilliseconds + ms)
        logger.notice("\(context.from.bare) muted \(names) for \(describeElapsed(ms)) (until \(end))")
        return .ok("\(names) muted for everyone for \(describeElapsed(ms)), until \(end); unmuting ends it sooner")
    }

    func unmute(_ name: String, by context: CommandContext) -> CommandOutcome {
        guard let which = indices(name), !which.isEmpty else { return unknown(name) }
        let muted = which.filter { alerts[$0].tracker.mutedUntil != nil }
        // `all` in any case, like every other chat word (ChatWords matches lowercased).
        guard !muted.isEmpty else { return .ok(name.lowercased() == "all" ? "no alert is muted" : "\(alerts[which[0]].config.name) is not muted") }
        for i in muted { endMute(i) }
        let names = muted.map { alerts[$0].config.name }.joined(separator: ", ")
        logger.notice("\(context.from.bare) unmuted \(names)")
        return .ok("\(names) unmuted")
    }

    func alertsText() -> String {
        guard !alerts.isEmpty else { return "no alerts are configured ([[alert]])" }
        var lines: [String] = []
        for a in alerts {
            var line: String
            switch a.tracker.phase {
            case .active(let since, let wallSince, let cause):
                let what = if case .failing(let f) = cause { values(f) } else { values(a.config.when.names) }
                line = "\(a.config.name): ON since \(timeText(wallSince)) (\(describeElapsed(loop.now - since))); \(what)"
            case .pending(let since, _):
                line = "\(a.config.name): \(a.config.when) holds for \(describeElapsed(loop.now - since)), starts after \(describeElapsed(a.config.policy.holdFor)) (for)"
            case .idle:
                let hold = a.config.policy.holdFor > 0 ? " for \(describeElapsed(a.config.policy.holdFor))" : ""
                line = "\(a.config.name): off (\(a.config.when)\(hold); to \(a.config.to.map(\.description).joined(separator: ", "))); \(values(a.config.when.names))"
            }
            if let until = a.tracker.mutedUntil { line += " · muted until \(timeText(loop.wallMilliseconds + (until - loop.now)))" }
            lines.append(line)
        }
        let on = alerts.filter { $0.tracker.isActive }.count
        return (on == 0 ? "no alert is on" : "\(on) alert\(on == 1 ? "" : "s") on") + "\n" + lines.joined(separator: "\n")
    }

    func rulesText() -> String {
        var lines: [String] = []
        for r in rules {
            var line = "rule \(r.config.name): when \(r.config.when) → \(r.apply.summary)"
            if let e = r.revert { line += ", else \(e.summary)" }
            switch r.tracker.holds {
            case true?: line += "; holds now"
            case false?: line += "; does not hold now"
            case nil: line += "; not known yet"
            }
            let held = [r.apply, r.revert].compactMap { $0 }.compactMap(Automation.output(of:)).compactMap { o in
                manualHold(o, r.config.override).map { "\(o) is a person's until \(timeText(loop.wallMilliseconds + ($0 - loop.now)))" }
            }
            if let first = held.first { line += " (\(first))" }
            lines.append(line)
        }
        for e in schedules.entries {
            lines.append("schedule \(e.config.name): \(e.config.timing.text) → \(e.config.action); next \(schedules.nextText(e))")
        }
        return lines.isEmpty ? "no rules or schedules are configured ([[rule]], [[schedule]])" : lines.joined(separator: "\n")
    }

    /// The text of an alert that started and ended while its message waited: `was hot 14:02–14:20`; one
    /// that did so again and again, `was hot 3 times: 14:02–14:20, 14:31–14:35, 14:50–14:52`, with the
    /// first and the latest times when there were more (`…` between).
    func wasText(_ a: AlertConfiguration, spans: [AlertDelivery.Span], times: Int) -> String {
        wasText(a.name, condition: "\(a.when)", spans: spans, times: times)
    }

    /// ``wasText(_:spans:times:)`` by name, for an alert that may be configured no more (`condition`
    /// nil: not said).
    func wasText(_ name: String, condition: String?, spans: [AlertDelivery.Span], times: Int) -> String {
        let when = condition.map { "; \($0)" } ?? ""
        guard let first = spans.first else { return "⚠ \(deviceName): was \(name), while the device was offline" }
        guard times > 1 else {
            return "⚠ \(deviceName): was \(name) \(rangeText(first.start, first.end)) (\(describeElapsed(max(0, first.end - first.start)))\(when)), while the device was offline"
        }
        var ranges = spans.map { rangeText($0.start, $0.end) }
        if times > spans.count { ranges.insert("…", at: 1) }
        return "⚠ \(deviceName): was \(name) \(times) times: \(ranges.joined(separator: ", "))\(condition.map { " (\($0))" } ?? ""), while the device was offline"
    }
}
