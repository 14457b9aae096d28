import Foundation
import Testing
@testable import PerchHTTP

/// The WebSocket client codec against a third-party server: Python's `websockets` (Debian's
/// python3-websockets), on loopback. One port serves with the xmpp subprotocol, another without.
/// The server obeys text commands and keeps what it saw of each close, which a later connection
/// reads back with "report".
@Suite(.serialized, .enabled(if: HTTPPeerProcess.canImport("websockets"), "needs /usr/bin/python3 with websockets: scripts/install-deps installs python3-websockets"))
final class WebSocketPeerTests {
    static let script = """
        import asyncio, json, logging, websockets
        logging.getLogger("websockets").setLevel(logging.CRITICAL)  # dropped test connections are expected
        results = []
        async def handler(ws, path=None):
            async for msg in ws:
                if msg.startswith("echo:"):
                    await ws.send(msg[5:])
                elif msg == "frag":
                    await ws.send(["<mess", "age ", "id='f'/>"])
                elif msg == "ping":
                    waiter = await ws.ping(b"perch")
                    await asyncio.wait_for(waiter, 5)
                    await ws.send("pong-received")
                elif msg == "close":
                    await ws.close(1000, "bye")
                    results.append(["close", ws.close_rcvd.code if ws.close_rcvd else None, ws.close_rcvd_then_sent])
                elif msg == "big":
                    await ws.send("x" * 5000)
                    await ws.wait_closed()
                    results.append(["big", ws.close_rcvd.code if ws.close_rcvd else None])
                elif msg == "report":
                    await ws.send(json.dumps(results))
        async def main():
            a = await websockets.serve(handler, "127.0.0.1", 0, subprotocols=["xmpp"])
            b = await websockets.serve(handler, "127.0.0.1", 0)
            print(a.sockets[0].getsockname()[1], b.sockets[0].getsockname()[1], flush=True)
            await asyncio.Future()
        asyncio.run(main())
        """

    let peer: HTTPPeerProcess

    init() throws { peer = try HTTPPeerProcess(script: Self.script) }

    /// A connection after the handshake, with the codec and the bytes that followed the 101.
    struct Connection {
        let socket: PeerSocket
        var codec: WebSocketCodec
        var pending: [UInt8]

        /// Reads until `want` holds for the events so far, writing what the codec says to send.
        mutating func events(until want: ([WebSocketEvent]) -> Bool) throws -> [WebSocketEvent] {
            var all: [WebSocketEvent] = []
            var incoming = pending
            pending = []
            while true {
                for e in codec.receive(incoming) {
                    if case .send(let bytes) = e { try socket.send(bytes) } else { all.append(e) }
                }
                if want(all) { return all }
                incoming = try socket.receive()
                if incoming.isEmpty { return all }
            }
        }
    }

    func connect(port: UInt16, maxMessageBytes: Int = 1 << 20) throws -> Connection {
        let socket = try PeerSocket(port: port)
        var handshake = WebSocketHandshake(url: try WebURL.parse("ws://127.0.0.1:\(port)/xmpp-websocket"))
        try socket.send(try handshake.request.serialized())
        while true {
            let got = try socket.receive()
            guard !got.isEmpty else { throw PeerError("the server closed during the handshake") }
            if let rest = try handshake.receive(got) {
                return Connection(socket: socket, codec: WebSocketCodec(maxMessageBytes: maxMessageBytes), pending: rest)
            }
        }
    }

    func messages(_ events: [WebSocketEvent]) -> [String] {
        events.compactMap { if case .message(let m) = $0 { return m } else { return nil } }
    }

    /// What the server recorded, once it has recorded `entry` (it does so as the connection ends).
    func report(containing entry: String) throws -> String {
        var last = ""
        for _ in 0..<40 {
            var c = try connect(port: peer.ports[0])
            try c.socket.send(c.codec.text("report"))
            last = messages(try c.events { !messages($0).isEmpty }).first ?? ""
            try c.socket.send(c.codec.close())
            if last.containsText(entry) { break }
            usleep(50_000)
        }
        return last
    }

    @Test func handshakeWithXMPPAndEcho() throws {
        var c = try connect(port: peer.ports[0])
        try c.socket.send(c.codec.text("echo:<message xmlns='jabber:client'>é</message>"))
        #expect(messages(try c.events { !messages($0).isEmpty }) == ["<message xmlns='jabber:client'>é</message>"])
        let big = String(repeating: "y", count: 70000)  // a 64-bit length frame each way
        try c.socket.send(c.codec.text("echo:" + big))
        #expect(messages(try c.events { !messages($0).isEmpty }) == [big])
    }

    @Test func fragmentedMessageFromTheServer() throws {
        var c = try connect(port: peer.ports[0])
        try c.socket.send(c.codec.text("frag"))
        #expect(messages(try c.events { !messages($0).isEmpty }) == ["<message id='f'/>"])
    }

    @Test func serverPingIsAnsweredWithPong() throws {
        var c = try connect(port: peer.ports[0])
        try c.socket.send(c.codec.text("ping"))
        let events = try c.events { !messages($0).isEmpty }
        #expect(events.contains(.ping(Array("perch".utf8))))
        #expect(messages(events) == ["pong-received"])  // the server saw our pong with its payload
    }

    @Test func closeIsEchoedWith1000() throws {
        do {
            var c = try connect(port: peer.ports[0])
            try c.socket.send(c.codec.text("close"))
            let events = try c.events { $0.contains { if case .close = $0 { return true } else { return false } } }
            #expect(events.contains(.close(code: .normal, reason: "bye")))
            #expect(c.codec.state == .closed)
            #expect(try c.socket.receive().isEmpty)  // the server closes TCP after the echo; then we do
        }
        let seen = try report(containing: "\"close\"")
        #expect(seen.containsText("[\"close\", 1000, false]"), "the server recorded \(seen)")
    }

    @Test func oversizedFrameIsRefusedWith1009() throws {
        do {
            var c = try connect(port: peer.ports[0], maxMessageBytes: 1000)
            try c.socket.send(c.codec.text("big"))
            let events = try c.events { $0.contains { if case .failed = $0 { return true } else { return false } } }
            #expect(events.contains { if case .failed(.messageTooBig, _) = $0 { return true } else { return false } })
            #expect(messages(events).isEmpty)
            while let got = try? c.socket.receive(), !got.isEmpty {}  // the rest, the server's close, its end of TCP
        }
        let seen = try report(containing: "\"big\"")
        #expect(seen.containsText("[\"big\", 1009]"), "the server recorded \(seen)")
    }

    @Test func aServerWithoutTheXMPPSubprotocolIsRefused() throws {
        do {
            _ = try connect(port: peer.ports[1])
            Issue.record("the handshake succeeded without the xmpp subprotocol")
        } catch let e as WebSocketHandshakeError {
            #expect(e.kind == .noXMPPSubprotocol)
            #expect(e.description.containsText("xmpp"))
        }
    }
}
