import Glibc
import Testing
import PerchIO
import PerchLog
@testable import PerchStore

/// The statements an outbox ran, with the work SQLite counted for each.
final class StatementLog: @unchecked Sendable {
    private var runs: [StatementRun] = []
    private let lock = NSLockish()
    func record(_ run: StatementRun) { lock.with { runs.append(run) } }
    /// What was recorded since the last call.
    func take() -> [StatementRun] {
        lock.with {
            defer { runs = [] }
            return runs
        }
    }
}

/// A reading as the agent stores it (about 300 bytes).
func outboxTestPayload(_ i: Int) -> String {
    "<item id='k3x9q-\(i)'><fields xmlns='urn:xmpp:iot:sensordata'><node nodeId='greenhouse'><timestamp value='2026-11-21T17:20:31.898Z'><numeric name='air' momentary='true' value='21.4' unit='°C' nrDecimals='1'/><numeric name='soil' momentary='true' value='38' unit='%' nrDecimals='0'/></timestamp></node></fields></item>"
}

/// An outbox at `path` with `backlog` entries committed in one transaction; later entries are
/// committed when the test says (its timer never runs).
func outboxWithBacklog(_ path: String, _ backlog: Int, limits: OutboxLimits = .init(maxCount: 1_000_000, maxBytes: 1 << 30), log: LogLines = LogLines(), statements: StatementLog? = nil) throws -> Outbox {
    let o = Outbox(path: path, limits: limits, commitInterval: 3_600_000, loop: try EventLoop(), logger: log.logger, observer: statements.map { s in { (run: StatementRun) in s.record(run) } })
    let now = WallClock.milliseconds()
    for i in 0..<backlog { o.add(payload: outboxTestPayload(i), takenAt: now) }
    o.commit()
    return o
}

/// What a commit costs during an outage must not grow with the backlog: every statement on the
/// path finds its rows through the table's key, and is compiled once per connection. Work is
/// measured in SQLite's own counts (virtual machine steps, rows stepped in full scans), not in time.
@Suite final class OutboxCostTests {
    let dir: String
    init() throws { dir = try makeTemporaryDirectory("perch-outbox-cost") }
    deinit { _ = system("rm -rf '\(dir)'") }

    /// Adds, commits, reads and removes as the publisher does during an outage.
    func work(_ o: Outbox, rounds: Int = 3) {
        let now = WallClock.milliseconds()
        for i in 0..<rounds {
            o.add(payload: outboxTestPayload(100_000 + i), takenAt: now)
            o.commit()
        }
        let page = o.items(after: 0, limit: 16)
        _ = o.items(after: Int64(o.count / 2), limit: 16)
        for item in page.prefix(2) { o.remove(item.seq) }
        o.commit()
    }

    @Test func everyStatementOnTheHotPathFindsItsRowsThroughAKey() throws {
        let statements = StatementLog()
        let under = try outboxWithBacklog("\(dir)/under.db", 3000, statements: statements)
        let full = try outboxWithBacklog("\(dir)/full.db", 3000, limits: OutboxLimits(maxCount: 3000, maxBytes: 1 << 30), statements: statements)
        _ = statements.take()
        work(under)
        work(full)
        #expect(full.dropped == 3, "at the count limit each commit drops the oldest")
        let runs = statements.take()
        let sql = Set(runs.map(\.sql))
        #expect(sql.contains { $0.hasPrefix("INSERT INTO outbox") })
        #expect(sql.contains { $0.hasPrefix("DELETE FROM outbox WHERE seq <=") }, "the drop ran: \(sql.sorted())")
        #expect(sql.contains { $0.hasPrefix("SELECT seq, taken, payload FROM outbox") })
        for run in runs {
            #expect(run.fullScanSteps == 0, "\(run.sql) stepped through \(run.fullScanSteps) rows of a full scan")
        }
        // SQLite's plan must look each table up by a key or an index. (A bare "SEARCH outbox" is the
        // min/max shortcut, which on a column with no index still reads every row.)
        let db = try #require(under.database)
        for statement in sql.sorted() where !["BEGIN", "COMMIT", "ROLLBACK"].contains(where: statement.hasPrefix) {
            for step in try db.queryPlan(statement) {
                let keyed = step.hasPrefix("SEARCH ") && step.contains(" USING ")
                #expect(keyed, "\(statement): \(step)")
            }
        }
    }

    @Test func aCommitCostsTheSameWithAThousandOrEightThousandWaiting() throws {
        /// Virtual machine steps for ten entries added and committed one by one.
        func cost(_ backlog: Int, atLimit: Bool) throws -> Int {
            let statements = StatementLog()
            let limits = OutboxLimits(maxCount: atLimit ? backlog : 1_000_000, maxBytes: 1 << 30)
            let o = try outboxWithBacklog("\(dir)/cost-\(backlog)-\(atLimit).db", backlog, limits: limits, statements: statements)
            _ = statements.take()
            let now = WallClock.milliseconds()
            for i in 0..<10 {
                o.add(payload: outboxTestPayload(i), takenAt: now)
                o.commit()
            }
            #expect(o.dropped == (atLimit ? 10 : 0))
            return statements.take().reduce(0) { $0 + $1.steps }
        }
        for atLimit in [false, true] {
            let small = try cost(1000, atLimit: atLimit)
            let large = try cost(8000, atLimit: atLimit)
            #expect(small > 0)
            #expect(large <= small + small / 10, "\(atLimit ? "at the limit" : "under the limits"): \(small) steps with 1,000 waiting, \(large) with 8,000")
        }
    }

    @Test func theHotStatementsAreCompiledOncePerConnection() throws {
        let o = try outboxWithBacklog("\(dir)/outbox.db", 200, limits: OutboxLimits(maxCount: 200, maxBytes: 1 << 30))
        work(o, rounds: 1)
        let db = try #require(o.database)
        let compiled = db.prepareCount
        for _ in 0..<20 { work(o) }
        #expect(o.dropped > 20)
        #expect(db.prepareCount == compiled, "\(db.prepareCount - compiled) statements compiled again")
    }

    @Test func closingFinalizesThemAndFoldsTheWALBackIntoTheFile() throws {
        let path = "\(dir)/outbox.db"
        let o = try outboxWithBacklog(path, 200)
        work(o)
        // Held here, so that its statements are not finalized by its deinit: close() must do it.
        let db = try #require(o.database)
        #expect(db.unfinalizedStatements > 0, "the hot statements are kept between commits")
        #expect(fileExists(path + "-wal"))
        o.close()
        // SQLite checkpoints and removes the WAL only when the connection closes for real, which a
        // statement left unfinalized prevents.
        #expect(!fileExists(path + "-wal"))
        #expect(o.database == nil)
        withExtendedLifetime(db) {}
    }
}
