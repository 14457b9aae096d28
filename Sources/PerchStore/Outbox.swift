internal import CSQLite
import Glibc
public import PerchIO
public import PerchLog

/// One entry: a payload (an XML item, as text) and when the reading it holds was taken.
public struct OutboxItem: Sendable, Hashable {
    /// Increasing within one database (``Outbox/epoch``), never reused; numbers are reserved in
    /// blocks, so a restart skips ahead.
    public let seq: Int64
    /// When the reading was taken (Unix ms).
    public let takenAt: Int64
    public let payload: String
}

/// How much the outbox may hold; the oldest entries go first past any of these.
public struct OutboxLimits: Sendable, Hashable {
    public var maxCount: Int
    public var maxBytes: Int
    /// Oldest entry kept (ms).
    public var maxAge: Int64

    public init(maxCount: Int = 100_000, maxBytes: Int = 32 << 20, maxAge: Int64 = 7 * 86_400_000) {
        self.maxCount = maxCount
        self.maxBytes = maxBytes
        self.maxAge = maxAge
    }
}

/// What a power cut may cost.
public enum OutboxDurability: String, Sendable, Hashable {
    /// `synchronous = NORMAL`: a committed entry survives the daemon being killed; a power cut can also
    /// lose what the kernel had not yet written (its writeback is 5 to 30 s).
    case process
    /// `synchronous = FULL`: every commit is on the card before it returns.
    case power
}

/// Readings and events waiting to be delivered, on disk (SQLite in WAL mode), so they survive a
/// lost connection, `kill -9` and a reboot.
///
/// Writes are batched to spare SD cards: entries are staged in memory and committed together every
/// `commitInterval` (or at once when it is 0). An entry delivered before the next commit never touches
/// the disk, so an agent that stays online writes nothing. On `kill -9` or a power cut, entries staged
/// and not yet committed are lost: at most `commitInterval` worth.
///
/// Bounded by count, bytes and age; past a bound the oldest entries are dropped, counted, and logged.
/// A damaged database is moved aside (`outbox.db.damaged-<time>`) with an error line and a new one is
/// started; if even that fails the outbox keeps entries in memory only and says so.
///
/// Opening reads all of the file (`PRAGMA quick_check`, and the count and size of the entries) only
/// when that is cheap (``fullCheckUpTo``) or when the last run did not ``close()`` it: a power cut
/// or a crash is when a file gets damaged, and reading 30 MB from an SD card at every start is not.
/// After a clean close it reads what the next reads and writes touch instead (see
/// ``OpeningCheck/bounded``). Every commit costs the same whatever the backlog: each statement on
/// that path finds its rows through the table's key and is prepared once per connection.
public final class Outbox {
    public let path: String
    public let limits: OutboxLimits
    public let commitInterval: Int64
    public let durability: OutboxDurability
    /// A random name for this database: entry ids are `epoch-seq`, so a new database never reuses the
    /// ids of an old one.
    public private(set) var epoch = ""
    /// Entries dropped by the limits since the database was created.
    public private(set) var dropped: Int64 = 0
    /// True when the database could not be opened and entries are kept in memory only.
    public private(set) var memoryOnly = false

    /// A database up to this size is checked in full at every opening, however it was closed.
    static let fullCheckUpTo = 1 << 20

    /// What opening the database checked.
    enum OpeningCheck: Equatable {
        /// `PRAGMA quick_check` read every page, and the entries were counted.
        case full
        /// The database was closed cleanly: the header's page count against the file's size, the
        /// schema, the meta table and the first and last entries (the pages the next send and the
        /// next commit read) were read, and the count and size recorded at close were checked
        /// against them. A few pages, whatever the size of the file.
        case bounded
    }
    /// What the last opening checked; nil when it failed.
    private(set) var openingCheck: OpeningCheck?

    private let loop: EventLoop?
    private let logger: Logger
    private var db: Database?
    private var nextSeq: Int64 = 1
    /// Sequence numbers up to here are reserved on disk: an entry delivered before any commit still
    /// has a number no later run reuses (item ids must never name two readings).
    private var reservedSeq: Int64 = 0
    static let reservation: Int64 = 1000
    /// Entries on disk (count and payload bytes), kept in step with every commit.
    private var storedCount = 0
    private var storedBytes = 0
    private var staged: [OutboxItem] = []
    private var stagedDeletes: Set<Int64> = []
    private var commitTimer: EventLoop.Timer?
    /// Told of every statement run on the database, for tests.
    private let observer: ((StatementRun) -> Void)?

    public convenience init(path: String, limits: OutboxLimits = .init(), commitInterval: Int64 = 5000, durability: OutboxDurability = .process, loop: EventLoop?, logger: Logger) {
        self.init(path: path, limits: limits, commitInterval: commitInterval, durability: durability, loop: loop, logger: logger, observer: nil)
    }

    /// `observer` is told of every statement run on the database and the work SQLite counted for it.
    init(path: String, limits: OutboxLimits = .init(), commitInterval: Int64 = 5000, durability: OutboxDurability = .process, loop: EventLoop?, logger: Logger, observer: ((StatementRun) -> Void)?) {
        self.path = path
        self.limits = limits
        self.commitInterval = commitInterval
        self.durability = durability
        self.loop = loop
        self.logger = logger
        self.observer = observer
        open()
    }

    /// Without ``close()``: the next opening takes it for a crash and checks all of it.
    deinit { db?.close() }

    /// The open connection, for tests.
    var database: Database? { db }

    /// Commits what is staged and closes the database, recording that it was closed cleanly (so the
    /// next opening need not read all of it). Call once, at shutdown: entries added after it are
    /// kept in memory only.
    public func close() {
        commit()
        guard let db else { return }
        // Only a close with everything on disk is clean; after a failed commit the next opening checks.
        if staged.isEmpty && stagedDeletes.isEmpty {
            do {
                let (first, last) = try Self.endSeqs(db)
                let record = CleanClose(count: storedCount, bytes: storedBytes, first: first, last: last)
                try db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('closed', ?)").bind(1, record.text).run()
            } catch {
                logger.warning("outbox \(path): cannot record the clean close (\(error.message)); the next start checks all of it")
            }
        }
        db.close()
        self.db = nil
    }

    // MARK: Opening

    private func open() {
        do {
            try openDatabase()
        } catch where error.isCorruption {
            moveAside(error)
            do { try openDatabase() } catch { fallBackToMemory(error) }
        } catch {
            fallBackToMemory(error)
        }
    }

    private func openDatabase() throws(StoreError) {
        db?.close()
        db = nil
        openingCheck = nil
        for (file, mode) in Database.makePrivate(path) {
            logger.notice("\(file) had mode 0\(String(mode, radix: 8)), open to group or others; changed it to 0\(String(mode & 0o700, radix: 8))")
        }
        // SQLite's own sign of a run that did not close the database: a WAL it did not fold back
        // into the file (the last connection to close does that and removes it).
        let walLeft = Self.fileSize(path + "-wal") > 0
        let size = Self.fileSize(path)
        let d = try Database(path: path)
        if let observer { d.observe(observer) }
        let why: String
        do throws(StoreError) {
            try d.execute("PRAGMA journal_mode = WAL")
            try d.execute("PRAGMA synchronous = \(durability == .power ? "FULL" : "NORMAL")")
            // A structural check of every page, when it is cheap or when the last run stopped without
            // closing: a damaged file is found now, not in the middle of a commit.
            var reason: String? = walLeft ? "the last run did not close it" : size <= Self.fullCheckUpTo ? "small enough to read at every start" : nil
            if reason != nil { try Self.quickCheck(d) }
            try d.execute("""
                CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, taken INTEGER NOT NULL, payload TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                """)
            let closed = try d.text("SELECT value FROM meta WHERE key = 'closed'")
            let record = closed.flatMap(CleanClose.init(parsing:))
            if reason == nil {
                if let record, try Self.agrees(d, record, fileSize: size) {
                    storedCount = record.count
                    storedBytes = record.bytes
                } else {
                    reason = record == nil ? "the last run did not close it" : "what it holds does not match what was recorded when it was closed"
                    try Self.quickCheck(d)
                }
            }
            if reason != nil {
                let s = try d.prepare("SELECT count(*), coalesce(sum(length(CAST(payload AS BLOB))), 0) FROM outbox")
                _ = try s.step()
                storedCount = Int(s.int64(0))
                storedBytes = Int(s.int64(1))
            }
            // The record of a clean close goes before anything else is written: if this run stops
            // without closing, the next one checks all of it.
            if closed != nil { try d.execute("DELETE FROM meta WHERE key = 'closed'") }
            if let e = try d.text("SELECT value FROM meta WHERE key = 'epoch'") {
                epoch = e
            } else {
                epoch = Self.newEpoch()
                try d.prepare("INSERT INTO meta (key, value) VALUES ('epoch', ?)").bind(1, epoch).run()
            }
            dropped = Int64(try d.text("SELECT value FROM meta WHERE key = 'dropped'") ?? "0") ?? 0
            let maxSeq = try d.integer("SELECT coalesce(max(seq), 0) FROM outbox")
            let lastSeq = Int64(try d.text("SELECT value FROM meta WHERE key = 'last_seq'") ?? "0") ?? 0
            nextSeq = max(maxSeq, lastSeq, nextSeq - 1) + 1
            reservedSeq = nextSeq - 1
            why = reason ?? ""
            openingCheck = reason == nil ? .bounded : .full
        } catch {
            d.close()
            throw error
        }
        db = d
        memoryOnly = false
        let waiting = storedCount > 0 ? "; \(storedCount) \(storedCount == 1 ? "entry" : "entries") waiting from before" : ""
        if size == 0 {
            logger.info("outbox \(path): started a new database")
        } else if openingCheck == .full {
            logger.info("outbox \(path): checked all of it (\(Self.describe(size)), \(why)): ok\(waiting)")
        } else {
            logger.info("outbox \(path): closed cleanly last time; checked its header and its first and last entries, not all \(Self.describe(size)) (all of it is checked after a run that stops without closing it)\(waiting)")
        }
    }

    private static func quickCheck(_ d: Database) throws(StoreError) {
        let check = try d.text("PRAGMA quick_check") ?? "ok"
        guard check == "ok" else { throw StoreError(SQLITE_CORRUPT, "\(d.path): \(check)") }
    }

    /// The bounded check of a database closed cleanly: the header's page count against the size of
    /// the file (a file cut short), then the first and last entries, payload and all, against the
    /// record the close left. Reading them goes through the schema and a root-to-leaf path of the
    /// table, so it costs a few pages. A damaged page on the way throws a corruption error; a
    /// record that does not match returns false.
    private static func agrees(_ d: Database, _ record: CleanClose, fileSize: Int) throws(StoreError) -> Bool {
        let pages = try d.integer("PRAGMA page_count")
        let pageSize = try d.integer("PRAGMA page_size")
        guard pages * pageSize <= Int64(fileSize) else {
            throw StoreError(SQLITE_CORRUPT, "\(d.path): the file is \(fileSize) bytes, its header says \(pages) pages of \(pageSize)")
        }
        let first = try d.prepare("SELECT seq, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1").bind(1, Int64.min)
        let last = try d.prepare("SELECT seq, payload FROM outbox WHERE seq < ? ORDER BY seq DESC LIMIT 1").bind(1, Int64.max)
        guard try first.step(), try last.step() else { return record.count == 0 && record.bytes == 0 }
        // The payloads too, overflow pages and all.
        _ = (first.string(1), last.string(1))
        return record.count > 0 && record.first == first.int64(0) && record.last == last.int64(0)
    }

    /// The lowest and highest sequence numbers on disk, 0 when there are none.
    private static func endSeqs(_ d: Database) throws(StoreError) -> (Int64, Int64) {
        let first = try d.cached("SELECT seq FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1")
        defer { first.reset() }
        first.bind(1, Int64.min)
        let last = try d.cached("SELECT seq FROM outbox WHERE seq < ? ORDER BY seq DESC LIMIT 1")
        defer { last.reset() }
        last.bind(1, Int64.max)
        return (try first.step() ? first.int64(0) : 0, try last.step() ? last.int64(0) : 0)
    }

    private static func fileSize(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    private static func describe(_ bytes: Int) -> String {
        if bytes < 1 << 20 { return "\((bytes + 1023) >> 10) KB" }
        let tenths = (bytes * 10 + (1 << 19)) >> 20
        return "\(tenths / 10).\(tenths % 10) MB"
    }

    private func moveAside(_ error: StoreError) {
        let (s, _) = WallClock.now()
        let aside = "\(path).damaged-\(s)"
        logger.error("the outbox \(path) is damaged (\(error.message)); moved it to \(aside) and starting an empty one. Its entries are not delivered; inspect or delete the old file")
        for suffix in ["", "-wal", "-shm"] where fileExists(path + suffix) {
            do { try renameFile(path + suffix, to: aside + suffix) } catch {
                logger.error("cannot move \(path + suffix) aside (\(error)); removing it")
                removeFile(path + suffix)
            }
        }
    }

    private func fallBackToMemory(_ error: StoreError) {
        db = nil
        memoryOnly = true
        if epoch.isEmpty { epoch = Self.newEpoch() }
        logger.error("cannot use the outbox \(path) (\(error.message)); readings taken offline are kept in memory only and lost on restart. Check that the state directory exists and is writable")
    }

    private static func newEpoch() -> String {
        var g = SystemRandomNumberGenerator()
        return String(UInt32.random(in: 0...UInt32.max, using: &g), radix: 36)
    }

    // MARK: Entries

    /// Entries waiting, staged or stored.
    public var count: Int { storedCount + staged.count - stagedDeletes.count }

    /// Adds an entry; it is on disk after the next commit.
    @discardableResult
    public func add(payload: String, takenAt: Int64) -> OutboxItem {
        if nextSeq > reservedSeq { reserve() }
        let item = OutboxItem(seq: nextSeq, takenAt: takenAt, payload: payload)
        nextSeq += 1
        staged.append(item)
        changed()
        return item
    }

    /// The entry was delivered.
    public func remove(_ seq: Int64) {
        if let i = staged.firstIndex(where: { $0.seq == seq }) {
            staged.remove(at: i)
            return
        }
        guard db != nil else { return }
        if stagedDeletes.insert(seq).inserted { changed() }
    }

    /// Up to `limit` entries after `seq`, oldest first.
    public func items(after seq: Int64, limit: Int) -> [OutboxItem] {
        var result: [OutboxItem] = []
        if let db, limit > 0 {
            do {
                let s = try db.cached("SELECT seq, taken, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?")
                defer { s.reset() }
                s.bind(1, seq).bind(2, Int64(limit + stagedDeletes.count))
                while try s.step(), result.count < limit {
                    let n = s.int64(0)
                    if stagedDeletes.contains(n) { continue }
                    result.append(OutboxItem(seq: n, takenAt: s.int64(1), payload: s.string(2)))
                }
            } catch {
                failed(error)
            }
        }
        for item in staged where item.seq > seq && result.count < limit { result.append(item) }
        return result
    }

    /// Writes the next block of sequence numbers as used: one small write per thousand entries.
    private func reserve() {
        let upTo = nextSeq + Self.reservation - 1
        guard let db else { return reservedSeq = upTo }
        do {
            try db.cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?)").bind(1, String(upTo)).run()
            reservedSeq = upTo
        } catch {
            failed(error)
            reservedSeq = upTo
        }
    }

    private func changed() {
        if commitInterval == 0 || loop == nil {
            commit()
        } else if commitTimer == nil {
            commitTimer = loop?.schedule(after: commitInterval) { [weak self] in
                self?.commitTimer = nil
                self?.commit()
            }
        }
        if memoryOnly { enforceLimits() }
    }

    /// Writes staged changes in one transaction and applies the limits. Called by the timer, and at
    /// shutdown.
    public func commit() {
        commitTimer?.cancel()
        commitTimer = nil
        guard let db else { return }
        guard !staged.isEmpty || !stagedDeletes.isEmpty else { return }
        let inserts = staged
        let deletes = stagedDeletes
        do {
            var bytesRemoved = 0
            var removed = 0
            try db.transaction { () throws(StoreError) in
                if !deletes.isEmpty {
                    let size = try db.cached("SELECT length(CAST(payload AS BLOB)) FROM outbox WHERE seq = ?")
                    let del = try db.cached("DELETE FROM outbox WHERE seq = ?")
                    for seq in deletes {
                        size.bind(1, seq)
                        if try size.step() { bytesRemoved += Int(size.int64(0)) }
                        size.reset()
                        try del.bind(1, seq).run()
                        removed += db.changes
                    }
                }
                let ins = try db.cached("INSERT INTO outbox (seq, taken, payload) VALUES (?, ?, ?)")
                for item in inserts { try ins.bind(1, item.seq).bind(2, item.takenAt).bind(3, item.payload).run() }
            }
            storedCount += inserts.count - removed
            storedBytes += inserts.reduce(0) { $0 + $1.payload.utf8.count } - bytesRemoved
            staged.removeAll()
            stagedDeletes.subtract(deletes)
            enforceLimits()
        } catch {
            failed(error)
        }
    }

    /// Drops the oldest entries past the age, count and byte limits.
    private func enforceLimits() {
        let now = WallClock.milliseconds()
        if memoryOnly {
            var n = 0
            var bytes = staged.reduce(0) { $0 + $1.payload.utf8.count }
            while n < staged.count, staged.count - n > limits.maxCount || bytes > limits.maxBytes || now - staged[n].takenAt > limits.maxAge {
                bytes -= staged[n].payload.utf8.count
                n += 1
            }
            if n > 0 { reportDrop(n, from: staged[0].takenAt, to: staged[n - 1].takenAt) }
            staged.removeFirst(n)
            return
        }
        guard let db, storedCount > 0 else { return }
        do {
            // Entries go oldest first, in the order they were added (seq, the table's key), and the
            // walk stops at the first one within every limit: a commit with nothing to drop reads one
            // row, found through the primary key, whatever the backlog.
            var count = storedCount
            var bytes = storedBytes
            var lastSeq: Int64 = 0
            var first: Int64?
            var last: Int64 = 0
            var n = 0
            do {
                let s = try db.cached("SELECT seq, taken, length(CAST(payload AS BLOB)) FROM outbox WHERE seq > ? ORDER BY seq")
                defer { s.reset() }
                s.bind(1, Int64.min)
                while try s.step() {
                    guard count > limits.maxCount || bytes > limits.maxBytes || now - s.int64(1) > limits.maxAge else { break }
                    lastSeq = s.int64(0)
                    first = first ?? s.int64(1)
                    last = s.int64(1)
                    count -= 1
                    bytes -= Int(s.int64(2))
                    n += 1
                }
            }
            guard n > 0 else { return }
            dropped += Int64(n)
            try db.transaction { () throws(StoreError) in
                try db.cached("DELETE FROM outbox WHERE seq <= ?").bind(1, lastSeq).run()
                try db.cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('dropped', ?)").bind(1, String(dropped)).run()
            }
            storedCount = count
            storedBytes = bytes
            reportDrop(n, from: first ?? 0, to: last, counted: true)
        } catch {
            failed(error)
        }
    }

    private func reportDrop(_ n: Int, from: Int64, to: Int64, counted: Bool = false) {
        if !counted { dropped += Int64(n) }
        logger.warning("outbox full: dropped the \(n) oldest \(n == 1 ? "entry" : "entries") (taken \(WallClock.iso8601(milliseconds: from)) to \(WallClock.iso8601(milliseconds: to))), \(dropped) dropped in all. Raise the [outbox] limits or find out why the server is out of reach")
    }

    private func failed(_ error: StoreError) {
        if error.isCorruption {
            // Keep what is staged; the entries already on disk are in the file moved aside.
            db?.close()
            db = nil
            moveAside(error)
            do { try openDatabase() } catch { fallBackToMemory(error) }
        } else {
            logger.error("outbox \(path): \(error.message); will try again at the next commit")
        }
    }
}

/// What a clean ``Outbox/close()`` records in the meta table (key `closed`): the count and size of
/// the entries and the first and last sequence numbers, so the next opening need not count them.
struct CleanClose: Equatable {
    let count: Int
    let bytes: Int
    let first: Int64
    let last: Int64

    init(count: Int, bytes: Int, first: Int64, last: Int64) {
        self.count = count
        self.bytes = bytes
        self.first = first
        self.last = last
    }

    init?(parsing text: String) {
        let f = text.split(separator: " ")
        guard f.count == 4, let count = Int(f[0]), let bytes = Int(f[1]), let first = Int64(f[2]), let last = Int64(f[3]),
            count >= 0, bytes >= 0
        else { return nil }
        self.init(count: count, bytes: bytes, first: first, last: last)
    }

    var text: String { "\(count) \(bytes) \(first) \(last)" }
}
