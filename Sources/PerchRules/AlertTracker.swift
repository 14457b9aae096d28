public import PerchIO

/// What an alert is, as far as deciding when it starts and stops goes (`[[alert]]`).
public struct AlertPolicy: Sendable, Hashable {
    /// `for`: the condition must hold this long before the alert starts (ms; 0: at once).
    public var holdFor: Int64 = 0
    /// `repeat`: remind this often while it holds (ms); nil: never.
    public var repeatEvery: Int64?
    /// `clear` is given: the alert ends when it holds, not when `when` stops holding.
    public var hasClear = false
    /// `on_error`: a sensor of the condition that keeps failing starts the alert too.
    public var onError = false

    public init(holdFor: Int64 = 0, repeatEvery: Int64? = nil, hasClear: Bool = false, onError: Bool = false) {
        self.holdFor = holdFor
        self.repeatEvery = repeatEvery
        self.hasClear = hasClear
        self.onError = onError
    }
}

/// One alert's life, as a pure state machine: fed the truth of its conditions at every reading and
/// input change, and ticked at ``nextDeadline`` (for `for` and `repeat`); it says what to tell people.
///
/// - One message when the alert starts, one when it ends, nothing while nothing changes; `repeat`
///   reminds while it holds.
/// - `for` holds the start back until the condition has held that long; a condition that stops
///   holding (or becomes unknown) meanwhile starts the wait again.
/// - Unknown is never true: a sensor in error starts nothing (unless `on_error`) and ends nothing.
///   With `on_error`, a sensor the condition reads that fails for `for` starts the alert, which
///   ends when the sensor reads again.
/// - While muted, nothing is told; when the mute ends, whatever changed meanwhile is told once (an
///   alert that started and is still on, or one that was told and has ended), so the people's picture
///   is right again.
public struct AlertTracker: Sendable {
    public enum Cause: Sendable, Hashable {
        /// The condition holds.
        case condition
        /// These sensors keep failing (`on_error`).
        case failing([String])
    }

    public enum Phase: Sendable, Hashable {
        case idle
        /// The condition holds since `since`, waiting out `for`.
        case pending(since: Instant, cause: Cause)
        /// Started at `since` (wall: `wallSince`).
        case active(since: Instant, wallSince: Int64, cause: Cause)
    }

    /// What to tell people.
    public enum Event: Sendable, Hashable {
        case started(Cause, wall: Int64)
        /// Ended after `lasted` ms; started at `wallSince`.
        case ended(Cause, wallSince: Int64, lasted: Int64)
        /// Still on, since `wallSince`.
        case reminder(Cause, wallSince: Int64, lasted: Int64)
    }

    public let policy: AlertPolicy
    public private(set) var phase: Phase = .idle
    /// Whether the people were told the current (or last) start: an end is told only after its start was.
    public private(set) var told = false
    /// When the last message about the active alert went out (for `repeat`).
    private var lastTold: Instant?
    /// Muted until then: nothing is told.
    public private(set) var mutedUntil: Instant?
    /// The end of a told alert that came while muted: told when the mute ends.
    private var endedWhileMuted: Event?

    public init(policy: AlertPolicy) { self.policy = policy }

    public var isActive: Bool {
        if case .active = phase { true } else { false }
    }

    /// When ``tick(now:wall:)`` should be called next: the end of `for`, the next reminder, the end of
    /// a mute.
    public var nextDeadline: Instant? {
        var deadlines: [Instant] = []
        if let mutedUntil { deadlines.append(mutedUntil) }
        switch phase {
        case .idle: break
        case .pending(let since, _): deadlines.append(since + policy.holdFor)
        case .active:
            if let every = policy.repeatEvery, let lastTold, mutedUntil == nil { deadlines.append(lastTold + every) }
        }
        return deadlines.min()
    }

    /// The conditions' truth now. `clear`: the `clear` condition's (nil when the alert has none);
    /// `failing`: the condition's sensors whose last read failed.
    public mutating func update(when: Truth, clear: Truth?, failing: [String], now: Instant, wall: Int64) -> [Event] {
        let holding: Cause? =
            if when == .yes { .condition } else if policy.onError, when == .unknown, !failing.isEmpty { .failing(failing) } else { nil }
        switch phase {
        case .idle:
            guard let holding else { return [] }
            phase = .pending(since: now, cause: holding)
            return tick(now: now, wall: wall)
        case .pending(_, let cause):
            guard let holding else {
                phase = .idle
                return []
            }
            if !Self.sameKind(holding, cause) { phase = .pending(since: now, cause: holding) }
            return tick(now: now, wall: wall)
        case .active(let since, let wallSince, let cause):
            let ends: Bool
            switch cause {
            case .condition: ends = policy.hasClear ? clear == .yes : when == .no
            case .failing: ends = failing.isEmpty
            }
            guard ends else {
                // Which sensors fail may change while the error alert is on.
                if case .failing = cause, case .failing(let names)? = holding, Cause.failing(names) != cause {
                    phase = .active(since: since, wallSince: wallSince, cause: .failing(names))
                }
                return []
            }
            phase = .idle
            let ended = Event.ended(cause, wallSince: wallSince, lasted: now - since)
            var events: [Event] = []
            if told {
                if mutedUntil == nil { events.append(ended) } else { endedWhileMuted = ended }
            }
            told = false
            lastTold = nil
            // An error that ends with the condition holding starts the condition's alert.
            if case .failing = cause, holding == .condition || when == .yes {
                events += update(when: when, clear: clear, failing: failing, now: now, wall: wall)
            }
            return events
        }
    }

    private static func sameKind(_ a: Cause, _ b: Cause) -> Bool {
        switch (a, b) {
        case (.condition, .condition), (.failing, .failing): true
        default: false
        }
    }

    /// Time passed: the end of `for`, a reminder, the end of a mute.
    public mutating func tick(now: Instant, wall: Int64) -> [Event] {
        var events: [Event] = []
        if let until = mutedUntil, now >= until {
            events += unmute(now: now, wall: wall)
        }
        switch phase {
        case .idle:
            break
        case .pending(let since, let cause):
            guard now - since >= policy.holdFor else { break }
            // The start is stamped when the condition began to hold, not when `for` ran out.
            let wallSince = wall - (now - since)
            phase = .active(since: since, wallSince: wallSince, cause: cause)
            if mutedUntil == nil {
                told = true
                lastTold = now
                events.append(.started(cause, wall: wallSince))
            } else {
                told = false
            }
        case .active(let since, let wallSince, let cause):
            if mutedUntil == nil, let every = policy.repeatEvery, let last = lastTold, now - last >= every {
                lastTold = now
                events.append(.reminder(cause, wallSince: wallSince, lasted: now - since))
            }
        }
        return events
    }

    /// Takes up an alert that was on when the daemon stopped: on since `wallSince`, its start `told`
    /// or not. Its next answer says whether it is still on (nothing is told again) or over (its end is
    /// told, with how long it lasted).
    /// An alert whose start was not told (a mute, which does not outlive the daemon) is told at the
    /// next tick, as when a mute ends.
    public mutating func restore(since wallSince: Int64, told: Bool, cause: Cause, now: Instant, wall: Int64) {
        // A wall clock set back since (a board without a real-time clock booting in the past) must not
        // put the start in the future.
        phase = .active(since: now + min(0, wallSince - wall), wallSince: wallSince, cause: cause)
        self.told = told
        lastTold = now
        if !told { mutedUntil = now }
    }

    /// Tells nothing until `until`.
    public mutating func mute(until: Instant) {
        mutedUntil = until
    }

    /// Ends a mute: what changed meanwhile is told once.
    public mutating func unmute(now: Instant, wall: Int64) -> [Event] {
        guard mutedUntil != nil else { return [] }
        mutedUntil = nil
        var events: [Event] = []
        if let ended = endedWhileMuted { events.append(ended) }
        endedWhileMuted = nil
        if case .active(_, let wallSince, let cause) = phase {
            lastTold = now
            if !told { events.append(.started(cause, wall: wallSince)) }
            told = true
        }
        return events
    }
}
