import Glibc
import Testing
import PerchIO
import PerchLog
@testable import PerchStore

/// Opening reads all of the database only when that is cheap or when the last run did not close it:
/// after a clean close it reads a few pages, whatever the backlog. Damage is still found.
@Suite final class OutboxOpeningTests {
    let dir: String
    let path: String
    /// Enough entries for a file past `Outbox.fullCheckUpTo`.
    let backlog = 5000

    init() throws {
        dir = try makeTemporaryDirectory("perch-outbox-open")
        path = "\(dir)/outbox.db"
    }
    deinit { _ = system("rm -rf '\(dir)'") }

    func size(_ file: String) -> Int {
        var st = stat()
        return stat(file, &st) == 0 ? Int(st.st_size) : -1
    }

    /// Opens the outbox, returning it with the statements the opening ran and its log.
    func reopen() -> (Outbox, [StatementRun], LogLines) {
        let statements = StatementLog()
        let log = LogLines()
        let o = Outbox(path: path, commitInterval: 0, loop: nil, logger: log.logger, observer: { statements.record($0) })
        return (o, statements.take(), log)
    }

    func ranFullCheck(_ runs: [StatementRun]) -> Bool { runs.contains { $0.sql.hasPrefix("PRAGMA quick_check") } }

    /// A large outbox closed cleanly.
    func closedCleanly() throws {
        let o = try outboxWithBacklog(path, backlog)
        o.close()
        try #require(size(path) > Outbox.fullCheckUpTo)
        try #require(!fileExists(path + "-wal"))
    }

    /// Overwrites one page of the file with 0xff.
    func scribble(page: Int) throws {
        let fd = Glibc.open(path, O_WRONLY)
        try #require(fd >= 0)
        let junk = [UInt8](repeating: 0xff, count: 4096)
        let written = junk.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, off_t(page * 4096)) }
        close(fd)
        try #require(written == 4096)
    }

    @Test func afterACleanCloseOpeningReadsAFewPagesNotAllOfThem() throws {
        try closedCleanly()
        do {
            let (o, runs, log) = reopen()
            #expect(o.openingCheck == .bounded)
            #expect(!ranFullCheck(runs), "\(runs.map(\.sql))")
            #expect(runs.allSatisfy { $0.fullScanSteps == 0 }, "the entries are not counted one by one: \(runs.filter { $0.fullScanSteps > 0 }.map(\.sql))")
            #expect(log.contains("closed cleanly last time; checked its header and its first and last entries, not all 1."), "\(log.all)")
            #expect(log.contains("\(backlog) entries waiting from before"))
            // The count and size recorded at close are the ones the limits work from.
            #expect(o.count == backlog)
            #expect(o.items(after: 0, limit: 2).map(\.seq) == [1, 2])
            #expect(o.add(payload: "after", takenAt: WallClock.milliseconds()).seq > Int64(backlog))
            // Dropped without close(): as after a crash.
        }
        let (o, runs, log) = reopen()
        #expect(o.openingCheck == .full, "the record of the clean close was removed when it was opened")
        #expect(ranFullCheck(runs))
        #expect(log.contains("checked all of it (1."), "\(log.all)")
        #expect(log.contains("the last run did not close it"))
        #expect(o.count == backlog + 1)
    }

    @Test func aRunThatNeverClosedItMeansAFullCheck() throws {
        do { _ = try outboxWithBacklog(path, backlog) }
        let (o, runs, log) = reopen()
        #expect(o.openingCheck == .full)
        #expect(ranFullCheck(runs))
        #expect(log.contains("the last run did not close it"), "\(log.all)")
        #expect(o.count == backlog)
    }

    @Test func aWALLeftBehindMeansAFullCheckEvenWithARecordOfACleanClose() throws {
        try closedCleanly()
        try writeFileAtomically(path + "-wal", [UInt8](repeating: 0x17, count: 4096), mode: 0o600)
        let (o, runs, log) = reopen()
        #expect(o.openingCheck == .full)
        #expect(ranFullCheck(runs))
        #expect(log.contains("the last run did not close it"), "\(log.all)")
        #expect(o.count == backlog)
    }

    @Test func aSmallOutboxIsCheckedInFullEvenAfterACleanClose() throws {
        let o = try outboxWithBacklog(path, 10)
        o.close()
        let (again, runs, log) = reopen()
        #expect(again.openingCheck == .full)
        #expect(ranFullCheck(runs))
        #expect(log.contains("small enough to read at every start"), "\(log.all)")
        #expect(again.count == 10)
    }

    @Test func aRecordThatDoesNotMatchTheEntriesMeansAFullCheckAndARecount() throws {
        try closedCleanly()
        // Entries removed behind the outbox's back, by hand, while it was stopped.
        do {
            let d = try Database(path: path)
            try d.execute("DELETE FROM outbox WHERE seq <= 100")
            d.close()
        }
        let (o, runs, log) = reopen()
        #expect(o.openingCheck == .full)
        #expect(ranFullCheck(runs))
        #expect(log.contains("what it holds does not match what was recorded when it was closed"), "\(log.all)")
        #expect(o.count == backlog - 100)
    }

    @Test func aDatabaseWrittenByTheVersionBeforeOpensWithAFullCheck() throws {
        // The schema and meta keys the outbox has always written, and no record of a clean close.
        do {
            let d = try Database(path: path)
            try d.execute("""
                PRAGMA journal_mode = WAL;
                CREATE TABLE outbox (seq INTEGER PRIMARY KEY, taken INTEGER NOT NULL, payload TEXT NOT NULL);
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                INSERT INTO meta (key, value) VALUES ('epoch', 'old1'), ('last_seq', '5000'), ('dropped', '7');
                """)
            try d.transaction { () throws(StoreError) in
                let ins = try d.cached("INSERT INTO outbox (seq, taken, payload) VALUES (?, ?, ?)")
                for i in 1...backlog { try ins.bind(1, Int64(i)).bind(2, WallClock.milliseconds()).bind(3, outboxTestPayload(i)).run() }
            }
            d.close()
        }
        do {
            let (o, runs, _) = reopen()
            #expect(o.openingCheck == .full)
            #expect(ranFullCheck(runs))
            #expect(o.epoch == "old1")
            #expect(o.dropped == 7)
            #expect(o.count == backlog)
            #expect(o.add(payload: "new", takenAt: WallClock.milliseconds()).seq > 5000)
            o.close()
        }
        let (o, runs, _) = reopen()
        #expect(o.openingCheck == .bounded)
        #expect(!ranFullCheck(runs))
        #expect(o.count == backlog + 1)
        #expect(o.epoch == "old1")
    }

    @Test func aFileCutShortAfterACleanCloseIsFoundAtOpening() throws {
        try closedCleanly()
        try #require(truncate(path, off_t(size(path) / 2)) == 0)
        let (o, _, log) = reopen()
        #expect(log.contains("is damaged"), "\(log.all)")
        #expect(directoryEntries(dir)?.contains { $0.hasPrefix("outbox.db.damaged-") } == true)
        #expect(o.count == 0)
        #expect(!o.memoryOnly, "a new database was started")
    }

    @Test func theTablesRootDamagedAfterACleanCloseIsFoundAtOpening() throws {
        try closedCleanly()
        // Page 2 is the root of the outbox table (the first table created): every look-up goes through it.
        try scribble(page: 1)
        let (o, _, log) = reopen()
        #expect(log.contains("is damaged"), "\(log.all)")
        #expect(o.count == 0)
    }

    @Test func damageTheOpeningDidNotReadIsFoundWhenReadAndHandledAsAtOpening() throws {
        try closedCleanly()
        // A leaf in the middle of the table: neither the first nor the last entries are on it.
        try scribble(page: size(path) / 4096 / 2)
        let (o, _, log) = reopen()
        #expect(o.openingCheck == .bounded)
        #expect(!log.contains("is damaged"))
        var cursor: Int64 = 0
        for _ in 0..<(backlog / 100 + 1) {
            guard let last = o.items(after: cursor, limit: 100).last else { break }
            cursor = last.seq
        }
        #expect(log.contains("is damaged"), "\(log.all)")
        #expect(directoryEntries(dir)?.contains { $0.hasPrefix("outbox.db.damaged-") } == true)
        #expect(!o.memoryOnly)
    }
}
