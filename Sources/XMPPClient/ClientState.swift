import PerchIO
import PerchHTTP
import XMPPAddress

/// What ``XMPPClient`` keeps, grouped by the responsibility that owns it: the connection attempts
/// and their back-off, the keepalive, iq tracking and stream management. Each group is changed only
/// by its own file (XMPPClient+Attempts.swift, XMPPClient+Liveness.swift, XMPPClient+Session.swift,
/// XMPPClient+StreamManagement.swift).

/// Whether the client runs, or is closing its session for good.
enum Lifecycle {
    case running
    /// ``XMPPClient/stop(_:)`` was called: no more attempts; `then` runs once the stream is closed.
    case stopping(then: (() -> Void)?)
}

/// The connection attempts and their back-off.
struct AttemptState {
    /// The servers still to try in this attempt, and the addresses of the one being tried.
    var candidates: [ServerCandidate] = []
    var addresses: [SocketAddress] = []
    var reconnect = ReconnectPolicy.State()
    /// How the addresses of this attempt failed so far: nil before any did, true while every one
    /// refused the connection (the server is restarting), false once another failure came.
    var onlyRefused: Bool?
    var retryTimer: EventLoop.Timer?
    /// The SRV look-ups of the attempt under way.
    var srvQueries: [SRVQuery] = []
    /// The login deadline of the connection being tried.
    var timer: EventLoop.Timer?
    /// The endpoint XEP-0156 found (kept until an attempt at it fails before logging in), and the
    /// host-meta fetch under way.
    var discoveredURL: WebURL?
    var discovery: HTTPGet?
    /// Attempts in a row that timed out waiting for the answer to <resume/>.
    var unansweredResumptions = 0
    /// Redirects followed in a row, and where the next attempt goes because of one.
    var redirects = 0
    var redirectTarget: ServerCandidate?
}

/// The keepalive: silence while we wait for the server (Liveness.swift), and what we wait for.
struct KeepaliveState {
    var timer: EventLoop.Timer?
    var onlineSince: Instant?
    var liveness = Liveness(interval: 60_000, timeout: 30_000, now: Instant.now().milliseconds)
    /// A keepalive or probe ping is out and nothing has arrived since.
    var pingOutstanding = false
    /// XEP-0198 `<r/>` sent and not yet answered by an `<a/>`.
    var acksAwaited = 0
}

/// Our iq requests waiting for answers, stanza ids, and the repeat check of iq sets we answered.
struct IQTracking {
    var pending: [String: PendingIQ] = [:]
    var nextID = 0
    /// iq set requests answered lately, so a repeated id is answered again rather than run twice: only
    /// those of senders ``XMPPClient/isTrusted`` accepts (and of our own server), each sender a bounded share.
    var recentSets = RecentRequests(capacity: 256, perSender: 32)
    /// The repeat-check keys of iq sets being handled, by sender and id, oldest first: the answer, which
    /// carries only the id, is recorded under the key of the request it answers.
    var setsInFlight: [String: [String]] = [:]
}

/// XEP-0198 (XMPPClient+StreamManagement.swift).
struct StreamManagementState {
    var state: StreamManagement?
    var jid: JID?
    /// True while the current connection counts stanzas.
    var active = false
    /// The state came from disk (an earlier process).
    var fromDisk = false
    /// When the connection of the resumable session was lost (Unix ms).
    var lostAt: Int64?
    var ackTimer: EventLoop.Timer?
    var saveTimer: EventLoop.Timer?
    var saveFailing = false
    /// While a batch of stanzas is handled: messages sent meanwhile are saved once, after it.
    var inBatch = false
    var batchSavePending = false
}
