import Testing
import XMPPAddress
@testable import PerchAgent

/// `rooms`, `join ROOM [nick]` and `leave ROOM` as chat reads them, and which services may vouch
/// for an inviter.
@Suite struct RoomCommandParsingTests {
    let fleet = try! JID("fleet@conference.example.org")

    func parse(_ text: String) -> Result<DeviceCommand, ChatParser.Failure> {
        ChatParser.parse(text, outputs: ["pump"], readings: ["cpu"])
    }

    @Test(arguments: [
        ("rooms", DeviceCommand.rooms),
        ("ROOMS", .rooms),
        ("  rooms  ", .rooms),
        ("join fleet@conference.example.org", .join(room: try! JID("fleet@conference.example.org"), nick: nil)),
        ("JOIN Fleet@Conference.Example.org", .join(room: try! JID("fleet@conference.example.org"), nick: nil)),
        ("join fleet@conference.example.org greenhouse", .join(room: try! JID("fleet@conference.example.org"), nick: "greenhouse")),
        ("join   fleet@conference.example.org   Serre-Nord ", .join(room: try! JID("fleet@conference.example.org"), nick: "Serre-Nord")),
        ("leave fleet@conference.example.org", .leave(room: try! JID("fleet@conference.example.org"))),
        ("Leave FLEET@conference.example.org", .leave(room: try! JID("fleet@conference.example.org"))),
    ])
    func commands(_ text: String, _ expected: DeviceCommand) {
        #expect(parse(text) == .success(expected), "\(text)")
        // Without the device's names, the same.
        #expect(ChatParser.parse(text) == .success(expected), "\(text)")
    }

    static let joinUsage = "usage: join <room> [nick], e.g. join fleet@conference.example.org"
    static let leaveUsage = "usage: leave <room>, e.g. leave fleet@conference.example.org"

    @Test(arguments: [
        ("rooms all", "rooms takes nothing after it: send rooms alone"),
        ("rooms fleet@conference.example.org", "rooms takes nothing after it: send rooms alone"),
        ("join", joinUsage),
        ("join fleet@conference.example.org serre nord", joinUsage),
        ("leave", leaveUsage),
        ("leave fleet@conference.example.org greenhouse", leaveUsage),
        // Not a room's bare JID: a service, an occupant, a malformed address.
        ("join conference.example.org", "conference.example.org is not a room address; \(joinUsage)"),
        ("join fleet@conference.example.org/greenhouse", "fleet@conference.example.org/greenhouse is not a room address; \(joinUsage)"),
        ("join @@ greenhouse", "@@ is not a room address; \(joinUsage)"),
        ("leave conference.example.org", "conference.example.org is not a room address; \(leaveUsage)"),
        ("leave fleet@conference.example.org/greenhouse", "fleet@conference.example.org/greenhouse is not a room address; \(leaveUsage)"),
    ])
    func badUsages(_ text: String, _ why: String) {
        #expect(parse(text) == .failure(.badArgument(why)), "\(text)")
    }

    @Test func roomCommandsAreOwnersAndSayWhatTheyAre() throws {
        let commands: [DeviceCommand] = [.rooms, .join(room: fleet, nick: nil), .join(room: fleet, nick: "greenhouse"), .leave(room: fleet)]
        for c in commands {
            #expect(c.requiredRole == .owner, "\(c)")
            // What the audit log says of it parses back to it.
            #expect(parse(c.summary) == .success(c), "\(c.summary)")
        }
        #expect(!DeviceCommand.rooms.isAction)
        #expect(DeviceCommand.join(room: fleet, nick: nil).isAction)
        #expect(DeviceCommand.leave(room: fleet).isAction)
        #expect(DeviceCommand.join(room: fleet, nick: "greenhouse").summary == "join fleet@conference.example.org greenhouse")
    }

    // MARK: - Which service may vouch for an inviter

    @Test(arguments: [
        ("conference.example.org", "example.org", true),
        ("muc.chat.example.org", "example.org", true),
        ("Conference.Example.ORG", "example.org", true),
        ("conference.example.org", "EXAMPLE.org", true),
        // Not the inviter's server: a look-alike, a suffix without the dot, another domain, a parent.
        ("evil-example.org", "example.org", false),
        ("conferenceexample.org", "example.org", false),
        ("example.org.evil.net", "example.org", false),
        ("conference.example.net", "example.org", false),
        ("example.org", "conference.example.org", false),
        ("org", "example.org", false),
        // The owner's domain itself: any account there could relay a claim about the owner.
        ("example.org", "example.org", false),
    ])
    func isServiceOf(_ service: String, _ domain: String, _ expected: Bool) {
        #expect(Agent.isServiceOf(service, domain) == expected, "\(service) of \(domain)")
    }
}
