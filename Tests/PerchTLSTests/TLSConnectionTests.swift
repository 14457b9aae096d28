import Foundation
import Testing
import PerchCrypto
@testable import PerchTLS

enum Certs {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/certs").path
    static func read(_ name: String) -> String { try! String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8) }
    static var server: TLSServerIdentity { TLSServerIdentity(certificateChainPEM: read("server.pem"), privateKeyPEM: read("server.key")) }
    static var caFile: String { "\(dir)/ca.pem" }
    static var otherCAFile: String { "\(dir)/other-ca.pem" }
}

/// Runs a client and a server back to back in memory until neither has anything to say.
func interact(_ client: TLSConnection, _ server: TLSConnection) throws -> (toClient: [UInt8], toServer: [UInt8]) {
    var toClient: [UInt8] = []
    var toServer: [UInt8] = []
    for _ in 0..<50 {
        let c = client.takeOutgoing()
        let s = server.takeOutgoing()
        if c.isEmpty && s.isEmpty { break }
        if !c.isEmpty { toServer += try server.receive(c) }
        if !s.isEmpty { toClient += try client.receive(s) }
    }
    return (toClient, toServer)
}

func clientConfig(names: [String] = ["perch.test"], ca: String? = Certs.caFile, pins: [[UInt8]] = []) -> TLSConfiguration {
    TLSConfiguration(serverName: "perch.test", referenceNames: names, systemTrustStore: nil, extraCAFile: ca, spkiPins: pins)
}

@Suite struct TLSConnectionTests {
    @Test func handshakeAndDataBothWays() throws {
        let client = try TLSConnection(role: .client(clientConfig()))
        let server = try TLSConnection(role: .server(Certs.server))
        try client.startHandshake()
        _ = try interact(client, server)
        #expect(client.state == .established)
        #expect(server.state == .established)
        try client.send(Array("<stream:stream>".utf8))
        try server.send(Array("<proceed/>".utf8))
        let (toClient, toServer) = try interact(client, server)
        #expect(toClient == Array("<proceed/>".utf8))
        #expect(toServer == Array("<stream:stream>".utf8))
        // tls-unique is the 12-byte Finished; tls-server-end-point a SHA-256.
        #expect(client.channelBindings.map(\.type) == ["tls-unique", "tls-server-end-point"])
        #expect(client.channelBindings.first?.data.count == 12)
        #expect(client.channelBindings.last?.data.count == 32)
        #expect(client.cipherSuite.contains("TLS-"))
    }

    @Test func largeWritesAreSplitIntoRecordsAndReassembled() throws {
        let client = try TLSConnection(role: .client(clientConfig()))
        let server = try TLSConnection(role: .server(Certs.server))
        try client.startHandshake()
        _ = try interact(client, server)
        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        try server.send(payload)
        // Deliver one byte at a time: everything decryptable must come out, nothing held back.
        var received: [UInt8] = []
        for b in server.takeOutgoing() { received += try client.receive([b]) }
        #expect(received == payload)
    }

    @Test func untrustedCAIsRefused() throws {
        let client = try TLSConnection(role: .client(clientConfig(ca: Certs.otherCAFile)))
        let server = try TLSConnection(role: .server(Certs.server))
        try client.startHandshake()
        #expect { try interact(client, server) } throws: { ($0 as? TLSError)?.code == .untrustedCertificate }
        #expect(client.state == .inProgress)
        #expect(throws: TLSError.self) { try client.send([1]) }
    }

    @Test func nameMismatchIsRefused() throws {
        let client = try TLSConnection(role: .client(clientConfig(names: ["example.org"])))
        let server = try TLSConnection(role: .server(Certs.server))
        try client.startHandshake()
        #expect { try interact(client, server) } throws: { error in
            guard let e = error as? TLSError else { return false }
            return e.code == .nameMismatch && e.detail.contains("perch.test") && e.detail.contains("example.org")
        }
    }

    @Test func wildcardNameIsAccepted() throws {
        let client = try TLSConnection(role: .client(clientConfig(names: ["device.perch.test"])))
        let server = try TLSConnection(role: .server(Certs.server))
        try client.startHandshake()
        _ = try interact(client, server)
        #expect(client.state == .established)
    }

    @Test func pins() throws {
        // Learn the server key's pin from a pin mismatch message, then use it.
        let wrong = try TLSConnection(role: .client(clientConfig(pins: [[UInt8](repeating: 0, count: 32)])))
        var detail = ""
        do {
            try wrong.startHandshake()
            _ = try interact(wrong, try TLSConnection(role: .server(Certs.server)))
        } catch let e as TLSError {
            #expect(e.code == .pinMismatch)
            detail = e.detail
        }
        let b64 = String(detail.split(separator: "sha256/").last!.dropLast())
        let pin = try #require(Base64.decode(b64))
        let right = try TLSConnection(role: .client(clientConfig(pins: [pin])))
        try right.startHandshake()
        _ = try interact(right, try TLSConnection(role: .server(Certs.server)))
        #expect(right.state == .established)
    }

    @Test func missingCAFileIsAConfigurationError() throws {
        let client = try TLSConnection(role: .client(clientConfig(ca: "/nonexistent/ca.pem")))
        let server = try TLSConnection(role: .server(Certs.server))
        try client.startHandshake()
        #expect { try interact(client, server) } throws: { ($0 as? TLSError)?.code == .configuration }
    }

    @Test func garbageIsAHandshakeError() throws {
        let client = try TLSConnection(role: .client(clientConfig()))
        try client.startHandshake()
        #expect { try client.receive(Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8)) } throws: { ($0 as? TLSError)?.code == .handshake }
    }

    @Test func closeNotify() throws {
        let client = try TLSConnection(role: .client(clientConfig()))
        let server = try TLSConnection(role: .server(Certs.server))
        try client.startHandshake()
        _ = try interact(client, server)
        server.close()
        _ = try client.receive(server.takeOutgoing())
        #expect(client.peerClosed)
    }
}

@Suite struct CertificateIdentityTests {
    @Test func rfc6125Matching() {
        #expect(CertificateIdentity.matches(dnsNames: ["example.org"], commonNames: [], referenceNames: ["EXAMPLE.org."]))
        #expect(CertificateIdentity.matches(dnsNames: ["*.example.org"], commonNames: [], referenceNames: ["xmpp.example.org"]))
        #expect(!CertificateIdentity.matches(dnsNames: ["*.example.org"], commonNames: [], referenceNames: ["example.org"]))
        #expect(!CertificateIdentity.matches(dnsNames: ["*.example.org"], commonNames: [], referenceNames: ["a.b.example.org"]))
        #expect(!CertificateIdentity.matches(dnsNames: ["*.org"], commonNames: [], referenceNames: ["example.org"]))
        #expect(!CertificateIdentity.matches(dnsNames: ["x*.example.org"], commonNames: [], referenceNames: ["xa.example.org"]))
        // CN only counts when there is no dNSName.
        #expect(CertificateIdentity.matches(dnsNames: [], commonNames: ["example.org"], referenceNames: ["example.org"]))
        #expect(!CertificateIdentity.matches(dnsNames: ["other.org"], commonNames: ["example.org"], referenceNames: ["example.org"]))
        #expect(CertificateIdentity.matches(dnsNames: ["other.org"], commonNames: [], referenceNames: ["example.org", "other.org"]))
    }
}

/// The system bundle is read one certificate at a time, and only the CAs that issued a presented
/// certificate are kept for the verification.
@Suite struct SystemBundleTests {
    /// A bundle file of the fixtures' certificates, in this order, with whatever lies between them.
    func bundle(_ names: [String], between: String = "\n") throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("perch-bundle-\(UUID().uuidString).pem").path
        let text = names.map { Certs.read($0) }.joined(separator: between)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func config(bundle: String) -> TLSConfiguration {
        TLSConfiguration(serverName: "perch.test", referenceNames: ["perch.test"], systemTrustStore: bundle, extraCAFile: nil)
    }

    @Test func aServerIssuedByABundleCAIsTrustedWithOnlyThatCALoaded() throws {
        let path = try bundle(["other-ca.pem", "self-signed.pem", "ca.pem", "expired.pem"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        // server.pem is issued by ca.pem: of the four, only it is kept.
        #expect(try TrustStore.anchorCount(systemBundle: path, presentedFile: "\(Certs.dir)/server.pem") == 1)
        #expect(try TrustStore(systemBundle: path, extraFile: nil).count == 4)
        let client = try TLSConnection(role: .client(config(bundle: path)))
        try client.startHandshake()
        _ = try interact(client, try TLSConnection(role: .server(Certs.server)))
        #expect(client.state == .established)
    }

    @Test func aServerIssuedByNoBundleCAIsRefused() throws {
        let path = try bundle(["other-ca.pem", "self-signed.pem"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try TrustStore.anchorCount(systemBundle: path, presentedFile: "\(Certs.dir)/server.pem") == 0)
        let client = try TLSConnection(role: .client(config(bundle: path)))
        try client.startHandshake()
        #expect { try interact(client, try TLSConnection(role: .server(Certs.server))) } throws: { ($0 as? TLSError)?.code == .untrustedCertificate }
    }

    @Test func brokenBlocksAndTextBetweenCertificatesAreSkipped() throws {
        let broken = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----"
        let path = try bundle(["other-ca.pem", "ca.pem"], between: "\n# a comment\n\(broken)\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try TrustStore.anchorCount(systemBundle: path, presentedFile: "\(Certs.dir)/server.pem") == 1)
        let client = try TLSConnection(role: .client(config(bundle: path)))
        try client.startHandshake()
        _ = try interact(client, try TLSConnection(role: .server(Certs.server)))
        #expect(client.state == .established)
    }

    @Test func anUnreadableBundleWithoutACAFileIsAConfigurationError() throws {
        let client = try TLSConnection(role: .client(config(bundle: "/nonexistent/bundle.pem")))
        try client.startHandshake()
        #expect { try interact(client, try TLSConnection(role: .server(Certs.server))) } throws: { ($0 as? TLSError)?.code == .configuration }
    }
}
