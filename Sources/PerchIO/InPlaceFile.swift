import Glibc

/// A small state file that is rewritten often (the XEP-0198 session state, after every burst of
/// commands). Replacing it each time (new file, rename) allocates and frees blocks and journals
/// metadata on every write: costly on an SD card, and on a disk mounted with `discard` the rename
/// waits for the device. This keeps the file open and overwrites it in place instead.
///
/// An overwrite is one `pwrite` at offset 0. Within a page, a killed process leaves the old or the new
/// contents; a larger write killed between two pages leaves new pages before old ones, which the
/// reader must refuse or tolerate (XML cut mid-element is refused). The file never shrinks in place:
/// shorter contents are padded to the current length between `body` and `tail` (the format must
/// accept the padding there, as XML accepts whitespace between elements). Contents that outgrow the
/// file or ``maxInPlace`` are written atomically to a new file instead
/// (``writeFileAtomically(_:_:mode:sync:)``), which is reopened. Nothing is synced: after a power cut
/// the file may hold the old contents, or be torn and refused by its reader.
public final class InPlaceFile {
    public let path: String
    public let mode: UInt32
    private var fd: Int32 = -1
    private var length = 0
    /// The largest file overwritten in place.
    public static let maxInPlace = 64 * 1024

    public init(path: String, mode: UInt32 = 0o600) {
        self.path = path
        self.mode = mode
    }

    deinit { closeFile() }

    /// Writes `body`, padding, then `tail`.
    public func write(body: [UInt8], tail: [UInt8], padding: UInt8 = 0x20) throws(IOError) {
        let needed = body.count + tail.count
        if fd < 0 { reopen() }
        if fd >= 0, needed <= length, length <= Self.maxInPlace {
            var bytes = body
            bytes.reserveCapacity(length)
            bytes.append(contentsOf: repeatElement(padding, count: length - needed))
            bytes.append(contentsOf: tail)
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            if n == bytes.count { return }
            let e = IOError.errno("write \(path)")
            closeFile()
            throw e
        }
        // Grown (or first written): a new file, at least a little larger than needed, so the next
        // writes of about this size fit in place.
        let target = min(max(needed + needed / 4, 512), max(needed, Self.maxInPlace))
        var bytes = body
        bytes.append(contentsOf: repeatElement(padding, count: target - needed))
        bytes.append(contentsOf: tail)
        closeFile()
        try writeFileAtomically(path, bytes, mode: mode, sync: false)
        reopen()
    }

    /// Deletes the file.
    public func remove() {
        closeFile()
        _ = removeFile(path)
    }

    private func reopen() {
        closeFile()
        // Never through a symbolic link, and only a regular file: anything else at the path is
        // replaced by the atomic write, not overwritten in place.
        fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return }
        var st = stat()
        if fstat(fd, &st) == 0 && st.st_mode & S_IFMT == S_IFREG { length = Int(st.st_size) } else { closeFile() }
    }

    private func closeFile() {
        if fd >= 0 { close(fd) }
        fd = -1
        length = 0
    }
}
