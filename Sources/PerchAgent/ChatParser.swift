import XMPPAddress

/// Turns a chat message into a ``DeviceCommand``: `help`, `status`, `<output> on|off|toggle`,
/// `pulse <output> <duration>`, `read [<sensor>]`, `block|unblock <jid>`. Case-insensitive; extra
/// spaces ignored; `set <output> on` and `<output> 1/0` accepted too, since people type them.
public enum ChatParser {
    public enum Failure: Error, Hashable, Sendable {
        /// Not a command at all: the reply is a one-line hint.
        case unknown(String)
        /// A command with a bad argument: the reply says which.
        case badArgument(String)
    }

    /// - Parameter outputs: the outputs' names, lowercased: "fly away" is then an unknown command rather
    ///   than a bad verb for an output called "fly".
    public static func parse(_ text: String, outputs: Set<String>? = nil) -> Result<DeviceCommand, Failure> {
        let words = text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        guard let first = words.first?.lowercased() else { return .failure(.unknown("")) }
        switch first {
        case "help", "?", "commands":
            return .success(.help)
        case "status", "state":
            return .success(.status)
        case "read", "get":
            return .success(.read(sensor: words.count > 1 ? words[1] : nil))
        case "pulse":
            guard words.count == 3 else { return .failure(.badArgument("usage: pulse <output> <duration>, e.g. pulse pump 5s")) }
            guard let ms = parseDuration(words[2]), ms > 0 else {
                return .failure(.badArgument("\"\(words[2])\" is not a duration; try 500ms, 5s or 2m"))
            }
            return .success(.pulse(output: words[1], milliseconds: ms))
        case "subscribers":
            return .success(.subscribers)
        case "unsubscribe":
            guard words.count == 2, let jid = try? JID(words[1]) else { return .failure(.badArgument("usage: unsubscribe <jid>")) }
            return .success(.removeSubscriber(jid))
        case "block", "unblock", "allow", "deny":
            guard words.count == 2, let jid = try? JID(words[1]) else {
                return .failure(.badArgument("usage: \(first) <jid>, e.g. \(first) someone@example.org"))
            }
            switch first {
            case "block": return .success(.block(jid.bare))
            case "unblock": return .success(.unblock(jid.bare))
            case "allow": return .success(.allow(jid.bare))
            default: return .success(.deny(jid.bare))
            }
        case "set", "turn", "switch":
            guard words.count == 3 else { return .failure(.badArgument("usage: \(first) <output> on|off")) }
            return action(words[1], words[2])
        default:
            guard words.count == 2 else { return .failure(.unknown(first)) }
            let result = action(words[0], words[1])
            if case .failure = result, let outputs, !outputs.contains(first) { return .failure(.unknown(first)) }
            return result
        }
    }

    static func action(_ output: String, _ verb: String) -> Result<DeviceCommand, Failure> {
        switch verb.lowercased() {
        case "on", "1", "true", "open": return .success(.set(output: output, on: true))
        case "off", "0", "false", "close": return .success(.set(output: output, on: false))
        case "toggle", "flip": return .success(.toggle(output: output))
        default: return .failure(.badArgument("\"\(verb)\" is not on, off or toggle"))
        }
    }

    /// `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds (`5`, `1.5`).
    public static func parseDuration(_ s: String) -> Int64? {
        let lower = s.lowercased()
        let units: [(String, Double)] = [("ms", 1), ("sec", 1000), ("s", 1000), ("min", 60_000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            guard let n = Double(lower.dropLast(suffix.count)), n.isFinite, n >= 0, n * factor < 1e12 else { return nil }
            return Int64((n * factor).rounded())
        }
        guard let n = Double(lower), n.isFinite, n >= 0, n < 1e9 else { return nil }
        return Int64((n * 1000).rounded())
    }
}
