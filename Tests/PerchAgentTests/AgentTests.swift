import Glibc
import Testing
import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import PerchSensors
import PerchStore
import XMPPAddress
import XMPPClient
@testable import PerchAgent

@Suite struct AgentSafetyTests {
    /// A configuration on the simulated backend in `scratch`, with `extra` TOML after the account.
    func configuration(_ scratch: Scratch, _ extra: String = "") throws -> Configuration {
        var config = try ConfigurationLoader(file: "test.toml", environment: ["PERCH_PASSWORD": "x"]).parse("[account]\njid = \"board@example.org\"\n" + extra)
        config.device.backend = .simulated
        config.device.simulatedDirectory = "\(scratch.path)/gpio"
        config.device.stateDirectory = "\(scratch.path)/state"
        return config
    }

    /// A client whose server refuses connections: it stays offline.
    func offlineClient(_ loop: EventLoop, _ logger: Logger) throws -> XMPPClient {
        var c = ClientConfiguration(jid: try JID("board@example.org/x"), password: "x")
        c.host = "127.0.0.1"
        c.port = 1
        c.transport = .plain
        c.reconnect.initialDelay = 50
        return XMPPClient(loop: loop, config: c, logger: logger)
    }

    /// With no server to reach, an output with safe_after goes to its safe state after that long, and
    /// one without stays as it was.
    @Test func safeAfterSwitchesOffWhenTheServerStaysAway() throws {
        let scratch = Scratch()
        let loop = try EventLoop()
        var config = try configuration(scratch)
        var heater = OutputSpec(name: "heater", line: LineAddress(chip: nil, line: .name("heater")))
        heater.initial = .on
        var lamp = OutputSpec(name: "lamp", line: LineAddress(chip: nil, line: .name("lamp")))
        lamp.initial = .on
        config.device.outputs = [heater, lamp]
        config.device.safeAfter = ["heater": 300]
        let log = AuditLog()
        let logger = Logger(label: "t", level: .info, format: .bare, sink: { log.lines.append($0) })
        let hardware = Hardware(config: config.device, loop: loop, logger: logger)
        let client = try offlineClient(loop, logger)
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

    /// Readings taken while the server is out of reach wait in the outbox on disk, are reported by the
    /// status command, and are still there for the next run after a shutdown.
    @Test func readingsTakenOfflineWaitInTheOutbox() throws {
        let scratch = Scratch()
        let loop = try EventLoop()
        var config = try configuration(scratch, "[telemetry]\npubsub = \"pep\"\n[outbox]\ncommit_interval = \"1s\"\n")
        _ = system("mkdir -p '\(scratch.path)/state'; echo 1 > '\(scratch.path)/level'")
        var level = SensorSpec(name: "level", source: .file(path: "\(scratch.path)/level", scale: 1))
        level.interval = 1000
        config.device.sensors = [level]
        let log = AuditLog()
        let logger = Logger(label: "t", level: .info, format: .bare, sink: { log.lines.append($0) })
        do {
            let hardware = Hardware(config: config.device, loop: loop, logger: logger)
            let client = try offlineClient(loop, logger)
            let agent = Agent(config: config, client: client, hardware: hardware, loop: loop, logger: logger)
            agent.start()
            hardware.start()
            client.start()
            var n = 1
            // A new value every second, each one reported.
            #expect(loop.run(until: {
                if (agent.pubsub.outbox?.count ?? 0) >= n, n < 4 {
                    n += 1
                    _ = system("echo \(n) > '\(scratch.path)/level'")
                }
                return (agent.pubsub.outbox?.count ?? 0) >= 4
            }, timeout: 10_000), "\(log.lines)")
            var status: String?
            agent.executor.execute(.status, CommandContext(from: try JID("owner@example.org"), role: .owner, frontEnd: "test")) { status = $0.text }
            #expect(status?.contains("outbox: 4 waiting") == true, "\(status ?? "")")
            agent.stop()
            // Closed, not only committed: SQLite removes the write-ahead log of a database closed
            // cleanly, and the outbox records the clean close for a cheap check at the next start.
            #expect(access("\(scratch.path)/state/outbox.db-wal", F_OK) != 0, "the outbox was left open at stop")
            client.stop {}
            hardware.shutdown()
        }
        let reopened = Outbox(path: "\(scratch.path)/state/outbox.db", loop: nil, logger: Logger(label: "t", level: .error, format: .bare, sink: { _ in }))
        #expect(reopened.count == 4)
        #expect(reopened.items(after: 0, limit: 10).allSatisfy { $0.payload.contains("name='level'") || $0.payload.contains("name=\"level\"") })
    }
}
