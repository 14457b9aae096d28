internal import CMbedTLS

/// The CA certificates a server chain is verified against: the system bundle plus an optional private
/// CA file. Loaded for one verification and released right after.
struct TrustStore {
    let chain: UnsafeMutablePointer<mbedtls_x509_crt>

    init(systemBundle: String?, extraFile: String?) throws(TLSError) {
        chain = .allocate(capacity: 1)
        mbedtls_x509_crt_init(chain)
        var loaded = 0
        if let systemBundle {
            // A positive result counts certificates that could not be parsed; the rest are usable.
            let rc = mbedtls_x509_crt_parse_file(chain, systemBundle)
            if rc >= 0 { loaded += 1 }
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
}
