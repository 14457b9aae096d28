import PerchConfig
import PerchIO
import XMPPAddress

/// Turns a chat message into a ``DeviceCommand``: `help`, `status`, `<output> on|off|toggle`,
/// `pulse <output> <duration>`, `read [<sensor>]`, `block|unblock <jid>`, and a device name alone
/// (an output's state and what it can do; a reading). The words are ``ChatWords``' (the table the
/// configuration keeps names out of). Case-insensitive; extra spaces ignored; `set <output> on` and
/// `<output> 1/0` accepted too, since people type them. Words after a complete command are refused
/// with a hint, for every command alike: `pump on for a minute` must not switch the pump on for good.
public enum ChatParser {
    public enum Failure: Error, Hashable, Sendable {
        /// Not a command at all: the reply is a one-line hint.
        case unknown(String)
        /// A command with a bad argument: the reply says which.
        case badArgument(String)
    }

    /// - Parameters:
    ///   - outputs: the outputs' names, lowercased: "fly away" is then an unknown command rather than a
    ///     bad verb for an output called "fly". Nil: any name may be an output.
    ///   - readings: the sensors' and inputs' names, lowercased: one alone reads it.
    public static func parse(_ text: String, outputs: Set<String>? = nil, readings: Set<String> = []) -> Result<DeviceCommand, Failure> {
        let words = text.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        guard let first = words.first?.lowercased() else { return .failure(.unknown("")) }
        guard let verb = ChatWords.verbs[first] else { return named(words, outputs: outputs, readings: readings) }
        func extra(_ usage: String) -> Result<DeviceCommand, Failure> {
            .failure(.badArgument("usage: \(usage)"))
        }
        switch verb {
        case .help, .status, .subscribers:
            guard words.count == 1 else { return .failure(.badArgument("\(first) takes nothing after it: send \(first) alone")) }
            return .success(verb == .help ? .help : verb == .status ? .status : .subscribers)
        case .read:
            guard words.count <= 2 else { return extra("read [sensor], e.g. read \(readings.sorted().first ?? "cpu")") }
            return .success(.read(sensor: words.count > 1 ? words[1] : nil))
        case .pulse:
            guard words.count == 3 else { return extra("pulse <output> <duration>, e.g. pulse pump 5s") }
            switch DurationText.parse(words[2]) {
            case .failure(let why): return .failure(.badArgument(why.description))
            case .success(0): return .failure(.badArgument("a pulse needs a duration above 0, e.g. pulse \(words[1]) 5s"))
            case .success(let ms): return .success(.pulse(output: words[1], milliseconds: ms))
            }
        case .unsubscribe, .block, .unblock, .allow, .deny:
            guard words.count == 2, let jid = try? JID(words[1]) else { return extra("\(first) <jid>, e.g. \(first) someone@example.org") }
            switch verb {
            case .unsubscribe: return .success(.removeSubscriber(jid))
            case .block: return .success(.block(jid.bare))
            case .unblock: return .success(.unblock(jid.bare))
            case .allow: return .success(.allow(jid.bare))
            default: return .success(.deny(jid.bare))
            }
        case .rooms:
            guard words.count == 1 else { return .failure(.badArgument("rooms takes nothing after it: send rooms alone")) }
            return .success(.rooms)
        case .join, .leave:
            let usage = verb == .join ? "join <room> [nick], e.g. join fleet@conference.example.org" : "leave <room>, e.g. leave fleet@conference.example.org"
            guard words.count == 2 || (verb == .join && words.count == 3) else { return extra(usage) }
            guard let room = try? JID(words[1]), room.localpart != nil, room.resourcepart == nil else {
                return .failure(.badArgument("\(words[1]) is not a room address; usage: \(usage)"))
            }
            return .success(verb == .join ? .join(room: room, nick: words.count == 3 ? words[2] : nil) : .leave(room: room))
        case .set:
            guard words.count == 3 else { return extra("\(first) <output> on|off") }
            return action(words[1], words[2])
        case .alerts, .rules:
            guard words.count == 1 else { return .failure(.badArgument("\(first) takes nothing after it: send \(first) alone")) }
            return .success(verb == .alerts ? .alerts : .rules)
        case .mute:
            guard words.count == 2 || words.count == 3 else { return extra("mute <alert> [duration], e.g. mute hot 1h (all: every alert)") }
            guard words.count == 3 else { return .success(.mute(alert: words[1], milliseconds: DeviceCommand.defaultMute)) }
            switch DurationText.parse(words[2]) {
            case .failure(let why): return .failure(.badArgument(why.description))
            case .success(0): return .failure(.badArgument("mute for how long? e.g. mute \(words[1]) 1h"))
            case .success(let ms): return .success(.mute(alert: words[1], milliseconds: ms))
            }
        case .unmute:
            guard words.count == 2 else { return extra("unmute <alert>, e.g. unmute hot (all: every alert)") }
            return .success(.unmute(alert: words[1]))
        }
    }

    /// A message that starts with a name: `<output> on|off|toggle`, or a name alone.
    static func named(_ words: [String], outputs: Set<String>?, readings: Set<String>) -> Result<DeviceCommand, Failure> {
        let first = words[0].lowercased()
        let isOutput = outputs.map { $0.contains(first) } ?? true
        switch words.count {
        case 1:
            if outputs?.contains(first) == true || (outputs == nil && !readings.contains(first)) { return .success(.describe(output: words[0])) }
            if readings.contains(first) { return .success(.read(sensor: words[0])) }
            return .failure(.unknown(first))
        case 2:
            let result = action(words[0], words[1])
            if case .failure = result, !isOutput { return .failure(.unknown(first)) }
            return result
        default:
            guard isOutput, case .success = action(words[0], words[1]) else { return .failure(.unknown(first)) }
            let command = "\(words[0]) \(words[1])"
            return .failure(.badArgument("\"\(words[2...].joined(separator: " "))\" is more than \(command) takes: send \(command) alone"))
        }
    }

    static func action(_ output: String, _ word: String) -> Result<DeviceCommand, Failure> {
        switch ChatWords.actions[word.lowercased()] {
        case .on?: return .success(.set(output: output, on: true))
        case .off?: return .success(.set(output: output, on: false))
        case .toggle?: return .success(.toggle(output: output))
        case nil: return .failure(.badArgument("\"\(word)\" is not on, off or toggle"))
        }
    }
}
