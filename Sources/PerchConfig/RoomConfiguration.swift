import Glibc
import TOML
public import XMPPAddress

/// A group chat room (XEP-0045) the device joins: `[[room]]`.
public struct RoomConfiguration: Sendable, Hashable {
    /// The room's bare JID (`fleet@conference.example.org`).
    public var jid: JID
    /// The nick to join as; nil: the device's name.
    public var nick: String?
    /// `password_file`: the room's password, for a password-protected room.
    public var passwordFile: String?
    /// `commands`: whether the device takes commands addressed to it in this room.
    public var commands = true
    /// `alerts`: whether alerts addressed to rooms are posted here.
    public var alerts = true
    /// `follow_alternate`: when the room is destroyed and names an alternate venue, join that instead.
    public var followAlternate = false
    /// The line of the `[[room]]` table (for messages).
    public var line: Int?

    /// The settings without where they are written in the file.
    public var unplaced: RoomConfiguration { var r = self; r.line = nil; return r }

    public init(jid: JID, nick: String? = nil) {
        self.jid = jid
        self.nick = nick
    }
}

extension ConfigurationLoader {
    /// `[[room]]` tables.
    func parseRooms(_ root: TOMLTable, _ r: Reader, _ config: inout Configuration) throws(ConfigurationError) {
        var seen: [JID: Int] = [:]
        for (i, t) in try r.tables(root, "room").enumerated() {
            let p = "room[\(i)]."
            try r.allowOnly(t, ["jid", "nick", "password_file", "commands", "alerts", "follow_alternate"], prefix: p)
            let text = try r.string(t, "jid", prefix: p, required: true)!
            guard let jid = try? JID(text), jid.localpart != nil, jid.resourcepart == nil else {
                throw r.error(t["jid"], p + "jid", "\"\(text)\" is not a room address: write the room's bare JID, such as fleet@conference.example.org")
            }
            if let first = seen[jid] {
                throw r.error(t["jid"], p + "jid", "\(jid) is already joined by room[\(first)]; one [[room]] per room")
            }
            seen[jid] = i
            var room = RoomConfiguration(jid: jid)
            room.line = t.line
            if let nick = try r.string(t, "nick", prefix: p) {
                if let why = RoomConfiguration.problem(withNick: nick, in: jid) { throw r.error(t["nick"], p + "nick", why) }
                room.nick = nick
            } else {
                // The default nick is the device's name: it must do as a nick too.
                let name = config.device.name ?? config.account.jid.localpart ?? config.account.jid.domainpart
                if let why = RoomConfiguration.problem(withNick: name, in: jid) {
                    throw ConfigurationError(file: file, line: t.line, key: p + "nick", "the device's name \"\(name)\" is the default nick, but \(why); set nick")
                }
            }
            if let file = try r.string(t, "password_file", prefix: p) {
                guard access(file, R_OK) == 0 else { throw r.error(t["password_file"], p + "password_file", "cannot read \(file)") }
                room.passwordFile = file
            }
            room.commands = try r.bool(t, "commands", prefix: p) ?? true
            room.alerts = try r.bool(t, "alerts", prefix: p) ?? true
            room.followAlternate = try r.bool(t, "follow_alternate", prefix: p) ?? false
            config.rooms.append(room)
        }
    }
}

extension RoomConfiguration {
    /// Why `nick` cannot be the device's nick in `room`, or nil when it can.
    public static func problem(withNick nick: String, in room: JID) -> String? {
        if nick.lowercased() == "all" { return "\"all\" addresses every board in the room (all: status); give the device a name of its own" }
        if nick.first?.isWhitespace == true || nick.last?.isWhitespace == true { return "must not start or end with a space" }
        if nick.hasPrefix("@") { return "must not start with @ (@\(nick.dropFirst()) would address it)" }
        guard (try? JID(localpart: room.localpart, domainpart: room.domainpart, resourcepart: nick)) != nil else {
            return "\"\(nick)\" is not a valid nick (XMPP resourcepart)"
        }
        return nil
    }
}
