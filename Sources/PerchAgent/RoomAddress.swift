/// Whether a group chat line is for this device (XEP-0045 rooms): addressed to its nick —
/// `greenhouse: status`, `greenhouse, pump on`, `@greenhouse read` — or to every board — `all: status`,
/// `@all status` — and the command it carries. The nick compares without regard to case; anything
/// else in the room is not for the device and gets no answer (a device that answered chatter would be
/// an amplifier).
public enum RoomAddress: Sendable, Hashable {
    /// To this device by its nick.
    case addressed(String)
    /// To every board in the room.
    case broadcast(String)
    case notForUs

    public static let everyone = "all"

    /// Reads `body` as a line in a room where the device's nick is `nick`.
    public static func parse(_ body: String, nick: String) -> RoomAddress {
        let text = Substring(body).drop { $0.isWhitespace }
        let own = nick.lowercased()
        if text.hasPrefix("@") {
            // @nick COMMAND: the nick ends at the first whitespace (or the end of the line).
            let rest = text.dropFirst()
            let word = rest.prefix { !$0.isWhitespace }
            let command = trimmed(rest.dropFirst(word.count))
            let name = word.lowercased()
            if name == own { return .addressed(command) }
            if name == everyone { return .broadcast(command) }
            return .notForUs
        }
        // NICK: COMMAND or NICK, COMMAND; the nick may hold spaces, so it is matched whole.
        for (name, kind) in [(own, true), (everyone, false)] {
            guard text.count > name.count, String(text.prefix(name.count)).lowercased() == name else { continue }
            let after = text.dropFirst(name.count)
            guard let mark = after.first, mark == ":" || mark == "," else { continue }
            let command = trimmed(after.dropFirst())
            return kind ? .addressed(command) : .broadcast(command)
        }
        return .notForUs
    }

    private static func trimmed(_ s: Substring) -> String {
        String(s.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
