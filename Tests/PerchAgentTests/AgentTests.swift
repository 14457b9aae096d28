import Glibc
import Testing
import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import XMPPAddress
import XMPPClient
@testable import PerchAgent

@Suite struct AgentSafetyTests {
    /// With no server to reach, an output with safe_after goes to its safe state after that long, and
    /// one without stays as it was.
    @Test func safeAfterSwitchesOffWhenTheServerStaysAway() throws {
        let scratch = Scratch()
        let loop = try EventLoop()
        var config = try ConfigurationLoader(file: "test.toml", environment: ["PERCH_PASSWORD": "x"]).parse("[account]\njid = \"board@example.org\"\n")
        config.device.backend = .simulated
        config.device.simulatedDirectory = "\(scratch.path)/gpio"
        config.device.stateDirectory = "\(scratch.path)/state"
        var heater = OutputSpec(name: "heater", line: LineAddress(chip: nil, line: .name("heater")))
        heater.initial = .on
        var lamp = OutputSpec(name: "lamp", line: LineAddress(chip: nil, line: .name("lamp")))
        lamp.initial = .on
        config.device.outputs = [heater, lamp]
        config.device.safeAfter = ["heater": 300]
        let log = AuditLog()
        let logger = Logger(label: "t", level: .info, format: .bare, sink: { log.lines.append($0) })
        let hardware = Hardware(config: config.device, loop: loop, logger: logger)
        // A server that refuses connections: the client stays offline.
        var c = ClientConfiguration(jid: try JID("board@example.org/x"), password: "x")
        c.host = "127.0.0.1"
        c.port = 1
        c.transport = .plain
        c.reconnect.initialDelay = 50
        let client = XMPPClient(loop: loop, config: c, logger: logger)
        let agent = Agent(config: config, client: client, hardware: hardware, loop: loop, logger: logger)
        agent.start()
        hardware.start()
        client.start()
        #expect(scratch.read("heater") == "1")
        #expect(loop.run(until: { scratch.read("heater") == "0" }, timeout: 5_000), "\(log.lines)")
        #expect(scratch.read("lamp") == "1", "no safe_after: left alone")
        #expect(log.lines.contains { $0.contains("output heater: no server connection for 300 ms; switched off (safe_after)") })
        client.stop {}
    }
}
