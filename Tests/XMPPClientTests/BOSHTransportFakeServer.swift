import Glibc
import PerchIO
import XMPPCore
import XMPPXML

/// A BOSH connection manager (XEP-0124, XEP-0206) on 127.0.0.1 in front of a ``FakeServer``: one
/// backend stream per session, the client's bodies unwrapped into it, what the backend sends queued
/// and answered on the request held longest. It holds `hold` = 1 request, grants `requests` = 2,
/// answers a request it already answered again with the same response (§14), and counts how many
/// client connections are open at once. ``intercept`` lets a test lose, refuse or garble a request;
/// ``manual`` stops the automatic answers so a test can answer requests itself, in any order.
final class BOSHTransportFakeManager {
    static let ns = "http://jabber.org/protocol/httpbind"
    static let xbosh = "urn:xmpp:xbosh"

    final class Connection {
        let fd: Int32
        let number: Int
        var buffer: [UInt8] = []
        var isOpen = true
        init(fd: Int32, number: Int) {
            self.fd = fd
            self.number = number
        }
    }

    /// One POST as it arrived.
    struct Request {
        let rid: Int64
        let body: XMLElement
        let raw: String
        let connection: Connection
        let at: Instant
        var sid: String? { body[attribute: "sid"] }
        var type: String? { body[attribute: "type"] }
        var isRestart: Bool { body.attributes.contains { $0.name == "restart" && $0.namespace == BOSHTransportFakeManager.xbosh && $0.value == "true" } }
    }

    final class Session {
        let sid: String
        let backend: WebTransportBackend
        /// Requests held, in rid order, with the connection to answer on.
        var held: [(rid: Int64, connection: Connection)] = []
        /// Serialized stanzas from the backend waiting for a request to carry them.
        var outgoing: [String] = []
        /// Every response body sent, by rid (for resent requests).
        var responses: [Int64: String] = [:]
        var processed: Set<Int64> = []
        var creationAnswered = false
        var terminated = false
        init(sid: String, backend: WebTransportBackend) {
            self.sid = sid
            self.backend = backend
        }
    }

    /// What to do with a request, decided by ``intercept``.
    enum Action {
        case normal
        /// Take its payload, then close the connection without answering (a lost response).
        case processAndDrop
        /// Close the connection without reading it (lost before the manager saw it).
        case drop
        /// Answer with these bytes instead (an HTTP error, garbage), the payload unread; the
        /// connection closes after when `close`.
        case raw(String, close: Bool)
    }

    let loop: EventLoop
    let port: Int
    let backendPort: Int
    private let listenFD: Int32
    private(set) var connections: [Connection] = []
    private(set) var sessions: [Session] = []
    /// Every request, in the order it arrived.
    private(set) var requests: [Request] = []
    /// The most client connections open at once.
    private(set) var maxConcurrent = 0
    /// The most requests held at once.
    private(set) var maxHeld = 0
    var intercept: ((Request) -> Action)?
    /// How many requests the manager holds (its `hold`); 0: a polling session, every request answered at once.
    var holdLimit = 1
    /// No automatic answers: the test calls ``respond(_:rid:payload:extraHeaders:)``.
    var manual = false
    /// Added to every response's header (e.g. "Connection: close\r\n"), once, for the next response.
    var nextResponseHeaders = ""

    init(loop: EventLoop, backend: FakeServer) {
        self.loop = loop
        self.backendPort = backend.port
        (listenFD, port) = WebTransportSocket.listen()
        loop.watch(listenFD, .readable) { [unowned self] _ in self.accept() }
    }

    deinit {
        for c in connections where c.isOpen { drop(c) }
        for s in sessions { s.backend.close() }
        loop.unwatch(listenFD)
        Glibc.close(listenFD)
    }

    var url: String { "http://127.0.0.1:\(port)/http-bind" }
    var session: Session? { sessions.last }

    func drop(_ c: Connection) {
        guard c.isOpen else { return }
        c.isOpen = false
        loop.unwatch(c.fd)
        Glibc.close(c.fd)
    }

    private func accept() {
        let fd = Glibc.accept(listenFD, nil, nil)
        guard fd >= 0 else { return }
        let c = Connection(fd: fd, number: connections.count + 1)
        let live = connections.filter { $0.isOpen && !WebTransportSocket.peerClosed($0.fd) }.count + 1
        maxConcurrent = max(maxConcurrent, live)
        connections.append(c)
        loop.watch(fd, .readable) { [unowned self, unowned c] _ in self.readable(c) }
    }

    private func readable(_ c: Connection) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = read(c.fd, &chunk, chunk.count)
        guard n > 0 else { return drop(c) }
        c.buffer += chunk[0..<n]
        while c.isOpen, let end = WebTransportSocket.endOfHead(c.buffer) {
            let head = String(decoding: c.buffer[0..<end], as: UTF8.self)
            let length = Int(WebTransportSocket.header("Content-Length", in: head) ?? "0") ?? 0
            guard c.buffer.count >= end + length else { return }
            let raw = String(decoding: c.buffer[end..<(end + length)], as: UTF8.self)
            c.buffer.removeFirst(end + length)
            guard head.hasPrefix("POST /http-bind HTTP/1.1\r\n"), let body = try? XMLElement.parse(raw), let rid = body[attribute: "rid"].flatMap({ Int64($0) }) else {
                write(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                continue
            }
            let r = Request(rid: rid, body: body, raw: raw, connection: c, at: .now())
            requests.append(r)
            received(r)
        }
    }

    private func write(_ c: Connection, _ text: String) {
        guard c.isOpen else { return }
        WebTransportSocket.write(c.fd, Array(text.utf8))
    }

    private func received(_ r: Request) {
        switch intercept?(r) ?? .normal {
        case .normal: break
        case .drop: return drop(r.connection)
        case .raw(let text, let close):
            write(r.connection, text)
            if close { drop(r.connection) }
            return
        case .processAndDrop:
            if let s = sessions.first(where: { $0.sid == r.sid }), !s.processed.contains(r.rid) {
                s.processed.insert(r.rid)
                forward(r, s)
            }
            return drop(r.connection)
        }
        guard let sid = r.sid else { return create(r) }
        guard let s = sessions.first(where: { $0.sid == sid }), !s.terminated else {
            return write(r.connection, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        }
        if s.processed.contains(r.rid) {
            // A resent request (§14): the same response again, or hold it anew if none was sent yet.
            if let body = s.responses[r.rid] { return send(body, on: r.connection) }
            s.held.removeAll { $0.rid == r.rid }
            hold(r, s)
            return flush(s)
        }
        s.processed.insert(r.rid)
        if r.type == "terminate" {
            forward(r, s)
            s.backend.send("</stream:stream>")
            s.terminated = true
            for h in s.held { respond(s, rid: h.rid, on: h.connection, payload: "") }
            s.held = []
            let body = "<body xmlns='\(Self.ns)' type='terminate'/>"
            s.responses[r.rid] = body
            return send(body, on: r.connection)
        }
        if r.isRestart { s.backend.openStream(to: r.body[attribute: "to"] ?? "perch.test") }
        forward(r, s)
        hold(r, s)
        flush(s)
    }

    private func create(_ r: Request) {
        let backend = WebTransportBackend(loop: loop, port: backendPort)
        let s = Session(sid: "sid\(sessions.count + 1)", backend: backend)
        sessions.append(s)
        backend.onEvent = { [unowned self, unowned s] event in
            switch event {
            case .streamOpened, .oversized: return
            case .element(let e): s.outgoing.append(e.serialized(parentNamespace: ""))
            case .streamClosed: s.terminated = true
            }
            self.flush(s)
        }
        s.processed.insert(r.rid)
        backend.openStream(to: r.body[attribute: "to"] ?? "perch.test")
        hold(r, s)
    }

    private func forward(_ r: Request, _ s: Session) {
        for child in r.body.elements { s.backend.send(child.serialized(parentNamespace: "")) }
    }

    private func hold(_ r: Request, _ s: Session) {
        s.held.append((r.rid, r.connection))
        s.held.sort { $0.rid < $1.rid }
        maxHeld = max(maxHeld, s.held.count)
    }

    /// Answers what can be answered: queued stanzas on the request held longest, and every request
    /// held beyond `hold`.
    func flush(_ s: Session) {
        guard !manual else { return }
        while !s.outgoing.isEmpty, !s.held.isEmpty {
            let h = s.held.removeFirst()
            let payload = s.outgoing.joined()
            s.outgoing = []
            respond(s, rid: h.rid, on: h.connection, payload: payload)
        }
        if s.terminated && !s.held.isEmpty {
            let h = s.held.removeFirst()
            return respond(s, rid: h.rid, on: h.connection, payload: "", attributes: " type='terminate'")
        }
        while s.held.count > holdLimit {
            let h = s.held.removeFirst()
            respond(s, rid: h.rid, on: h.connection, payload: "")
        }
    }

    /// Answers a held request (a test in ``manual`` mode names it by rid).
    func respond(_ s: Session, rid: Int64, payload: String, attributes: String = "") {
        guard let i = s.held.firstIndex(where: { $0.rid == rid }) else { return }
        let h = s.held.remove(at: i)
        respond(s, rid: h.rid, on: h.connection, payload: payload, attributes: attributes)
    }

    private func respond(_ s: Session, rid: Int64, on c: Connection, payload: String, attributes: String = "") {
        var attrs = attributes
        if !s.creationAnswered {
            s.creationAnswered = true
            attrs += " sid='\(s.sid)' wait='60' requests='2' hold='\(holdLimit)' ver='1.11' from='perch.test' inactivity='60' polling='2'"
                + " xmlns:xmpp='\(Self.xbosh)' xmpp:version='1.0' xmpp:restartlogic='true'"
        }
        let body = "<body xmlns='\(Self.ns)'\(attrs)>\(payload)</body>"
        s.responses[rid] = body
        send(body, on: c)
    }

    private func send(_ body: String, on c: Connection) {
        let extra = nextResponseHeaders
        nextResponseHeaders = ""
        write(c, "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n" + body)
        if extra.lowercased().contains("connection: close") { drop(c) }
    }

    /// A raw response on the connection holding `rid` (the request stays unanswered as far as the
    /// manager knows; the test decides what the client makes of it).
    func writeRaw(_ s: Session, rid: Int64, _ text: String, close: Bool) {
        guard let i = s.held.firstIndex(where: { $0.rid == rid }) else { return }
        let h = s.held.remove(at: i)
        write(h.connection, text)
        if close { drop(h.connection) }
    }

    /// The rids held now.
    var heldRIDs: [Int64] { session?.held.map(\.rid) ?? [] }
}
