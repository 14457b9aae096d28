public import PerchIO

/// How an output starts when the daemon starts.
public enum InitialState: String, Hashable, Sendable, CaseIterable {
    case off, on
    /// The last state the daemon set, kept on disk (off when nothing was kept).
    case restore
}

/// One output as the configuration declares it.
public struct OutputSpec: Hashable, Sendable {
    public var name: String
    public var line: LineAddress
    public var activeLow = false
    public var initial: InitialState = .off
    /// The state applied when the daemon stops; nil leaves the line as it is.
    public var safeState: Bool? = false
    /// The longest pulse accepted, in milliseconds.
    public var maxPulse: Int64 = 60_000
    /// The shortest time between two switches a command may cause (ms), so a relay is never driven
    /// faster than it can follow; 0 allows any pace. The configuration's default is 100 ms
    /// (`min_switch_interval`); a spec built in code starts at 0.
    public var minSwitchInterval: Int64 = 0

    /// Whether `other` asks the same of the line (which line, active-low); the rest is Perch's own
    /// and changes without requesting the line again.
    public func sameLineSettings(_ other: OutputSpec) -> Bool { line == other.line && activeLow == other.activeLow }

    public init(name: String, line: LineAddress) {
        self.name = name
        self.line = line
    }
}

/// Why an output command was refused.
public enum OutputError: Error, Hashable, Sendable, CustomStringConvertible {
    case pulseTooLong(requested: Int64, maximum: Int64)
    case invalidPulse(Int64)
    case gpio(GPIOError)

    public var description: String {
        switch self {
        case .pulseTooLong(let r, let m): "a pulse of \(describeDuration(r)) is longer than this output's max_pulse of \(describeDuration(m))"
        case .invalidPulse(let r): "a pulse must last longer than 0 ms (got \(r) ms)"
        case .gpio(let e): e.description
        }
    }
}

/// An output line with the behaviour users expect of a relay or a LED: on, off, toggle, and pulses that
/// always end where they started.
///
/// The output has a *resting* state, what it returns to after a pulse. A pulse drives the line to the
/// opposite of the resting state and schedules the return on the event loop. A second pulse during the
/// first restarts the timer and still returns to the original resting state (never to the pulse's own
/// level, the classic stuck-relay bug). `set` and `toggle` during a pulse end it: what the user asked
/// for becomes the new resting state.
public final class Output {
    public private(set) var spec: OutputSpec
    public var name: String { spec.name }
    /// The level the line is driven to now (logical: true = on).
    public private(set) var state: Bool
    /// The level outside any pulse.
    public private(set) var resting: Bool
    /// When the running pulse ends, if one runs.
    public private(set) var pulseEnds: Instant?
    /// When the line last changed level (a command, or the end of a pulse); nil before the first change.
    public private(set) var lastSwitch: Instant?
    /// Called after every change of ``state``.
    public var onChange: ((Output) -> Void)?

    private let line: any OutputLine
    private let loop: EventLoop
    private let stateStore: OutputStateStore?
    /// Only an output that comes back as it was needs its state written down on every change.
    private var store: OutputStateStore? { spec.initial == .restore ? stateStore : nil }
    private var pulseTimer: EventLoop.Timer?

    /// Requests the line and drives it to its initial state.
    public init(spec: OutputSpec, backend: any GPIOBackend, loop: EventLoop, store: OutputStateStore?, consumer: String = "perch") throws(GPIOError) {
        self.spec = spec
        self.loop = loop
        stateStore = store
        let initial: Bool
        switch spec.initial {
        case .off: initial = false
        case .on: initial = true
        case .restore: initial = store?.value(for: spec.name) ?? false
        }
        line = try backend.requestOutput(spec.line, consumer: consumer, activeLow: spec.activeLow, initial: initial)
        state = initial
        resting = initial
    }

    public var isPulsing: Bool { pulseEnds != nil }

    /// How long ago the line last changed level, when that is less than ``OutputSpec/minSwitchInterval``
    /// (a switch now would come too soon); nil when a switch may come now.
    public func switchedTooRecently(now: Instant? = nil) -> Int64? {
        let now = now ?? loop.now
        guard spec.minSwitchInterval > 0, let last = lastSwitch else { return nil }
        let since = now - last
        return since < spec.minSwitchInterval ? since : nil
    }

    /// Drives the output on or off (ending a pulse) and remembers it as the resting state.
    public func set(_ on: Bool) throws(OutputError) {
        endPulse()
        resting = on
        try drive(on)
        store?.set(on, for: spec.name)
    }

    /// Flips what the output shows now; returns the new state.
    @discardableResult
    public func toggle() throws(OutputError) -> Bool {
        let target = !state
        try set(target)
        return target
    }

    /// Drives the output away from its resting state for `milliseconds`, then back.
    public func pulse(milliseconds: Int64) throws(OutputError) {
        guard milliseconds > 0 else { throw .invalidPulse(milliseconds) }
        guard milliseconds <= spec.maxPulse else { throw .pulseTooLong(requested: milliseconds, maximum: spec.maxPulse) }
        pulseTimer?.cancel()
        try drive(!resting)
        pulseEnds = loop.now + milliseconds
        pulseTimer = loop.schedule(after: milliseconds) { [weak self] in
            guard let self else { return }
            self.pulseTimer = nil
            self.pulseEnds = nil
            // A failure here leaves the line at the pulse level; say so, the caller cannot.
            do throws(OutputError) { try self.drive(self.resting) } catch { self.onFailure?(error) }
        }
    }

    /// Takes settings that leave the line as it is (a reload): the name, the initial state, the safe
    /// state, the pulse and switch limits. The line, its state and a running pulse are kept.
    public func update(_ new: OutputSpec) {
        precondition(new.sameLineSettings(spec), "Output.update with other line settings; request the line again")
        spec = new
        store?.set(resting, for: spec.name)
    }

    /// Called when the end of a pulse could not restore the line (the caller of `pulse` has gone).
    public var onFailure: ((OutputError) -> Void)?

    /// The state the kernel reports for the line.
    public func readBack() throws(GPIOError) -> Bool { try line.get() }

    /// Applies the safe state (if there is one) and releases the line: for shutdown.
    public func shutdown() {
        endPulse()
        if let safe = spec.safeState { try? drive(safe) }
        line.release()
    }

    private func endPulse() {
        pulseTimer?.cancel()
        pulseTimer = nil
        pulseEnds = nil
    }

    private func drive(_ on: Bool) throws(OutputError) {
        do { try line.set(on) } catch { throw .gpio(error) }
        if state != on {
            state = on
            lastSwitch = loop.now
            onChange?(self)
        }
    }

}
