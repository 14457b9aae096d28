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

    /// A message to someone for whom others wait goes behind them, not ahead: the end of an alert
    /// whose refused start waits is no live "is over" before the start.
    @Test func aNewMessageQueuesBehindWhatWaitsForTheSameRecipient() throws {
        let rig = try AutomationRig(Self.hot)
        rig.online()
        rig.accepting = false
        rig.air(31)
        rig.loop.advance(by: 1_000)
        #expect(rig.agent.alertDelivery.pending.map(\.kind) == [.started])
        // The client would take the end now, but the start still waits for the next flush.
        rig.accepting = true
        rig.air(20)
        rig.loop.advance(by: 60_000)
        #expect(rig.sent.isEmpty, "the end did not overtake the waiting start: \(rig.bodies)")
        #expect(rig.agent.alertDelivery.pending.map(\.kind) == [.was], "start and end wait as one message")
        rig.online()
        #expect(rig.bodies.count == 1 && rig.bodies[0].hasPrefix("⚠ greenhouse: was hot 13:0"), "\(rig.bodies)")
    }

    /// Up `on` ms, then down for `off` ms, offline all the while.
    static func flap(_ rig: AutomationRig, on: Int64 = 60_000, off: Int64 = 540_000) {
        rig.air(31)
        rig.loop.advance(by: 1_000)
        rig.loop.advance(by: on - 1_000)
        rig.air(20)
        rig.loop.advance(by: 1_000)
        rig.loop.advance(by: off - 1_000)
    }

    /// An alert that starts and ends again and again while the device is offline stays one message,
    /// counted, so it cannot push the others out of the queue.
    @Test func aFlappingAlertWhileOfflineIsOneCountedMessage() throws {
        let rig = try AutomationRig(Self.hot)
        for _ in 0..<3 { Self.flap(rig) }
        let delivery = rig.agent.alertDelivery
        #expect(delivery.pending.count == 1, "\(delivery.pending.map(\.text))")
        #expect(delivery.pending.first?.kind == .was)
        #expect(delivery.pending.first?.text == "⚠ greenhouse: was hot 3 times: 13:00–13:01, 13:10–13:11, 13:20–13:21 (air > 30), while the device was offline", "\(delivery.pending.map(\.text))")
        for _ in 0..<3 { Self.flap(rig) }
        #expect(delivery.pending.count == 1)
        #expect(delivery.pending.first?.text == "⚠ greenhouse: was hot 6 times: 13:00–13:01, …, 13:30–13:31, 13:40–13:41, 13:50–13:51 (air > 30), while the device was offline", "\(delivery.pending.map(\.text))")
        // Kept counted across a restart: the next flap adds to it.
        let reloaded = AlertDelivery(path: "\(rig.scratch.path)/state/alerts", selfJID: try JID("board@example.org"), logger: rig.logger, policy: { rig.agent.executor.policy })
        #expect(reloaded.pending == delivery.pending)
        let firstStart = try #require(delivery.pending.first?.spans.first?.start)
        #expect(delivery.pending.first?.stamp == firstStart)
        rig.online()
        #expect(rig.bodies.count == 1 && rig.bodies[0].hasPrefix("⚠ greenhouse: was hot 6 times: 13:00–13:01"), "\(rig.bodies)")
        #expect(rig.sent.first?.child("delay", namespace: "urn:xmpp:delay")?[attribute: "stamp"] == WallClock.iso8601(milliseconds: firstStart), "stamped with the first start")
    }

    /// A full queue drops an end before a start, even an older start.
    @Test func aFullQueueKeepsTheStarts() throws {
        let file = Self.line("started", "cold", "jid:owner@example.org", "⚠ greenhouse: cold")
            + (1..<AlertDelivery.limit).map { Self.line("ended", "x\($0)", "jid:owner@example.org", "✓ greenhouse: x\($0) is over") }.joined()
        let rig = try AutomationRig(Self.hot, stateFile: ("alerts", file))
        #expect(rig.agent.alertDelivery.pending.count == AlertDelivery.limit)
        rig.air(31)
        rig.loop.advance(by: 1_000)
        let pending = rig.agent.alertDelivery.pending
        #expect(pending.count == AlertDelivery.limit)
        #expect(pending.first?.alert == "cold" && pending.first?.kind == .started, "the oldest start stays: \(pending.prefix(2).map(\.alert))")
        #expect(pending.last?.alert == "hot" && pending.last?.kind == .started)
        #expect(!pending.contains { $0.alert == "x1" }, "the oldest end went")
        #expect(rig.log.lines.contains { $0.contains("dropped the oldest end (x1 to owner@example.org)") }, "\(rig.log.lines.suffix(3))")
    }

    /// A file over the limit (written by a daemon with a larger one) is cut the same way at the start.
    @Test func anOverfullFileKeepsItsStarts() throws {
        let file = Self.line("started", "cold", "jid:owner@example.org", "⚠ greenhouse: cold")
            + (1...AlertDelivery.limit).map { Self.line("ended", "x\($0)", "jid:owner@example.org", "✓ greenhouse: x\($0) is over") }.joined()
        let rig = try AutomationRig(Self.hot, stateFile: ("alerts", file))
        let pending = rig.agent.alertDelivery.pending
        #expect(pending.count == AlertDelivery.limit)
        #expect(pending.first?.alert == "cold", "\(pending.prefix(2).map(\.alert))")
        #expect(!pending.contains { $0.alert == "x1" })
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

/// What waits for someone who is no longer to be told goes, with a log line, instead of going out
/// later to them (blocked, no longer named) or waiting for ever (a room the device left).
@Suite struct AlertStaleRecipientTests {
    @Test func aWaitingMessageToAJIDBlockedMeanwhileIsDropped() throws {
        let rig = try AutomationRig(AlertQueueTests.hot + "to = [\"owners\", \"op@example.org\"]\n")
        rig.air(31)
        rig.loop.advance(by: 1_000)
        #expect(rig.agent.alertDelivery.pending.map(\.recipient) == ["jid:owner@example.org", "jid:op@example.org"])
        _ = try rig.person("block op@example.org")
        rig.online()
        #expect(rig.sent.compactMap { $0.to?.description } == ["owner@example.org"], "\(rig.sent.map { $0.to?.description ?? "" })")
        #expect(rig.log.lines.contains { $0.contains("dropped 1 waiting alert message to op@example.org: an owner blocked that JID") }, "\(rig.log.lines.suffix(4))")
        #expect(rig.agent.alertDelivery.pending.isEmpty)
    }

    @Test func aWaitingMessageToSomeoneNoAlertNamesIsDroppedAtTheStart() throws {
        let file = AlertQueueTests.line("started", "hot", "jid:gone@example.org", "⚠ greenhouse: hot")
            + AlertQueueTests.line("started", "hot", "jid:owner@example.org", "⚠ greenhouse: hot")
        let rig = try AutomationRig(AlertQueueTests.hot, stateFile: ("alerts", file))
        #expect(rig.agent.alertDelivery.pending.map(\.recipient) == ["jid:owner@example.org"])
        #expect(rig.log.lines.contains { $0.contains("dropped 1 waiting alert message to gone@example.org: no alert's to names that JID any more") }, "\(rig.log.lines)")
        rig.online()
        #expect(rig.sent.compactMap { $0.to?.description } == ["owner@example.org"])
    }

    @Test func aWaitingMessageToARoomTheDeviceDoesNotKnowIsDroppedAtTheStart() throws {
        let file = AlertQueueTests.line("started", "hot", "room:old@conference.example.org", "⚠ greenhouse: hot")
        let rig = try AutomationRig(AlertQueueTests.hot, stateFile: ("alerts", file))
        #expect(rig.agent.alertDelivery.pending.isEmpty, "it would wait for a room that never comes")
        #expect(rig.log.lines.contains { $0.contains("dropped 1 waiting alert message to old@conference.example.org: the device is no longer in that room") }, "\(rig.log.lines)")
        #expect(!fileExists("\(rig.scratch.path)/state/alerts"))
    }

    @Test func aWaitingMessageToARoomTheDeviceLeavesIsDropped() throws {
        let rig = try AutomationRig("""
            [[room]]
            jid = "fleet@conference.example.org"
            [[alert]]
            name = "hot"
            when = "air > 30"
            to = ["owners", "fleet@conference.example.org"]

            """)
        rig.online()
        rig.air(31)
        rig.loop.advance(by: 1_000)
        #expect(rig.bodies.count == 1, "the owner is told at once")
        #expect(rig.agent.alertDelivery.pending.map(\.recipient) == ["room:fleet@conference.example.org"], "the room is not joined: it waits")
        #expect(try rig.person("leave fleet@conference.example.org").error == nil)
        #expect(rig.agent.alertDelivery.pending.isEmpty)
        #expect(rig.log.lines.contains { $0.contains("dropped 1 waiting alert message to fleet@conference.example.org: the device is no longer in that room") }, "\(rig.log.lines.suffix(4))")
    }
}
