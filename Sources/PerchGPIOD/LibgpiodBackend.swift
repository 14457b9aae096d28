#if !PERCH_LIBGPIOD_V2
internal import CGPIOD
import Glibc
public import PerchGPIO
public import PerchIO

/// GPIO through the kernel's character devices with libgpiod 1.6 (the v1 API Debian 12 ships). Every
/// libgpiod call of the project is in this target; LibgpiodV2Backend.swift is the same class on the v2
/// API, compiled instead of this one when Package.swift finds libgpiod 2 (PERCH_LIBGPIOD_V2).
///
/// Edge timestamps are the kernel's: the v1 uAPI stamps them with CLOCK_MONOTONIC since Linux 5.7
/// (CLOCK_REALTIME before) and offers no choice. It has no debounce either, so ``Input`` debounces in
/// software (the protocol's default `requestInput(…debounceMilliseconds:…)` ignores the period).
///
/// Chips are found by label or path (a name such as `gpiochip0` means `/dev/gpiochip0`), lines by
/// device-tree name or offset. Chips stay open while the backend lives; a requested line is held with
/// the consumer name given (`perch`) until released.
public final class LibgpiodBackend: GPIOBackend {
    public let name = "libgpiod"
    private let loop: EventLoop
    private let deviceDirectory: String
    /// Open chips by device path.
    private var open: [String: OpaquePointer] = [:]

    /// - Parameter deviceDirectory: where the `gpiochipN` nodes are (tests may point elsewhere).
    public init(loop: EventLoop, deviceDirectory: String = "/dev") {
        self.loop = loop
        self.deviceDirectory = deviceDirectory
    }

    deinit {
        for chip in open.values { gpiod_chip_close(chip) }
    }

    /// The libgpiod API this build uses.
    public static let apiVersion = 1
    /// The library's version string, for `perch --version` and bug reports.
    public static var libraryVersion: String { String(cString: gpiod_version_string()) }

    // MARK: Chips

    private var devicePaths: [String] {
        (directoryEntries(deviceDirectory) ?? []).filter { $0.hasPrefix("gpiochip") }.map { "\(deviceDirectory)/\($0)" }
    }

    /// Opens (or returns the already open) chip at `path`.
    /// - Parameter listing: called by ``chips()``: a node that is gone is not answered with the list
    ///   of chips (which would try it again, for ever).
    private func chip(at path: String, listing: Bool = false) throws(GPIOError) -> OpaquePointer {
        if let c = open[path] { return c }
        guard let c = gpiod_chip_open(path) else {
            let e = errno
            if e == EACCES || e == EPERM { throw .permissionDenied(path: path) }
            if e == ENOENT || e == ENODEV { throw .noSuchChip(.path(path), available: listing ? [] : (try? chips()) ?? []) }
            throw .failed(nil, operation: "opening \(path)", message: String(cString: strerror(e)))
        }
        open[path] = c
        return c
    }

    public func chips() throws(GPIOError) -> [ChipInfo] {
        var result: [ChipInfo] = []
        for path in devicePaths {
            // A node listed a moment ago and gone now (an unplugged USB expander) is no chip.
            let c: OpaquePointer
            do { c = try chip(at: path, listing: true) } catch {
                if case .noSuchChip = error { continue }
                throw error
            }
            var lines: [LineInfo] = []
            for offset in 0..<gpiod_chip_num_lines(c) {
                guard let line = gpiod_chip_get_line(c, offset) else { continue }
                _ = gpiod_line_update(line)
                lines.append(LineInfo(
                    offset: Int(offset), name: gpiod_line_name(line).map { String(cString: $0) },
                    consumer: gpiod_line_consumer(line).map { String(cString: $0) },
                    isOutput: gpiod_line_direction(line) == Int32(GPIOD_LINE_DIRECTION_OUTPUT)))
            }
            result.append(ChipInfo(
                name: String(cString: gpiod_chip_name(c)), label: String(cString: gpiod_chip_label(c)), path: path, lines: lines))
        }
        return result.sorted { $0.path.count != $1.path.count ? $0.path.count < $1.path.count : $0.path < $1.path }
    }

    /// The chip a selector names.
    private func resolve(_ selector: ChipSelector) throws(GPIOError) -> OpaquePointer {
        switch selector {
        case .path(let p):
            let path = p.hasPrefix("/") ? p : "\(deviceDirectory)/\(p)"
            return try chip(at: path)
        case .label(let label):
            for path in devicePaths {
                let c = try chip(at: path)
                if String(cString: gpiod_chip_label(c)) == label { return c }
            }
            throw .noSuchChip(selector, available: try chips())
        }
    }

    /// The line object for an address (not yet requested).
    private func find(_ address: LineAddress) throws(GPIOError) -> OpaquePointer {
        guard let selector = address.chip else {
            // No chip: the first chip with a line of that name.
            guard case .name(let n) = address.line else { throw .noSuchLine(address, chips: try chips()) }
            for path in devicePaths {
                if let line = gpiod_chip_find_line(try chip(at: path), n) { return line }
            }
            throw .noSuchLine(address, chips: try chips())
        }
        let c = try resolve(selector)
        switch address.line {
        case .name(let n):
            if let line = gpiod_chip_find_line(c, n) { return line }
        case .offset(let o):
            if o >= 0, o < Int(gpiod_chip_num_lines(c)), let line = gpiod_chip_get_line(c, UInt32(o)) { return line }
        }
        let info = (try? chips())?.filter { $0.path == String(cString: gpiod_chip_name(c)) || $0.name == String(cString: gpiod_chip_name(c)) } ?? []
        throw .noSuchLine(address, chips: info)
    }

    // MARK: Requests

    private func request(_ address: LineAddress, _ line: OpaquePointer, consumer: String, type: Int32, flags: Int32, initial: Int32) throws(GPIOError) {
        let rc = consumer.withCString { name in
            var config = gpiod_line_request_config(consumer: name, request_type: type, flags: flags)
            return gpiod_line_request(line, &config, initial)
        }
        guard rc == 0 else {
            let e = errno
            if e == EBUSY {
                _ = gpiod_line_update(line)
                throw .lineBusy(address, consumer: gpiod_line_consumer(line).map { String(cString: $0) })
            }
            if e == EINVAL && flags & Self.biasFlags != 0 {
                throw .failed(address, operation: "setting the bias", message: "the kernel refused it (bias needs Linux 5.5 or later and a driver that supports it); use bias = \"as-is\" and an external resistor")
            }
            throw .failed(address, operation: "requesting the line", message: String(cString: strerror(e)))
        }
    }

    private static let biasFlags = Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE | GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP | GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN)

    public func requestOutput(_ address: LineAddress, consumer: String, activeLow: Bool, initial: Bool) throws(GPIOError) -> any OutputLine {
        let line = try find(address)
        let flags = activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
        try request(address, line, consumer: consumer, type: Int32(GPIOD_LINE_REQUEST_DIRECTION_OUTPUT), flags: flags, initial: initial ? 1 : 0)
        return LibgpiodOutput(address: address, line: line)
    }

    public func requestInput(_ address: LineAddress, consumer: String, activeLow: Bool, bias: Bias, onEdges: (([LineEvent]) -> Void)?) throws(GPIOError) -> any InputLine {
        let line = try find(address)
        var flags = activeLow ? Int32(GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) : 0
        switch bias {
        case .asIs: break
        case .disabled: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE)
        case .pullUp: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP)
        case .pullDown: flags |= Int32(GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN)
        }
        let type = onEdges == nil ? GPIOD_LINE_REQUEST_DIRECTION_INPUT : GPIOD_LINE_REQUEST_EVENT_BOTH_EDGES
        try request(address, line, consumer: consumer, type: Int32(type), flags: flags, initial: 0)
        let input = LibgpiodInput(address: address, line: line, loop: loop)
        if let onEdges { input.watch(onEdges) }
        return input
    }
}

final class LibgpiodOutput: OutputLine {
    let address: LineAddress
    private var line: OpaquePointer?

    init(address: LineAddress, line: OpaquePointer) {
        self.address = address
        self.line = line
    }

    func set(_ value: Bool) throws(GPIOError) {
        guard let line else { throw .failed(address, operation: "setting", message: "the line was released") }
        guard gpiod_line_set_value(line, value ? 1 : 0) == 0 else {
            throw .failed(address, operation: "setting", message: String(cString: strerror(errno)))
        }
    }

    func get() throws(GPIOError) -> Bool {
        guard let line else { throw .failed(address, operation: "reading", message: "the line was released") }
        let v = gpiod_line_get_value(line)
        guard v >= 0 else { throw .failed(address, operation: "reading", message: String(cString: strerror(errno))) }
        return v == 1
    }

    func release() {
        if let line { gpiod_line_release(line) }
        line = nil
    }

    deinit { release() }
}

final class LibgpiodInput: InputLine {
    let address: LineAddress
    private var line: OpaquePointer?
    private let loop: EventLoop
    private var eventFD: Int32 = -1

    init(address: LineAddress, line: OpaquePointer, loop: EventLoop) {
        self.address = address
        self.line = line
        self.loop = loop
    }

    /// Puts the line's event descriptor in the loop; events are read when it is readable.
    func watch(_ handler: @escaping ([LineEvent]) -> Void) {
        guard let line else { return }
        let fd = gpiod_line_event_get_fd(line)
        guard fd >= 0 else { return }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        eventFD = fd
        loop.watch(fd, .readable) { [weak self, loop] _ in
            var events: [LineEvent] = []
            var buffer = [gpiod_line_event](repeating: gpiod_line_event(), count: 16)
            while true {
                let n = gpiod_line_event_read_fd_multiple(fd, &buffer, 16)
                if n < 0 && errno != EAGAIN && errno != EINTR {
                    // The chip is gone (unplugged) or the descriptor broken: it stays readable, and
                    // watching it would spin the loop. The line's reads report the error from now on.
                    loop.unwatch(fd)
                    self?.eventFD = -1
                    break
                }
                if n <= 0 { break }
                for e in buffer[0..<Int(n)] {
                    events.append(LineEvent(
                        edge: e.event_type == Int32(GPIOD_LINE_EVENT_RISING_EDGE) ? .rising : .falling,
                        monotonicNanoseconds: UInt64(e.ts.tv_sec) * 1_000_000_000 + UInt64(e.ts.tv_nsec)))
                }
                if n < 16 { break }
            }
            if !events.isEmpty { handler(events) }
        }
    }

    func get() throws(GPIOError) -> Bool {
        guard let line else { throw .failed(address, operation: "reading", message: "the line was released") }
        let v = gpiod_line_get_value(line)
        guard v >= 0 else { throw .failed(address, operation: "reading", message: String(cString: strerror(errno))) }
        return v == 1
    }

    func release() {
        if eventFD >= 0 { loop.unwatch(eventFD) }
        eventFD = -1
        if let line { gpiod_line_release(line) }
        line = nil
    }

    deinit { release() }
}
#endif
