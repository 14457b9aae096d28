import Benchmark
import Glibc
import PerchAgent
import PerchConfig
import PerchHardware
import PerchIO
import PerchLog
import PerchRules
import XMPPAddress
import XMPPClient

/// What alerts and rules cost per reading: a device whose sensor `air` is read by `count` alerts and
/// `count` rules, each sample going through the agent's whole path (the sample observer, the
/// observations from the hardware, every condition, every tracker, the timers they keep), in the
/// steady state where nothing crosses (what almost every reading is).
func ruleBenchmarks() {
    for count in [1, 10] {
        Benchmark(
            "Rules: one sample evaluated by \(count) alert\(count == 1 ? "" : "s") and \(count) rule\(count == 1 ? "" : "s")",
            configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(5))
        ) { benchmark in
            let dir = (try? makeTemporaryDirectory("perch-bench")) ?? "/tmp"
            defer { _ = system("rm -rf '\(dir)'") }
            _ = system("mkdir -p '\(dir)/state' '\(dir)/gpio'; echo 21.5 > '\(dir)/air'")
            var text = """
                [account]
                jid = "board@example.org"
                [access]
                owners = ["owner@example.org"]
                [device]
                gpio = "simulated"
                simulated_dir = "\(dir)/gpio"
                state_dir = "\(dir)/state"
                [[output]]
                name = "fan"
                line = "fan"
                [[sensor]]
                name = "air"
                source = "file"
                path = "\(dir)/air"
                interval = "1h"

                """
            for i in 0..<count {
                text += "[[alert]]\nname = \"hot\(i)\"\nwhen = \"air > \(30 + i)\"\nclear = \"air < \(28 + i)\"\nfor = \"2m\"\n"
                text += "[[rule]]\nname = \"cool\(i)\"\nwhen = \"air > \(28 + i) and air < 90\"\ndo = \"fan on\"\nelse = \"fan off\"\n"
            }
            guard let loop = try? EventLoop(), let config = try? ConfigurationLoader(file: "bench.toml", environment: ["PERCH_PASSWORD": "x"]).parse(text) else {
                fatalError("the benchmark's configuration did not load")
            }
            let logger = Logger(label: "bench", level: .error, format: .bare, sink: { _ in })
            let hardware = Hardware(config: config.device, loop: loop, logger: logger)
            var cc = ClientConfiguration(jid: try! JID("board@example.org/bench"), password: "x")
            cc.host = "127.0.0.1"
            cc.port = 1
            let client = XMPPClient(loop: loop, config: cc, logger: logger)
            let agent = Agent(config: config, client: client, hardware: hardware, loop: loop, logger: logger, zone: .utc)
            agent.start()
            hardware.start()
            guard let sample = hardware.sensors.onSample else { fatalError("no sample observer") }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { sample("air") }
            benchmark.stopMeasurement()
            hardware.shutdown()
        }
    }
}
