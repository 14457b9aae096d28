public import PerchIO

/// One input as the configuration declares it.
public struct InputSpec: Hashable, Sendable {
    public var name: String
    public var line: LineAddress
    public var activeLow = false
    public var bias: Bias = .asIs
    /// Debounce, in milliseconds: a change is reported once the line has been quiet this long. 0 reports
    /// every edge. The kernel does it where the backend can ask it to (libgpiod v2), else ``Input`` does,
    /// in software; ``Input/debounce`` says which.
    public var debounce: Int64 = 20
    /// What the input's two states are called in chat, status and presence (`door open`).
    public var onWord = "on"
    public var offWord = "off"

    /// The word for a value.
    public func word(_ value: Bool) -> String { value ? onWord : offWord }

    /// Whether `other` asks the same of the line (line, active-low, bias, debounce); the name and
    /// the state words are Perch's own and change without requesting the line again.
    public func sameLineSettings(_ other: InputSpec) -> Bool {
        var a = self, b = other
        (a.name, a.onWord, a.offWord) = ("", "", "")
        (b.name, b.onWord, b.offWord) = ("", "", "")
        return a == b
    }

    public init(name: String, line: LineAddress) {
        self.name = name
        self.line = line
    }
}

/// A reported change of an input.
public struct InputChange: Hashable, Sendable {
    public var value: Bool
    /// The kernel's timestamp of the edge that started the change (CLOCK_MONOTONIC ns).
    public var monotonicNanoseconds: UInt64
    /// The same moment on the wall clock, in milliseconds since the epoch.
    public var wallClockMilliseconds: Int64
}

/// Who debounces an input's edges.
public enum Debounce: Hashable, Sendable, CustomStringConvertible {
    /// Every edge is a change (``InputSpec/debounce`` is 0).
    case none
    /// ``Input`` does, with a timer on the event loop.
    case software(milliseconds: Int64)
    /// The kernel does (the GPIO driver in hardware, or gpiolib's character device in software), and
    /// delivers only settled edges; ``Input`` reports each of them.
    case kernel(microseconds: UInt32)

    public var description: String {
        switch self {
        case .none: "no debounce"
        case .software(let ms): "debounce \(ms) ms in software"
        case .kernel(let us): us % 1000 == 0 ? "debounce \(us / 1000) ms by the kernel" : "debounce \(us) µs by the kernel"
        }
    }
}

/// An input line: its current value, and changes delivered from the kernel's edge events, debounced.
/// Nothing polls; between edges the input costs nothing.
///
/// Debouncing is done once, by the kernel where the backend asked it to and it agreed
/// (``InputLine/kernelDebounceMicroseconds``), else here in software: every edge restarts a timer of
/// ``InputSpec/debounce``; when it fires the line is read, and a change is reported if the value
/// differs from the last one reported. A software-debounced change carries the timestamp of the first
/// edge of the burst, which is when the contact actually moved; a kernel-debounced one carries the
/// kernel's timestamp of the settled edge, which gpiolib takes when the line has been quiet for the
/// period (so up to one period later than the first bounce).
public final class Input {
    public private(set) var spec: InputSpec
    public var name: String { spec.name }
    /// The last value reported (or read at start).
    public private(set) var value: Bool
    /// Called on the event loop for each debounced change.
    public var onChange: ((Input, InputChange) -> Void)?
    /// Called when the line cannot be read after an edge.
    public var onFailure: ((GPIOError) -> Void)?
    /// Edges seen, including those the software debounce absorbed (the kernel's delivers no bounces).
    public private(set) var edgeCount = 0
    /// Who debounces this input's edges.
    public private(set) var debounce: Debounce = .none

    private var line: (any InputLine)?
    private let loop: EventLoop
    private var settleTimer: EventLoop.Timer?
    private var burstStart: UInt64?

    public init(spec: InputSpec, backend: any GPIOBackend, loop: EventLoop, consumer: String = "perch") throws(GPIOError) {
        self.spec = spec
        self.loop = loop
        value = false
        let line = try backend.requestInput(
            spec.line, consumer: consumer, activeLow: spec.activeLow, bias: spec.bias, debounceMilliseconds: max(spec.debounce, 0)
        ) { [weak self] events in
            self?.edges(events)
        }
        self.line = line
        if spec.debounce <= 0 {
            debounce = .none
        } else if line.kernelDebounceMicroseconds > 0 {
            debounce = .kernel(microseconds: line.kernelDebounceMicroseconds)
        } else {
            debounce = .software(milliseconds: spec.debounce)
        }
        value = try line.get()
    }

    /// Reads the line now: not debounced by Perch; where the kernel debounces, it reports the level the
    /// line last settled at (a change shows once it has been quiet for the period).
    public func read() throws(GPIOError) -> Bool {
        guard let line else { throw .failed(spec.line, operation: "reading", message: "the line was released") }
        return try line.get()
    }

    /// Takes a new name or new state words (a reload); the line, its value and a debounce in
    /// progress are kept.
    public func update(_ new: InputSpec) {
        precondition(new.sameLineSettings(spec), "Input.update with other line settings; request the line again")
        spec = new
    }

    public func release() {
        settleTimer?.cancel()
        line?.release()
        line = nil
    }

    private func edges(_ events: [LineEvent]) {
        guard !events.isEmpty else { return }
        edgeCount += events.count
        guard case .software(let ms) = debounce else {
            // No debounce, or the kernel's: each edge is a change (when it changes the value).
            for e in events {
                let v = e.edge == .rising
                if v != value { report(v, at: e.monotonicNanoseconds) }
            }
            return
        }
        if burstStart == nil { burstStart = events[0].monotonicNanoseconds }
        settleTimer?.cancel()
        settleTimer = loop.schedule(after: ms) { [weak self] in self?.settled() }
    }

    private func settled() {
        settleTimer = nil
        let start = burstStart ?? 0
        burstStart = nil
        let now: Bool
        do { now = try read() } catch { onFailure?(error); return }
        if now != value { report(now, at: start) }
    }

    private func report(_ v: Bool, at ns: UInt64) {
        value = v
        onChange?(self, InputChange(value: v, monotonicNanoseconds: ns, wallClockMilliseconds: Self.wallClock(fromMonotonic: ns)))
    }

    /// A CLOCK_MONOTONIC timestamp on the wall clock, by the current offset between the two clocks.
    static func wallClock(fromMonotonic ns: UInt64) -> Int64 {
        let monoNow = Instant.now().milliseconds
        let wall = WallClock.now()
        let wallNow = wall.seconds * 1000 + Int64(wall.millis)
        return wallNow - (monoNow - Int64(ns / 1_000_000))
    }
}
