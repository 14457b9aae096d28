import Glibc
import Testing
import PerchIO
import XMPPAddress
import XMPPCore
@testable import PerchAgent

/// What waits in `state_dir/alerts`: what the client refuses waits again, what may no longer be told
/// goes, a full queue keeps the starts, and a flapping alert stays one message.
@Suite struct AlertQueueTests {
    static let hot = "[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\n"

    /// The alert queue's file, for a test to stage.
    static func line(_ kind: String, _ alert: String, _ recipient: String, _ text: String, stamp: Int64 = AutomationRig.start) -> String {
        "\(kind)\t\(alert)\t\(recipient)\t\(stamp)\t\(text)\n"
    }

    @Test func aMessageTheClientRefusedWaitsAndGoesAtTheNextSession() throws {
        let rig = try AutomationRig(Self.hot)
        rig.online()
        rig.accepting = false
        rig.air(31)
        rig.loop.advance(by: 1_000)
        #expect(rig.sent.isEmpty)
        #expect(rig.agent.alertDelivery.pending.map(\.kind) == [.started], "refused: it waits instead of being lost")
        // The next session: the client refuses again at first (the stream ended meanwhile), then takes it.
        rig.online()
        #expect(rig.agent.alertDelivery.pending.count == 1)
        #expect(rig.log.lines.contains { $0.contains("the client did not take the waiting alert messages") }, "\(rig.log.lines)")
        rig.accepting = true
        rig.online()
        #expect(rig.bodies.count == 1 && rig.bodies[0].hasPrefix("⚠ greenhouse: hot: air 31 °C"), "\(rig.bodies)")
        #expect(rig.sent.first?.child("delay", namespace: "urn:xmpp:delay") != nil, "it waited: stamped with its time")
        #expect(rig.agent.alertDelivery.pending.isEmpty)
    }
}

@Suite struct AlertMuteWordTests {
    /// `all` is a chat word like the others: any case selects every alert, and says so.
    @Test func unmuteAllInCapitalsIsUnmuteAll() throws {
        let rig = try AutomationRig(AlertQueueTests.hot + "[[alert]]\nname = \"open\"\nwhen = \"door == open\"\n")
        rig.online()
        #expect(try rig.person("unmute ALL").text == "no alert is muted")
        #expect(try rig.person("unmute all").text == "no alert is muted")
        #expect(try rig.person("mute ALL 1h").text.hasPrefix("hot, open muted for everyone"))
        #expect(try rig.person("unmute All").text == "hot, open unmuted")
        #expect(try rig.person("unmute hot").text == "hot is not muted")
    }
}
