/// Decides which readings are worth sending: the first, any that moved by more than the deadband since
/// the last one sent, and one at least every heartbeat. Pure, so it is tested without timers.
public struct ReportPolicy: Sendable {
    public var precision: Int
    public var deadband: Double?
    public var heartbeat: Int64?
    public private(set) var lastReported: SensorValue?
    public private(set) var lastReportAt: Int64?

    public init(precision: Int, deadband: Double?, heartbeat: Int64?) {
        self.precision = precision
        self.deadband = deadband
        self.heartbeat = heartbeat
    }

    /// The value rounded to the sensor's precision.
    public func rounded(_ v: SensorValue) -> SensorValue {
        guard case .number(let d) = v else { return v }
        let p = Double(Self.powerOfTen(max(0, min(precision, 9))))
        return .number((d * p).rounded() / p)
    }

    static func powerOfTen(_ n: Int) -> Int { (0..<n).reduce(1) { r, _ in r * 10 } }

    /// Whether `value` (already rounded) read at `now` (ms, monotonic) should be reported; records it
    /// as reported if so.
    public mutating func offer(_ value: SensorValue, now: Int64) -> Bool {
        let report: Bool
        if let last = lastReported, let at = lastReportAt {
            if let heartbeat, now - at >= heartbeat {
                report = true
            } else {
                switch (last, value) {
                case (.number(let a), .number(let b)):
                    if let deadband { report = abs(b - a) > deadband } else { report = a != b }
                default:
                    report = last != value
                }
            }
        } else {
            report = true
        }
        if report {
            lastReported = value
            lastReportAt = now
        }
        return report
    }

    /// Forget the last report, so the next value is sent whatever it is (after an error, say).
    public mutating func reset() {
        lastReported = nil
        lastReportAt = nil
    }
}
