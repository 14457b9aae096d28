import Glibc
import PerchIO
import PerchCrypto
import PerchTLS
import XMPPCore
import XMPPXML

/// A scripted XMPP server on 127.0.0.1 over plain TCP, running on the test's event loop, so the client's
/// session logic (timeouts, stream errors, reconnects, liveness) runs against real sockets. It speaks
/// just enough of RFC 6120: SCRAM-SHA-1 (checked for real by ``ScriptedServer``), bind, roster and ping.
/// ``Behaviour`` makes it misbehave in the ways a test needs. With ``Behaviour/tls`` it speaks direct TLS
/// (XEP-0368) with the given certificate, and ``Behaviour/mechanisms`` can make it offer PLAIN only, as
/// a server after a password would.
final class FakeServer {
    struct Behaviour {
        /// Send `<stream:features/>` after the stream header (false: a server that stalls there).
        var sendFeatures = true
        /// Answer the client's XEP-0199 pings (false: a server that went quiet).
        var answerPings = true
        var password = "secret"
        /// Offer XEP-0198 stream management with resumption.
        var streamManagement = false
        /// Answer the client's `<r/>`.
        var answerAckRequests = true
        /// Keep sessions for resumption (false: a restarted server that knows none).
        var keepsSessions = true
        /// On resumption, report this many fewer stanzas handled than received (lost in flight).
        var lostInFlight: UInt32 = 0
        /// Require STARTTLS, say <proceed/>, then never answer the TLS handshake.
        var stallInTLS = false
        /// With ``stallInTLS``: sent in the clear right after <proceed/>, in the same write (a STARTTLS
        /// injection: plaintext the client must not take for part of the stream).
        var plaintextAfterProceed: String?
        /// Stop reading from the client once it is bound (its writes pile up).
        var stopReadingAfterBind = false
        /// Chat messages routed to the new resource before the server takes `<enable/>` (a busy
        /// device's commands); the server does not count them.
        var messagesBeforeEnabled = 0
        /// Stanzas written as they are just before `<enabled/>` (after the messages above).
        var rawBeforeEnabled = ""
        /// Direct TLS from the first byte, presenting this certificate chain; nil for plain TCP.
        var tls: TLSServerIdentity?
        /// The SASL mechanisms offered: SCRAM-SHA-1 (checked for real) and/or PLAIN (any password is
        /// accepted, and recorded).
        var mechanisms = ["SCRAM-SHA-1"]
    }

    /// XEP-0198 state the server keeps per session id.
    final class Managed {
        let jid: String
        var received: UInt32 = 0
        init(jid: String) { self.jid = jid }
    }
    private(set) var managed: [String: Managed] = [:]

    final class Session {
        let fd: Int32
        let number: Int
        let parser = XMLStreamParser()
        var scram: ScriptedServer
        var authenticated = false
        var boundJID: String?
        var isOpen = true
        /// Every stanza received after binding, in order.
        var stanzas: [XMLElement] = []
        /// The stream management session this connection carries.
        var managed: Managed?
        /// True when this connection resumed a session rather than binding.
        var resumed = false
        /// Set after <proceed/> when stalling TLS: bytes are read and ignored.
        var ignoring = false
        /// The `h` of every `<a/>` the client sent.
        var acks: [UInt32] = []
        /// The TLS session, with ``Behaviour/tls``.
        var tls: TLSConnection?
        /// Every `<auth/>` the client sent, and the decoded PLAIN message of each.
        var auths: [XMLElement] = []
        var plainMessages: [[UInt8]] = []

        init(fd: Int32, number: Int, password: String) {
            self.fd = fd
            self.number = number
            scram = ScriptedServer(password: password)
        }

        func send(_ text: String) {
            guard isOpen else { return }
            if let tls {
                do { try tls.send(Array(text.utf8)) } catch { return }
                return write(tls.takeOutgoing())
            }
            write(Array(text.utf8))
        }

        func write(_ data: [UInt8]) {
            var bytes = data[...]
            while !bytes.isEmpty {
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return }
                bytes = bytes.dropFirst(n)
            }
        }

        func send(_ element: XMLElement) { send(element.serialized()) }
    }

    let loop: EventLoop
    let port: Int
    var behaviour: Behaviour
    private(set) var sessions: [Session] = []
    /// Stanzas received after binding, for a test to answer.
    var onStanza: ((Session, XMLElement) -> Void)?
    private let listenFD: Int32

    init(loop: EventLoop, behaviour: Behaviour = Behaviour()) {
        self.loop = loop
        self.behaviour = behaviour
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        listen(fd, 8)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listenFD = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        loop.watch(fd, .readable) { [unowned self] _ in self.accept() }
    }

    deinit {
        for s in sessions where s.isOpen { loop.unwatch(s.fd); close(s.fd) }
        loop.unwatch(listenFD)
        close(listenFD)
    }

    /// The session that was accepted last.
    var current: Session? { sessions.last }

    /// Drops the TCP connection without a stream close, as a crashed server or a cut cable would.
    func drop(_ session: Session) {
        guard session.isOpen else { return }
        session.isOpen = false
        loop.unwatch(session.fd)
        close(session.fd)
    }

    /// Ends the stream with a stream error, as a server does before closing.
    func fail(_ session: Session, _ condition: String, text: String? = nil, extra: String = "") {
        var body = "<\(condition) xmlns='urn:ietf:params:xml:ns:xmpp-streams'>\(extra)</\(condition)>"
        if let text { body += "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>\(text)</text>" }
        session.send("<stream:error>\(body)</stream:error></stream:stream>")
        drop(session)
    }

    private func accept() {
        let fd = Glibc.accept(listenFD, nil, nil)
        guard fd >= 0 else { return }
        let session = Session(fd: fd, number: sessions.count + 1, password: behaviour.password)
        if let identity = behaviour.tls { session.tls = try? TLSConnection(role: .server(identity)) }
        sessions.append(session)
        loop.watch(fd, .readable) { [unowned self, unowned session] _ in self.readable(session) }
    }

    private func readable(_ session: Session) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = read(session.fd, &buffer, buffer.count)
        guard n > 0 else { return drop(session) }
        if session.ignoring { return }
        var bytes = Array(buffer[0..<n])
        if let tls = session.tls {
            do {
                bytes = try tls.receive(bytes)
                session.write(tls.takeOutgoing())
            } catch {
                session.write(tls.takeOutgoing())
                return drop(session)
            }
            if bytes.isEmpty { return }
        }
        let events: [XMLStreamEvent]
        do {
            events = try session.parser.feed(bytes)
        } catch {
            return fail(session, "not-well-formed")
        }
        for event in events {
            guard session.isOpen else { return }
            handle(event, session)
        }
    }

    private func handle(_ event: XMLStreamEvent, _ session: Session) {
        switch event {
        case .streamOpened:
            session.send(
                "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                    + "id='s\(session.number)' from='perch.test' version='1.0' xml:lang='en'>")
            guard behaviour.sendFeatures else { return }
            if behaviour.stallInTLS {
                session.send("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>")
            } else if session.authenticated {
                let sm = behaviour.streamManagement ? "<sm xmlns='urn:xmpp:sm:3'/>" : ""
                session.send("<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\(sm)</stream:features>")
            } else {
                let offered = behaviour.mechanisms.map { "<mechanism>\($0)</mechanism>" }.joined()
                session.send("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(offered)</mechanisms></stream:features>")
            }
        case .streamClosed:
            session.send("</stream:stream>")
            drop(session)
        case .element(let e):
            element(e, session)
        case .oversized:
            // Perch never sends one; a test that makes it would see the stream end.
            fail(session, "policy-violation")
        }
    }

    private func element(_ e: XMLElement, _ session: Session) {
        if e.stanzaKind != nil { session.managed?.received &+= 1 }
        switch (e.name, e.namespace) {
        case ("starttls", XMPPNamespace.tls):
            session.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + (behaviour.plaintextAfterProceed ?? ""))
            session.ignoring = true
        case ("enable", XMPPNamespace.streamManagement):
            let id = "sm\(session.number)"
            let m = Managed(jid: session.boundJID ?? "?")
            managed[id] = m
            session.managed = m
            let early = (0..<behaviour.messagesBeforeEnabled).map {
                "<message from='peer@perch.test/x' to='\(m.jid)' type='chat' id='early\($0)'><body>status</body></message>"
            }
            session.send(early.joined() + behaviour.rawBeforeEnabled + "<enabled xmlns='urn:xmpp:sm:3' id='\(id)' resume='true' max='60'/>")
        case ("resume", XMPPNamespace.streamManagement):
            guard behaviour.keepsSessions, let id = e[attribute: "previd"], let m = managed[id] else {
                session.send("<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>")
                return
            }
            session.managed = m
            session.resumed = true
            session.boundJID = m.jid
            session.send("<resumed xmlns='urn:xmpp:sm:3' previd='\(id)' h='\(m.received - behaviour.lostInFlight)'/>")
        case ("r", XMPPNamespace.streamManagement):
            if behaviour.answerAckRequests, let m = session.managed { session.send("<a xmlns='urn:xmpp:sm:3' h='\(m.received)'/>") }
        case ("a", XMPPNamespace.streamManagement):
            if let h = e[attribute: "h"].flatMap({ UInt32($0) }) { session.acks.append(h) }
        case ("auth", XMPPNamespace.sasl):
            session.auths.append(e)
            if e[attribute: "mechanism"] == "PLAIN" {
                session.plainMessages.append(Base64.decode(e.text) ?? [])
                session.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
                session.authenticated = true
                session.parser.reset()
                return
            }
            session.send(session.scram.answer(auth: e))
        case ("response", XMPPNamespace.sasl):
            let answer = session.scram.answer(response: e)
            session.send(answer)
            if answer.name == "success" {
                session.authenticated = true
                // The client restarts the stream only after reading <success/>, so nothing of the new
                // stream can be in the parser yet.
                session.parser.reset()
            }
        case ("iq", XMPPNamespace.client) where e.child("bind", namespace: XMPPNamespace.bind) != nil:
            let resource = e.child("bind", namespace: XMPPNamespace.bind)?.child("resource")?.text ?? "generated"
            let jid = "perch@perch.test/\(resource)"
            session.boundJID = jid
            session.send(Stanza.result(for: e, payload: XMLElement("bind", namespace: XMPPNamespace.bind, children: [.element(.text("jid", namespace: XMPPNamespace.bind, jid))])))
            if behaviour.stopReadingAfterBind { loop.unwatch(session.fd) }
        case ("iq", XMPPNamespace.client) where e.child("query", namespace: XMPPNamespace.roster) != nil && e.stanzaType == "get":
            session.send(Stanza.result(for: e, payload: XMLElement("query", namespace: XMPPNamespace.roster)))
        case ("iq", XMPPNamespace.client) where e.child("ping", namespace: XMPPNamespace.ping) != nil && e[attribute: "to"] == "perch.test":
            session.stanzas.append(e)
            if behaviour.answerPings { session.send(Stanza.result(for: e)) }
        default:
            session.stanzas.append(e)
            onStanza?(session, e)
        }
    }
}
