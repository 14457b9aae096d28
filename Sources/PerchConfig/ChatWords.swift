/// The words of the chat command language, in one table: the chat parser dispatches on it, and the
/// configuration refuses a device name that is one of them (an output called `state` would turn
/// `state on` into `status`), so the two cannot drift apart.
public enum ChatWords {
    /// What a command's first word asks for.
    public enum Verb: Sendable, Hashable {
        case help, status, read, pulse, subscribers, unsubscribe, block, unblock, allow, deny, set, rooms, join, leave, alerts, rules, mute, unmute
    }

    /// First words, with the synonyms people type.
    public static let verbs: [String: Verb] = [
        "help": .help, "?": .help, "commands": .help,
        "status": .status, "state": .status,
        "read": .read, "get": .read,
        "pulse": .pulse,
        "subscribers": .subscribers, "unsubscribe": .unsubscribe,
        "block": .block, "unblock": .unblock, "allow": .allow, "deny": .deny,
        "set": .set, "turn": .set, "switch": .set,
        "rooms": .rooms, "join": .join, "leave": .leave,
        "alerts": .alerts, "rules": .rules, "schedules": .rules, "mute": .mute, "unmute": .unmute,
    ]

    /// What an output can be told after its name.
    public enum Action: Sendable, Hashable {
        case on, off, toggle
    }

    public static let actions: [String: Action] = [
        "on": .on, "1": .on, "true": .on, "open": .on,
        "off": .off, "0": .off, "false": .off, "close": .off,
        "toggle": .toggle, "flip": .toggle,
    ]

    /// Names no output, input or sensor may have (compared case-insensitively): every first word,
    /// every action word, and `all`.
    public static let reserved: Set<String> = Set(verbs.keys).union(actions.keys).union(["all"])

    /// The verb a reserved name would be read as, for the configuration's error message.
    public static func meaning(of name: String) -> String? {
        let word = name.lowercased()
        if let verb = verbs[word] { return "\"\(word) …\" is the \(verb) command" }
        if actions[word] != nil { return "\"\(word)\" is what an output is told (pump \(word))" }
        if word == "all" { return "\"all\" is kept for commands on every output" }
        return nil
    }
}
