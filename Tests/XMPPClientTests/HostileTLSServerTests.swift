import Foundation
import Testing
import PerchIO
import PerchLog
import PerchTLS
import XMPPAddress
import XMPPCore
@testable import XMPPClient

/// The fixture certificates (Tests/Fixtures/certs).
enum PlainPolicyCerts {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/certs").path
    static func read(_ name: String) -> String { try! String(contentsOfFile: "\(dir)/\(name)", encoding: .utf8) }
    static func identity(_ chain: String, key: String) -> TLSServerIdentity {
        TLSServerIdentity(certificateChainPEM: read(chain), privateKeyPEM: read(key))
    }
    static var server: TLSServerIdentity { identity("server.pem", key: "server.key") }
    static var caFile: String { "\(dir)/ca.pem" }
}

/// A server that offers only PLAIN, over direct TLS with a certificate the client trusts: what an
/// attacker with a certificate for the domain from any trusted CA would run to collect the password.
@Suite(.serialized) struct PlainPolicyTests {
    let loop: EventLoop
    let log = LogLines()

    init() throws {
        loop = try EventLoop()
    }

    func server(_ identity: TLSServerIdentity) -> FakeServer {
        var behaviour = FakeServer.Behaviour()
        behaviour.tls = identity
        behaviour.mechanisms = ["PLAIN"]
        behaviour.password = "perch-secret"
        return FakeServer(loop: loop, behaviour: behaviour)
    }

    func client(_ server: FakeServer, _ adjust: (inout ClientConfiguration) -> Void = { _ in }) throws -> XMPPClient {
        var config = ClientConfiguration(jid: try JID("perch@perch.test/board"), password: "perch-secret")
        config.host = "127.0.0.1"
        config.port = server.port
        config.transport = .directTLS
        config.caFile = PlainPolicyCerts.caFile
        config.systemTrustStore = nil
        adjust(&config)
        let log = self.log
        return XMPPClient(loop: loop, config: config, logger: Logger(label: "xmpp", level: .debug, format: .bare, sink: { log.append($0) }))
    }

    var passwordBytes: [UInt8] { Array("\0perch\0perch-secret".utf8) }

    @Test func plainOnlyGetsNoPasswordByDefault() throws {
        let s = server(PlainPolicyCerts.server)
        let c = try client(s)
        c.start()
        #expect(loop.run(until: { self.log.contains("reconnecting in") }, timeout: 10_000), "\(log.all)")
        #expect(s.sessions.allSatisfy { $0.auths.isEmpty }, "the client sent <auth/>: \(s.sessions.flatMap(\.plainMessages))")
        #expect(log.contains("server.allow_plain = true"), "\(log.all)")
        // Not retried in a loop: the long wait of an unusable security setup.
        #expect(log.all.contains { $0.hasPrefix("info: reconnecting in 1") && $0.hasSuffix(" min") }, "\(log.all)")
        #expect(s.sessions.count == 1)
        c.stop {}
    }

    @Test func aMisissuedCertificateWithTheRealOneAppendedGetsNoPasswordFromAPinnedClient() throws {
        // The attack of the security review: a certificate for perch.test with another key, the
        // pinned real certificate appended, PLAIN only. Even with allow_plain set, nothing goes out.
        let pin = try #require(try TLSConnection.spkiDigests(ofPEM: PlainPolicyCerts.read("server.pem")).first)
        let s = server(PlainPolicyCerts.identity("misissued-bundle.pem", key: "misissued.key"))
        let c = try client(s) {
            $0.spkiPins = [pin]
            $0.allowPlain = true
        }
        c.start()
        #expect(loop.run(until: { self.log.contains("reconnecting in") }, timeout: 10_000), "\(log.all)")
        #expect(s.sessions.allSatisfy { $0.auths.isEmpty && $0.plainMessages.isEmpty }, "the password went out: \(s.sessions.flatMap(\.plainMessages))")
        #expect(log.contains("matches a configured pin"), "\(log.all)")
        c.stop {}
    }

    @Test func withPinsPlainIsRefusedEvenFromTheRealServer() throws {
        let pin = try #require(try TLSConnection.spkiDigests(ofPEM: PlainPolicyCerts.read("server.pem")).first)
        let s = server(PlainPolicyCerts.server)
        let c = try client(s) {
            $0.spkiPins = [pin]
            $0.allowPlain = true
        }
        c.start()
        #expect(loop.run(until: { self.log.contains("reconnecting in") }, timeout: 10_000), "\(log.all)")
        #expect(s.sessions.allSatisfy { $0.auths.isEmpty }, "the password went out")
        #expect(log.contains("never uses PLAIN when server.pins are set"), "\(log.all)")
        c.stop {}
    }

    @Test func allowedPlainLogsInAndSaysThePasswordWentOut() throws {
        let s = server(PlainPolicyCerts.server)
        let c = try client(s) { $0.allowPlain = true }
        c.start()
        #expect(loop.run(until: { if case .online = c.status { return true } else { return false } }, timeout: 10_000), "\(log.all)")
        #expect(s.current?.plainMessages == [passwordBytes])
        #expect(log.all.contains { $0.contains("warning") && $0.contains("the password goes to the server in the clear inside TLS") }, "\(log.all)")
        var stopped = false
        c.stop { stopped = true }
        loop.run(until: { stopped }, timeout: 5_000)
    }
}

/// Plaintext right behind `<proceed/>` (the STARTTLS command injection of CVE-2011-0411): the bytes are
/// TLS from there on, so the client's handshake fails and nothing of the injected stream is acted on.
@Suite(.serialized) struct STARTTLSInjectionTests {
    let loop: EventLoop
    let log = LogLines()

    init() throws {
        loop = try EventLoop()
    }

    @Test func plaintextAfterProceedIsNotTakenForTheStream() throws {
        var behaviour = FakeServer.Behaviour()
        behaviour.stallInTLS = true
        behaviour.plaintextAfterProceed = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
            + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
        let server = FakeServer(loop: loop, behaviour: behaviour)
        var config = ClientConfiguration(jid: try JID("perch@perch.test/board"), password: "perch-secret")
        config.host = "127.0.0.1"
        config.port = server.port
        config.transport = .starttls
        config.caFile = PlainPolicyCerts.caFile
        config.systemTrustStore = nil
        config.allowPlain = true
        let log = self.log
        let c = XMPPClient(loop: loop, config: config, logger: Logger(label: "xmpp", level: .debug, format: .bare, sink: { log.append($0) }))
        c.start()
        #expect(loop.run(until: { self.log.contains("reconnecting in") }, timeout: 10_000), "\(log.all)")
        #expect(log.contains("TLS handshake failed"), "\(log.all)")
        #expect(!log.contains("authenticating with PLAIN"), "\(log.all)")
        c.stop {}
    }
}
