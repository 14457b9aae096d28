/// The header fields of an HTTP/1.1 message, in the order they came, looked up without regard to case
/// (RFC 9110 §5.1).
public struct HTTPHeaders: Sendable, Hashable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }

    public static func == (a: HTTPHeaders, b: HTTPHeaders) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for f in fields { hasher.combine(f.name); hasher.combine(f.value) }
    }

    public mutating func append(_ name: String, _ value: String) { fields.append((name, value)) }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    /// The first value of the field `name`.
    public subscript(name: String) -> String? {
        for f in fields where HTTPText.equalsIgnoringCase(f.name, name) { return f.value }
        return nil
    }

    /// Every value of the field `name`, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { HTTPText.equalsIgnoringCase($0.name, name) }.map(\.value)
    }

    /// The comma-separated list elements of every `name` field (RFC 9110 §5.6.1), trimmed, empty ones dropped.
    public func tokens(_ name: String) -> [String] {
        var out: [String] = []
        for v in values(name) {
            for part in v.split(separator: ",", omittingEmptySubsequences: true) {
                let t = HTTPText.trimmed(part)
                if !t.isEmpty { out.append(t) }
            }
        }
        return out
    }

    /// True when a `name` field lists `token` (compared without regard to case), as `Connection: Upgrade`.
    public func hasToken(_ name: String, _ token: String) -> Bool {
        tokens(name).contains { HTTPText.equalsIgnoringCase($0, token) }
    }
}

/// Byte-level text helpers (no _StringProcessing in the shipped targets).
enum HTTPText {
    static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    static func equalsIgnoringCase(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        return zip(x, y).allSatisfy { lower($0) == lower($1) }
    }

    static func trimmed(_ s: some StringProtocol) -> String {
        let u = Array(s.utf8)
        var start = 0, end = u.count
        while start < end, u[start] == 0x20 || u[start] == 0x09 { start += 1 }
        while end > start, u[end - 1] == 0x20 || u[end - 1] == 0x09 { end -= 1 }
        return String(decoding: u[start..<end], as: UTF8.self)
    }

    /// tchar (RFC 9110 §5.6.2).
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }

    static func isToken(_ s: some StringProtocol) -> Bool { !s.utf8.isEmpty && s.utf8.allSatisfy(isTokenByte) }

    /// Bytes as text for a log line: printable ASCII kept, everything else as \xNN, at most `limit` bytes.
    static func printable(_ bytes: some Collection<UInt8>, limit: Int = 64) -> String {
        var out = ""
        for b in bytes.prefix(limit) {
            if b >= 0x20 && b < 0x7F && b != UInt8(ascii: "\\") {
                out.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                let hex = Array("0123456789abcdef".utf8)
                out += "\\x" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
            }
        }
        if bytes.count > limit { out += "…" }
        return out
    }

    /// ISO-8859-1 bytes (what an HTTP field value may carry, RFC 9110 §5.5) as a string.
    static func latin1(_ bytes: some Collection<UInt8>) -> String {
        var s = ""
        s.unicodeScalars.append(contentsOf: bytes.map { Unicode.Scalar($0) })
        return s
    }
}
