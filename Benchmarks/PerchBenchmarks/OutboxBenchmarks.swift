import Benchmark
import Glibc
import PerchIO
import PerchLog
import PerchStore

/// The outbox while the server is out of reach: 100,000 readings waiting on disk, and each new one
/// added and committed on its own (as with `commit_interval = 0`, or each timer tick of a board
/// that takes one reading per interval). What matters is that the cost of a commit does not grow
/// with the backlog.
enum OutboxBacklog {
    static let backlog = 100_000

    /// A pubsub item as the agent stores it: about 300 bytes.
    static func payload(_ i: Int) -> String {
        "<item id='k3x9q-\(i)'><fields xmlns='urn:xmpp:iot:sensordata'><node nodeId='greenhouse'><timestamp value='2026-11-21T17:20:31.898Z'><numeric name='air' momentary='true' automaticReadout='true' value='21.4' unit='°C' nrDecimals='1'/><numeric name='soil' momentary='true' value='38' unit='%' nrDecimals='0'/></timestamp></node></fields></item>"
    }

    /// An outbox in a new directory holding `backlog` entries, committed in one transaction.
    static func filled(_ dir: String, limits: OutboxLimits, loop: EventLoop, logger: Logger) -> Outbox {
        let o = Outbox(path: "\(dir)/outbox.db", limits: limits, commitInterval: 3_600_000, loop: loop, logger: logger)
        let now = WallClock.milliseconds()
        for i in 0..<backlog { o.add(payload: payload(i), takenAt: now) }
        o.commit()
        precondition(o.count == backlog && !o.memoryOnly, "the backlog was not written")
        return o
    }
}

/// One benchmark's outbox, filled once by its setup (not for each sample).
final class OutboxBacklogState {
    var dir = ""
    var loop: EventLoop?
    var outbox: Outbox?
    var added = 0
}

func outboxBenchmarks() {
    let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal, .throughput]
    let logger = Logger(label: "bench", level: .error, format: .bare, sink: { _ in })
    for (name, limits) in [
        ("under its limits", OutboxLimits(maxCount: 1_000_000, maxBytes: 1 << 30)),
        ("at its count limit, dropping the oldest", OutboxLimits(maxCount: OutboxBacklog.backlog, maxBytes: 1 << 30)),
    ] {
        let state = OutboxBacklogState()
        Benchmark(
            "Outbox: add + commit with \(OutboxBacklog.backlog) entries waiting, \(name)",
            configuration: .init(metrics: metrics, scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 2000),
            closure: { benchmark in
                guard let o = state.outbox else { fatalError("no outbox: the setup failed") }
                let now = WallClock.milliseconds()
                for _ in benchmark.scaledIterations {
                    state.added += 1
                    o.add(payload: OutboxBacklog.payload(OutboxBacklog.backlog + state.added), takenAt: now)
                    o.commit()
                }
                blackHole(o.count)
            },
            setup: {
                state.dir = try makeTemporaryDirectory("perch-bench-outbox")
                let loop = try EventLoop()
                state.loop = loop
                state.outbox = OutboxBacklog.filled(state.dir, limits: limits, loop: loop, logger: logger)
            },
            teardown: {
                state.outbox = nil
                state.loop = nil
                _ = system("rm -rf '\(state.dir)'")
            })
    }
}

/// Opening an outbox of 100,000 entries (about 40 MB) after a clean close, and after a run that did
/// not close it (as after a crash or a power cut). The file is in the page cache here: on a board's
/// SD card the full check's reading costs far more than it does in this benchmark.
func outboxOpeningBenchmarks() {
    let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .mallocCountTotal]
    let logger = Logger(label: "bench", level: .error, format: .bare, sink: { _ in })
    for clean in [true, false] {
        let state = OutboxBacklogState()
        Benchmark(
            "Outbox: open with \(OutboxBacklog.backlog) entries waiting, \(clean ? "closed cleanly" : "not closed by the last run")",
            configuration: .init(metrics: metrics, scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 200),
            closure: { benchmark in
                // The opening only: closing (cleanly again, or not so the next opening checks all of
                // it) is not measured.
                benchmark.startMeasurement()
                let o = Outbox(path: "\(state.dir)/outbox.db", loop: nil, logger: logger)
                benchmark.stopMeasurement()
                precondition(o.count == OutboxBacklog.backlog && !o.memoryOnly, "the backlog was not read back")
                if clean { o.close() }
            },
            setup: {
                state.dir = try makeTemporaryDirectory("perch-bench-outbox")
                let loop = try EventLoop()
                let o = OutboxBacklog.filled(state.dir, limits: OutboxLimits(maxCount: 1_000_000, maxBytes: 1 << 30), loop: loop, logger: logger)
                if clean { o.close() }
            },
            teardown: {
                _ = system("rm -rf '\(state.dir)'")
            })
    }
}
