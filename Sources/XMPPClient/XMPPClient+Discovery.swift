import PerchHTTP
import PerchIO
import PerchLog
import PerchTLS

extension XMPPClient {
    /// XEP-0156: the WebSocket or BOSH endpoint of the JID's domain, from
    /// `https://DOMAIN/.well-known/host-meta` (XRD), else `host-meta.json`. Found once and kept for
    /// the next attempts; looked up again after an attempt at it fails before logging in.
    ///
    /// The documents are fetched over HTTPS with the certificate checked against the domain and
    /// the configured CA. Pins are not applied to this fetch (they name the XMPP server's key; the
    /// domain's web server is often another machine): the endpoint found is then connected to
    /// under the pins, so a document cannot lead the board past them.
    func discoverEndpoint(_ transport: ClientConfiguration.Transport) {
        if let url = attempts.discoveredURL {
            attempts.candidates = [transport == .websocket ? ServerCandidate(websocket: url) : ServerCandidate(bosh: url)]
            return nextCandidate()
        }
        let domain = asciiDomain
        let kind = transport == .websocket ? "WebSocket" : "BOSH"
        let tls = TLSConfiguration(
            serverName: domain, referenceNames: [domain], systemTrustStore: config.systemTrustStore,
            extraCAFile: config.caFile, alpn: ["http/1.1"])
        let port = UInt16(clamping: config.discoveryPort)
        let xrd = WebURL(scheme: .https, host: domain, port: port, target: "/.well-known/host-meta")
        let json = WebURL(scheme: .https, host: domain, port: port, target: "/.well-known/host-meta.json")
        logger.info("no server.url: looking up \(domain)'s \(kind) endpoint in \(xrd) (XEP-0156)")
        var problems: [String] = []

        func found(_ links: [HostMeta.Link], from source: WebURL) -> Bool {
            let e = HostMeta.endpoints(links)
            for s in e.skipped { logger.warning("\(source) names \(s.href), which is not used: \(s.why)") }
            guard let url = (transport == .websocket ? e.websocket : e.bosh).first else {
                problems.append("\(source) names no \(kind) endpoint")
                return false
            }
            logger.notice("\(source) names \(url) for \(kind)")
            attempts.discoveredURL = url
            attempts.candidates = [transport == .websocket ? ServerCandidate(websocket: url) : ServerCandidate(bosh: url)]
            nextCandidate()
            return true
        }

        func fetch(_ url: WebURL, _ parse: @escaping ([UInt8]) throws(HostMeta.ParseError) -> [HostMeta.Link], next: (() -> Void)?) {
            let get = HTTPGet(loop: loop, url: url, tls: tls, proxy: config.proxy, logger: logger)
            attempts.discovery = get
            get.start { [weak self] outcome in
                guard let self, !self.stopping else { return }
                self.attempts.discovery = nil
                switch outcome {
                case .response(let r) where r.head.status == 200:
                    do {
                        if found(try parse(r.body), from: url) { return }
                    } catch {
                        problems.append("\(url): \(error)")
                    }
                case .response(let r):
                    problems.append("\(url) answered \(r.head)")
                case .failed(let why):
                    problems.append("\(url): \(why)")
                }
                if let next { return next() }
                let why = "cannot find \(domain)'s \(kind) endpoint: " + problems.joined(separator: "; ") + "; set server.url"
                self.logger.error(why)
                self.attemptFailed(.transient, why)
            }
        }
        fetch(xrd, { bytes throws(HostMeta.ParseError) in try HostMeta.parseXRD(bytes) }, next: {
            fetch(json, { bytes throws(HostMeta.ParseError) in try HostMeta.parseJSON(bytes) }, next: nil)
        })
    }
}
