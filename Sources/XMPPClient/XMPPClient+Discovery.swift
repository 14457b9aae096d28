import PerchHTTP
import PerchIO
import PerchLog

extension XMPPClient {
    /// XEP-0156: the WebSocket or BOSH endpoint of the JID's domain, from its host-meta.
    func discoverEndpoint(_ transport: ClientConfiguration.Transport) {
        attemptFailed(.authentication, "no server.url set, and looking it up in host-meta is not built yet")
    }
}
