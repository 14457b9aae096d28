import Foundation
import Testing
import XMPPClient
import XMPPCore

/// "ﬁsh-é" as an operator may well type it: the U+FB01 ligature and a decomposed é (e, U+0301). The
/// servers store the SCRAM keys of its prepared form, "fish-é" with U+00E9 (scripts/integration).
let hostileAuthUnicodePassword = "\u{FB01}sh-e\u{0301}"

/// Authentication against the real servers where the client's own preparation of credentials matters.
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct HostileAuthTests {
    @Test(arguments: ITServer.running)
    func nonASCIIPasswordLogsInAfterSASLprep(_ server: ITServer) throws {
        let jid = "unicode@\(server.domain)/board"
        let daemon = try DaemonProcess(config: daemonConfig(jid: jid, port: server.port, owner: "peer@\(server.domain)"), password: hostileAuthUnicodePassword)
        // Scalar by scalar, the password file holds the unprepared form (Swift's == would not tell).
        let written = try String(contentsOfFile: "\(daemon.dir)/password", encoding: .utf8)
        #expect(written.unicodeScalars.map(\.value).prefix(7) == [0xFB01, 0x73, 0x68, 0x2D, 0x65, 0x301, 0x0A])
        #expect(daemon.waitFor("online as \(jid)"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("(\(server.mechanism)"), "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("not-authorized"), "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
    }
}

/// The sha256/ pin of a fixture certificate's key, computed by openssl (independently of Perch).
func hostileAuthPin(_ certificate: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", "openssl x509 -pubkey -noout -in '\(IT.root)/Tests/Fixtures/certs/\(certificate)' | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64"]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let b64 = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard p.terminationStatus == 0, b64.count == 44 else { throw ITError("cannot compute the pin of \(certificate): \(b64)") }
    return "sha256/" + b64
}

/// A daemon configuration with [server] extras (daemonConfig's `extra` lands after [device]).
func hostileAuthConfig(jid: String, port: Int, server extra: String) -> String {
    daemonConfig(jid: jid, port: port).replacingOccurrences(of: "[access]", with: "\(extra)\n[access]")
}

@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct HostileAuthPinTests {
    @Test(arguments: ITServer.running)
    func aPinOfTheCAKeyIsSatisfiedByTheServersChain(_ server: ITServer) throws {
        // The servers send only their own certificate: the CA is on the verified path as its anchor.
        let config = hostileAuthConfig(jid: server.jid, port: server.port, server: "pins = [\"\(try hostileAuthPin("ca.pem"))\"]")
        let daemon = try DaemonProcess(config: config, password: "perch-secret")
        #expect(daemon.waitFor("online as \(server.jid)"), "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: ITServer.running)
    func aPinOfAnotherKeyIsRefusedBeforeAnyCredential(_ server: ITServer) throws {
        let config = hostileAuthConfig(jid: server.jid, port: server.port, server: "pins = [\"\(try hostileAuthPin("misissued.pem"))\"]")
        let daemon = try DaemonProcess(config: config, password: "perch-secret")
        #expect(daemon.waitFor("matches a configured pin"), "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("online as"))
        #expect(!daemon.log.contains("authentication as"))
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: ITServer.running)
    func aPasswordSASLprepRefusesIsReportedAndNeverSent(_ server: ITServer) throws {
        let daemon = try DaemonProcess(config: daemonConfig(jid: server.jid, port: server.port), password: "perch\u{0007}secret")
        #expect(daemon.waitFor("cannot be used with SASL"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("U+0007"), "log:\n\(daemon.log)")
        // Refused by the client itself: the server never saw an attempt to fail.
        #expect(!daemon.log.contains("not-authorized"), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("reconnecting in 1"))
        #expect(daemon.terminate() == 0)
    }
}
