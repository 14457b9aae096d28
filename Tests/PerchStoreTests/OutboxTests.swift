import Glibc
import Testing
import PerchIO
import PerchLog
@testable import PerchStore

/// Log lines a test can read back.
final class LogLines: @unchecked Sendable {
    private var lines: [String] = []
    private let lock = NSLockish()
    var logger: Logger { Logger(label: "outbox", level: .debug, format: .bare) { [self] l in lock.with { lines.append(l) } } }
    var all: [String] { lock.with { lines } }
    func contains(_ s: String) -> Bool { all.contains { $0.contains(s) } }
}

/// A pthread mutex; Foundation's NSLock is not linked here.
final class NSLockish: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    func with<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return body()
    }
}

@Suite struct OutboxTests {
    let dir: String
    init() throws { dir = try makeTemporaryDirectory("perch-outbox") }

    func open(_ limits: OutboxLimits = .init(), log: LogLines = LogLines()) -> Outbox {
        Outbox(path: "\(dir)/outbox.db", limits: limits, commitInterval: 5000, loop: nil, logger: log.logger)
    }

    @Test func entriesSurviveReopeningInOrder() {
        let now = WallClock.milliseconds()
        var epoch = ""
        do {
            let o = open()
            epoch = o.epoch
            for i in 1...5 { o.add(payload: "<item n='\(i)'/>", takenAt: now + Int64(i)) }
            o.remove(2)
            #expect(o.count == 4)
        }
        let o = open()
        #expect(o.epoch == epoch, "the epoch is kept with the database")
        #expect(o.count == 4)
        #expect(o.items(after: 0, limit: 10).map(\.seq) == [1, 3, 4, 5])
        #expect(o.items(after: 3, limit: 1).map(\.payload) == ["<item n='4'/>"])
        // Sequence numbers never go back, even after the newest entries were delivered.
        o.remove(5)
        o.commit()
        #expect(open().add(payload: "x", takenAt: now).seq > 5)
    }

    @Test func numbersUsedBeforeACrashAreNeverUsedAgain() throws {
        let now = WallClock.milliseconds()
        var used: [Int64] = []
        do {
            // Delivered before any commit, then the process dies (nothing is committed at deinit).
            let o = Outbox(path: "\(dir)/outbox.db", commitInterval: 60_000, loop: try EventLoop(), logger: LogLines().logger)
            for _ in 1...3 {
                let e = o.add(payload: "live", takenAt: now)
                used.append(e.seq)
                o.remove(e.seq)
            }
        }
        let next = open().add(payload: "after", takenAt: now).seq
        #expect(next > used.max()!, "item ids name one reading each, across crashes")
    }

    @Test func stagedEntriesDeliveredBeforeACommitNeverReachTheDisk() throws {
        let log = LogLines()
        let o = Outbox(path: "\(dir)/outbox.db", commitInterval: 60_000, loop: try EventLoop(), logger: log.logger)
        let now = WallClock.milliseconds()
        let a = o.add(payload: "a", takenAt: now)
        let b = o.add(payload: "b", takenAt: now)
        o.remove(a.seq)
        #expect(o.items(after: 0, limit: 10).map(\.seq) == [b.seq], "staged entries are visible before the commit")
        o.commit()
        let other = open()
        #expect(other.items(after: 0, limit: 10).map(\.payload) == ["b"])
    }

    @Test func theOldestAreDroppedPastTheLimitsAndCounted() {
        let log = LogLines()
        let now = WallClock.milliseconds()
        let o = open(OutboxLimits(maxCount: 3, maxBytes: 1 << 20, maxAge: 86_400_000), log: log)
        o.add(payload: "ancient", takenAt: now - 2 * 86_400_000)
        for i in 1...5 { o.add(payload: "p\(i)", takenAt: now) }
        o.commit()
        #expect(o.items(after: 0, limit: 10).map(\.payload) == ["p3", "p4", "p5"])
        #expect(o.dropped == 3)
        #expect(log.contains("outbox full: dropped the 1 oldest entry"), "each add commits at once without a loop")
        #expect(open().dropped == 3, "the drop count is kept")

        let bytes = Outbox(path: "\(dir)/bytes.db", limits: OutboxLimits(maxCount: 100, maxBytes: 10, maxAge: 86_400_000), loop: nil, logger: log.logger)
        for i in 1...4 { bytes.add(payload: "1234\(i)", takenAt: now) }
        #expect(bytes.items(after: 0, limit: 10).map(\.payload) == ["12343", "12344"])
    }

    @Test func aDamagedDatabaseIsMovedAsideAndANewOneStarted() throws {
        let path = "\(dir)/outbox.db"
        try writeFileAtomically(path, Array(repeating: UInt8(0x5a), count: 8192))
        let log = LogLines()
        let o = open(log: log)
        #expect(!o.memoryOnly)
        #expect(log.contains("is damaged"), "\(log.all)")
        #expect(directoryEntries(dir)?.contains { $0.hasPrefix("outbox.db.damaged-") } == true)
        o.add(payload: "fresh", takenAt: WallClock.milliseconds())
        o.commit()
        #expect(open().items(after: 0, limit: 10).map(\.payload) == ["fresh"])
    }

    @Test func aDatabaseDamagedInsideIsFoundAtOpening() throws {
        let path = "\(dir)/outbox.db"
        do {
            let o = open()
            for i in 1...200 { o.add(payload: String(repeating: "x", count: 200) + "\(i)", takenAt: WallClock.milliseconds()) }
            o.commit()
        }
        // Scribble over the middle of the file (past the header), where the table's pages are.
        let fd = Glibc.open(path, O_WRONLY)
        try #require(fd >= 0)
        let junk = [UInt8](repeating: 0xff, count: 4096)
        _ = junk.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, 8192) }
        close(fd)
        removeFile(path + "-wal")
        let log = LogLines()
        let o = open(log: log)
        #expect(log.contains("is damaged"), "\(log.all)")
        #expect(o.count == 0)
    }

    @Test func anUnwritableDirectoryFallsBackToMemory() {
        let log = LogLines()
        let o = Outbox(path: "/proc/perch-no-such-dir/outbox.db", loop: nil, logger: log.logger)
        #expect(o.memoryOnly)
        #expect(log.contains("kept in memory only"))
        o.add(payload: "m", takenAt: WallClock.milliseconds())
        #expect(o.items(after: 0, limit: 5).map(\.payload) == ["m"])
    }
}
