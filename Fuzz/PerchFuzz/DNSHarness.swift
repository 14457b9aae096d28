import PerchIO

/// The input as the answer to an SRV query (RFC 1035 wire format, compressed names), with the id it
/// carries so the parser reads past the id check; the records found are then ordered (RFC 2782).
func fuzzDNS(_ data: UnsafeRawBufferPointer) {
    let m = Array(data)
    let id = m.count >= 2 ? UInt16(m[0]) << 8 | UInt16(m[1]) : 0
    if case .records(let records) = DNSMessage.parseSRV(m, expectedID: id) {
        var rng = SystemRandomNumberGenerator()
        _ = SRVRecord.order(records, using: &rng)
    }
}
