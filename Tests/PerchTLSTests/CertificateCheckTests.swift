import Foundation
import Testing
import PerchCrypto
@testable import PerchTLS

extension Certs {
    /// A server identity from a certificate (chain) file and a key file of Tests/Fixtures/certs.
    static func identity(_ chain: String, key: String) -> TLSServerIdentity {
        TLSServerIdentity(certificateChainPEM: read(chain), privateKeyPEM: read(key))
    }
    /// The SPKI pin of the first certificate in a fixture file.
    static func pin(_ name: String) throws -> [UInt8] {
        try #require(try TLSConnection.spkiDigests(ofPEM: read(name)).first)
    }
}

/// Runs the client against an in-memory server presenting `identity`; returns the client, established
/// or with the error it stopped at.
func handshake(_ config: TLSConfiguration, _ identity: TLSServerIdentity) throws -> (TLSConnection, TLSError?) {
    let client = try TLSConnection(role: .client(config))
    let server = try TLSConnection(role: .server(identity))
    try client.startHandshake()
    do { _ = try interact(client, server) } catch let e as TLSError { return (client, e) }
    return (client, nil)
}

/// SPKI pins are matched on the path verification built, never on what the server merely sent.
@Suite struct PinPathTests {
    @Test func misissuedCertificateWithTheRealOneAppendedDoesNotSatisfyThePin() throws {
        // Another key for perch.test from a trusted CA, presenting the pinned server certificate as
        // if it were part of its chain.
        let (client, error) = try handshake(clientConfig(pins: [try Certs.pin("server.pem")]), Certs.identity("misissued-bundle.pem", key: "misissued.key"))
        #expect(error?.code == .pinMismatch, "\(String(describing: error))")
        #expect(client.state == .inProgress)
        #expect(throws: TLSError.self) { try client.send(Array("\0perch\0perch-secret".utf8)) }
    }

    @Test func misissuedCertificateAloneDoesNotSatisfyThePin() throws {
        let (client, error) = try handshake(clientConfig(pins: [try Certs.pin("server.pem")]), Certs.identity("misissued.pem", key: "misissued.key"))
        #expect(error?.code == .pinMismatch, "\(String(describing: error))")
        #expect(client.state == .inProgress)
        // The message gives the presented key's pin, so an operator can see what the server holds.
        let misissued = Base64.encode(try Certs.pin("misissued.pem"))
        #expect(error?.detail.contains("sha256/\(misissued)") == true)
    }

    @Test func misissuedCertificateIsOtherwiseValid() throws {
        // Without pins the mis-issued certificate is accepted: it is the pin that must catch it.
        let (client, error) = try handshake(clientConfig(), Certs.identity("misissued-bundle.pem", key: "misissued.key"))
        #expect(error == nil)
        #expect(client.state == .established)
    }

    @Test func pinningTheCAKeyAcceptsItsCertificates() throws {
        // The server sends only its own certificate: the CA is the trust anchor of the path.
        let (client, error) = try handshake(clientConfig(pins: [try Certs.pin("ca.pem")]), Certs.server)
        #expect(error == nil, "\(String(describing: error))")
        #expect(client.state == .established)
    }

    @Test func pinningTheServerKeyAcceptsIt() throws {
        let (client, error) = try handshake(clientConfig(pins: [[UInt8](repeating: 1, count: 32), try Certs.pin("server.pem")]), Certs.server)
        #expect(error == nil, "\(String(describing: error))")
        #expect(client.state == .established)
    }

    @Test func aCertificateOfAnotherCAIsNoPin() throws {
        let (_, error) = try handshake(clientConfig(pins: [try Certs.pin("other-ca.pem")]), Certs.server)
        #expect(error?.code == .pinMismatch)
    }
}

/// Certificates that held up before: refused before any application data can be sent.
@Suite struct CertificateValidityTests {
    @Test func expiredCertificateIsRefused() throws {
        let (client, error) = try handshake(clientConfig(), Certs.identity("expired.pem", key: "expired.key"))
        #expect(error?.code == .untrustedCertificate)
        #expect(error?.detail.contains("expired") == true, "\(String(describing: error))")
        #expect(client.state == .inProgress)
    }

    @Test func selfSignedCertificateIsRefused() throws {
        let (client, error) = try handshake(clientConfig(), Certs.identity("self-signed.pem", key: "self-signed.key"))
        #expect(error?.code == .untrustedCertificate, "\(String(describing: error))")
        #expect(client.state == .inProgress)
    }
}

/// A real TLS server (openssl s_server) for certificates mbedTLS's own server role refuses to present
/// (it checks its certificate's usage against the suite, as a careless or hostile server does not).
final class OpenSSLServer {
    let process = Process()
    let port: Int

    /// - Parameter cipher: an OpenSSL cipher list, to force a key exchange.
    init(cert: String, key: String, cipher: String? = nil) throws {
        port = Self.freePort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", "\(Certs.dir)/\(cert)", "-key", "\(Certs.dir)/\(key)", "-tls1_2"]
            + (cipher.map { ["-cipher", $0] } ?? [])
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        process.standardInput = Pipe()
        try process.run()
        // s_server prints ACCEPT once it listens.
        var seen = ""
        let deadline = Date().addingTimeInterval(10)
        while !seen.contains("ACCEPT") && Date() < deadline {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            seen += String(decoding: data, as: UTF8.self)
        }
        guard seen.contains("ACCEPT") else { throw TLSError(.configuration, "openssl s_server did not start: \(seen)") }
    }

    deinit {
        // Polled: waitUntilExit can hang in a test process.
        kill(process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Runs a client handshake against the server over TCP; returns the error it stopped at, or nil
    /// once established.
    func handshake(_ config: TLSConfiguration) throws -> TLSError? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw TLSError(.io, "cannot connect to openssl s_server") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let client = try TLSConnection(role: .client(config))
        do {
            try client.startHandshake()
            while client.state != .established {
                let out = client.takeOutgoing()
                if !out.isEmpty { _ = out.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }
                var buf = [UInt8](repeating: 0, count: 16384)
                let n = recv(fd, &buf, buf.count, 0)
                guard n > 0 else { throw TLSError(.closed, "openssl s_server closed the connection") }
                _ = try client.receive(Array(buf[0..<n]))
            }
        } catch let error as TLSError {
            return error
        }
        return nil
    }
}

/// A server certificate must be for TLS servers (extended key usage) and allow what the suite does with
/// its key (key usage): digitalSignature for ECDHE, keyEncipherment for RSA key exchange.
@Suite(.serialized) struct CertificateUsageTests {
    @Test func clientAuthOnlyIsRefused() throws {
        let server = try OpenSSLServer(cert: "client-auth.pem", key: "client-auth.key")
        let error = try server.handshake(clientConfig())
        #expect(error?.code == .certificateUsage, "\(String(describing: error))")
        #expect(error?.detail.contains("extended key usage does not include serverAuth") == true)
    }

    @Test func codeSigningWithKeyCertSignIsRefused() throws {
        // RSA key exchange: OpenSSL presents an RSA certificate without digitalSignature for it.
        let server = try OpenSSLServer(cert: "code-signing.pem", key: "code-signing.key", cipher: "AES128-GCM-SHA256")
        let error = try server.handshake(clientConfig())
        #expect(error?.code == .certificateUsage, "\(String(describing: error))")
        #expect(error?.detail.contains("extended key usage does not include serverAuth") == true, "\(String(describing: error))")
    }

    @Test func signingOnlyKeyIsRefusedForRSAKeyExchange() throws {
        let server = try OpenSSLServer(cert: "rsa-sign-only.pem", key: "rsa-sign-only.key", cipher: "AES128-GCM-SHA256")
        let error = try server.handshake(clientConfig())
        #expect(error?.code == .certificateUsage, "\(String(describing: error))")
        #expect(error?.detail.contains("does not allow keyEncipherment, which the cipher suite TLS-RSA-WITH-AES-128-GCM-SHA256 needs") == true, "\(String(describing: error))")
    }

    @Test func signingOnlyKeyIsAcceptedForECDHE() throws {
        let server = try OpenSSLServer(cert: "rsa-sign-only.pem", key: "rsa-sign-only.key", cipher: "ECDHE-RSA-AES128-GCM-SHA256")
        let error = try server.handshake(clientConfig())
        #expect(error == nil, "\(String(describing: error))")
    }

    @Test func serverAuthIsAccepted() throws {
        let server = try OpenSSLServer(cert: "server.pem", key: "server.key")
        let error = try server.handshake(clientConfig())
        #expect(error == nil, "\(String(describing: error))")
    }

    @Test func noExtendedKeyUsageIsAccepted() throws {
        let server = try OpenSSLServer(cert: "no-eku.pem", key: "no-eku.key")
        let error = try server.handshake(clientConfig())
        #expect(error == nil, "\(String(describing: error))")
    }
}
