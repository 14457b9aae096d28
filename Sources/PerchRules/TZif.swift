/// The reader of TZif time zone files (RFC 8536, versions 1 to 4), the format of /usr/share/zoneinfo.
///
/// The bytes come from a file the operator points at (TZ, /etc/localtime), so they are read as
/// untrusted: every count is checked against the bytes that are there, sizes are capped, and a
/// damaged file is an error naming what is wrong, never a crash. Leap-second records (the `right/`
/// zones) are skipped: Perch's clock is POSIX time, which has none.
struct TZifData: Sendable, Hashable {
    var transitions: [Int64]
    /// Index into `types` for each transition.
    var transitionTypes: [UInt8]
    var types: [ZoneType]
    var footer: PosixTimeZone?

    /// Larger files are refused (the largest zone in tzdata is under 4 KB).
    static let maxBytes = 1 << 20
    /// The most transitions a file may list (tzdata's longest has a few hundred).
    static let maxTransitions = 50_000

    static func parse(_ bytes: [UInt8], name: String) throws(TimeZoneError) -> TZifData {
        guard bytes.count <= maxBytes else {
            throw TimeZoneError("the time zone file for \(name) is \(bytes.count) bytes, more than any real zone (\(maxBytes) at most); it is not a time zone file")
        }
        var r = Reader(bytes: bytes, name: name)
        let v1 = try r.header(skipping: true)
        guard v1.version >= 2 else { return try r.block(v1, timeSize: 4, footer: false) }
        try r.skip(v1.blockSize(timeSize: 4), what: "version 1 data")
        let v2 = try r.header(skipping: false)
        return try r.block(v2, timeSize: 8, footer: true)
    }

    struct Header {
        var version: Int
        var isUTCCount: Int
        var isStdCount: Int
        var leapCount: Int
        var timeCount: Int
        var typeCount: Int
        var charCount: Int

        func blockSize(timeSize: Int) -> Int {
            timeCount * timeSize + timeCount + typeCount * 6 + charCount + leapCount * (timeSize + 4) + isStdCount + isUTCCount
        }
    }

    struct Reader {
        let bytes: [UInt8]
        let name: String
        var i = 0

        func truncated(_ what: String) -> TimeZoneError {
            TimeZoneError("the time zone file for \(name) is truncated (it ends inside its \(what)); reinstall tzdata or point TZ at another zone")
        }

        func damaged(_ what: String) -> TimeZoneError {
            TimeZoneError("the time zone file for \(name) is damaged: \(what); reinstall tzdata or point TZ at another zone")
        }

        mutating func skip(_ n: Int, what: String) throws(TimeZoneError) {
            guard n >= 0, n <= bytes.count - i else { throw truncated(what) }
            i += n
        }

        mutating func u32() -> UInt32 {
            let v = UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
            i += 4
            return v
        }

        mutating func i64() -> Int64 {
            var v: UInt64 = 0
            for k in 0..<8 { v = v << 8 | UInt64(bytes[i + k]) }
            i += 8
            return Int64(bitPattern: v)
        }

        /// `skipping`: the version 1 header of a version 2+ file, whose block is only skipped (zic's slim
        /// output may leave it empty).
        mutating func header(skipping: Bool) throws(TimeZoneError) -> Header {
            guard bytes.count - i >= 44 else {
                if i == 0, bytes.count < 4 || bytes[0..<4] != [0x54, 0x5A, 0x69, 0x66][...] {
                    throw TimeZoneError("\(name) is not a time zone file (TZif): it does not start with \"TZif\"")
                }
                throw truncated("header")
            }
            guard bytes[i] == 0x54, bytes[i + 1] == 0x5A, bytes[i + 2] == 0x69, bytes[i + 3] == 0x66 else {
                throw TimeZoneError(
                    i == 0
                        ? "\(name) is not a time zone file (TZif): it does not start with \"TZif\""
                        : "the time zone file for \(name) is damaged: its second header does not start with \"TZif\"")
            }
            let v = bytes[i + 4]
            let version: Int
            switch v {
            case 0: version = 1
            case UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "4"): version = Int(v - UInt8(ascii: "0"))
            default: throw damaged("unknown version byte \(v)")
            }
            i += 20
            var counts: [Int] = []
            for _ in 0..<6 { counts.append(Int(u32())) }
            let h = Header(
                version: version, isUTCCount: counts[0], isStdCount: counts[1], leapCount: counts[2], timeCount: counts[3],
                typeCount: counts[4], charCount: counts[5])
            if skipping && h.version >= 2 {
                guard h.timeCount <= maxTransitions, h.leapCount <= maxTransitions, h.typeCount <= 256, h.charCount <= 65536,
                    h.isStdCount <= 256, h.isUTCCount <= 256
                else { throw damaged("absurd counts in its version 1 header") }
                return h
            }
            guard h.typeCount >= 1, h.typeCount <= 256 else { throw damaged("\(h.typeCount) local time types (1 to 256 allowed)") }
            guard h.charCount >= 1, h.charCount <= 65536 else { throw damaged("\(h.charCount) bytes of abbreviations") }
            guard h.timeCount <= maxTransitions else { throw damaged("\(h.timeCount) transitions (at most \(maxTransitions))") }
            guard h.leapCount <= maxTransitions else { throw damaged("\(h.leapCount) leap-second records") }
            guard h.isStdCount == 0 || h.isStdCount == h.typeCount, h.isUTCCount == 0 || h.isUTCCount == h.typeCount else {
                throw damaged("its standard/UT indicator counts do not match its \(h.typeCount) types")
            }
            return h
        }

        mutating func block(_ h: Header, timeSize: Int, footer wantsFooter: Bool) throws(TimeZoneError) -> TZifData {
            guard h.blockSize(timeSize: timeSize) <= bytes.count - i else { throw truncated("data") }
            var transitions: [Int64] = []
            transitions.reserveCapacity(h.timeCount)
            for _ in 0..<h.timeCount {
                let t = timeSize == 8 ? i64() : Int64(Int32(bitPattern: u32()))
                if let last = transitions.last, t <= last { throw damaged("its transition times are out of order") }
                transitions.append(t)
            }
            var indices: [UInt8] = []
            indices.reserveCapacity(h.timeCount)
            for _ in 0..<h.timeCount {
                let k = bytes[i]
                i += 1
                guard Int(k) < h.typeCount else { throw damaged("a transition names local time type \(k) of \(h.typeCount)") }
                indices.append(k)
            }
            var raw: [(offset: Int32, isDST: Bool, index: Int)] = []
            for _ in 0..<h.typeCount {
                let offset = Int32(bitPattern: u32())
                let dst = bytes[i]
                let index = Int(bytes[i + 1])
                i += 2
                guard offset > -93600, offset < 93600 else { throw damaged("a UTC offset of \(offset) seconds (more than 26 hours)") }
                guard dst <= 1 else { throw damaged("a daylight-saving flag of \(dst)") }
                guard index < h.charCount else { throw damaged("an abbreviation outside its abbreviation table") }
                raw.append((offset, dst == 1, index))
            }
            let chars = Array(bytes[i..<(i + h.charCount)])
            i += h.charCount
            var types: [ZoneType] = []
            for t in raw {
                guard let end = chars[t.index...].firstIndex(of: 0) else { throw damaged("an abbreviation without its terminating NUL") }
                types.append(ZoneType(offset: t.offset, isDST: t.isDST, abbreviation: String(decoding: chars[t.index..<end], as: UTF8.self)))
            }
            i += h.leapCount * (timeSize + 4) + h.isStdCount + h.isUTCCount
            var footer: PosixTimeZone?
            if wantsFooter {
                guard i < bytes.count, bytes[i] == 0x0A else { throw truncated("closing TZ rule") }
                guard let close = bytes[(i + 1)...].firstIndex(of: 0x0A) else { throw truncated("closing TZ rule") }
                let text = String(decoding: bytes[(i + 1)..<close], as: UTF8.self)
                if !text.isEmpty {
                    guard let rule = PosixTimeZone.parse(text) else {
                        throw TimeZoneError("the time zone file for \(name) ends in a rule that is not a POSIX TZ string (\"\(printable(text))\"); reinstall tzdata or point TZ at another zone")
                    }
                    footer = rule
                }
                i = close + 1
            }
            return TZifData(transitions: transitions, transitionTypes: indices, types: types, footer: footer)
        }
    }
}

/// One local time type of a zone: its offset, whether it is daylight-saving time, its abbreviation.
struct ZoneType: Sendable, Hashable {
    var offset: Int32
    var isDST: Bool
    var abbreviation: String
}

/// Text from a file, safe for a log line: at most 40 characters, control characters as `?`.
func printable(_ text: String) -> String {
    var out = ""
    for s in text.unicodeScalars.prefix(40) { out.unicodeScalars.append(s.value < 0x20 || s.value == 0x7F ? "?" : s) }
    return text.unicodeScalars.count > 40 ? out + "…" : out
}
