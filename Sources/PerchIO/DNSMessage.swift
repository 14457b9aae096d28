/// One SRV record (RFC 2782).
public struct SRVRecord: Hashable, Sendable {
    public var priority: UInt16
    public var weight: UInt16
    public var port: UInt16
    public var target: String

    public init(priority: UInt16, weight: UInt16, port: UInt16, target: String) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
    }

    /// Orders records for connection attempts (RFC 2782): ascending priority; within a priority, a
    /// weighted random order where zero-weight records come last but still get a chance.
    public static func order<G: RandomNumberGenerator>(_ records: [SRVRecord], using rng: inout G) -> [SRVRecord] {
        var out: [SRVRecord] = []
        let byPriority = Dictionary(grouping: records, by: \.priority)
        for priority in byPriority.keys.sorted() {
            var group = byPriority[priority]!.sorted { $0.weight == 0 && $1.weight != 0 }
            while !group.isEmpty {
                let total = group.reduce(0) { $0 + Int($1.weight) }
                let pick = total == 0 ? 0 : Int.random(in: 0...total, using: &rng)
                var running = 0
                var index = group.count - 1
                for (i, r) in group.enumerated() {
                    running += Int(r.weight)
                    if running >= pick { index = i; break }
                }
                out.append(group.remove(at: index))
            }
        }
        return out
    }
}

/// What a DNS answer says.
public enum DNSAnswer: Hashable, Sendable {
    /// Records of the asked type (may be empty: the name exists without such records).
    case records([SRVRecord])
    /// NXDOMAIN: the name does not exist.
    case noSuchName
    /// The server failed (SERVFAIL, REFUSED...), or the answer was truncated or malformed.
    case failure(String)
}

/// Just enough of the DNS wire format (RFC 1035) to ask for SRV records and read the answer.
public enum DNSMessage {
    public static let typeSRV: UInt16 = 33

    /// A recursive query for one name.
    public static func query(id: UInt16, name: String, type: UInt16 = typeSRV) -> [UInt8] {
        var m: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            let bytes = Array(label.utf8.prefix(63))
            m.append(UInt8(bytes.count))
            m += bytes
        }
        m += [0, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        return m
    }

    /// Whether an answer with `expectedID` has the TC bit set: the server had more than a datagram
    /// holds, and the question must be asked again over TCP (RFC 7766).
    public static func isTruncated(_ m: [UInt8], expectedID: UInt16) -> Bool {
        m.count >= 12 && (UInt16(m[0]) << 8 | UInt16(m[1])) == expectedID && m[2] & 0x80 != 0 && m[2] & 0x02 != 0
    }

    /// Parses an answer to ``query(id:name:type:)``. Anything malformed is a failure, never a crash.
    public static func parseSRV(_ m: [UInt8], expectedID: UInt16) -> DNSAnswer {
        guard m.count >= 12 else { return .failure("short DNS answer") }
        let id = UInt16(m[0]) << 8 | UInt16(m[1])
        guard id == expectedID else { return .failure("DNS answer with the wrong id") }
        guard m[2] & 0x80 != 0 else { return .failure("DNS message is not an answer") }
        if m[2] & 0x02 != 0 { return .failure("truncated DNS answer") }
        let rcode = m[3] & 0x0F
        if rcode == 3 { return .noSuchName }
        guard rcode == 0 else { return .failure("DNS server error (rcode \(rcode))") }
        let qd = Int(m[4]) << 8 | Int(m[5])
        let an = Int(m[6]) << 8 | Int(m[7])
        var p = 12
        for _ in 0..<qd {
            guard let (_, next) = readName(m, p) else { return .failure("malformed DNS question") }
            p = next + 4
        }
        var records: [SRVRecord] = []
        for _ in 0..<an {
            guard let (_, afterName) = readName(m, p), afterName + 10 <= m.count else { return .failure("malformed DNS answer") }
            let type = UInt16(m[afterName]) << 8 | UInt16(m[afterName + 1])
            let rdlength = Int(m[afterName + 8]) << 8 | Int(m[afterName + 9])
            let rdata = afterName + 10
            guard rdata + rdlength <= m.count else { return .failure("malformed DNS answer") }
            if type == typeSRV {
                guard rdlength >= 7, let (target, _) = readName(m, rdata + 6) else { return .failure("malformed SRV record") }
                records.append(SRVRecord(
                    priority: UInt16(m[rdata]) << 8 | UInt16(m[rdata + 1]),
                    weight: UInt16(m[rdata + 2]) << 8 | UInt16(m[rdata + 3]),
                    port: UInt16(m[rdata + 4]) << 8 | UInt16(m[rdata + 5]),
                    target: target))
            }
            p = rdata + rdlength
        }
        return .records(records)
    }

    /// Reads a possibly compressed name; returns it and the offset after it in the original position.
    static func readName(_ m: [UInt8], _ start: Int) -> (String, Int)? {
        var labels: [String] = []
        var p = start
        var end: Int?
        var jumps = 0
        while true {
            guard p < m.count else { return nil }
            let len = Int(m[p])
            if len == 0 {
                if end == nil { end = p + 1 }
                break
            }
            if len & 0xC0 == 0xC0 {
                guard p + 1 < m.count, jumps < 16 else { return nil }
                if end == nil { end = p + 2 }
                p = (len & 0x3F) << 8 | Int(m[p + 1])
                jumps += 1
                continue
            }
            guard len <= 63, p + 1 + len <= m.count else { return nil }
            labels.append(String(decoding: m[(p + 1)..<(p + 1 + len)], as: UTF8.self))
            p += 1 + len
        }
        return (labels.joined(separator: "."), end!)
    }
}
