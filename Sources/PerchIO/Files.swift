import Glibc

/// Reads a whole (small) text file, or nil.
public func readTextFile(_ path: String, limit: Int = 1 << 20) -> String? {
    guard let bytes = readFile(path, limit: limit) else { return nil }
    return String(decoding: bytes, as: UTF8.self)
}

/// Reads a whole (small) file, or nil when it cannot be opened or is larger than `limit`.
public func readFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
    try? readFileOrError(path, limit: limit)
}

/// Reads a whole (small) file; the error says why not (sysfs attributes fail with EIO, ENODEV or
/// EAGAIN when the device behind them does, which a caller wants to report).
public func readFileOrError(_ path: String, limit: Int = 1 << 20) throws(IOError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw IOError.errno("open \(path)") }
    defer { close(fd) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 8192)
    while true {
        let n = read(fd, &buf, buf.count)
        if n < 0 {
            if errno == EINTR { continue }
            throw IOError.errno("read \(path)")
        }
        if n == 0 { break }
        out += buf[0..<n]
        if out.count > limit { throw IOError(call: "read \(path)", code: EFBIG, message: "larger than \(limit) bytes") }
    }
    return out
}

/// Replaces a file's contents atomically: a reader sees the old or the new contents, never a torn or
/// empty file, and a power cut leaves one of the two (the data is synced before the rename).
///
/// The temporary file (`PATH.tmp-PID`) is created new (`O_EXCL | O_NOFOLLOW`): a file or symbolic
/// link already at that name (left by a killed process with the same pid, or planted) is removed, not
/// written through. `mode` is filtered by the umask.
public func writeFileAtomically(_ path: String, _ bytes: some Collection<UInt8>, mode: UInt32 = 0o644, sync: Bool = true) throws(IOError) {
    let tmp = "\(path).tmp-\(getpid())"
    let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
    var fd = open(tmp, flags, mode)
    if fd < 0 && errno == EEXIST {
        // unlink removes a symbolic link itself, never its target.
        _ = unlink(tmp)
        fd = open(tmp, flags, mode)
    }
    guard fd >= 0 else { throw IOError.errno("open \(tmp)") }
    let data = Array(bytes)
    var off = 0
    while off < data.count {
        let n = data.withUnsafeBytes { write(fd, $0.baseAddress! + off, data.count - off) }
        if n < 0 {
            if errno == EINTR { continue }
            let e = IOError.errno("write \(tmp)")
            close(fd)
            unlink(tmp)
            throw e
        }
        off += n
    }
    if sync { fsync(fd) }
    close(fd)
    guard rename(tmp, path) == 0 else {
        let e = IOError.errno("rename \(tmp) to \(path)")
        unlink(tmp)
        throw e
    }
}

/// Writes a short string to an existing file in place (sysfs attributes must be written this way).
public func writeFileInPlace(_ path: String, _ text: String) throws(IOError) {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw IOError.errno("open \(path)") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard n == bytes.count else { throw IOError.errno("write \(path)") }
}

/// The names in a directory (without "." and ".."), sorted; nil when it cannot be read.
public func directoryEntries(_ path: String) -> [String]? {
    guard let dir = opendir(path) else { return nil }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// Whether a path exists (following symbolic links).
public func fileExists(_ path: String) -> Bool {
    access(path, F_OK) == 0
}

/// Creates a directory and its parents; succeeds when it exists already.
public func makeDirectories(_ path: String, mode: UInt32 = 0o755) throws(IOError) {
    var current = path.hasPrefix("/") ? "" : "."
    for part in path.split(separator: "/") {
        current += "/" + part
        if mkdir(current, mode) != 0 && errno != EEXIST { throw IOError.errno("mkdir \(current)") }
    }
}

/// Removes a file; a file that is not there is not an error.
@discardableResult
public func removeFile(_ path: String) -> Bool {
    unlink(path) == 0 || errno == ENOENT
}

/// Renames a file (within one file system).
public func renameFile(_ from: String, to: String) throws(IOError) {
    guard rename(from, to) == 0 else { throw IOError.errno("rename \(from) to \(to)") }
}

/// Creates a new private directory under /tmp (`mkdtemp`), for scratch work.
public func makeTemporaryDirectory(_ prefix: String = "perch") throws(IOError) -> String {
    var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
    guard made else { throw IOError.errno("mkdtemp /tmp/\(prefix).XXXXXX") }
    return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
