import Testing
import PerchConfig
import XMPPAddress
import XMPPCore
@testable import PerchAgent

/// `[[room]]`s changed by a reload: left, joined, joined again, changed in place.
@Suite struct RoomReloadTests {
    typealias Rig = RoomManagerTests.Rig

    var leaves: (Rig) -> [String] = { rig in
        rig.sent.filter { $0.name == "presence" && $0.stanzaType == "unavailable" }.compactMap { $0[attribute: "to"] }
    }

    @Test func aRemovedRoomIsLeftAnAddedOneJoinedAndAnInvitedOneStays() throws {
        let rig = try Rig()
        try rig.online()
        #expect(rig.selfPresence())
        _ = rig.manager.join(try JID("party@conference.example.org"), nick: nil, password: nil)
        rig.sent = []
        let said = rig.manager.reconfigure([RoomConfiguration(jid: try JID("lab@conference.example.org"))])
        #expect(said == ["left fleet@conference.example.org (no longer in the configuration)", "joining lab@conference.example.org as board"])
        #expect(leaves(rig) == ["fleet@conference.example.org/greenhouse"])
        #expect(rig.joins == ["lab@conference.example.org/board"])
        #expect(rig.manager.has(try JID("party@conference.example.org")), "a room an owner invited the device to is not the configuration's")
        #expect(!rig.manager.has(try JID("fleet@conference.example.org")))
    }

    @Test func aNewNickJoinsAgainAndCommandsChangeInPlace() throws {
        let rig = try Rig()
        try rig.online()
        #expect(rig.selfPresence())
        rig.sent = []
        var quiet = RoomConfiguration(jid: try JID("fleet@conference.example.org"), nick: "greenhouse")
        quiet.commands = false
        quiet.line = 40
        #expect(rig.manager.reconfigure([quiet]).isEmpty)
        #expect(rig.sent.isEmpty, "no leave, no join")
        #expect(rig.manager.entry(try JID("fleet@conference.example.org"))?.commands == false)
        #expect(rig.manager.isJoined(try JID("fleet@conference.example.org")))

        var left: [String] = []
        rig.manager.onLeft = { left.append($0.description) }
        quiet.nick = "hothouse"
        #expect(rig.manager.reconfigure([quiet]) == ["joining fleet@conference.example.org again as hothouse (its settings changed)"])
        #expect(leaves(rig) == ["fleet@conference.example.org/greenhouse"])
        #expect(rig.joins == ["fleet@conference.example.org/hothouse"])
        #expect(left.isEmpty, "what waits for the room stays: it is joined again at once")
        _ = rig.manager.reconfigure([])
        #expect(left == ["fleet@conference.example.org"])
    }
}
