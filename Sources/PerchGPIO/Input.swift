public import PerchIO

/// One input as the configuration declares it.
public struct InputSpec: Hashable, Sendable {
    public var name: String
    public var line: LineAddress
    public var activeLow = false
    public var bias: Bias = .asIs
    /// Software debounce, in milliseconds: a change is reported once the line has been quiet this long.
    /// 0 reports every edge.
    public var debounce: Int64 = 20
    /// What the input's two states are called in chat, status and presence (`door open`).
    public var onWord = "on"
    public var offWord = "off"

    /// The word for a value.
    public func word(_ value: Bool) -> String { value ? onWord : offWord }

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

/// An input line: its current value, and changes delivered from the kernel's edge events, debounced in
/// software. Nothing polls; between edges the input costs nothing.
///
/// Debouncing: every edge restarts a timer of ``InputSpec/debounce``; when it fires the line is read,
/// and a change is reported if the value differs from the last one reported. The change carries the
/// timestamp of the first edge of the burst, which is when the contact actually moved.
public final class Input {
    public private(set) var spec: InputSpec
    public var name: String { spec.name }
    /// The last value reported (or read at start).
    public private(set) var value: Bool
    /// Called on the event loop for each debounced change.
    public var onChange: ((Input, InputChange) -> Void)?
    /// Called when the line cannot be read after an edge.
    public var onFailure: ((GPIOError) -> Void)?
    /// Edges seen, including those the debounce absorbed.
    public private(set) var edgeCount = 0

    private var line: (any InputLine)?
    private let loop: EventLoop
    private var settleTimer: EventLoop.Timer?
    private var burstStart: UInt64?

    public init(spec: InputSpec, backend: any GPIOBackend, loop: EventLoop, consumer: String = "perch") throws(GPIOError) {
        self.spec = spec
        self.loop = loop
        value = false
        let line = try backend.requestInput(spec.line, consumer: consumer, activeLow: spec.activeLow, bias: spec.bias) { [weak self] events in
            self?.edges(events)
        }
        self.line = line
        value = try line.get()
    }

    /// Reads the line now (not debounced).
    public func read() throws(GPIOError) -> Bool {
        guard let line else { throw .failed(spec.line, operation: "reading", message: "the line was released") }
        return try line.get()
    }

    /// Takes a new name or new state words (a reload); the line, its value and a debounce in
    /// progress are kept.
    public func update(_ new: InputSpec) {
        var a = new, b = spec
        (a.name, a.onWord, a.offWord) = ("", "", "")
        (b.name, b.onWord, b.offWord) = ("", "", "")
        precondition(a == b, "Input.update with other line settings; request the line again")
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
        if spec.debounce <= 0 {
            for e in events {
                let v = e.edge == .rising
                if v != value { report(v, at: e.monotonicNanoseconds) }
            }
            return
        }
        if burstStart == nil { burstStart = events[0].monotonicNanoseconds }
        settleTimer?.cancel()
        settleTimer = loop.schedule(after: spec.debounce) { [weak self] in self?.settled() }
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
