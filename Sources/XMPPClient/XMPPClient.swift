public import PerchIO
public import PerchLog
import PerchTLS
import PerchCrypto
public import XMPPAddress
public import XMPPCore
import PerchHTTP
import PerchIDN
import XMPPSASL

/// A persistent XMPP client session: it resolves the server, connects, negotiates, keeps the connection
/// alive with pings, answers the basic IQs every client must, and reconnects with back-off when the
/// connection ends. Everything runs on one ``EventLoop``.
public final class XMPPClient {
    public enum Status: Sendable, Equatable {
        case offline
        case connecting
        case online(NegotiatedSession)
        case stopped
    }

    public let loop: EventLoop
    /// The settings; ``reconnect(with:)`` replaces them.
    public internal(set) var config: ClientConfiguration
    let logger: Logger
    public internal(set) var status: Status = .offline {
        didSet {
            guard status != oldValue else { return }
            for observer in statusObservers { observer(status) }
            onStatus?(status)
        }
    }
    /// Called when the status changes (after every ``observeStatus(_:)`` observer).
    public var onStatus: ((Status) -> Void)?
    private var statusObservers: [(Status) -> Void] = []

    /// Adds an observer of status changes; observers are called in the order added, and adding one
    /// never replaces another (the agent and the daemon each watch the status).
    public func observeStatus(_ observer: @escaping (Status) -> Void) {
        statusObservers.append(observer)
    }
    /// Adds an observer of ``setPresence(show:status:)`` (the group chat rooms carry the same status).
    public func observePresence(_ observer: @escaping (_ show: String?, _ status: String?) -> Void) {
        presenceObservers.append(observer)
    }
    /// Where received messages, presences and iq requests go (``StanzaRouter``); each registration
    /// declares its disco features.
    public let router = StanzaRouter()
    /// The messages and presences no route of ``router`` took. (iq requests nobody serves are
    /// answered automatically.)
    public var onStanza: ((XMLElement) -> Void)?
    /// Describes a disco#info node other than the caps node (the request is passed for its sender);
    /// nil answers item-not-found.
    public var discoInfoForNode: ((String, XMLElement) -> XMLElement?)?
    /// Who this entity is, and features to advertise beside those the router's registrations declare
    /// (the client's own among them): together, what disco#info and the caps hash report (``advertised``).
    public var discoInfo: DiscoInfo
    public internal(set) var roster = Roster()
    /// Called after the roster arrived at login (`full`: every item) and after each roster push from
    /// our own account (the items it changed), so access can follow what the server holds.
    public var onRosterChange: ((_ items: [Roster.Item], _ full: Bool) -> Void)?
    /// The last reason a connection attempt failed or a session ended, for status reports.
    public internal(set) var lastProblem: String?
    /// True while the server has been silent past half the ping timeout although we wait for its
    /// answers (an iq, an acknowledgement, a ping): the connection may be dead. Whatever can wait (new
    /// readings) should not be written into it until this clears (the server answered) or the
    /// connection is replaced.
    public internal(set) var answersOverdue = false { didSet { if answersOverdue != oldValue { onAnswersOverdue?(answersOverdue) } } }
    /// Called when ``answersOverdue`` changes; the pubsub publisher holds new readings while it is set.
    public var onAnswersOverdue: ((Bool) -> Void)?

    var connection: XMPPConnection?
    var lifecycle = Lifecycle.running
    var stopping: Bool { if case .stopping = lifecycle { true } else { false } }
    /// The connection attempts and their back-off (XMPPClient+Attempts.swift).
    var attempts = AttemptState()
    /// The keepalive (XMPPClient+Liveness.swift).
    var keepalive = KeepaliveState()
    /// Our iq requests and the repeat check of iq sets (XMPPClient+Session.swift).
    var iqs = IQTracking()
    var randomIDs = RandomIDs()
    /// XEP-0198 (XMPPClient+StreamManagement.swift).
    var streamMgmt = StreamManagementState()
    /// The account's domain as DNS and TLS name it (IDNA ToASCII; an ASCII domain unchanged).
    var asciiDomain: String { IDN.toASCII(config.jid.domainpart) ?? config.jid.domainpart }
    /// Salted passwords by salt and iteration count (for the password of ``config``).
    var scramCache = SCRAMCache()
    var rng = SystemRandomNumberGenerator()
    /// The `<show/>` and `<status/>` of our presence, as last set (``setPresence(show:status:)``).
    public internal(set) var presenceShow: String?
    public internal(set) var presenceStatus: String?
    var presenceObservers: [(_ show: String?, _ status: String?) -> Void] = []
    /// The presence last broadcast, so a resumed session re-sends it only when it changed meanwhile.
    var lastPresence: XMLElement?
    let resumptionStore: ResumptionStore?
    /// Whether iq sets from this sender are remembered for the repeat check (nil: every sender's are).
    /// The agent trusts those with a role, so strangers can neither fill the table nor evict entries.
    public var isTrusted: ((JID) -> Bool)?
    /// Asked before a sender ``isTrusted`` refuses costs a built-in answer (ping, disco, version, time,
    /// `service-unavailable` for an iq nobody handles) or a log line (a stanza over the limits): true
    /// when it may, now. The agent hands it to its stranger gate, so a flood of pings from strangers
    /// gets a bounded number of answers and one summary line; nil lets everything through.
    public var strangerBudget: ((_ from: JID, _ cost: StrangerCost) -> Bool)?

    /// What a sender without trust is about to cost, for ``strangerBudget``.
    public enum StrangerCost: Sendable, Equatable {
        /// An answer anyone gets (a pong, disco#info, `service-unavailable`): true sends it.
        case answer(String)
        /// Something refused or dropped, to be logged; `reply`: an error would go back, true sends it.
        case refused(String, reply: Bool)
    }

    public init(loop: EventLoop, config: ClientConfiguration, logger: Logger) {
        self.loop = loop
        self.config = config
        self.logger = logger
        resumptionStore = config.resumptionFile.map { ResumptionStore(path: $0) }
        discoInfo = DiscoInfo(identities: [.init(category: "client", type: "bot", name: config.softwareName)], features: [])
        installBuiltInRoutes()
    }

    // MARK: - Public API

    /// Starts connecting; the client keeps a session up until ``stop(_:)``.
    public func start() {
        guard status == .offline, attempts.retryTimer == nil, connection == nil else { return }
        if streamMgmt.state == nil { loadResumption() }
        attempt()
    }

    /// Ends the session politely (unavailable presence, `</stream:stream>`) and stops reconnecting.
    /// `completion` runs once the stream is closed or after a short timeout.
    public func stop(_ completion: @escaping () -> Void) {
        lifecycle = .stopping(then: nil)
        attempts.retryTimer?.cancel()
        attempts.timer?.cancel()
        for q in attempts.srvQueries { q.cancel() }
        attempts.srvQueries = []
        attempts.discovery?.cancel()
        attempts.discovery = nil
        keepalive.timer?.cancel()
        guard let connection else {
            status = .stopped
            completion()
            return
        }
        lifecycle = .stopping(then: completion)
        if case .online = status {
            send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unavailable"]))
            // A closed stream ends the session on the server: there is nothing to resume after this.
            forgetResumption()
            connection.close()
        } else {
            connection.abort()
            finishStop()
        }
    }

    /// Takes new settings (a reload changed the account, the server or the connection settings): the
    /// session ends as ``stop(_:)`` ends it (an unavailable presence, the stream closed), nothing of it
    /// is resumed, and the client connects again at once with the new settings.
    public func reconnect(with config: ClientConfiguration) {
        stop { [weak self] in
            guard let self else { return }
            self.config = config
            self.scramCache = SCRAMCache()
            self.attempts = AttemptState()
            self.forgetResumption()
            self.streamMgmt = StreamManagementState()
            self.lifecycle = .running
            self.status = .offline
            self.start()
        }
    }

    /// Sends a stanza if a session is up. Returns false when offline or the stream is closing (nothing
    /// is queued here: a caller that must not lose the stanza keeps it). With
    /// stream management, a sent stanza is held until the server acknowledges it, and sent again on
    /// the next connection if it never does (see XMPPClient+StreamManagement.swift). Messages get an
    /// XEP-0359 origin id, so a re-send can be told from a new message.
    @discardableResult
    public func send(_ stanza: XMLElement) -> Bool {
        send(stanza, quiet: false)
    }

    @discardableResult
    func send(_ stanza: XMLElement, quiet: Bool) -> Bool {
        guard case .online = status else { return false }
        return write(stanza, quiet: quiet)
    }

    /// Sends a stanza on the connection whatever the status says: ``send(_:)`` once online, and the
    /// re-sends of a session that is established but not yet announced online.
    @discardableResult
    func write(_ stanza: XMLElement, quiet: Bool) -> Bool {
        guard let connection else { return false }
        var stanza = stanza
        if stanza.stanzaKind == .message, stanza.child("origin-id", namespace: XMPPNamespace.stanzaID) == nil {
            let id = stanza.stanzaID ?? makeID("m")
            stanza[attribute: "id"] = id
            stanza.append(XMLElement("origin-id", namespace: XMPPNamespace.stanzaID, attrs: ["id": id]))
        }
        // A stream that is closing takes nothing more: the caller learns it was not sent.
        guard connection.send(stanza) else { return false }
        if stanza.stanzaKind == .iq, stanza.stanzaType == "result" || stanza.stanzaType == "error", let id = stanza.stanzaID {
            let request = RecentRequests.key(from: stanza[attribute: "to"] ?? "", id: id)
            if var keys = iqs.setsInFlight[request], !keys.isEmpty {
                iqs.recentSets.answered(keys.removeFirst(), stanza)
                iqs.setsInFlight[request] = keys.isEmpty ? nil : keys
            }
        }
        countSent(stanza, quiet: quiet)
        return true
    }

    /// Registers a handler for iq get/set requests whose payload is in `namespace` (``StanzaRouter/iq(_:features:owner:_:)``):
    /// a second one for the same namespace stops the program. Every request gets exactly one answer.
    public func handleIQ(namespace: String, features: [String] = [], owner: String = #fileID, _ handler: @escaping (XMLElement) -> IQHandling) {
        router.iq(namespace, features: features, owner: owner, handler)
    }

    /// What disco#info lists and the caps hash covers: the client's own features and every route's.
    public var advertised: DiscoInfo {
        DiscoInfo(identities: discoInfo.identities, features: discoInfo.features + router.features)
    }

    /// A fresh stanza id.
    public func makeID(_ prefix: String = "p") -> String {
        iqs.nextID += 1
        return "\(prefix)\(iqs.nextID)-\(String(randomIDs.next(), radix: 36))"
    }
}

@available(*, unavailable)
extension XMPPClient: Sendable {}

/// Random suffixes for stanza ids, so ids are not guessable across restarts: drawn from the kernel
/// (getrandom) a block at a time, not one system call per stanza sent.
struct RandomIDs {
    private var block: [UInt32] = []

    mutating func next() -> UInt32 {
        if block.isEmpty {
            let bytes = SecureRandom.bytes(256)
            block = bytes.withUnsafeBytes { raw in (0..<raw.count / 4).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self) } }
        }
        return block.removeLast()
    }
}
