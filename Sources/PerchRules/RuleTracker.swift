public import PerchIO

/// One rule's state (`[[rule]]`): `do` when its condition starts to hold, `else` when it stops.
///
/// The first time the condition is known (at start, or once a sensor reads) counts as a change, so
/// the outputs are brought to what the rule says at once rather than at the next crossing. Unknown (a
/// sensor in error) changes nothing: the outputs stay as they are, and when the value is known again
/// only a different answer acts.
public struct RuleTracker: Sendable {
    public enum Action: Sendable, Hashable {
        /// The condition started to hold: run `do`.
        case apply
        /// It stopped holding: run `else` (when the rule has one).
        case revert
    }

    /// The condition's last known answer; nil until it is first known.
    public private(set) var holds: Bool?

    public init() {}

    /// The condition's truth now; the action to take, if it changed.
    public mutating func update(_ truth: Truth) -> Action? {
        let now: Bool
        switch truth {
        case .yes: now = true
        case .no: now = false
        case .unknown: return nil
        }
        guard holds != now else { return nil }
        holds = now
        return now ? .apply : .revert
    }

    /// What the rule wants now, for an override that ran out: nil until the condition is known.
    public var current: Action? { holds.map { $0 ? .apply : .revert } }
}

/// When a person last switched each output: a rule leaves an output alone for its `override` after
/// that (a person's command takes precedence over the rules).
public struct ManualSwitches: Sendable {
    private var last: [String: Instant] = [:]

    public init() {}

    /// A person switched `output` at `now`.
    public mutating func switched(_ output: String, now: Instant) {
        last[output.lowercased()] = now
    }

    /// Until when a rule with this `override` (ms) leaves `output` alone; nil: it may switch it now.
    public func heldUntil(_ output: String, override: Int64, now: Instant) -> Instant? {
        guard let at = last[output.lowercased()], at + override > now else { return nil }
        return at + override
    }
}
