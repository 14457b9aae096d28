import Glibc
import Testing
import PerchIO
@testable import PerchGPIO

/// A fresh directory under /tmp, removed when the test's value goes away.
final class TempDir {
    let path: String
    init() {
        var template = Array("/tmp/perch-gpio-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }
    func write(_ name: String, _ text: String) { try! writeFileAtomically("\(path)/\(name)", Array(text.utf8), sync: false) }
    func read(_ name: String) -> String? { readTextFile("\(path)/\(name)") }
    deinit { _ = system("rm -rf '\(path)'") }
}

func line(_ name: String) -> LineAddress { LineAddress(chip: .label("pinctrl-bcm2711"), line: .name(name)) }

@Suite struct SimulatedGPIOTests {
    let loop: EventLoop
    let dir = TempDir()
    init() throws { loop = try EventLoop() }

    @Test func outputsAreWrittenAsPhysicalLevels() throws {
        let gpio = try SimulatedGPIO(directory: dir.path, loop: loop)
        let relay = try gpio.requestOutput(line("relay"), consumer: "perch", activeLow: false, initial: false)
        let led = try gpio.requestOutput(line("led"), consumer: "perch", activeLow: true, initial: false)
        #expect(dir.read("relay") == "0\n")
        // Active-low: "off" is a high level.
        #expect(dir.read("led") == "1\n")
        try relay.set(true)
        try led.set(true)
        #expect(dir.read("relay") == "1\n")
        #expect(dir.read("led") == "0\n")
        #expect(try led.get() == true)
    }

    @Test func aLineCanBeHeldOnlyOnce() throws {
        let gpio = try SimulatedGPIO(directory: dir.path, loop: loop)
        let first = try gpio.requestOutput(line("relay"), consumer: "perch", activeLow: false, initial: false)
        #expect(throws: GPIOError.lineBusy(line("relay"), consumer: "perch")) {
            _ = try gpio.requestInput(line("relay"), consumer: "other", activeLow: false, bias: .asIs, onEdges: nil)
        }
        first.release()
        _ = try gpio.requestInput(line("relay"), consumer: "other", activeLow: false, bias: .asIs, onEdges: nil)
    }

    @Test func listsItsLinesWithTheirHolders() throws {
        let gpio = try SimulatedGPIO(directory: dir.path, loop: loop)
        dir.write("button", "0\n")
        let relay = try gpio.requestOutput(line("relay"), consumer: "perch", activeLow: false, initial: true)
        let chips = try gpio.chips()
        #expect(chips.count == 1)
        #expect(chips[0].lines.map(\.name) == ["button", "relay"])
        #expect(chips[0].lines[1].consumer == "perch")
        #expect(chips[0].lines[0].consumer == nil)
        relay.release()
    }

    @Test func inputsAreCreatedFromTheirBiasAndReadBack() throws {
        let gpio = try SimulatedGPIO(directory: dir.path, loop: loop)
        let door = try gpio.requestInput(line("door"), consumer: "perch", activeLow: false, bias: .pullUp, onEdges: nil)
        #expect(dir.read("door") == "1\n")
        #expect(try door.get())
        dir.write("door", "0")
        #expect(try door.get() == false)
        dir.write("door", "banana")
        #expect(throws: GPIOError.self) { _ = try door.get() }
    }

    @Test func anotherProcessWritingAFileIsAnEdge() throws {
        let gpio = try SimulatedGPIO(directory: dir.path, loop: loop)
        dir.write("button", "0\n")
        var events: [LineEvent] = []
        let button = try gpio.requestInput(line("button"), consumer: "perch", activeLow: false, bias: .asIs) { events += $0 }
        // An in-place write, as `echo 1 > button` does.
        let fd = open("\(dir.path)/button", O_WRONLY | O_TRUNC)
        _ = write(fd, "1\n", 2)
        close(fd)
        #expect(loop.run(until: { events.count == 1 }, timeout: 2_000))
        #expect(events.first?.edge == .rising)
        // An atomic replace, as editors and `mv` do.
        dir.write("button", "0\n")
        #expect(loop.run(until: { events.count == 2 }, timeout: 2_000))
        #expect(events.last?.edge == .falling)
        // Rewriting the same level is not an edge.
        dir.write("button", "0\n")
        loop.run(until: { false }, timeout: 150)
        #expect(events.count == 2)
        button.release()
    }

    @Test func unnamedOffsetsGetAFileName() throws {
        let gpio = try SimulatedGPIO(directory: dir.path, loop: loop)
        _ = try gpio.requestOutput(LineAddress(chip: nil, line: .offset(17)), consumer: "perch", activeLow: false, initial: true)
        #expect(dir.read("line17") == "1\n")
        // A profile's name for the offset wins.
        _ = try gpio.requestOutput(LineAddress(chip: nil, line: .offset(18), name: "GPIO18"), consumer: "perch", activeLow: false, initial: true)
        #expect(dir.read("GPIO18") == "1\n")
        #expect(throws: GPIOError.self) { _ = try gpio.requestOutput(line("../escape"), consumer: "perch", activeLow: false, initial: true) }
    }
}
