import Benchmark
import Glibc
import PerchAgent
import PerchConfig
import PerchCrypto
import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
import XMPPSASL
import XMPPXML

/// A realistic client stream: chat messages, presences with caps, pubsub notifications carrying
/// sensor readings and iq results, in the proportions a device agent sees.
enum Corpus {
    static let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.org' version='1.0' xml:lang='en'>"

    static func stanza(_ i: Int) -> String {
        switch i % 4 {
        case 0:
            return "<message from='owner@example.org/phone' to='board@example.org/perch' type='chat' id='m\(i)'><body>pulse pump 5s &amp; report</body><origin-id xmlns='urn:xmpp:sid:0' id='o\(i)'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
        case 1:
            return "<presence from='viewer\(i % 17)@example.org/laptop' to='board@example.org'><show>away</show><status>back soon</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://gajim.org' ver='QyZoMwpVuZ3XYcSn0WqmOTTzFLM='/></presence>"
        case 2:
            return "<message from='pubsub.example.org' to='board@example.org' type='headline' id='n\(i)'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='greenhouse/readings'><item id='k3x9q-\(i)'><fields xmlns='urn:xmpp:iot:sensordata'><node nodeId='greenhouse'><timestamp value='2026-11-21T17:20:31.898Z'><numeric name='air' momentary='true' automaticReadout='true' value='21.4' unit='°C' nrDecimals='1'/><numeric name='soil' momentary='true' value='38' unit='%' nrDecimals='0'/></timestamp></node></fields></item></items></event></message>"
        default:
            return "<iq from='pubsub.example.org' to='board@example.org/perch' type='result' id='pub\(i)-1wc8awl'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='greenhouse/readings'><item id='k3x9q-\(i)'/></publish></pubsub></iq>"
        }
    }

    /// About `bytes` of stream after the header.
    static func stream(bytes: Int) -> (data: [UInt8], stanzas: Int) {
        var text = header
        var n = 0
        while text.utf8.count < bytes {
            text += stanza(n)
            n += 1
        }
        return (Array(text.utf8), n)
    }
}

let benchmarks: @Sendable () -> Void = {
    let throughputMetrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .throughput, .mallocCountTotal]

    // MARK: XML stream decoding

    let (stream, stanzaCount) = Corpus.stream(bytes: 1 << 20)
    Benchmark(
        "XML decode: 1 MiB client stream in 4 KiB chunks",
        configuration: .init(metrics: throughputMetrics, scalingFactor: .one, maxDuration: .seconds(5))
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            let parser = XMLStreamParser()
            var elements = 0
            stream.withUnsafeBytes { all in
                var offset = 0
                while offset < all.count {
                    let end = min(offset + 4096, all.count)
                    _ = try? parser.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end])) { event in
                        if case .element = event { elements += 1 }
                        return .continue
                    }
                    offset = end
                }
            }
            precondition(elements == stanzaCount, "decoded \(elements) of \(stanzaCount)")
            blackHole(elements)
        }
    }

    // MARK: Serialization

    let parsed: [XMLElement] = {
        var out: [XMLElement] = []
        let parser = XMLStreamParser()
        let events = (try? parser.feed(Corpus.stream(bytes: 256 << 10).data)) ?? []
        for case .element(let e) in events { out.append(e) }
        return out
    }()
    Benchmark(
        "Serialize: \(parsed.count) stanzas",
        configuration: .init(metrics: throughputMetrics, scalingFactor: .one, maxDuration: .seconds(5))
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            var bytes = 0
            for e in parsed { bytes += e.serialized().utf8.count }
            blackHole(bytes)
        }
    }

    // MARK: SCRAM

    Benchmark(
        "SCRAM-SHA-256 client exchange (PBKDF2, 4096 iterations)",
        configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], scalingFactor: .one, maxDuration: .seconds(5))
    ) { benchmark in
        let salt = Base64.encode(Array("perch-benchmark-salt".utf8))
        for _ in benchmark.scaledIterations {
            var scram = SCRAM(algorithm: .sha256, username: "board", password: "correct horse battery staple", binding: .unsupported, cache: nil)
            let first = String(decoding: scram.initialResponse(), as: UTF8.self)
            let nonce = first.split(separator: ",").first { $0.hasPrefix("r=") }!.dropFirst(2)
            let serverFirst = Array("r=\(nonce)SERVERNONCE,s=\(salt),i=4096".utf8)
            blackHole(try? scram.respond(to: serverFirst))
        }
    }

    // MARK: Command dispatch

    Benchmark(
        "Command dispatch: XEP-0325 iq set to a simulated GPIO line",
        configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], scalingFactor: .kilo, maxDuration: .seconds(5))
    ) { benchmark in
        let dir = (try? makeTemporaryDirectory("perch-bench")) ?? "/tmp"
        defer { _ = system("rm -rf '\(dir)'") }
        guard let loop = try? EventLoop() else { return }
        let logger = Logger(label: "bench", level: .error, format: .bare, sink: { _ in })
        var config = DeviceConfiguration()
        config.backend = .simulated
        config.simulatedDirectory = "\(dir)/gpio"
        config.stateDirectory = "\(dir)/state"
        config.outputs = [OutputSpec(name: "pump", line: LineAddress(chip: nil, line: .name("pump")))]
        let hardware = Hardware(config: config, loop: loop, logger: logger)
        let access = Configuration.Access(owners: [.jid(try! JID("owner@example.org"))], operators: [], viewers: [])
        var settings = Configuration.Commands()
        settings.rateLimit = 0
        let executor = CommandExecutor(hardware: hardware, policy: AccessPolicy(access, selfJID: nil), settings: settings, deviceName: "bench", loop: loop, logger: logger)
        let requests = (0..<2).map { on in
            Array((Corpus.header + "<iq type='set' id='c\(on)' from='owner@example.org/phone' to='board@example.org/perch'><set xmlns='urn:xmpp:iot:control'><boolean name='pump' value='\(on == 1)'/></set></iq>").utf8)
        }
        let owner = try! JID("owner@example.org/phone")
        var done = 0
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            // Parse, pick the command out of the payload, vet it and switch the line.
            let parser = XMLStreamParser()
            guard case .element(let iq)? = (try? parser.feed(requests[i & 1]))?.last,
                let field = iq.child("set", namespace: "urn:xmpp:iot:control")?.elements.first,
                let name = field[attribute: "name"], let value = field[attribute: "value"]
            else { fatalError("the request did not parse") }
            let role = executor.policy.role(of: owner)
            executor.execute(.set(output: name, on: value == "true"), CommandContext(from: owner, role: role, frontEnd: "iot")) { outcome in
                precondition(outcome.error == nil, outcome.text)
                done += 1
            }
        }
        benchmark.stopMeasurement()
        blackHole(done)
        hardware.shutdown()
    }

    // MARK: Outbox

    outboxBenchmarks()
    outboxOpeningBenchmarks()

    // MARK: Alerts and rules

    ruleBenchmarks()
}
