import Testing
@testable import PerchHTTP

/// The response parser and request builder against Python's http.server on loopback: keep-alive
/// requests on one connection answered with chunked, Content-Length and close-delimited bodies.
@Suite(.serialized, .enabled(if: HTTPPeerProcess.canImport("http.server"), "needs /usr/bin/python3: scripts/install-deps installs Debian's python3"))
final class HTTPPeerTests {
    static let script = """
        import http.server, socketserver
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def do_GET(self):
                if self.path == "/chunked":
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for piece in [b"<body xmlns='http://jabber.org/protocol/httpbind'", b" sid='abc'", b"/>"]:
                        self.wfile.write(b"%x\\r\\n%s\\r\\n" % (len(piece), piece))
                    self.wfile.write(b"0\\r\\n\\r\\n")
                elif self.path == "/close":
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b"until the end")
                    self.close_connection = True
                else:
                    self.send_error(404, "No Such Thing")
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) + 5))
                self.send_header("X-Host", self.headers["Host"])
                self.end_headers()
                self.wfile.write(b"echo:" + body)
        s = socketserver.TCPServer(("127.0.0.1", 0), H)
        print(s.server_address[1], flush=True)
        s.serve_forever()
        """

    let peer: HTTPPeerProcess
    init() throws { peer = try HTTPPeerProcess(script: Self.script) }

    func exchange(_ socket: PeerSocket, _ parser: inout HTTPResponseParser, _ request: HTTPRequest) throws -> HTTPResponse? {
        try socket.send(try request.serialized())
        while true {
            let got = try socket.receive()
            if got.isEmpty { return try parser.finish() }
            for case .response(let r) in try parser.feed(got) { return r }
        }
    }

    @Test func keepAliveChunkedLengthAndCloseOnOneConnection() throws {
        let socket = try PeerSocket(port: peer.ports[0])
        var parser = HTTPResponseParser()
        let host = "127.0.0.1:\(peer.ports[0])"
        let chunked = try #require(try exchange(socket, &parser, HTTPRequest(method: "GET", target: "/chunked", host: host)))
        #expect(chunked.head.status == 200 && chunked.head.keepAlive)
        #expect(try BOSHBody.parse(chunked.body).sid == "abc")
        parser.requestMethod = "POST"
        let posted = try #require(try exchange(socket, &parser, HTTPRequest(method: "POST", target: "/bind", host: host, body: Array("<body/>".utf8))))
        #expect(posted.body == Array("echo:<body/>".utf8))
        #expect(posted.head.headers["x-host"] == host)
        parser.requestMethod = "GET"
        let closing = try #require(try exchange(socket, &parser, HTTPRequest(method: "GET", target: "/close", host: host)))
        #expect(closing.body == Array("until the end".utf8) && !closing.head.keepAlive)
    }

    @Test func anErrorAnswerWithItsReason() throws {
        let socket = try PeerSocket(port: peer.ports[0])
        var parser = HTTPResponseParser()
        let missing = try #require(try exchange(socket, &parser, HTTPRequest(method: "GET", target: "/nothing", host: "127.0.0.1")))
        #expect(missing.head.status == 404 && missing.head.reason == "No Such Thing")
        #expect(missing.head.description == "404 No Such Thing")
    }
}
