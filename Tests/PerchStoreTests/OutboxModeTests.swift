import Glibc
import Testing
import PerchIO
import PerchLog
@testable import PerchStore

/// The outbox holds readings: its database and SQLite's -wal and -shm files are the owner's only,
/// whatever the umask of whoever started the daemon.
@Suite(.serialized) struct OutboxModeTests {
    func mode(_ path: String) -> UInt32? {
        var st = stat()
        return lstat(path, &st) == 0 ? UInt32(st.st_mode & 0o7777) : nil
    }

    @Test func theDatabaseAndItsWALArePrivateUnderAUmaskOf022() throws {
        let dir = try makeTemporaryDirectory("perch-outbox-mode")
        defer { _ = system("rm -rf '\(dir)'") }
        let old = umask(0o022)
        defer { umask(old) }
        let o = Outbox(path: "\(dir)/outbox.db", commitInterval: 0, loop: nil, logger: LogLines().logger)
        o.add(payload: "<reading/>", takenAt: WallClock.milliseconds())
        o.commit()
        #expect(!o.memoryOnly)
        #expect(mode("\(dir)/outbox.db") == 0o600)
        #expect(mode("\(dir)/outbox.db-wal") == 0o600, "the WAL holds the readings too")
        #expect(mode("\(dir)/outbox.db-shm") == 0o600)
    }

    @Test func existingLooseFilesAreNarrowedAndSaidSo() throws {
        let dir = try makeTemporaryDirectory("perch-outbox-mode")
        defer { _ = system("rm -rf '\(dir)'") }
        let old = umask(0o022)
        defer { umask(old) }
        do {
            let o = Outbox(path: "\(dir)/outbox.db", commitInterval: 0, loop: nil, logger: LogLines().logger)
            o.add(payload: "<reading/>", takenAt: WallClock.milliseconds())
            o.commit()
        }
        chmod("\(dir)/outbox.db", 0o644)
        let log = LogLines()
        let o = Outbox(path: "\(dir)/outbox.db", commitInterval: 0, loop: nil, logger: log.logger)
        #expect(o.count == 1)
        #expect(mode("\(dir)/outbox.db") == 0o600)
        #expect(log.contains("outbox.db had mode 0644, open to group or others; changed it to 0600"), "\(log.all)")
    }
}
