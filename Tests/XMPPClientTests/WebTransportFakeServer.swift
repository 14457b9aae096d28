import Glibc
import PerchCrypto
import PerchIO
import PerchTLS
import XMPPCore
import XMPPXML

/// A plain TCP connection from a web front end to a ``FakeServer``, on the test's event loop: the
/// front end writes the client's RFC 6120 stream into it and hears the server's as stream events. So
/// the WebSocket and BOSH fakes below get SCRAM, bind, roster, ping and XEP-0198 from ``FakeServer``
/// and only add their framing, as a gateway in front of an XMPP server would.
final class WebTransportBackend {
    let loop: EventLoop
    private let fd: Int32
    private let parser = XMLStreamParser(limits: XMLStreamLimits(maxStanzaBytes: 4 << 20))
    private(set) var isOpen = true
    var onEvent: ((XMLStreamEvent) -> Void)?
    var onClose: (() -> Void)?

    init(loop: EventLoop, port: Int) {
        self.loop = loop
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let len = socklen_t(MemoryLayout<sockaddr_in>.size)
        // Loopback: the kernel completes the handshake before the server accepts.
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, len) } }
        loop.watch(fd, .readable) { [weak self] _ in self?.readable() }
    }

    deinit { close() }

    /// A new stream header, as the client's first or its restart after SASL.
    func openStream(to domain: String) {
        send("<?xml version='1.0'?><stream:stream to='\(domain)' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
    }

    func send(_ text: String) {
        guard isOpen else { return }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }

    func close() {
        guard isOpen else { return }
        isOpen = false
        loop.unwatch(fd)
        Glibc.close(fd)
    }

    private func readable() {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else {
            close()
            onClose?()
            return
        }
        guard let events = try? parser.feed(Array(buffer[0..<n])) else {
            close()
            onClose?()
            return
        }
        for event in events {
            guard isOpen else { return }
            onEvent?(event)
            // The server's next stream header follows the client's restart, in a later read.
            if case .element(let e) = event, e.name == "success", e.namespace == XMPPNamespace.sasl { parser.reset() }
        }
    }
}

/// Test helpers on raw sockets.
enum WebTransportSocket {
    /// Writes everything (loopback: the kernel takes it at once).
    static func write(_ fd: Int32, _ data: [UInt8]) {
        var bytes = data[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            bytes = bytes.dropFirst(n)
        }
    }

    /// Whether the peer has closed its end (a zero-byte peek), without consuming anything.
    static func peerClosed(_ fd: Int32) -> Bool {
        var b: UInt8 = 0
        let n = recv(fd, &b, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// A loopback listener; returns the fd and its port.
    static func listen() -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        Glibc.listen(fd, 16)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    /// The index just past the first CRLFCRLF, if there is one.
    static func endOfHead(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i + 4 }
        return nil
    }

    /// A header field's value in an HTTP head (case-insensitive name).
    static func header(_ name: String, in head: String) -> String? {
        for line in head.split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].lowercased() == name.lowercased() {
                return line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            }
        }
        return nil
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

/// An RFC 7395 endpoint on 127.0.0.1 in front of a ``FakeServer``: it answers the upgrade (or answers
/// it wrongly, ``answerHandshake``), turns the client's `<open/>` and `<close/>` into the backend's
/// stream header and end and every other message into bytes of the stream, and sends each element
/// the backend sends as one text message. It checks the client's side of RFC 6455: every frame the
/// client sends is recorded, with whether it was masked. A test writes any frames it likes to the
/// client with ``Connection/write(_:)`` and ``frame(_:_:fin:masked:)``.
final class WebTransportWSServer {
    struct ClientFrame {
        let opcode: UInt8
        let fin: Bool
        let masked: Bool
        let payload: [UInt8]
        /// The close code of a close frame.
        var closeCode: UInt16? { opcode == 8 && payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil }
    }

    final class Connection {
        let fd: Int32
        let number: Int
        var tls: TLSConnection?
        var buffer: [UInt8] = []
        /// The client's upgrade request (head only), once read.
        var request: String?
        var upgraded = false
        var isOpen = true
        /// Every frame the client sent, in order.
        var frames: [ClientFrame] = []
        /// The client's text messages, in order.
        var messages: [String] = []
        var fragments: [UInt8] = []
        var backend: WebTransportBackend?

        init(fd: Int32, number: Int) {
            self.fd = fd
            self.number = number
        }

        /// Raw bytes to the client (inside TLS on a wss endpoint).
        func write(_ bytes: [UInt8]) {
            guard isOpen else { return }
            if let tls {
                guard (try? tls.send(bytes)) != nil else { return }
                return WebTransportSocket.write(fd, tls.takeOutgoing())
            }
            WebTransportSocket.write(fd, bytes)
        }

        /// One unmasked text frame.
        func sendText(_ text: String) { write(WebTransportWSServer.frame(1, Array(text.utf8))) }
    }

    let loop: EventLoop
    let port: Int
    let backendPort: Int
    private let listenFD: Int32
    private let identity: TLSServerIdentity?
    private(set) var connections: [Connection] = []
    /// The most client connections open at once.
    private(set) var maxConcurrent = 0
    /// The answer to the upgrade request, given the accept value it should carry; nil: a correct 101.
    var answerHandshake: ((_ accept: String) -> String)?
    /// Sees each client message first; true when the test handled it (it is not passed on).
    var onMessage: ((Connection, String) -> Bool)?

    init(loop: EventLoop, backend: FakeServer, tls: TLSServerIdentity? = nil) {
        self.loop = loop
        self.backendPort = backend.port
        self.identity = tls
        (listenFD, port) = WebTransportSocket.listen()
        loop.watch(listenFD, .readable) { [unowned self] _ in self.accept() }
    }

    deinit {
        for c in connections where c.isOpen { drop(c) }
        loop.unwatch(listenFD)
        Glibc.close(listenFD)
    }

    var current: Connection? { connections.last }

    /// A frame as a server writes it (unmasked unless `masked`), with the shortest length form.
    static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = false) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let m: UInt8 = masked ? 0x80 : 0
        let n = payload.count
        if n < 126 {
            out.append(m | UInt8(n))
        } else if n <= 0xFFFF {
            out += [m | 126, UInt8(n >> 8), UInt8(n & 0xFF)]
        } else {
            out.append(m | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: UInt64(n) >> UInt64(shift))) }
        }
        if masked {
            let key: [UInt8] = [1, 2, 3, 4]
            out += key
            out += payload.enumerated().map { $0.element ^ key[$0.offset & 3] }
        } else {
            out += payload
        }
        return out
    }

    static func close(_ code: UInt16, _ reason: String = "") -> [UInt8] {
        frame(8, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
    }

    /// Closes the TCP connection (no close frame).
    func drop(_ c: Connection) {
        guard c.isOpen else { return }
        c.isOpen = false
        loop.unwatch(c.fd)
        Glibc.close(c.fd)
        c.backend?.close()
    }

    private func accept() {
        let fd = Glibc.accept(listenFD, nil, nil)
        guard fd >= 0 else { return }
        let c = Connection(fd: fd, number: connections.count + 1)
        if let identity { c.tls = try? TLSConnection(role: .server(identity)) }
        let live = connections.filter { $0.isOpen && !WebTransportSocket.peerClosed($0.fd) }.count + 1
        maxConcurrent = max(maxConcurrent, live)
        connections.append(c)
        loop.watch(fd, .readable) { [unowned self, unowned c] _ in self.readable(c) }
    }

    private func readable(_ c: Connection) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = read(c.fd, &chunk, chunk.count)
        guard n > 0 else { return drop(c) }
        var bytes = Array(chunk[0..<n])
        if let tls = c.tls {
            do {
                bytes = try tls.receive(bytes)
                WebTransportSocket.write(c.fd, tls.takeOutgoing())
            } catch {
                WebTransportSocket.write(c.fd, tls.takeOutgoing())
                return drop(c)
            }
        }
        c.buffer += bytes
        if !c.upgraded {
            guard let end = WebTransportSocket.endOfHead(c.buffer) else { return }
            let head = String(decoding: c.buffer[0..<end], as: UTF8.self)
            c.buffer.removeFirst(end)
            c.request = head
            let key = WebTransportSocket.header("Sec-WebSocket-Key", in: head) ?? ""
            let accept = Base64.encode(DigestAlgorithm.sha1.hash(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)))
            let answer = answerHandshake?(accept)
                ?? "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\nSec-WebSocket-Protocol: xmpp\r\n\r\n"
            c.write(Array(answer.utf8))
            c.upgraded = true
            let backend = WebTransportBackend(loop: loop, port: backendPort)
            c.backend = backend
            backend.onEvent = { [unowned self, unowned c] event in self.fromBackend(event, c) }
            backend.onClose = { [unowned self, unowned c] in
                c.write(Self.close(1000))
                self.drop(c)
            }
        }
        frames(c)
    }

    /// Decodes the client's frames (RFC 6455 §5.2, client side: masked).
    private func frames(_ c: Connection) {
        while c.isOpen, c.buffer.count >= 2 {
            let b0 = c.buffer[0], b1 = c.buffer[1]
            var length = Int(b1 & 0x7F)
            var header = 2
            if length == 126 {
                guard c.buffer.count >= 4 else { return }
                length = Int(c.buffer[2]) << 8 | Int(c.buffer[3])
                header = 4
            } else if length == 127 {
                guard c.buffer.count >= 10 else { return }
                length = 0
                for i in 0..<8 { length = length << 8 | Int(c.buffer[2 + i]) }
                header = 10
            }
            let masked = b1 & 0x80 != 0
            let keyBytes = masked ? 4 : 0
            guard c.buffer.count >= header + keyBytes + length else { return }
            let key = Array(c.buffer[header..<(header + keyBytes)])
            var payload = Array(c.buffer[(header + keyBytes)..<(header + keyBytes + length)])
            if masked { payload = payload.enumerated().map { $0.element ^ key[$0.offset & 3] } }
            c.buffer.removeFirst(header + keyBytes + length)
            let f = ClientFrame(opcode: b0 & 0x0F, fin: b0 & 0x80 != 0, masked: masked, payload: payload)
            c.frames.append(f)
            switch f.opcode {
            case 8:
                // The client's close (or its echo of ours): answer it and end, as a server does.
                c.write(Self.frame(8, Array(payload.prefix(2))))
                drop(c)
                return
            case 9:
                c.write(Self.frame(10, payload))
            case 10:
                break
            default:
                c.fragments += payload
                if f.fin {
                    let text = String(decoding: c.fragments, as: UTF8.self)
                    c.fragments = []
                    c.messages.append(text)
                    message(text, c)
                }
            }
        }
    }

    private func message(_ text: String, _ c: Connection) {
        if let onMessage, onMessage(c, text) { return }
        guard let e = try? XMLElement.parse(text), let backend = c.backend else { return }
        if e.namespace == "urn:ietf:params:xml:ns:xmpp-framing" {
            if e.name == "open" { backend.openStream(to: e[attribute: "to"] ?? "perch.test") }
            if e.name == "close" { backend.send("</stream:stream>") }
            return
        }
        backend.send(text)
    }

    private func fromBackend(_ event: XMLStreamEvent, _ c: Connection) {
        switch event {
        case .streamOpened(let open):
            c.sendText("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='perch.test' id='\(open.id ?? "ws")' version='1.0' xml:lang='en'/>")
        case .element(let e):
            c.sendText(e.serialized(parentNamespace: ""))
        case .streamClosed:
            c.sendText("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
        case .oversized:
            break
        }
    }
}
