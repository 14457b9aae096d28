import Glibc
import Testing
import PerchGPIO
import PerchGPIOD
import PerchIO

/// The libgpiod backend against real kernel GPIO lines. Two ways to run:
///
/// - Inside the gpio-sim VM (`scripts/gpiosim-tests`): the chips `perch-sim0` and `perch-sim1` exist,
///   and the other side of each line is its simulator attribute (`pull` drives an input, `value` shows
///   what an output is driven to).
/// - On a board: `PERCH_GPIO_TEST_CHIP` names a chip label, `PERCH_GPIO_TEST_OUTPUT` and
///   `PERCH_GPIO_TEST_INPUT` two lines under test, and two more lines wired to them are the other side:
///   `PERCH_GPIO_TEST_SENSE` (an input wired to the output) and `PERCH_GPIO_TEST_DRIVER` (an output
///   wired to the input).
///
/// Anywhere else the suite is skipped.
enum Rig {
    static func env(_ k: String) -> String? { getenv(k).map { String(cString: $0) } }
    static let simulator = env("GPIOSIM_LABEL0") == "perch-sim0"
    static let board = env("PERCH_GPIO_TEST_CHIP") != nil
    static let available = simulator || board
    static let label = simulator ? "perch-sim0" : (env("PERCH_GPIO_TEST_CHIP") ?? "")
    static let outputName = simulator ? "relay0" : (env("PERCH_GPIO_TEST_OUTPUT") ?? "")
    static let inputName = simulator ? "button0" : (env("PERCH_GPIO_TEST_INPUT") ?? "")

    static func address(_ name: String) -> LineAddress { LineAddress(chip: .label(label), line: .name(name)) }

    /// The other side of the lines under test.
    final class Peer {
        let gpio: LibgpiodBackend
        private var driver: (any OutputLine)?
        private var sense: (any InputLine)?

        init(loop: EventLoop) throws {
            gpio = LibgpiodBackend(loop: loop)
            if board {
                driver = try gpio.requestOutput(address(env("PERCH_GPIO_TEST_DRIVER") ?? ""), consumer: "perch-test", activeLow: false, initial: false)
                sense = try gpio.requestInput(address(env("PERCH_GPIO_TEST_SENSE") ?? ""), consumer: "perch-test", activeLow: false, bias: .asIs, onEdges: nil)
            }
        }

        /// The level seen at the output under test's pin.
        func outputLevel(_ line: String = outputName) -> Bool? {
            if let sense { return try? sense.get() }
            return sysfs(line, "value").map { $0 == "1" }
        }

        /// Drives the pin of an input under test.
        func drive(_ high: Bool, line: String = inputName) {
            if let driver { try? driver.set(high); return }
            guard let path = sysfsPath(line, "pull") else { Issue.record("no simulator attribute for \(line)"); return }
            do { try writeFileInPlace(path, high ? "pull-up" : "pull-down") } catch { Issue.record("\(error)") }
        }

        /// gpio-sim's attribute for a named line of perch-sim0.
        func sysfsPath(_ line: String, _ attribute: String) -> String? {
            guard let base = env("GPIOSIM_SYSFS0"), let chips = try? gpio.chips(),
                  let chip = chips.first(where: { $0.label == "perch-sim0" }),
                  let offset = chip.lines.first(where: { $0.name == line })?.offset else { return nil }
            return "\(base)/sim_gpio\(offset)/\(attribute)"
        }

        func sysfs(_ line: String, _ attribute: String) -> String? {
            sysfsPath(line, attribute).flatMap { readTextFile($0) }.map { String($0.filter { !$0.isWhitespace }) }
        }
    }
}

@Suite(.serialized, .enabled(if: Rig.available, "needs kernel GPIO lines: run scripts/gpiosim-tests, or set PERCH_GPIO_TEST_CHIP on a board (see LibgpiodTests.swift)"))
final class LibgpiodTests {
    let loop: EventLoop
    let gpio: LibgpiodBackend
    let peer: Rig.Peer

    init() throws {
        loop = try EventLoop()
        gpio = LibgpiodBackend(loop: loop)
        peer = try Rig.Peer(loop: loop)
    }

    func settle(_ ms: Int64 = 20) { loop.run(until: { false }, timeout: ms) }

    /// Where the kernel debounces (libgpiod v2), it reports the settled level until the period is over:
    /// waits that long, and reads at once where the debounce is Perch's own.
    func settleTheKernelsDebounce(_ input: Input) {
        if case .kernel(let us) = input.debounce { settle(Int64(us / 1000) + 30) }
    }

    @Test func chipsAreFoundByLabelWithTheirLineNames() throws {
        let chips = try gpio.chips()
        let chip = try #require(chips.first { $0.label == Rig.label }, "chips: \(chips.map(\.label))")
        #expect(chip.lines.contains { $0.name == Rig.outputName })
        #expect(chip.lines.contains { $0.name == Rig.inputName })
        #expect(chip.path.hasPrefix("/dev/gpiochip"))
        #expect(!LibgpiodBackend.libraryVersion.isEmpty)
    }

    @Test func outputsAreDrivenAndSeenOnThePin() throws {
        var spec = OutputSpec(name: "relay", line: Rig.address(Rig.outputName))
        spec.safeState = false
        let relay = try Output(spec: spec, backend: gpio, loop: loop, store: nil)
        #expect(peer.outputLevel() == false)
        try relay.set(true)
        #expect(peer.outputLevel() == true)
        #expect(try relay.readBack() == true)
        try relay.toggle()
        #expect(peer.outputLevel() == false)
        // The line is held with our consumer name while requested.
        let info = try gpio.chips().first { $0.label == Rig.label }?.lines.first { $0.name == Rig.outputName }
        #expect(info?.consumer == "perch")
        #expect(info?.isOutput == true)
        relay.shutdown()
    }

    @Test func aPulseOnAKernelLineEndsWhereItStarted() throws {
        let relay = try Output(spec: OutputSpec(name: "relay", line: Rig.address(Rig.outputName)), backend: gpio, loop: loop, store: nil)
        try relay.pulse(milliseconds: 100)
        #expect(peer.outputLevel() == true)
        #expect(loop.run(until: { !relay.isPulsing }, timeout: 3_000))
        #expect(peer.outputLevel() == false)
        relay.shutdown()
    }

    @Test func activeLowOutputsInvertThePin() throws {
        var spec = OutputSpec(name: "led", line: Rig.address(Rig.outputName))
        spec.activeLow = true
        spec.safeState = false
        let led = try Output(spec: spec, backend: gpio, loop: loop, store: nil)
        #expect(peer.outputLevel() == true, "off is a high pin when active-low")
        try led.set(true)
        #expect(peer.outputLevel() == false)
        #expect(try led.readBack() == true)
        try led.set(false)
        #expect(peer.outputLevel() == true)
        // (After release gpio-sim shows the pull again, so the safe state is checked on the simulated
        // backend's tests, not here.)
        led.shutdown()
    }

    @Test func inputsReadThePin() throws {
        peer.drive(false)
        let input = try Input(spec: InputSpec(name: "button", line: Rig.address(Rig.inputName)), backend: gpio, loop: loop)
        #expect(input.value == false)
        peer.drive(true)
        settleTheKernelsDebounce(input)
        #expect(try input.read() == true)
        peer.drive(false)
        settleTheKernelsDebounce(input)
        #expect(try input.read() == false)
        input.release()
    }

    @Test func edgesArriveAsEventsAndAreDebounced() throws {
        peer.drive(false)
        var spec = InputSpec(name: "button", line: Rig.address(Rig.inputName))
        spec.debounce = 60
        let input = try Input(spec: spec, backend: gpio, loop: loop)
        var changes: [InputChange] = []
        input.onChange = { changes.append($1) }
        // A bouncing press: three edges in quick succession, settling high.
        peer.drive(true)
        peer.drive(false)
        peer.drive(true)
        #expect(loop.run(until: { !changes.isEmpty }, timeout: 3_000))
        settle(150)
        #expect(changes.map(\.value) == [true])
        if case .kernel = input.debounce {
            #expect(input.edgeCount == 1, "the kernel absorbed the bounces (\(input.edgeCount) edges)")
        } else {
            #expect(input.edgeCount >= 2, "the kernel delivered the bounces (\(input.edgeCount) edges)")
        }
        #expect(changes[0].monotonicNanoseconds > 0)
        // A clean release.
        peer.drive(false)
        #expect(loop.run(until: { changes.count == 2 }, timeout: 3_000))
        #expect(changes.last?.value == false)
        #expect(changes[1].monotonicNanoseconds > changes[0].monotonicNanoseconds)
        input.release()
    }

    @Test func everyEdgeWithoutDebounce() throws {
        peer.drive(false)
        var spec = InputSpec(name: "button", line: Rig.address(Rig.inputName))
        spec.debounce = 0
        let input = try Input(spec: spec, backend: gpio, loop: loop)
        var values: [Bool] = []
        input.onChange = { values.append($1.value) }
        peer.drive(true)
        #expect(loop.run(until: { values.count == 1 }, timeout: 3_000))
        peer.drive(false)
        #expect(loop.run(until: { values.count == 2 }, timeout: 3_000))
        #expect(values == [true, false])
        input.release()
    }

    @Test func activeLowInputs() throws {
        peer.drive(false)
        var spec = InputSpec(name: "door", line: Rig.address(Rig.inputName))
        spec.activeLow = true
        spec.debounce = 0
        let input = try Input(spec: spec, backend: gpio, loop: loop)
        #expect(input.value == true, "a low pin is active")
        var values: [Bool] = []
        input.onChange = { values.append($1.value) }
        peer.drive(true)
        #expect(loop.run(until: { values.count == 1 }, timeout: 3_000))
        #expect(values == [false])
        input.release()
    }

    @Test(.enabled(if: Rig.simulator, "the simulator shows the bias a consumer requests; a board's pin is wired"))
    func biasIsApplied() throws {
        peer.drive(false)
        var spec = InputSpec(name: "button", line: Rig.address(Rig.inputName))
        spec.bias = .pullUp
        let up = try Input(spec: spec, backend: gpio, loop: loop)
        #expect(up.value == true, "gpio-sim takes the requested pull-up as the line's level")
        up.release()
        spec.bias = .pullDown
        let down = try Input(spec: spec, backend: gpio, loop: loop)
        #expect(down.value == false)
        down.release()
    }

    @Test func aHeldLineIsBusyAndNamesItsHolder() throws {
        let first = try gpio.requestOutput(Rig.address(Rig.outputName), consumer: "perch", activeLow: false, initial: false)
        let other = LibgpiodBackend(loop: loop)
        do {
            _ = try other.requestInput(Rig.address(Rig.outputName), consumer: "second", activeLow: false, bias: .asIs, onEdges: nil)
            Issue.record("a held line was granted twice")
        } catch let error {
            #expect(error == .lineBusy(Rig.address(Rig.outputName), consumer: "perch"))
            #expect(error.description.contains("\"perch\" holds it"))
        }
        first.release()
        let again = try other.requestInput(Rig.address(Rig.outputName), consumer: "second", activeLow: false, bias: .asIs, onEdges: nil)
        again.release()
    }

    @Test func missingChipsAndLinesSayWhatExists() throws {
        do {
            _ = try gpio.requestOutput(LineAddress(chip: .label("pinctrl-nope"), line: .name(Rig.outputName)), consumer: "perch", activeLow: false, initial: false)
            Issue.record("found a chip that does not exist")
        } catch let error {
            guard case .noSuchChip(_, let available) = error else { Issue.record("\(error)"); return }
            #expect(available.contains { $0.label == Rig.label })
            #expect(error.description.contains("[\(Rig.label)]"))
        }
        do {
            _ = try gpio.requestOutput(Rig.address("no-such-line"), consumer: "perch", activeLow: false, initial: false)
            Issue.record("found a line that does not exist")
        } catch let error {
            guard case .noSuchLine = error else { Issue.record("\(error)"); return }
            #expect(error.description.contains(Rig.outputName), "\(error)")
        }
        do {
            _ = try gpio.requestOutput(LineAddress(chip: .label(Rig.label), line: .offset(4096)), consumer: "perch", activeLow: false, initial: false)
            Issue.record("found offset 4096")
        } catch let error {
            guard case .noSuchLine = error else { Issue.record("\(error)"); return }
        }
    }

    @Test func linesAreLocatedWithoutBeingRequested() throws {
        // What `perch doctor` does: find the line and its holder without touching it.
        let before = try gpio.locate(Rig.address(Rig.outputName))
        #expect(before.chip.label == Rig.label)
        #expect(before.line.name == Rig.outputName)
        #expect(before.line.consumer == nil)
        let held = try gpio.requestOutput(Rig.address(Rig.outputName), consumer: "perch", activeLow: false, initial: false)
        let other = LibgpiodBackend(loop: loop)
        #expect(try other.locate(LineAddress(chip: .label(Rig.label), line: .offset(before.line.offset))).line.consumer == "perch")
        held.release()
        #expect(throws: GPIOError.self) { try other.locate(LineAddress(chip: .label("pinctrl-nope"), line: .offset(0))) }
    }

    @Test(.enabled(if: Rig.simulator, "uses the simulator's second chip"))
    func linesByOffsetByPathAndWithoutAChip() throws {
        let chips = try gpio.chips()
        let sim0 = try #require(chips.first { $0.label == "perch-sim0" })
        let offset = try #require(sim0.lines.first { $0.name == Rig.outputName }?.offset)
        // By device path and offset.
        let byPath = try gpio.requestOutput(LineAddress(chip: .path(sim0.path), line: .offset(offset)), consumer: "perch", activeLow: false, initial: true)
        #expect(peer.outputLevel() == true)
        byPath.release()
        // By chip name (gpiochipN) and line name.
        let byName = try gpio.requestOutput(LineAddress(chip: .path(sim0.name), line: .name(Rig.outputName)), consumer: "perch", activeLow: false, initial: true)
        #expect(peer.outputLevel() == true)
        byName.release()
        // No chip given: the line is looked up on every chip (aux0 is on perch-sim1).
        let aux = try gpio.requestOutput(LineAddress(chip: nil, line: .name("aux0")), consumer: "perch", activeLow: false, initial: true)
        let holder = try gpio.chips().first { $0.label == "perch-sim1" }?.lines.first { $0.name == "aux0" }?.consumer
        #expect(holder == "perch")
        aux.release()
    }
}
