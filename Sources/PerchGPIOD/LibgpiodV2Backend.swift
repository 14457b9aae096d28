#if PERCH_LIBGPIOD_V2
internal import CGPIOD
import Glibc
public import PerchGPIO
public import PerchIO

/// GPIO through the kernel's character devices with libgpiod 2 (the v2 API: Debian 13 and later, or
/// the static build of scripts/libgpiod-v2). Compiled instead of LibgpiodBackend.swift when
/// Package.swift finds libgpiod 2 (PERCH_LIBGPIOD_V2): the two headers are both `gpiod.h`, so one
/// build has one of them, and the class keeps the one name the rest of Perch knows.
///
/// The same behaviour as the v1 backend (chips by label or path, lines by name or offset, bias,
/// active-low, edge events with the kernel's timestamps), plus two things the v2 uAPI adds:
/// - the kernel debounces an input's edges when asked (``requestInput(_:consumer:activeLow:bias:debounceMilliseconds:onEdges:)``):
///   the driver in hardware where it can, gpiolib's character device in software where it cannot;
///   the line tells ``Input`` so that its own software debounce is not applied on top;
/// - the event clock is chosen, and Perch asks for CLOCK_MONOTONIC explicitly. The v1 uAPI that
///   libgpiod 1.6 uses has no choice: it stamps with CLOCK_MONOTONIC since Linux 5.7 (CLOCK_REALTIME
///   before), so on current kernels both backends give the same clock, the one ``LineEvent`` and
///   ``InputChange`` document.
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
    public static let apiVersion = 2
    /// The library's version string, for `perch --version` and bug reports.
    public static var libraryVersion: String { String(cString: gpiod_api_version()) }

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

    /// A chip's name (`gpiochip0`), label and number of lines.
    private func info(_ c: OpaquePointer) -> (name: String, label: String, lines: Int) {
        guard let info = gpiod_chip_get_info(c) else { return ("", "", 0) }
        defer { gpiod_chip_info_free(info) }
        return (String(cString: gpiod_chip_info_get_name(info)), String(cString: gpiod_chip_info_get_label(info)), gpiod_chip_info_get_num_lines(info))
    }

    /// What the kernel says of one line now.
    private func lineInfo(_ c: OpaquePointer, _ offset: UInt32) -> LineInfo? {
        guard let info = gpiod_chip_get_line_info(c, offset) else { return nil }
        defer { gpiod_line_info_free(info) }
        return LineInfo(
            offset: Int(offset), name: gpiod_line_info_get_name(info).map { String(cString: $0) },
            consumer: gpiod_line_info_is_used(info) ? gpiod_line_info_get_consumer(info).map { String(cString: $0) } : nil,
            isOutput: gpiod_line_info_get_direction(info) == GPIOD_LINE_DIRECTION_OUTPUT)
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
            let chip = info(c)
            var lines: [LineInfo] = []
            for offset in 0..<UInt32(chip.lines) {
                if let line = lineInfo(c, offset) { lines.append(line) }
            }
            result.append(ChipInfo(name: chip.name, label: chip.label, path: path, lines: lines))
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
                if info(c).label == label { return c }
            }
            throw .noSuchChip(selector, available: try chips())
        }
    }

    /// The chip and offset of an address (not yet requested).
    private func find(_ address: LineAddress) throws(GPIOError) -> (chip: OpaquePointer, offset: UInt32) {
        guard let selector = address.chip else {
            // No chip: the first chip with a line of that name.
            guard case .name(let n) = address.line else { throw .noSuchLine(address, chips: try chips()) }
            for path in devicePaths {
                let c = try chip(at: path)
                let offset = gpiod_chip_get_line_offset_from_name(c, n)
                if offset >= 0 { return (c, UInt32(offset)) }
            }
            throw .noSuchLine(address, chips: try chips())
        }
        let c = try resolve(selector)
        switch address.line {
        case .name(let n):
            let offset = gpiod_chip_get_line_offset_from_name(c, n)
            if offset >= 0 { return (c, UInt32(offset)) }
        case .offset(let o):
            if o >= 0, o < info(c).lines { return (c, UInt32(o)) }
        }
        let path = String(cString: gpiod_chip_get_path(c))
        throw .noSuchLine(address, chips: (try? chips())?.filter { $0.path == path } ?? [])
    }

    // MARK: Requests

    /// What one line is requested with.
    private struct Settings {
        var direction = GPIOD_LINE_DIRECTION_INPUT
        var edges = GPIOD_LINE_EDGE_NONE
        var bias = GPIOD_LINE_BIAS_AS_IS
        var activeLow = false
        var output = GPIOD_LINE_VALUE_INACTIVE
        var debounceMicroseconds: UInt = 0
    }

    /// Requests one line; returns the request, or nil with `errno` set.
    private func lines(_ c: OpaquePointer, _ offset: UInt32, consumer: String, _ s: Settings) -> OpaquePointer? {
        guard let settings = gpiod_line_settings_new() else { return nil }
        defer { gpiod_line_settings_free(settings) }
        _ = gpiod_line_settings_set_direction(settings, s.direction)
        _ = gpiod_line_settings_set_bias(settings, s.bias)
        gpiod_line_settings_set_active_low(settings, s.activeLow)
        if s.direction == GPIOD_LINE_DIRECTION_OUTPUT {
            _ = gpiod_line_settings_set_output_value(settings, s.output)
        }
        if s.edges != GPIOD_LINE_EDGE_NONE {
            _ = gpiod_line_settings_set_edge_detection(settings, s.edges)
            // CLOCK_MONOTONIC, explicitly (the uAPI default today): what the v1 path gets on Linux 5.7+,
            // and what Input turns into wall-clock time.
            _ = gpiod_line_settings_set_event_clock(settings, GPIOD_LINE_CLOCK_MONOTONIC)
            gpiod_line_settings_set_debounce_period_us(settings, s.debounceMicroseconds)
        }
        guard let lineConfig = gpiod_line_config_new() else { return nil }
        defer { gpiod_line_config_free(lineConfig) }
        var offsets = [offset]
        guard gpiod_line_config_add_line_settings(lineConfig, &offsets, 1, settings) == 0 else { return nil }
        guard let requestConfig = gpiod_request_config_new() else { return nil }
        defer { gpiod_request_config_free(requestConfig) }
        gpiod_request_config_set_consumer(requestConfig, consumer)
        return gpiod_chip_request_lines(c, requestConfig, lineConfig)
    }

    private func request(_ address: LineAddress, consumer: String, _ s: Settings) throws(GPIOError) -> (request: OpaquePointer, chip: OpaquePointer, offset: UInt32) {
        let (c, offset) = try find(address)
        var s = s
        var request = lines(c, offset, consumer: consumer, s)
        if request == nil, s.debounceMicroseconds > 0, ![EBUSY, EPERM, EACCES, ENOMEM].contains(errno) {
            // The kernel refused the debounce (no interrupt for the line, say): Input debounces in software.
            s.debounceMicroseconds = 0
            request = lines(c, offset, consumer: consumer, s)
        }
        guard let request else {
            let e = errno
            if e == EBUSY { throw .lineBusy(address, consumer: lineInfo(c, offset)?.consumer) }
            if e == EINVAL && s.bias != GPIOD_LINE_BIAS_AS_IS {
                throw .failed(address, operation: "setting the bias", message: "the kernel refused it (bias needs Linux 5.5 or later and a driver that supports it); use bias = \"as-is\" and an external resistor")
            }
            throw .failed(address, operation: "requesting the line", message: String(cString: strerror(e)))
        }
        return (request, c, offset)
    }

    public func requestOutput(_ address: LineAddress, consumer: String, activeLow: Bool, initial: Bool) throws(GPIOError) -> any OutputLine {
        var s = Settings()
        s.direction = GPIOD_LINE_DIRECTION_OUTPUT
        s.activeLow = activeLow
        s.output = initial ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE
        let r = try request(address, consumer: consumer, s)
        return LibgpiodV2Output(address: address, request: r.request, offset: r.offset)
    }

    public func requestInput(_ address: LineAddress, consumer: String, activeLow: Bool, bias: Bias, onEdges: (([LineEvent]) -> Void)?) throws(GPIOError) -> any InputLine {
        try requestInput(address, consumer: consumer, activeLow: activeLow, bias: bias, debounceMilliseconds: 0, onEdges: onEdges)
    }

    public func requestInput(
        _ address: LineAddress, consumer: String, activeLow: Bool, bias: Bias, debounceMilliseconds: Int64, onEdges: (([LineEvent]) -> Void)?
    ) throws(GPIOError) -> any InputLine {
        var s = Settings()
        s.activeLow = activeLow
        switch bias {
        case .asIs: s.bias = GPIOD_LINE_BIAS_AS_IS
        case .disabled: s.bias = GPIOD_LINE_BIAS_DISABLED
        case .pullUp: s.bias = GPIOD_LINE_BIAS_PULL_UP
        case .pullDown: s.bias = GPIOD_LINE_BIAS_PULL_DOWN
        }
        if onEdges != nil {
            s.edges = GPIOD_LINE_EDGE_BOTH
            s.debounceMicroseconds = UInt(clamping: max(debounceMilliseconds, 0) * 1000)
        }
        let r = try request(address, consumer: consumer, s)
        // What the kernel applies, as it reports it in the line's info (0 when the debounce was refused).
        var debounce: UInt32 = 0
        if s.debounceMicroseconds > 0, let info = gpiod_chip_get_line_info(r.chip, r.offset) {
            debounce = UInt32(clamping: gpiod_line_info_get_debounce_period_us(info))
            gpiod_line_info_free(info)
        }
        let input = LibgpiodV2Input(address: address, request: r.request, offset: r.offset, loop: loop, kernelDebounceMicroseconds: debounce)
        if let onEdges {
            do { try input.watch(onEdges) } catch {
                input.release()
                throw error
            }
        }
        return input
    }
}

final class LibgpiodV2Output: OutputLine {
    let address: LineAddress
    private var request: OpaquePointer?
    private let offset: UInt32

    init(address: LineAddress, request: OpaquePointer, offset: UInt32) {
        self.address = address
        self.request = request
        self.offset = offset
    }

    func set(_ value: Bool) throws(GPIOError) {
        guard let request else { throw .failed(address, operation: "setting", message: "the line was released") }
        guard gpiod_line_request_set_value(request, offset, value ? GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE) == 0 else {
            throw .failed(address, operation: "setting", message: String(cString: strerror(errno)))
        }
    }

    func get() throws(GPIOError) -> Bool {
        guard let request else { throw .failed(address, operation: "reading", message: "the line was released") }
        let v = gpiod_line_request_get_value(request, offset)
        guard v != GPIOD_LINE_VALUE_ERROR else { throw .failed(address, operation: "reading", message: String(cString: strerror(errno))) }
        return v == GPIOD_LINE_VALUE_ACTIVE
    }

    func release() {
        if let request { gpiod_line_request_release(request) }
        request = nil
    }

    deinit { release() }
}

final class LibgpiodV2Input: InputLine {
    let address: LineAddress
    let kernelDebounceMicroseconds: UInt32
    private var request: OpaquePointer?
    private let offset: UInt32
    private let loop: EventLoop
    private var eventFD: Int32 = -1
    private var buffer: OpaquePointer?
    private static let capacity = 16

    init(address: LineAddress, request: OpaquePointer, offset: UInt32, loop: EventLoop, kernelDebounceMicroseconds: UInt32) {
        self.address = address
        self.request = request
        self.offset = offset
        self.loop = loop
        self.kernelDebounceMicroseconds = kernelDebounceMicroseconds
    }

    /// Puts the request's event descriptor in the loop; events are read when it is readable.
    func watch(_ handler: @escaping ([LineEvent]) -> Void) throws(GPIOError) {
        guard let request else { return }
        let fd = gpiod_line_request_get_fd(request)
        guard fd >= 0, let buffer = gpiod_edge_event_buffer_new(Self.capacity) else {
            throw .failed(address, operation: "watching the line's edges", message: String(cString: strerror(errno)))
        }
        self.buffer = buffer
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        eventFD = fd
        loop.watch(fd, .readable) { [weak self, loop] _ in
            var events: [LineEvent] = []
            while true {
                let n = gpiod_line_request_read_edge_events(request, buffer, Self.capacity)
                if n < 0 && errno != EAGAIN && errno != EINTR {
                    // The chip is gone (unplugged) or the descriptor broken: it stays readable, and
                    // watching it would spin the loop. The line's reads report the error from now on.
                    loop.unwatch(fd)
                    self?.eventFD = -1
                    break
                }
                if n <= 0 { break }
                for i in 0..<UInt(n) {
                    guard let e = gpiod_edge_event_buffer_get_event(buffer, i) else { continue }
                    events.append(LineEvent(
                        edge: gpiod_edge_event_get_event_type(e) == GPIOD_EDGE_EVENT_RISING_EDGE ? .rising : .falling,
                        monotonicNanoseconds: gpiod_edge_event_get_timestamp_ns(e)))
                }
                if n < Self.capacity { break }
            }
            if !events.isEmpty { handler(events) }
        }
    }

    func get() throws(GPIOError) -> Bool {
        guard let request else { throw .failed(address, operation: "reading", message: "the line was released") }
        let v = gpiod_line_request_get_value(request, offset)
        guard v != GPIOD_LINE_VALUE_ERROR else { throw .failed(address, operation: "reading", message: String(cString: strerror(errno))) }
        return v == GPIOD_LINE_VALUE_ACTIVE
    }

    func release() {
        if eventFD >= 0 { loop.unwatch(eventFD) }
        eventFD = -1
        if let request { gpiod_line_request_release(request) }
        request = nil
        if let buffer { gpiod_edge_event_buffer_free(buffer) }
        buffer = nil
    }

    deinit { release() }
}
#endif
