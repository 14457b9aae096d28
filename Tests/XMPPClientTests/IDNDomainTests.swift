import Testing
import PerchIO
import PerchLog
import XMPPAddress
@testable import XMPPClient

/// A non-ASCII domain is looked up (SRV), resolved and checked (SNI, certificate names) in its
/// ASCII form: DNS and X.509 dNSName hold A-labels.
@Suite struct IDNDomainTests {
    @Test func theClientUsesTheASCIIFormOfItsDomain() throws {
        let loop = try EventLoop()
        let c = XMPPClient(loop: loop, config: ClientConfiguration(jid: try JID("board@münchen.example/x"), password: "x"), logger: Logger(label: "t", level: .error, format: .bare, sink: { _ in }))
        #expect(c.config.jid.domainpart == "münchen.example")
        #expect(c.asciiDomain == "xn--mnchen-3ya.example")
        let ascii = XMPPClient(loop: loop, config: ClientConfiguration(jid: try JID("board@perch.test/x"), password: "x"), logger: Logger(label: "t", level: .error, format: .bare, sink: { _ in }))
        #expect(ascii.asciiDomain == "perch.test")
    }
}
