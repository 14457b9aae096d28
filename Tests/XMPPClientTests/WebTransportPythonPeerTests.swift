import Foundation
import Glibc
import Testing
import PerchHTTP
import PerchIO
import PerchLog
import XMPPAddress
@testable import XMPPClient

/// Python's `websockets` (Debian's python3-websockets) run as a loopback peer: it prints its port,
/// serves, writes what it saw of the first connection to a JSON file, and exits by itself.
final class WebTransportPythonPeer {
    static let python = "/usr/bin/python3"

    static var available: Bool {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", "import websockets"]
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    private(set) var pid: pid_t = 0
    let port: Int
    private var output: Int32

    init(script: String, arguments: [String]) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw WebTransportPeerError("pipe: errno \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        // Nothing else of the test process: a file another test has open for writing, inherited
        // by this long-lived child, would make that test's exec of it fail with ETXTBSY.
        // (glibc 2.34's posix_spawn_file_actions_addclosefrom_np, which Swift's Glibc does not export.)
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let f = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") { _ = unsafeBitCast(f, to: CloseFrom.self)(&actions, 3) }
        // Default dispositions and an empty mask: the test runner's threads may block signals.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([Self.python, "-u", "-c", script] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, Self.python, &actions, &attr, argv, environ)
        close(fds[1])
        output = fds[0]
        guard rc == 0 else {
            close(fds[0])
            throw WebTransportPeerError("posix_spawn \(Self.python): \(rc)")
        }
        pid = child
        var line: [UInt8] = []
        var pfd = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
        while !line.contains(0x0A), poll(&pfd, 1, 15_000) == 1 {
            var buf = [UInt8](repeating: 0, count: 256)
            let n = read(output, &buf, buf.count)
            if n <= 0 { break }
            line += buf[0..<n]
        }
        let text = String(decoding: line.prefix { $0 != 0x0A }, as: UTF8.self)
        guard let p = Int(text) else {
            kill(child, SIGKILL)
            throw WebTransportPeerError("the Python peer did not start (printed \"\(text)\")")
        }
        port = p
    }

    deinit {
        if pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        close(output)
    }
}

struct WebTransportPeerError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The client's WebSocket transport against a third-party server: Python's `websockets` speaking the
/// xmpp subprotocol. It does not log in (that would need SCRAM in Python); it sends the `<open/>`
/// in fragments with a ping between them, stream features, then closes with 1008 once the client
/// answers with `<auth/>`. `websockets` itself checks the client's side: masking, the pong, the
/// close echo.
@Suite(.serialized, .enabled(if: WebTransportPythonPeer.available, "needs /usr/bin/python3 with websockets: scripts/install-deps installs python3-websockets"))
struct WebTransportPythonPeerTests {
    static let script = """
        import asyncio, json, logging, sys, websockets
        logging.getLogger("websockets").setLevel(logging.CRITICAL)
        out = sys.argv[1]
        seen = []
        async def handler(ws, path=None):
            seen.append(1)
            if len(seen) > 1:
                await ws.close(1001)
                return
            r = {"subprotocol": ws.subprotocol}
            r["open"] = await ws.recv()
            async def fragments():
                yield "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' "
                r["pong"] = False
                waiter = await ws.ping(b"perch-ping")
                yield "from='perch.test' id='py1' "
                await asyncio.wait_for(waiter, 5)
                r["pong"] = True
                yield "version='1.0' xml:lang='en'/>"
            await ws.send(fragments())
            await ws.send(["<features xmlns='http://etherx.jabber.org/streams'>",
                           "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms>",
                           "</features>"])
            r["auth"] = await ws.recv()
            await ws.close(1008, "policy says no")
            r["close_rcvd"] = ws.close_rcvd.code if ws.close_rcvd else None
            with open(out, "w") as f:
                json.dump(r, f)
        async def main():
            server = await websockets.serve(handler, "127.0.0.1", 0, subprotocols=["xmpp"])
            print(server.sockets[0].getsockname()[1], flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
        """

    let loop: EventLoop
    let log = LogLines()

    init() throws {
        loop = try EventLoop()
    }

    @Test func fragmentsAPingAndACloseFromPythonWebsockets() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("perch-ws-peer-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let peer = try WebTransportPythonPeer(script: Self.script, arguments: [out])
        var config = ClientConfiguration(jid: try JID("perch@perch.test/board"), password: "secret")
        config.transport = .websocket
        config.url = try WebURL.parse("ws://127.0.0.1:\(peer.port)/xmpp-websocket")
        config.systemTrustStore = nil
        config.reconnect.initialDelay = 10
        let log = self.log
        let c = XMPPClient(loop: loop, config: config, logger: Logger(label: "xmpp", level: .debug, format: .bare, sink: { log.append($0) }))
        c.start()
        #expect(loop.run(until: { FileManager.default.fileExists(atPath: out) && log.contains("reconnecting in") }, timeout: 15_000), "\(log.all)")
        settle()
        let data = try #require(FileManager.default.contents(atPath: out))
        let r = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(r["subprotocol"] as? String == "xmpp")
        let open = r["open"] as? String ?? ""
        #expect(open.contains("<open") && (open.contains("to='perch.test'") || open.contains("to=\"perch.test\"")), "\(r)")
        #expect(r["pong"] as? Bool == true, "the client answered the ping between the fragments")
        // The fragmented <open/> was reassembled: the negotiation went on to SASL.
        let auth = r["auth"] as? String ?? ""
        #expect(auth.hasPrefix("<auth") && (auth.contains("mechanism='SCRAM-SHA-1'") || auth.contains("mechanism=\"SCRAM-SHA-1\"")), "\(r)")
        #expect(r["close_rcvd"] as? Int == 1008, "the client echoed the close code: \(r)")
        #expect(log.contains("the server closed the WebSocket with code 1008 (policy violation): policy says no"), "\(log.all)")
        c.stop {}
    }

    func settle(_ ms: Int64 = 200) { _ = loop.run(until: { false }, timeout: ms) }
}
