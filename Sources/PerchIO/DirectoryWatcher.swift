import CLinux
import Glibc

/// Watches a directory with inotify and reports the names of files written there, on the event loop.
///
/// A file counts as written when a writer closes it (`echo 1 > f`) or renames another file onto it (an
/// atomic replace); both are reported once, so the reader sees complete contents. Nothing polls: the
/// inotify descriptor sits in the loop's epoll set.
public final class DirectoryWatcher {
    public let path: String
    private let loop: EventLoop
    private let fd: Int32
    private var closed = false

    /// Starts watching; `changed` receives each written file's name.
    public init(loop: EventLoop, path: String, changed: @escaping (String) -> Void) throws(IOError) {
        self.loop = loop
        self.path = path
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw IOError.errno("inotify_init1") }
        guard inotify_add_watch(fd, path, UInt32(IN_CLOSE_WRITE | IN_MOVED_TO)) >= 0 else {
            let e = IOError.errno("inotify_add_watch \(path)")
            Glibc.close(fd)
            throw e
        }
        let fd = self.fd
        loop.watch(fd, .readable) { _ in
            for name in Self.drain(fd) { changed(name) }
        }
    }

    /// Reads every pending inotify event; the names in order, each once per batch.
    private static func drain(_ fd: Int32) -> [String] {
        var names: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var off = 0
            buffer.withUnsafeBytes { raw in
                while off + MemoryLayout<inotify_event>.size <= n {
                    let event = raw.loadUnaligned(fromByteOffset: off, as: inotify_event.self)
                    let nameStart = off + MemoryLayout<inotify_event>.size
                    let nameBytes = raw[nameStart..<min(nameStart + Int(event.len), n)].prefix { $0 != 0 }
                    let name = String(decoding: nameBytes, as: UTF8.self)
                    if !name.isEmpty && !names.contains(name) { names.append(name) }
                    off = nameStart + Int(event.len)
                }
            }
        }
        return names
    }

    public func close() {
        guard !closed else { return }
        closed = true
        loop.unwatch(fd)
        Glibc.close(fd)
    }

    deinit { close() }
}
