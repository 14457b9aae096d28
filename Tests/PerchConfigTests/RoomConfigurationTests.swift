import Foundation
import Testing
import XMPPAddress
@testable import PerchConfig

/// `[[room]]`: the group chat rooms the device joins, their defaults, and the errors that point at
/// the file, line and key.
@Suite struct RoomConfigurationTests {
    let account = "[account]\njid = \"board@example.org/perch\"\n"

    func rooms(_ text: String, env: [String: String] = ["PERCH_PASSWORD": "pw"]) throws -> [RoomConfiguration] {
        try load(account + text, env: env).rooms
    }

    func error(_ text: String) -> String {
        do {
            _ = try load(account + text)
            return "accepted"
        } catch {
            return error.description
        }
    }

    @Test func noRoomsByDefault() throws {
        #expect(try rooms("").isEmpty)
    }

    @Test func defaults() throws {
        let r = try rooms("[[room]]\njid = \"fleet@conference.example.org\"\n")
        #expect(r.count == 1)
        #expect(r[0].jid == (try JID("fleet@conference.example.org")))
        #expect(r[0].nick == nil, "nil: the device's name")
        #expect(r[0].passwordFile == nil)
        #expect(r[0].commands)
        #expect(r[0].alerts)
        #expect(!r[0].followAlternate)
        #expect(r[0].line == 3, "the line of its [[room]]")
        #expect(r[0] == RoomConfiguration(jid: try JID("fleet@conference.example.org")).with(line: 3))
    }

    @Test func everyKey() throws {
        let dir = NSTemporaryDirectory() + "perch-room-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "cauldronburn\n".write(toFile: "\(dir)/room-pw", atomically: true, encoding: .utf8)
        let r = try rooms("""
            [[room]]
            jid = "Fleet@Conference.Example.org"
            nick = "serre nord"
            password_file = "\(dir)/room-pw"
            commands = false
            alerts = false
            follow_alternate = true

            [[room]]
            jid = "alerts@conference.example.org"
            nick = "Greenhouse"
            """)
        #expect(r.count == 2)
        #expect(r[0].jid.description == "fleet@conference.example.org", "canonical form")
        #expect(r[0].nick == "serre nord")
        #expect(r[0].passwordFile == "\(dir)/room-pw")
        #expect(!r[0].commands)
        #expect(!r[0].alerts)
        #expect(r[0].followAlternate)
        #expect(r[0].line == 3)
        #expect(r[1].jid.description == "alerts@conference.example.org")
        #expect(r[1].nick == "Greenhouse")
        #expect(r[1].commands && r[1].alerts && !r[1].followAlternate && r[1].passwordFile == nil)
        #expect(r[1].line == 11)
    }

    @Test func theSameRoomOnTwoServicesIsTwoRooms() throws {
        let r = try rooms("[[room]]\njid = \"fleet@conference.example.org\"\n[[room]]\njid = \"fleet@muc.example.net\"\n")
        #expect(r.map(\.jid.description) == ["fleet@conference.example.org", "fleet@muc.example.net"])
    }

    @Test(arguments: [
        // Not a bare room JID.
        ("[[room]]\njid = \"fleet@conference.example.org/greenhouse\"",
         "perch.toml:4: room[0].jid: \"fleet@conference.example.org/greenhouse\" is not a room address: write the room's bare JID, such as fleet@conference.example.org"),
        ("[[room]]\njid = \"conference.example.org\"", "perch.toml:4: room[0].jid: \"conference.example.org\" is not a room address"),
        ("[[room]]\njid = \"@@\"", "perch.toml:4: room[0].jid: \"@@\" is not a room address"),
        ("[[room]]\njid = \"\"", "perch.toml:4: room[0].jid: must not be empty"),
        ("[[room]]\njid = 5", "perch.toml:4: room[0].jid: must be a string, not an integer"),
        ("[[room]]\nnick = \"greenhouse\"", "perch.toml:3: room[0].jid: is required"),
        // The second room's errors name it.
        ("[[room]]\njid = \"a@conference.example.org\"\n[[room]]\njid = \"b@conference.example.org/x\"", "perch.toml:6: room[1].jid: \"b@conference.example.org/x\" is not a room address"),
        // One [[room]] per room, however it is spelled.
        ("[[room]]\njid = \"fleet@conference.example.org\"\n[[room]]\njid = \"fleet@conference.example.org\"",
         "perch.toml:6: room[1].jid: fleet@conference.example.org is already joined by room[0]; one [[room]] per room"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\n[[room]]\njid = \"x@conference.example.org\"\n[[room]]\njid = \"FLEET@Conference.Example.Org\"",
         "perch.toml:8: room[2].jid: fleet@conference.example.org is already joined by room[0]"),
        // Nicks.
        ("[[room]]\njid = \"fleet@conference.example.org\"\nnick = \"all\"", "perch.toml:5: room[0].nick: \"all\" addresses every board in the room"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\nnick = \"ALL\"", "perch.toml:5: room[0].nick: \"all\" addresses every board in the room"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\nnick = \"@greenhouse\"", "perch.toml:5: room[0].nick: must not start with @ (@greenhouse would address it)"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\nnick = \" greenhouse\"", "perch.toml:5: room[0].nick: must not start or end with a space"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\nnick = \"greenhouse \"", "perch.toml:5: room[0].nick: must not start or end with a space"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\nnick = \"\"", "perch.toml:5: room[0].nick: must not be empty"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\nnick = \"bell\\u0007\"", "perch.toml:5: room[0].nick: \"bell\u{7}\" is not a valid nick (XMPP resourcepart)"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\nnick = 7", "perch.toml:5: room[0].nick: must be a string, not an integer"),
        // The password file.
        ("[[room]]\njid = \"fleet@conference.example.org\"\npassword_file = \"/nonexistent/perch/room-pw\"", "perch.toml:5: room[0].password_file: cannot read /nonexistent/perch/room-pw"),
        // Booleans and unknown keys.
        ("[[room]]\njid = \"fleet@conference.example.org\"\ncommands = \"yes\"", "perch.toml:5: room[0].commands: must be true or false, not a string"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\nalerts = 1", "perch.toml:5: room[0].alerts: must be true or false, not an integer"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\nfollow_alternate = \"true\"", "perch.toml:5: room[0].follow_alternate: must be true or false, not a string"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\npassword = \"secret\"",
         "perch.toml:5: room[0].password: unknown key (known here: jid, nick, password_file, commands, alerts, follow_alternate)"),
        ("[[room]]\njid = \"fleet@conference.example.org\"\n[[room]]\njid = \"b@conference.example.org\"\nnik = \"x\"", "perch.toml:7: room[1].nik: unknown key"),
    ])
    func errorsNameFileLineAndKey(_ text: String, _ expected: String) {
        let got = error(text)
        #expect(got.hasPrefix(expected), "got: \(got)")
    }

    /// Without `nick`, the device's name is the nick, so it must be one.
    @Test func theDefaultNickIsCheckedToo() {
        let got = error("[device]\nname = \"All\"\n[[room]]\njid = \"fleet@conference.example.org\"\n")
        #expect(got.hasPrefix("perch.toml:5: room[0].nick: the device's name \"All\" is the default nick, but \"all\" addresses every board"), "got: \(got)")
        #expect(error("[device]\nname = \"All\"\n[[room]]\njid = \"fleet@conference.example.org\"\nnick = \"all-1\"\n") == "accepted")
    }

    @Test func roomIsAnArrayOfTables() {
        for (text, expected) in [
            ("room = \"fleet@conference.example.org\"\n", "perch.toml:1: room: must be written as [[room]] tables, not a string"),
            ("room = [\"fleet@conference.example.org\"]\n", "perch.toml:1: room[0]: must be a table: write [[room]]"),
            ("[room]\njid = \"fleet@conference.example.org\"\n", "perch.toml:1: room: must be written as [[room]] tables, not a table"),
        ] {
            do {
                _ = try load(text + account)
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.description == expected)
            }
        }
    }

    @Test func theNickRules() throws {
        let room = try JID("fleet@conference.example.org")
        for nick in ["greenhouse", "Greenhouse", "serre nord", "écluse", "board-2", "all-boards", "a@b", "alle"] {
            #expect(RoomConfiguration.problem(withNick: nick, in: room) == nil, "\(nick)")
        }
        for nick in ["all", "All", "@x", "@", " x", "x ", "\u{7}"] {
            #expect(RoomConfiguration.problem(withNick: nick, in: room) != nil, "\(nick)")
        }
    }
}

extension RoomConfiguration {
    fileprivate func with(line: Int) -> RoomConfiguration {
        var copy = self
        copy.line = line
        return copy
    }
}
