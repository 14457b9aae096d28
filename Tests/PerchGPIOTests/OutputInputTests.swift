import Glibc
import Testing
import PerchIO
@testable import PerchGPIO

@Suite struct OutputTests {
    let loop: EventLoop
    let dir = TempDir()
    let gpio: SimulatedGPIO
    init() throws {
        loop = try EventLoop()
        gpio = try SimulatedGPIO(directory: dir.path, loop: loop)
    }

    func output(_ adjust: (inout OutputSpec) -> Void = { _ in }, store: OutputStateStore? = nil) throws -> Output {
        var spec = OutputSpec(name: "relay", line: line("relay"))
        adjust(&spec)
        return try Output(spec: spec, backend: gpio, loop: loop, store: store)
    }

    func wait(_ ms: Int64) { loop.run(until: { false }, timeout: ms) }

    @Test func setAndToggle() throws {
        let o = try output()
        #expect(o.state == false)
        var changes: [Bool] = []
        o.onChange = { changes.append($0.state) }
        try o.set(true)
        #expect(dir.read("relay") == "1\n")
        #expect(try o.toggle() == false)
        #expect(dir.read("relay") == "0\n")
        try o.set(false)
        #expect(changes == [true, false])
    }

    @Test func aPulseReturnsToTheRestingState() throws {
        let o = try output()
        try o.pulse(milliseconds: 50)
        #expect(o.state == true)
        #expect(o.isPulsing)
        #expect(dir.read("relay") == "1\n")
        #expect(loop.run(until: { !o.isPulsing }, timeout: 2_000))
        #expect(o.state == false)
        #expect(dir.read("relay") == "0\n")
    }

    @Test func aSecondPulseDoesNotLeaveTheOutputStuck() throws {
        let o = try output()
        try o.pulse(milliseconds: 60)
        wait(20)
        // The classic bug: the second pulse takes "on" as the state to return to.
        try o.pulse(milliseconds: 60)
        #expect(loop.run(until: { !o.isPulsing }, timeout: 2_000))
        #expect(o.state == false)
        #expect(dir.read("relay") == "0\n")
    }

    @Test func aPulseFromOnGoesOffAndBack() throws {
        let o = try output { $0.initial = .on }
        try o.pulse(milliseconds: 30)
        #expect(o.state == false)
        #expect(loop.run(until: { !o.isPulsing }, timeout: 2_000))
        #expect(o.state == true)
    }

    @Test func setDuringAPulseEndsItAndSticks() throws {
        let o = try output()
        try o.pulse(milliseconds: 50)
        try o.set(true)
        #expect(!o.isPulsing)
        wait(100)
        #expect(o.state == true)
        #expect(dir.read("relay") == "1\n")
    }

    @Test func pulsesAreBounded() throws {
        let o = try output { $0.maxPulse = 5_000 }
        #expect(throws: OutputError.pulseTooLong(requested: 6_000, maximum: 5_000)) { try o.pulse(milliseconds: 6_000) }
        #expect(throws: OutputError.invalidPulse(0)) { try o.pulse(milliseconds: 0) }
        #expect(o.state == false)
        #expect(OutputError.pulseTooLong(requested: 6_000, maximum: 5_000).description.contains("max_pulse of 5 s"))
    }

    @Test func shutdownAppliesTheSafeState() throws {
        let o = try output { $0.safeState = false }
        try o.set(true)
        o.shutdown()
        #expect(dir.read("relay") == "0\n")
        let keep = try output { $0.name = "lamp"; $0.line = line("lamp"); $0.safeState = nil }
        try keep.set(true)
        keep.shutdown()
        #expect(dir.read("lamp") == "1\n")
    }

    @Test func onlyOutputsThatRestoreAreWrittenDown() throws {
        let store = OutputStateStore(path: "\(dir.path)/state")
        let plain = try output({ $0.initial = .off }, store: store)
        try plain.set(true)
        try plain.set(false)
        #expect(!fileExists("\(dir.path)/state"), "an output that starts off needs no record")
        #expect(dir.read("relay") == "0\n")
        plain.shutdown()
    }

    @Test func restoreBringsBackTheLastStateSet() throws {
        let store = OutputStateStore(path: "\(dir.path)/state")
        let first = try output({ $0.initial = .restore }, store: store)
        #expect(first.state == false)
        try first.set(true)
        // A pulse is not a state to restore.
        try first.pulse(milliseconds: 10_000)
        first.shutdown()
        #expect(readTextFile("\(dir.path)/state") == "relay=1\n")
        let again = try output({ $0.initial = .restore; $0.safeState = nil }, store: OutputStateStore(path: "\(dir.path)/state"))
        #expect(again.state == true)
        #expect(dir.read("relay") == "1\n")
    }
}

@Suite struct InputTests {
    let loop: EventLoop
    let dir = TempDir()
    let gpio: SimulatedGPIO
    init() throws {
        loop = try EventLoop()
        gpio = try SimulatedGPIO(directory: dir.path, loop: loop)
    }

    @Test func bouncesAreReportedOnceWithTheFirstEdgesTime() throws {
        dir.write("button", "0\n")
        var spec = InputSpec(name: "button", line: line("button"))
        spec.debounce = 80
        let input = try Input(spec: spec, backend: gpio, loop: loop)
        var changes: [InputChange] = []
        input.onChange = { changes.append($1) }
        let before = SimulatedGPIO.monotonicNow()
        // A bouncing contact: 1 0 1 within a few milliseconds, settling at 1.
        for v in ["1", "0", "1"] {
            dir.write("button", v)
            loop.run(until: { false }, timeout: 10)
        }
        #expect(loop.run(until: { !changes.isEmpty }, timeout: 2_000))
        loop.run(until: { false }, timeout: 150)
        #expect(changes.count == 1)
        #expect(changes.first?.value == true)
        #expect(input.value == true)
        #expect(input.edgeCount >= 2)
        let first = try #require(changes.first)
        #expect(first.monotonicNanoseconds >= before)
        #expect(first.monotonicNanoseconds < SimulatedGPIO.monotonicNow() - 50_000_000, "the first edge's time, not the settling time")
    }

    @Test func aBounceThatSettlesBackIsNoChange() throws {
        dir.write("door", "0\n")
        var spec = InputSpec(name: "door", line: line("door"))
        spec.debounce = 50
        let input = try Input(spec: spec, backend: gpio, loop: loop)
        var changes = 0
        input.onChange = { _, _ in changes += 1 }
        dir.write("door", "1")
        loop.run(until: { false }, timeout: 10)
        dir.write("door", "0")
        loop.run(until: { false }, timeout: 200)
        #expect(changes == 0)
        #expect(input.edgeCount == 2)
    }

    @Test func withoutDebounceEveryEdgeCounts() throws {
        dir.write("pir", "0\n")
        var spec = InputSpec(name: "pir", line: line("pir"))
        spec.debounce = 0
        spec.activeLow = true
        let input = try Input(spec: spec, backend: gpio, loop: loop)
        #expect(input.value == true, "active-low: a low level is active")
        var values: [Bool] = []
        input.onChange = { values.append($1.value) }
        dir.write("pir", "1")
        #expect(loop.run(until: { values.count == 1 }, timeout: 2_000))
        dir.write("pir", "0")
        #expect(loop.run(until: { values.count == 2 }, timeout: 2_000))
        #expect(values == [false, true])
    }

    @Test func wallClockConversionIsClose() {
        let ns = SimulatedGPIO.monotonicNow()
        let wall = WallClock.now()
        let converted = Input.wallClock(fromMonotonic: ns)
        #expect(abs(converted - (wall.seconds * 1000 + Int64(wall.millis))) < 50)
    }
}
