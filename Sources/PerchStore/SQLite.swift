internal import CSQLite
import Glibc

/// A failed SQLite call, with SQLite's own message and whether it means the file is damaged.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: Int32
    public let message: String

    init(_ code: Int32, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The database file is damaged or is not a database: it must be moved aside, not retried.
    public var isCorruption: Bool {
        let primary = code & 0xff
        return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB
    }

    public var description: String { message }
}

/// One run of a statement, as a test sees it through ``Database/observe(_:)``: its SQL and the work
/// SQLite counted for it (virtual machine steps, and rows stepped through in full-table scans).
struct StatementRun: Sendable, Hashable {
    let sql: String
    let steps: Int
    let fullScanSteps: Int
}

/// The few SQLite calls the outbox needs: one connection, prepared statements, transactions. Every
/// SQLite call in Perch is in this file.
///
/// The statements the outbox runs on every commit are prepared once per connection (``cached(_:)``)
/// and finalized when the connection closes.
final class Database {
    private var handle: OpaquePointer?
    let path: String
    private var statements: [String: Statement] = [:]
    /// Statements compiled on this connection (`sqlite3_prepare_v2` calls), for tests.
    private(set) var prepareCount = 0
    private var observer: Observer?

    /// Makes the database file private before SQLite opens it: SQLite creates it 0644 less the umask
    /// and gives the -wal and -shm files it creates the database file's mode, so the file is created
    /// here 0600. Existing files (the database, -wal, -shm) open to group or others are narrowed to
    /// their owner's bits; returns those, with their old modes, for the log.
    static func makePrivate(_ path: String) -> [(file: String, mode: UInt32)] {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        if fd >= 0 { Glibc.close(fd) }
        var narrowed: [(file: String, mode: UInt32)] = []
        for file in [path, path + "-wal", path + "-shm"] {
            var st = stat()
            guard lstat(file, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_mode & 0o077 != 0 else { continue }
            if chmod(file, st.st_mode & 0o700) == 0 { narrowed.append((file, st.st_mode & 0o7777)) }
        }
        return narrowed
    }

    init(path: String) throws(StoreError) {
        self.path = path
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw StoreError(rc, "\(path): \(message)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 2000)
    }

    deinit { close() }

    /// Finalizes the prepared statements and closes the connection; the last connection to close
    /// checkpoints the WAL into the database and removes it.
    func close() {
        statements.removeAll()
        if let handle {
            if observer != nil { sqlite3_trace_v2(handle, 0, nil, nil) }
            sqlite3_close_v2(handle)
        }
        handle = nil
        observer = nil
    }

    /// Statements prepared on this connection and not yet finalized, for tests.
    var unfinalizedStatements: Int {
        var n = 0
        var stmt = sqlite3_next_stmt(handle, nil)
        while let s = stmt {
            n += 1
            stmt = sqlite3_next_stmt(handle, s)
        }
        return n
    }

    func execute(_ sql: String) throws(StoreError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(error)
            throw StoreError(rc, "\(path): \(message)")
        }
    }

    /// A new statement, finalized when the caller lets go of it: for statements run once.
    func prepare(_ sql: String) throws(StoreError) -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw StoreError(rc, "\(path): \(lastMessage)") }
        prepareCount += 1
        return Statement(stmt, self)
    }

    /// The statement for `sql`, prepared the first time and kept until ``close()``: for statements
    /// run again and again. It is handed out reset, with no bindings; the caller resets it when done
    /// (`defer { s.reset() }`), so that an unfinished read does not hold back the WAL checkpoint.
    func cached(_ sql: String) throws(StoreError) -> Statement {
        if let s = statements[sql] {
            s.reset()
            return s
        }
        let s = try prepare(sql)
        statements[sql] = s
        return s
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction(_ body: () throws(StoreError) -> Void) throws(StoreError) {
        try cached("BEGIN IMMEDIATE").run()
        do {
            try body()
            try cached("COMMIT").run()
        } catch {
            try? cached("ROLLBACK").run()
            throw error
        }
    }

    /// The steps of SQLite's plan for `sql` (`EXPLAIN QUERY PLAN`), such as
    /// `SEARCH outbox USING INTEGER PRIMARY KEY (rowid>?)`, for tests.
    func queryPlan(_ sql: String) throws(StoreError) -> [String] {
        let s = try prepare("EXPLAIN QUERY PLAN " + sql)
        var steps: [String] = []
        while try s.step() { steps.append(s.string(3)) }
        return steps
    }

    /// Calls `body` after every statement run on this connection with what SQLite counted for it;
    /// nil stops it. For tests: it costs a clock read per statement.
    func observe(_ body: ((StatementRun) -> Void)?) {
        guard let handle else { return }
        guard let body else {
            sqlite3_trace_v2(handle, 0, nil, nil)
            observer = nil
            return
        }
        let o = Observer(body)
        observer = o
        sqlite3_trace_v2(
            handle, UInt32(SQLITE_TRACE_PROFILE),
            { _, context, p, _ in
                guard let context, let p else { return 0 }
                let stmt = OpaquePointer(p)
                let observer = Unmanaged<Observer>.fromOpaque(context).takeUnretainedValue()
                let sql = sqlite3_sql(stmt).map { String(cString: $0) } ?? ""
                let steps = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, 1)
                let scans = sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1)
                observer.body(StatementRun(sql: sql, steps: Int(steps), fullScanSteps: Int(scans)))
                return 0
            }, Unmanaged.passUnretained(o).toOpaque())
    }

    private final class Observer {
        let body: (StatementRun) -> Void
        init(_ body: @escaping (StatementRun) -> Void) { self.body = body }
    }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }

    var lastMessage: String { handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed" }

    /// One integer from a query such as `PRAGMA user_version`.
    func integer(_ sql: String) throws(StoreError) -> Int64 {
        let s = try prepare(sql)
        guard try s.step() else { return 0 }
        return s.int64(0)
    }

    func text(_ sql: String) throws(StoreError) -> String? {
        let s = try prepare(sql)
        guard try s.step() else { return nil }
        return s.string(0)
    }
}

final class Statement {
    private let stmt: OpaquePointer
    private unowned let db: Database
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    fileprivate init(_ stmt: OpaquePointer, _ db: Database) {
        self.stmt = stmt
        self.db = db
    }

    deinit { sqlite3_finalize(stmt) }

    @discardableResult
    func bind(_ index: Int32, _ value: Int64) -> Statement {
        sqlite3_bind_int64(stmt, index, value)
        return self
    }

    @discardableResult
    func bind(_ index: Int32, _ value: String) -> Statement {
        sqlite3_bind_text(stmt, index, value, -1, Self.transient)
        return self
    }

    /// Advances; true while there is a row.
    func step() throws(StoreError) -> Bool {
        let rc = sqlite3_step(stmt)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw StoreError(rc, "\(db.path): \(db.lastMessage)")
        }
    }

    /// Runs a statement that returns no rows, then resets it for the next use.
    func run() throws(StoreError) {
        defer { reset() }
        _ = try step()
    }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }

    func string(_ column: Int32) -> String {
        guard let p = sqlite3_column_text(stmt, column) else { return "" }
        return String(cString: p)
    }
}
