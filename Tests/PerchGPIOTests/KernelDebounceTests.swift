import Testing
import PerchIO
@testable import PerchGPIO

/// A backend whose kernel debounces, or refuses to, as libgpiod v2's does; edges are handed in by the test.
final class KernelDebounceBackend: GPIOBackend {
    let name = "kernel-debounce"
    /// Whether the kernel grants the debounce (a refused one: the line reports 0).
    let grants: Bool
    private(set) var askedMilliseconds: [Int64] = []
    var deliver: (([LineEvent]) -> Void)?
    var level = false

    init(grants: Bool) { self.grants = grants }

    final class Line: InputLine {
        let address: LineAddress
        let kernelDebounceMicroseconds: UInt32
        unowned let backend: KernelDebounceBackend
        init(_ address: LineAddress, _ us: UInt32, _ backend: KernelDebounceBackend) {
            self.address = address
            kernelDebounceMicroseconds = us
            self.backend = backend
        }
        func get() throws(GPIOError) -> Bool { backend.level }
        func release() {}
    }

    func chips() throws(GPIOError) -> [ChipInfo] { [] }
    func requestOutput(_ line: LineAddress, consumer: String, activeLow: Bool, initial: Bool) throws(GPIOError) -> any OutputLine {
        throw .failed(line, operation: "request", message: "not in this test")
    }
    func requestInput(_ line: LineAddress, consumer: String, activeLow: Bool, bias: Bias, onEdges: (([LineEvent]) -> Void)?) throws(GPIOError) -> any InputLine {
        try requestInput(line, consumer: consumer, activeLow: activeLow, bias: bias, debounceMilliseconds: 0, onEdges: onEdges)
    }
    func requestInput(
        _ line: LineAddress, consumer: String, activeLow: Bool, bias: Bias, debounceMilliseconds: Int64, onEdges: (([LineEvent]) -> Void)?
    ) throws(GPIOError) -> any InputLine {
        askedMilliseconds.append(debounceMilliseconds)
        deliver = onEdges
        return Line(line, grants ? UInt32(debounceMilliseconds * 1000) : 0, self)
    }
}

@Suite struct KernelDebounceTests {
    let loop: EventLoop
    init() throws { loop = try EventLoop() }

    func spec(_ debounce: Int64) -> InputSpec {
        var s = InputSpec(name: "button", line: LineAddress(chip: nil, line: .name("button")))
        s.debounce = debounce
        return s
    }

    @Test func theKernelsDebounceIsNotAppliedTwice() throws {
        let backend = KernelDebounceBackend(grants: true)
        let input = try Input(spec: spec(60), backend: backend, loop: loop)
        #expect(backend.askedMilliseconds == [60], "the configured period is asked of the kernel")
        #expect(input.debounce == .kernel(microseconds: 60_000))
        #expect(input.debounce.description == "debounce 60 ms by the kernel")
        var changes: [InputChange] = []
        input.onChange = { changes.append($1) }
        // The kernel delivers only settled edges: each is a change at once, with its own timestamp,
        // and no timer of Input's holds it back for another 60 ms.
        backend.level = true
        backend.deliver?([LineEvent(edge: .rising, monotonicNanoseconds: 1_000)])
        #expect(changes.map(\.value) == [true])
        #expect(changes.first?.monotonicNanoseconds == 1_000)
        backend.level = false
        backend.deliver?([LineEvent(edge: .falling, monotonicNanoseconds: 2_000)])
        #expect(changes.map(\.value) == [true, false])
        // Nothing more arrives later from a software timer.
        loop.run(until: { false }, timeout: 100)
        #expect(changes.count == 2)
    }

    @Test func whereTheKernelRefusesInputDebouncesInSoftware() throws {
        let backend = KernelDebounceBackend(grants: false)
        let input = try Input(spec: spec(40), backend: backend, loop: loop)
        #expect(input.debounce == .software(milliseconds: 40))
        #expect(input.debounce.description == "debounce 40 ms in software")
        var changes: [Bool] = []
        input.onChange = { changes.append($1.value) }
        backend.level = true
        backend.deliver?([LineEvent(edge: .rising, monotonicNanoseconds: 1_000), LineEvent(edge: .falling, monotonicNanoseconds: 2_000), LineEvent(edge: .rising, monotonicNanoseconds: 3_000)])
        #expect(changes.isEmpty, "held until the line has been quiet for 40 ms")
        #expect(loop.run(until: { !changes.isEmpty }, timeout: 1_000))
        #expect(changes == [true])
    }

    @Test func noDebounceAsksTheKernelForNone() throws {
        let backend = KernelDebounceBackend(grants: true)
        let input = try Input(spec: spec(0), backend: backend, loop: loop)
        #expect(backend.askedMilliseconds == [0])
        #expect(input.debounce == .none)
        #expect(input.debounce.description == "no debounce")
    }

    @Test func theSimulatedChipDebouncesInSoftware() throws {
        let dir = TempDir()
        let gpio = try SimulatedGPIO(directory: dir.path, loop: loop)
        dir.write("button", "0\n")
        let input = try Input(spec: spec(20), backend: gpio, loop: loop)
        #expect(input.debounce == .software(milliseconds: 20))
    }
}
