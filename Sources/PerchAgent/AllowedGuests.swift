import Glibc
public import PerchIO
public import XMPPAddress

/// Strangers an owner has let in with `allow`: viewers until an owner says `deny` or `block`, kept
/// in a file in the state directory (one bare JID a line) so that they stay viewers across restarts.
///
/// The file is private (0600) and replaced atomically by `writeFileAtomically` (a temporary file
/// created with O_EXCL | O_NOFOLLOW, so a link planted in its place is not followed, synced, renamed).
public struct AllowedGuests {
    public let path: String
    /// At most this many are read from the file.
    public static let limit = 1024
    public private(set) var jids: [JID] = []

    public init(path: String) {
        self.path = path
    }

    /// Reads the file; a missing file is an empty list. The error says why it could not be read.
    public mutating func load() throws(IOError) {
        jids = []
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            if errno == ENOENT { return }
            throw IOError.errno("open \(path)")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while bytes.count <= 256 * 1024 {
            let n = read(fd, &buf, buf.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError.errno("read \(path)")
            }
            if n == 0 { break }
            bytes += buf[0..<n]
        }
        for line in bytes.split(separator: UInt8(ascii: "\n")) where jids.count < Self.limit {
            let text = String(decoding: line, as: UTF8.self).trimmingWhitespace()
            guard !text.isEmpty, !text.hasPrefix("#"), let jid = try? JID(text) else { continue }
            if !jids.contains(jid.bare) { jids.append(jid.bare) }
        }
    }

    public func contains(_ jid: JID) -> Bool { jids.contains(jid.bare) }

    /// Adds a guest and writes the file; false when it was there already.
    @discardableResult
    public mutating func add(_ jid: JID) throws(IOError) -> Bool {
        guard !contains(jid) else { return false }
        jids.append(jid.bare)
        try save()
        return true
    }

    /// Removes a guest and writes the file; false when it was not there.
    @discardableResult
    public mutating func remove(_ jid: JID) throws(IOError) -> Bool {
        guard let i = jids.firstIndex(of: jid.bare) else { return false }
        jids.remove(at: i)
        try save()
        return true
    }

    func save() throws(IOError) {
        var text = "# JIDs an owner allowed (perch rewrites this file)\n"
        for jid in jids { text += jid.description + "\n" }
        try writeFileAtomically(path, Array(text.utf8), mode: 0o600)
    }
}
