public import PerchIO

/// What is known of a sensor now.
public enum SensorState: Hashable, Sendable {
    case unknown
    case ok(Reading)
    /// The last read failed; `since` is when the failures began (ms since the epoch).
    case failed(SensorError, since: Int64)
}

/// Reads each sensor at its interval on the event loop and reports what its ``ReportPolicy`` lets
/// through. A failing sensor reports its error once (never its last good value as if it were current)
/// and is retried with back-off until it reads again. Slow sources (1-Wire, commands) are read off the
/// loop's thread; everything else is a sysfs read of a few bytes.
public final class SensorMonitor {
    public struct Sensor {
        public let spec: SensorSpec
        public internal(set) var state: SensorState = .unknown
        var policy: ReportPolicy
        var failures = 0
        var timer: EventLoop.Timer?
        var reading = false
    }

    public private(set) var sensors: [String: Sensor] = [:]
    public let order: [String]
    /// A reading that passed the deadband/heartbeat policy.
    public var onReading: ((Reading) -> Void)?
    /// A sensor started failing (called once per failure streak).
    public var onFailure: ((String, SensorError) -> Void)?
    /// A failing sensor reads again.
    public var onRecovery: ((String) -> Void)?
    /// Every sample, read or failed, whatever the report policy lets through (conditions of alerts
    /// and rules are evaluated on each).
    public var onSample: ((String) -> Void)?
    /// Reads a GPIO input's state by its name, for `gpio` sources.
    public var gpioState: ((String) -> Bool?)?

    private let loop: EventLoop
    private let reader: SysfsReader
    private var running = false

    public init(loop: EventLoop, specs: [SensorSpec], reader: SysfsReader) {
        self.loop = loop
        self.reader = reader
        order = specs.map(\.name)
        for spec in specs {
            sensors[spec.name] = Sensor(spec: spec, policy: ReportPolicy(precision: spec.precision, deadband: spec.deadband, heartbeat: spec.heartbeat))
        }
    }

    /// Reads every sensor now, then each at its interval.
    public func start() {
        guard !running else { return }
        running = true
        for name in order { sample(name) }
    }

    public func stop() {
        running = false
        for name in order { sensors[name]?.timer?.cancel() }
    }

    /// The delay before the next read: the interval, or after failures a back-off doubling up to
    /// five minutes (or the interval, if that is longer).
    static func nextDelay(interval: Int64, failures: Int) -> Int64 {
        guard failures > 0 else { return interval }
        let cap = max(interval, 300_000)
        var d = interval
        for _ in 0..<min(failures, 20) {
            d *= 2
            if d >= cap { return cap }
        }
        return d
    }

    private func schedule(_ name: String) {
        guard running, let s = sensors[name] else { return }
        sensors[name]?.timer = loop.schedule(after: Self.nextDelay(interval: s.spec.interval, failures: s.failures)) { [weak self] in
            self?.sample(name)
        }
    }

    private func sample(_ name: String) {
        guard let s = sensors[name], !s.reading else { return }
        let spec = s.spec
        if spec.source.isSlow {
            sensors[name]?.reading = true
            let reader = self.reader
            loop.background({ () -> Result<SourceValue, SensorError> in
                Result { () throws(SensorError) -> SourceValue in try Self.read(spec.source, reader) }
            }) { [weak self] result in
                guard let self else { return }
                self.sensors[name]?.reading = false
                self.record(name, result)
                self.schedule(name)
            }
        } else {
            record(name, readFast(spec.source))
            schedule(name)
        }
    }

    /// Reads one sensor at once, whatever its schedule, for the `read` command and `perch sensors read`
    /// (a slow source blocks the caller; the CLI does not mind, the daemon uses ``sensors`` states).
    public func readNow(_ name: String) -> SensorState {
        guard let s = sensors[name] else { return .unknown }
        let result = s.spec.source.isSlow ? Result { () throws(SensorError) -> SourceValue in try Self.read(s.spec.source, reader) } : readFast(s.spec.source)
        switch result {
        case .success(let v): return .ok(reading(s.spec, v, policy: s.policy))
        case .failure(let e): return .failed(e, since: Self.wallNow())
        }
    }

    /// A sensor's value now, without blocking the event loop: a fresh read for fast sources, the
    /// last sample for slow ones (a 1-Wire conversion or a command would hold the loop up).
    public func current(_ name: String) -> SensorState {
        guard let s = sensors[name] else { return .unknown }
        return s.spec.source.isSlow ? s.state : readNow(name)
    }

    private func readFast(_ source: SensorSource) -> Result<SourceValue, SensorError> {
        if case .gpio(let input) = source {
            guard let state = gpioState?(input) else { return .failure(SensorError("input \(input) cannot be read")) }
            return .success(SourceValue(.boolean(state), ""))
        }
        return Result { () throws(SensorError) -> SourceValue in try Self.read(source, reader) }
    }

    static func read(_ source: SensorSource, _ reader: SysfsReader) throws(SensorError) -> SourceValue {
        if case .command(let argv, let timeout, let key) = source { return try CommandSource.read(argv: argv, timeout: timeout, key: key) }
        return try reader.read(source)
    }

    private func reading(_ spec: SensorSpec, _ v: SourceValue, policy: ReportPolicy) -> Reading {
        Reading(sensor: spec.name, value: policy.rounded(v.value), unit: spec.unit ?? v.unit, timestamp: Self.wallNow())
    }

    private func record(_ name: String, _ result: Result<SourceValue, SensorError>) {
        guard var s = sensors[name] else { return }
        switch result {
        case .success(let v):
            let r = reading(s.spec, v, policy: s.policy)
            let recovered = s.failures > 0
            s.failures = 0
            s.state = .ok(r)
            if recovered { s.policy.reset() }
            let report = s.policy.offer(r.value, now: Instant.now().milliseconds)
            sensors[name] = s
            if recovered { onRecovery?(name) }
            // Conditions first, so what a reading reports (presence) already shows the alerts it started or ended.
            onSample?(name)
            if report { onReading?(r) }
        case .failure(let e):
            s.failures += 1
            let first = s.failures == 1
            if case .failed(_, let since) = s.state, !first {
                s.state = .failed(e, since: since)
            } else {
                s.state = .failed(e, since: Self.wallNow())
            }
            sensors[name] = s
            if first { onFailure?(name, e) }
            onSample?(name)
        }
    }

    static func wallNow() -> Int64 {
        let w = WallClock.now()
        return w.seconds * 1000 + Int64(w.millis)
    }
}
