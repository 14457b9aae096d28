import Foundation
import Testing
import XMPPClient
import XMPPCore

/// The daemon, as its own process, against every server scripts/integration/run started: Prosody 0.12
/// on 127.0.0.1:15222/15223 and ejabberd 23.01 on 127.0.0.1:15232/15233 with two virtual hosts (see
/// ``ITServer``). Each test runs once per server.
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct ServerTests {
    @Test(arguments: ITServer.running)
    func logsInWithSTARTTLSAndSCRAMAndClosesCleanlyOnSIGTERM(_ server: ITServer) throws {
        let daemon = try DaemonProcess(config: daemonConfig(jid: server.jid, port: server.port), password: "perch-secret")
        #expect(daemon.waitFor("online as \(server.jid)"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("(\(server.mechanism)"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains(", TLS, stream management)"), "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
        #expect(daemon.log.contains("stream closed; exiting"), "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("perch-secret"))
    }

    @Test(arguments: ITServer.running)
    func logsInWithDirectTLS(_ server: ITServer) throws {
        let daemon = try DaemonProcess(config: daemonConfig(jid: server.jid, port: server.directTLSPort, transport: "directtls"), password: "perch-secret")
        #expect(daemon.waitFor("online as \(server.jid)"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("with direct TLS"))
        #expect(daemon.log.contains("(\(server.mechanism)"), "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: ITServer.running)
    func answersPingDiscoAndVersionFromASecondClient(_ server: ITServer) throws {
        let daemon = try DaemonProcess(config: daemonConfig(jid: server.jid, port: server.port, owner: "peer@\(server.domain)"), password: "perch-secret")
        #expect(daemon.waitFor("online as"), "log:\n\(daemon.log)")
        let peer = try Peer(domain: server.domain, port: server.port)
        #expect(peer.connect())
        let target = server.jid

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

    @Test(arguments: ITServer.running)
    func wrongPasswordIsReportedAndNotRetriedSoon(_ server: ITServer) throws {
        let daemon = try DaemonProcess(config: daemonConfig(jid: server.jid, port: server.port), password: "not-the-password")
        #expect(daemon.waitFor("authentication as perch@\(server.domain) failed"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("check the account's JID and password"))
        #expect(daemon.waitFor("reconnecting in 1"))
        Thread.sleep(forTimeInterval: 3)
        // One attempt only: no tight retry loop against the server.
        #expect(daemon.log.components(separatedBy: "connecting to 127.0.0.1").count == 2, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("min"))
        #expect(!daemon.log.contains("not-the-password"))
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: ITServer.running)
    func untrustedCertificateIsRefused(_ server: ITServer) throws {
        let daemon = try DaemonProcess(config: daemonConfig(jid: server.jid, port: server.port, ca: IT.otherCAFile), password: "perch-secret")
        #expect(daemon.waitFor("certificate is not trusted"), "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("online as"))
        #expect(!daemon.log.contains("<auth"))
        #expect(daemon.terminate() == 0)
    }
}
