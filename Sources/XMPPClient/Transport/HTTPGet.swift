import PerchHTTP
import PerchIO
import PerchLog
import PerchTLS

/// One HTTPS GET on the event loop, for small documents (XEP-0156 host-meta): resolve, connect
/// (through the CONNECT proxy when there is one), TLS with the same trust rules as the XMPP
/// connection, the request, the response with a bounded body, within a deadline. Redirects are not
/// followed.
final class HTTPGet {
    enum Outcome: Sendable {
        case response(HTTPResponse)
        case failed(String)
    }

    private let loop: EventLoop
    private let url: WebURL
    private let tls: TLSConfiguration
    private let proxy: ClientConfiguration.Proxy?
    private let logger: Logger
    private var stream: SocketStream?
    private var parser = HTTPResponseParser(limits: HTTPLimits(maxHeaderBytes: 16 * 1024, maxHeaderCount: 64, maxBodyBytes: 64 * 1024), requestMethod: "GET")
    private var deadline: EventLoop.Timer?
    private var completion: ((Outcome) -> Void)?

    init(loop: EventLoop, url: WebURL, tls: TLSConfiguration, proxy: ClientConfiguration.Proxy?, logger: Logger) {
        self.loop = loop
        self.url = url
        self.tls = tls
        self.proxy = proxy
        self.logger = logger
    }

    /// Starts; `completion` is called once, on the loop (not if ``cancel()`` came first).
    func start(timeout: Int64 = 10_000, _ completion: @escaping (Outcome) -> Void) {
        self.completion = completion
        deadline = loop.schedule(after: timeout) { [weak self] in self?.finish(.failed("no answer within \(describeDuration(timeout))")) }
        let (host, port) = proxy.map { ($0.host, $0.port) } ?? (url.host, Int(url.port))
        loop.background({ HostResolver.resolve(host: host, port: port) }) { [weak self] result in
            guard let self, self.completion != nil else { return }
            switch result {
            case .failure(let e): self.finish(.failed("cannot resolve \(host): \(e.message)"))
            case .success(let addresses):
                guard let address = addresses.first else { return self.finish(.failed("\(host) has no address")) }
                self.connect(address)
            }
        }
    }

    func cancel() {
        completion = nil
        deadline?.cancel()
        stream?.abort()
    }

    private func connect(_ address: SocketAddress) {
        let tunnel = proxy.map { p in
            ConnectProxy(host: url.host, port: url.port, credentials: p.user.map { ProxyCredentials(user: $0, password: p.password ?? "") })
        }
        let s = SocketStream(loop: loop, address: address, tls: url.scheme.isSecure ? tls : nil, tunnel: tunnel, maxOutboundBytes: 64 * 1024, logger: logger)
        stream = s
        s.onOpen = { [unowned self, unowned s] in
            var headers = HTTPHeaders()
            headers.append("Accept", url.target.hasSuffix(".json") ? "application/json" : "application/xrd+xml")
            headers.append("Connection", "close")
            do {
                s.write(try HTTPRequest(method: "GET", target: url.target, host: url.hostField, headers: headers).serialized())
            } catch {
                finish(.failed("cannot write the request: \(error)"))
            }
        }
        s.onData = { [unowned self] bytes in
            do {
                for case .response(let r) in try parser.feed(bytes) { return finish(.response(r)) }
            } catch {
                finish(.failed("a malformed HTTP answer: \(error)"))
            }
        }
        s.onEnd = { [unowned self] failure in
            if case .closed = failure, let r = try? parser.finish() { return finish(.response(r)) }
            switch failure {
            case .connect(let e): finish(.failed("cannot connect to \(address): \(e.message)"))
            case .tls(let e): finish(.failed("TLS with \(url.host) failed: \(e.detail)"))
            case .proxy(let e): finish(.failed("\(e)"))
            case .closed: finish(.failed("the connection closed before the answer was complete"))
            case .stuck: finish(.failed("the server stopped reading"))
            }
        }
        s.start()
    }

    private func finish(_ outcome: Outcome) {
        guard let cb = completion else { return }
        completion = nil
        deadline?.cancel()
        stream?.abort()
        cb(outcome)
    }
}
