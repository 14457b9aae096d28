import Glibc
import Testing
import PerchConfig
import PerchHardware
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
import XMPPCore
@testable import PerchAgent

/// The status line a roster shows: switches and inputs at once, readings rate limited, short, and
/// never contradicting itself.
@Suite struct AgentPresenceTests {
    final class PresenceRig {
        let scratch = Scratch()
        let loop: EventLoop
        let agent: Agent
        let hardware: Hardware
        var sent: [(show: String?, status: String, at: Instant)] = []

        init(sensors: String = "") throws {
            loop = try EventLoop()
            let toml = """
            [account]
            jid = "board@example.org/board"
            [access]
            owners = ["owner@example.org"]
            [commands]
            rate_limit = 0
            [telemetry]
            min_interval = "60s"
            [[output]]
            name = "pump"
            line = "pump"
            min_switch_interval = "0ms"
            [[output]]
            name = "lamp"
            line = "lamp"
            min_switch_interval = "0ms"
            [[input]]
            name = "door"
            line = "door"
            debounce = "0ms"
            states = { on = "open", off = "closed" }
            [[sensor]]
            name = "level"
            source = "file"
            path = "\(scratch.path)/level"
            interval = "1s"
            [[sensor]]
            name = "door_open"
            source = "gpio"
            input = "door"
            interval = "1m"
            [[sensor]]
            name = "tank"
            source = "file"
            path = "\(scratch.path)/tank"
            interval = "1s"
            [[sensor]]
            name = "water"
            source = "file"
            path = "\(scratch.path)/water"
            interval = "1s"
            \(sensors)
            """
            _ = system("mkdir -p '\(scratch.path)/state' '\(scratch.path)/gpio'; echo 5 > '\(scratch.path)/level'; echo 7 > '\(scratch.path)/tank'; echo 9 > '\(scratch.path)/water'; echo 0 > '\(scratch.path)/gpio/door'")
            var config = try ConfigurationLoader(file: "test.toml", environment: ["PERCH_PASSWORD": "x"]).parse(toml)
            config.device.backend = .simulated
            config.device.simulatedDirectory = "\(scratch.path)/gpio"
            config.device.stateDirectory = "\(scratch.path)/state"
            let logger = Logger(label: "t", level: .error, format: .bare, sink: { _ in })
            var c = ClientConfiguration(jid: try JID("board@example.org/board"), password: "x")
            c.host = "127.0.0.1"
            c.port = 1
            c.transport = .plain
            let client = XMPPClient(loop: loop, config: c, logger: logger)
            hardware = Hardware(config: config.device, loop: loop, logger: logger)
            agent = Agent(config: config, client: client, hardware: hardware, loop: loop, logger: logger)
            agent.presence.send = { [unowned self] show, status in self.sent.append((show, status, .now())) }
            agent.start()
            agent.transmit = { _ in }
            hardware.start()
        }

        func idle(_ ms: Int64) { _ = loop.run(until: { false }, timeout: ms) }

        func say(_ body: String) {
            var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["from": "owner@example.org/phone", "to": "board@example.org/board", "type": "chat", "id": "p\(Int.random(in: 0..<1_000_000))"])
            m.append(.text("body", namespace: XMPPNamespace.client, body))
            agent.message(m)
        }
    }

    @Test func aSwitchReachesPresenceAtOnceWhateverMinInterval() throws {
        let rig = try PresenceRig()
        rig.idle(1_500)
        let before = rig.sent.count
        #expect(before >= 1, "the first presence at start")
        let asked = Instant.now()
        rig.say("pump on")
        #expect(rig.loop.run(until: { rig.sent.count > before }, timeout: 2_000), "no presence after pump on within 2 s (min_interval is 60 s)")
        #expect(rig.sent.last?.status.hasPrefix("pump on · lamp off · door closed") == true, "\(rig.sent.map(\.status))")
        #expect((rig.sent.last.map { $0.at - asked } ?? 9_999) < 1_000)
    }

    @Test func aBurstOfSwitchesIsOnePresence() throws {
        let rig = try PresenceRig()
        rig.idle(1_500)
        let before = rig.sent.count
        rig.say("pump on")
        rig.say("lamp on")
        rig.say("pump off")
        rig.idle(600)
        #expect(rig.sent.count == before + 1, "\(rig.sent.map(\.status))")
        #expect(rig.sent.last?.status.hasPrefix("pump off · lamp on") == true)
    }

    @Test func anInputChangeReachesPresenceAndItsCopyAgrees() throws {
        let rig = try PresenceRig()
        rig.idle(1_500)
        let before = rig.sent.count
        try writeFileAtomically("\(rig.scratch.path)/gpio/door", Array("1\n".utf8), sync: false)
        #expect(rig.loop.run(until: { rig.sent.count > before }, timeout: 2_000))
        #expect(rig.sent.last?.status.contains("door open") == true, "\(rig.sent.map(\.status))")
        // status shows the gpio sensor beside its input: the two agree at once, not at its next reading.
        let status = rig.agent.executor.statusText()
        #expect(status.contains("door open") && status.contains("door_open 1"), "\(status)")
    }

    /// The first reading of each sensor after start goes out at once: the line does not wait a
    /// min_interval to show what was read at start.
    @Test func theFirstReadingsShowAtOnce() throws {
        let rig = try PresenceRig()
        #expect(rig.loop.run(until: { rig.sent.last?.status.contains("level 5 · tank 7") == true }, timeout: 3_000), "\(rig.sent.map(\.status))")
    }

    @Test func readingsWaitForMinInterval() throws {
        let rig = try PresenceRig()
        rig.idle(1_500)
        let before = rig.sent.count
        _ = system("echo 6 > '\(rig.scratch.path)/level'")
        rig.idle(2_500)
        #expect(rig.sent.count == before, "a reading went out before min_interval: \(rig.sent.map(\.status))")
    }

    /// Short: outputs and inputs, then two sensors (not the input's copy); status keeps the rest.
    @Test func theLineIsShortAndOrdered() throws {
        let rig = try PresenceRig()
        rig.idle(1_500)
        #expect(rig.agent.executor.presenceText() == "pump off · lamp off · door closed · level 5 · tank 7", "\(rig.agent.executor.presenceText())")
        #expect(rig.agent.executor.statusText().contains("water 9"))
    }

    /// `status` reads now, as `read` does, so the two agree; presence keeps the reported value.
    @Test func statusAndReadAgree() throws {
        let rig = try PresenceRig()
        rig.idle(1_500)
        _ = system("echo 8 > '\(rig.scratch.path)/level'")
        #expect(rig.agent.executor.statusText().contains("level 8"), "\(rig.agent.executor.statusText())")
        #expect(rig.agent.executor.presenceText().contains("level 5"), "presence shows what was reported")
    }

    @Test func sensorsMarkedForPresenceAreTheOnesShown() throws {
        let rig = try PresenceRig(sensors: "presence = true")
        rig.idle(1_500)
        #expect(rig.agent.executor.presenceText() == "pump off · lamp off · door closed · water 9", "\(rig.agent.executor.presenceText())")
    }
}
