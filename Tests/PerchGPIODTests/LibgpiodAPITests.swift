import Glibc
import Testing
import PerchGPIO
import PerchGPIOD
import PerchIO

/// What only one of the two libgpiod APIs does, against the same kernel lines as the rest of
/// LibgpiodTests (an extension, so that its .serialized keeps these off the lines the others use).
/// Package.swift compiles the backend for whichever libgpiod is installed and passes
/// PERCH_LIBGPIOD_V2 here too.
extension LibgpiodTests {
    /// CLOCK_MONOTONIC now, in nanoseconds: the clock the edge timestamps must be on.
    func monotonicNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    func input(debounce: Int64) throws -> Input {
        var spec = InputSpec(name: "button", line: Rig.address(Rig.inputName))
        spec.debounce = debounce
        return try Input(spec: spec, backend: gpio, loop: loop)
    }

    #if PERCH_LIBGPIOD_V2
    @Test func theBinaryReportsTheV2API() {
        #expect(LibgpiodBackend.apiVersion == 2)
        #expect(LibgpiodBackend.libraryVersion.hasPrefix("2."), "\(LibgpiodBackend.libraryVersion)")
        #expect(LibgpiodBackend.apiDescription == "libgpiod v2 API (library \(LibgpiodBackend.libraryVersion))")
    }

    /// gpio-sim has no debounce of its own (its set_config knows only the pulls), so gpiolib's character
    /// device debounces in software inside the kernel, and the line's info reports the period.
    @Test func theKernelDebouncesAndPerchDoesNotAgain() throws {
        peer.drive(false)
        // 200 ms: wide enough that the three writes below fall in one period even on a loaded machine.
        let input = try input(debounce: 200)
        #expect(input.debounce == .kernel(microseconds: 200_000), "\(input.debounce)")
        var changes: [InputChange] = []
        input.onChange = { changes.append($1) }
        // A bouncing press: three edges in quick succession, settling high.
        peer.drive(true)
        peer.drive(false)
        let beforeLastBounce = monotonicNow()
        peer.drive(true)
        #expect(loop.run(until: { !changes.isEmpty }, timeout: 3_000))
        settle(300)
        #expect(changes.map(\.value) == [true])
        #expect(input.edgeCount == 1, "the kernel delivers the settled edge only (\(input.edgeCount) edges)")
        // The kernel stamps the edge when its debounce expires: the period after the last bounce.
        let stamp = try #require(changes.first?.monotonicNanoseconds)
        #expect(stamp >= beforeLastBounce + 200_000_000, "\(stamp) vs last bounce at \(beforeLastBounce)")
        // A clean release, reported once too.
        peer.drive(false)
        #expect(loop.run(until: { changes.count == 2 }, timeout: 3_000))
        #expect(changes.last?.value == false)
        #expect(input.edgeCount == 2)
        input.release()
    }

    @Test func aKernelDebouncedLineReadsTheSettledLevel() throws {
        peer.drive(false)
        let input = try input(debounce: 1_000)
        #expect(input.debounce == .kernel(microseconds: 1_000_000))
        peer.drive(true)
        #expect(try input.read() == false, "within the period the kernel still reports the settled low")
        #expect(loop.run(until: { input.value }, timeout: 3_000))
        #expect(try input.read() == true)
        input.release()
    }

    /// Asked for CLOCK_MONOTONIC explicitly (what the v1 uAPI stamps with on Linux 5.7 and later), the
    /// timestamps fall between two readings of that clock around the edge.
    @Test func edgesAreStampedOnTheMonotonicClock() throws {
        peer.drive(false)
        let input = try input(debounce: 0)
        var changes: [InputChange] = []
        input.onChange = { changes.append($1) }
        let before = monotonicNow()
        peer.drive(true)
        #expect(loop.run(until: { !changes.isEmpty }, timeout: 3_000))
        let after = monotonicNow()
        let stamp = try #require(changes.first?.monotonicNanoseconds)
        #expect(stamp >= before && stamp <= after, "\(before) ≤ \(stamp) ≤ \(after)")
        input.release()
    }
    #else
    @Test func theBinaryReportsTheV1API() {
        #expect(LibgpiodBackend.apiVersion == 1)
        #expect(LibgpiodBackend.libraryVersion.hasPrefix("1."), "\(LibgpiodBackend.libraryVersion)")
        #expect(LibgpiodBackend.apiDescription == "libgpiod v1 API (library \(LibgpiodBackend.libraryVersion))")
    }

    /// The v1 uAPI has no debounce: Perch's own applies.
    @Test func inputsAreDebouncedInSoftware() throws {
        peer.drive(false)
        let input = try input(debounce: 60)
        #expect(input.debounce == .software(milliseconds: 60))
        input.release()
    }
    #endif
}
