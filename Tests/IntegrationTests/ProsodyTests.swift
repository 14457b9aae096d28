import Foundation
import Testing
import XMPPClient
import XMPPCore

/// Against the Prosody 0.12 that scripts/integration/run starts on 127.0.0.1:15222 (STARTTLS) and
/// :15223 (direct TLS). Prosody 0.12 offers SCRAM-SHA-1 (and -PLUS) only.
@Suite(.serialized, .enabled(if: IT.prosody, "set PERCH_IT_PROSODY=1 (scripts/integration/run starts Prosody)"))
struct ProsodyTests {
    @Test func logsInWithSTARTTLSAndSCRAMAndClosesCleanlyOnSIGTERM() throws {
        let daemon = try DaemonProcess(config: daemonConfig(), password: "perch-secret")
        #expect(daemon.waitFor("online as perch@perch.test/board"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("SCRAM-SHA-1"))
        #expect(daemon.log.contains(", TLS)"))
        #expect(daemon.terminate() == 0)
        #expect(daemon.log.contains("stream closed; exiting"), "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("perch-secret"))
    }

    @Test func logsInWithDirectTLS() throws {
        let daemon = try DaemonProcess(config: daemonConfig(port: 15223, transport: "directtls"), password: "perch-secret")
        #expect(daemon.waitFor("online as perch@perch.test/board"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("with direct TLS"))
        #expect(daemon.terminate() == 0)
    }

    @Test func answersPingDiscoAndVersionFromASecondClient() throws {
        let daemon = try DaemonProcess(config: daemonConfig(), password: "perch-secret")
        #expect(daemon.waitFor("online as"), "log:\n\(daemon.log)")
        let peer = try Peer()
        #expect(peer.connect())
        let target = "perch@perch.test/board"

        let ping = try peer.ask(target, XMLElement("ping", namespace: XMPPNamespace.ping))
        #expect(try ping?.get().stanzaType == "result")

        let disco = try peer.ask(target, XMLElement("query", namespace: XMPPNamespace.discoInfo))
        let features = try disco?.get().child("query", namespace: XMPPNamespace.discoInfo)?.elements.compactMap { $0[attribute: "var"] } ?? []
        #expect(features.contains(XMPPNamespace.ping))
        #expect(features.contains(XMPPNamespace.version))

        let version = try peer.ask(target, XMLElement("query", namespace: XMPPNamespace.version))
        #expect(try version?.get().child("query", namespace: XMPPNamespace.version)?.child("name")?.text == "Perch")

        let time = try peer.ask(target, XMLElement("time", namespace: XMPPNamespace.time))
        #expect(try time?.get().child("time", namespace: XMPPNamespace.time)?.child("utc")?.text.hasSuffix("Z") == true)

        // An unknown iq gets service-unavailable (RFC 6120 §8.4).
        let unknown = try peer.ask(target, XMLElement("query", namespace: "urn:example:unknown"))
        if case .failure(let e)? = unknown { #expect(e.condition == .serviceUnavailable) } else { Issue.record("unknown iq answered: \(String(describing: unknown))") }
        peer.disconnect()
        #expect(daemon.terminate() == 0)
    }

    @Test func wrongPasswordIsReportedAndNotRetriedSoon() throws {
        let daemon = try DaemonProcess(config: daemonConfig(), password: "not-the-password")
        #expect(daemon.waitFor("authentication as perch@perch.test failed"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("check the account's JID and password"))
        #expect(daemon.waitFor("reconnecting in 1"))
        Thread.sleep(forTimeInterval: 3)
        // One attempt only: no tight retry loop against the server.
        #expect(daemon.log.components(separatedBy: "connecting to 127.0.0.1").count == 2, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("min"))
        #expect(!daemon.log.contains("not-the-password"))
        #expect(daemon.terminate() == 0)
    }

    @Test func untrustedCertificateIsRefused() throws {
        let daemon = try DaemonProcess(config: daemonConfig(ca: IT.otherCAFile), password: "perch-secret")
        #expect(daemon.waitFor("certificate is not trusted"), "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("online as"))
        #expect(!daemon.log.contains("<auth"))
        #expect(daemon.terminate() == 0)
    }
}
