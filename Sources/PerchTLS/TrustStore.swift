internal import CMbedTLS
internal import Glibc

/// The CA certificates a server chain is verified against: the system bundle plus an optional private
/// CA file. Loaded for one verification and released right after.
///
/// With `issuersOf`, only the bundle's certificates whose subject is the issuer of a certificate the
/// server presented are kept: the bundle (about 140 certificates, 220 KB of PEM) is parsed one
/// certificate at a time into one scratch certificate, instead of into a chain of all of them. Parsed
/// all at once the chain takes 460 KB of heap, which the allocator keeps (fragmented, so resident)
/// after it is freed; kept parsed between connections it would stay in use. One at a time, the heap
/// grows by a few KB. The parsing time is the same (3.4 ms here); connections are rare.
/// The subset can only fail where the whole bundle would succeed when a CA's subject is encoded
/// differently from the issuer name that refers to it; `TLSConnection` then verifies again against
/// the whole bundle (`isSubset`).
struct TrustStore {
    let chain: UnsafeMutablePointer<mbedtls_x509_crt>
    /// Whether the system bundle was filtered by issuer, so that a failed verification is worth
    /// repeating against all of it.
    private(set) var isSubset = false

    init(systemBundle: String?, extraFile: String?, issuersOf presented: UnsafePointer<mbedtls_x509_crt>? = nil) throws(TLSError) {
        chain = .allocate(capacity: 1)
        mbedtls_x509_crt_init(chain)
        var loaded = 0
        if let systemBundle {
            if let presented, let pem = Self.read(systemBundle), Self.loadIssuers(of: presented, from: pem, into: chain) {
                loaded += 1
                isSubset = true
            } else {
                // No presented chain, or no PEM certificate in the file (unreadable, empty, DER):
                // the whole-file parse, which also reads DER.
                // A positive result counts certificates that could not be parsed; the rest are usable.
                let rc = mbedtls_x509_crt_parse_file(chain, systemBundle)
                if rc >= 0 { loaded += 1 }
            }
        }
        if let extraFile {
            let rc = mbedtls_x509_crt_parse_file(chain, extraFile)
            if rc != 0 {
                release()
                throw TLSError(.configuration, "cannot load the CA file \(extraFile): \(rc < 0 ? TLSConnection.describe(rc) : "\(rc) certificates could not be parsed")")
            }
            loaded += 1
        }
        if loaded == 0 {
            release()
            throw TLSError(.configuration, "no trusted CA certificates: \(systemBundle ?? "no system bundle") could not be read and no ca_file is set (install ca-certificates)")
        }
    }

    func release() {
        mbedtls_x509_crt_free(chain)
        chain.deallocate()
    }

    /// How many certificates the store holds.
    var count: Int {
        var n = 0
        forEachCertificate(in: chain) { _ in n += 1 }
        return n
    }

    /// How many of `systemBundle`'s certificates a verification of the chain in the PEM file
    /// `presentedFile` would load (for tests: the store is built as for a server presenting it).
    static func anchorCount(systemBundle: String, presentedFile: String) throws(TLSError) -> Int {
        let presented = UnsafeMutablePointer<mbedtls_x509_crt>.allocate(capacity: 1)
        mbedtls_x509_crt_init(presented)
        defer {
            mbedtls_x509_crt_free(presented)
            presented.deallocate()
        }
        guard mbedtls_x509_crt_parse_file(presented, presentedFile) == 0 else {
            throw TLSError(.configuration, "cannot read the certificates in \(presentedFile)")
        }
        let store = try TrustStore(systemBundle: systemBundle, extraFile: nil, issuersOf: presented)
        defer { store.release() }
        return store.count
    }

    /// The issuer names (DER) of every certificate in a presented chain.
    static func issuerNames(of presented: UnsafePointer<mbedtls_x509_crt>) -> [[UInt8]] {
        var names: [[UInt8]] = []
        forEachCertificate(in: presented) { c in
            var len = 0
            if let p = CMbedTLS_crt_issuer_raw(c, &len) { names.append(Array(UnsafeBufferPointer(start: p, count: len))) }
        }
        return names
    }

    /// Parses each PEM certificate of `pem` on its own and adds to `chain` those whose subject is one
    /// of the presented chain's issuers. Returns whether the bundle held any certificate at all.
    static func loadIssuers(of presented: UnsafePointer<mbedtls_x509_crt>, from pem: [UInt8], into chain: UnsafeMutablePointer<mbedtls_x509_crt>) -> Bool {
        let wanted = issuerNames(of: presented)
        let scratch = UnsafeMutablePointer<mbedtls_x509_crt>.allocate(capacity: 1)
        defer { scratch.deallocate() }
        var block: [UInt8] = []
        var any = false
        for range in pemCertificates(pem) {
            block.removeAll(keepingCapacity: true)
            block.append(contentsOf: pem[range])
            block.append(0)  // mbedTLS reads PEM only from a NUL-terminated buffer
            mbedtls_x509_crt_init(scratch)
            defer { mbedtls_x509_crt_free(scratch) }
            guard mbedtls_x509_crt_parse(scratch, block, block.count) == 0 else { continue }
            any = true
            var len = 0
            guard let subject = CMbedTLS_crt_subject_raw(scratch, &len) else { continue }
            let name = UnsafeBufferPointer(start: subject, count: len)
            guard wanted.contains(where: { $0.elementsEqual(name) }) else { continue }
            var rawLen = 0
            if let raw = CMbedTLS_crt_raw(scratch, &rawLen) { _ = mbedtls_x509_crt_parse_der(chain, raw, rawLen) }
        }
        return any
    }

    /// The byte ranges of each `-----BEGIN CERTIFICATE-----` … `-----END CERTIFICATE-----` block.
    static func pemCertificates(_ pem: [UInt8]) -> [Range<Int>] {
        let begin = Array("-----BEGIN CERTIFICATE-----".utf8)
        let end = Array("-----END CERTIFICATE-----".utf8)
        var ranges: [Range<Int>] = []
        var i = 0
        while let start = find(begin, in: pem, from: i) {
            guard let stop = find(end, in: pem, from: start + begin.count) else { break }
            ranges.append(start..<(stop + end.count))
            i = stop + end.count
        }
        return ranges
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var i = from
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// The whole file, or nil when it cannot be read or is empty.
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes.isEmpty ? nil : bytes
    }
}

/// Calls `body` with each certificate of a parsed chain, first to last.
func forEachCertificate(in chain: UnsafePointer<mbedtls_x509_crt>, _ body: (UnsafePointer<mbedtls_x509_crt>) -> Void) {
    var cert: UnsafePointer<mbedtls_x509_crt>? = chain
    while let c = cert, CMbedTLS_crt_has_raw(c) != 0 {
        body(c)
        cert = CMbedTLS_crt_next(c)
    }
}
