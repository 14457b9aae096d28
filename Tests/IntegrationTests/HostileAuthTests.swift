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
