import PerchIO
public import XMPPAddress

/// A command, whatever front-end it arrived by (chat, ad-hoc, iq): one vocabulary, so the front-ends
/// never disagree about what a command means or who may run it.
public enum DeviceCommand: Hashable, Sendable {
    case help
    case status
    case set(output: String, on: Bool)
    case toggle(output: String)
    case pulse(output: String, milliseconds: Int64)
    /// An output's state and what can be done with it (its name alone in chat).
    case describe(output: String)
    /// One sensor (or input), or all of them.
    case read(sensor: String?)
    case block(JID)
    case unblock(JID)
    /// Answers a stranger's subscription request that was put to the owners.
    case allow(JID)
    case deny(JID)
    /// The readings node's subscriptions, and removing one (owners).
    case subscribers
    case removeSubscriber(JID)
    /// The group chat rooms, joining one and leaving one (owners).
    case rooms
    case join(room: JID, nick: String?)
    case leave(room: JID)
    /// The alerts that are on, and the rules and schedules (with their next runs).
    case alerts
    case rules
    /// Silences an alert (or `all`) for a while, and ends that.
    case mute(alert: String, milliseconds: Int64)
    case unmute(alert: String)

    /// How long `mute NAME` alone silences an alert.
    public static let defaultMute: Int64 = 3_600_000

    /// Who may run it.
    public var requiredRole: Role {
        switch self {
        case .help: .viewer
        case .status, .read, .describe, .alerts, .rules: .viewer
        case .mute, .unmute: .operator
        case .set, .toggle, .pulse: .operator
        case .block, .unblock, .allow, .deny, .subscribers, .removeSubscriber, .rooms, .join, .leave: .owner
        }
    }

    /// Whether it changes anything (what rate limits and stale-message checks apply to).
    public var isAction: Bool {
        switch self {
        case .help, .status, .read, .describe, .subscribers, .rooms, .alerts, .rules: false
        default: true
        }
    }

    /// A short form for the audit log.
    public var summary: String {
        switch self {
        case .help: "help"
        case .status: "status"
        case .set(let o, let on): "\(o) \(on ? "on" : "off")"
        case .toggle(let o): "\(o) toggle"
        case .pulse(let o, let ms): "pulse \(o) \(describeDuration(ms))"
        case .describe(let o): o
        case .read(let s): "read\(s.map { " \($0)" } ?? "")"
        case .block(let j): "block \(j)"
        case .unblock(let j): "unblock \(j)"
        case .allow(let j): "allow \(j)"
        case .deny(let j): "deny \(j)"
        case .subscribers: "subscribers"
        case .removeSubscriber(let j): "unsubscribe \(j)"
        case .rooms: "rooms"
        case .join(let r, let n): "join \(r)\(n.map { " " + $0 } ?? "")"
        case .leave(let r): "leave \(r)"
        case .alerts: "alerts"
        case .rules: "rules"
        case .mute(let a, let ms): "mute \(a) \(describeDuration(ms))"
        case .unmute(let a): "unmute \(a)"
        }
    }
}
