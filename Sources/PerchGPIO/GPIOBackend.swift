/// A source of GPIO lines: the kernel through libgpiod, or the simulated chip. Values here are
/// *logical*: with `activeLow` the backend inverts them, so `true` always means "on" / "active".
public protocol GPIOBackend: AnyObject {
    /// A short name for logs (`libgpiod`, `simulated`).
    var name: String { get }
    /// Every chip with its lines, for `perch gpio list` and for error messages.
    func chips() throws(GPIOError) -> [ChipInfo]
    /// Finds a line without requesting it (a default implementation searches ``chips()``).
    func locate(_ address: LineAddress) throws(GPIOError) -> (chip: ChipInfo, line: LineInfo)
    /// Requests a line as an output driven to `initial` at once.
    func requestOutput(_ line: LineAddress, consumer: String, activeLow: Bool, initial: Bool) throws(GPIOError) -> any OutputLine
    /// Requests a line as an input. With `onEdges`, edge events are delivered to it on the event loop
    /// the backend was made with, without polling (the line's event descriptor, or inotify).
    func requestInput(_ line: LineAddress, consumer: String, activeLow: Bool, bias: Bias, onEdges: (([LineEvent]) -> Void)?) throws(GPIOError) -> any InputLine
    /// The same, asking the kernel to debounce the edges for `debounceMilliseconds` (0: not at all) where
    /// it can: the line's ``InputLine/kernelDebounceMicroseconds`` says whether it does. A backend that
    /// cannot (the default implementation, the v1 API, the simulated chip) ignores the period and leaves
    /// the debounce to ``Input``, in software.
    func requestInput(
        _ line: LineAddress, consumer: String, activeLow: Bool, bias: Bias, debounceMilliseconds: Int64, onEdges: (([LineEvent]) -> Void)?
    ) throws(GPIOError) -> any InputLine
}

/// A requested output line. Released on ``release()`` (or when the object goes away).
public protocol OutputLine: AnyObject {
    var address: LineAddress { get }
    func set(_ value: Bool) throws(GPIOError)
    /// The value the line is driven to, as the kernel reports it.
    func get() throws(GPIOError) -> Bool
    func release()
}

/// A requested input line.
public protocol InputLine: AnyObject {
    var address: LineAddress { get }
    /// The debounce period the kernel applies to this line's edge events (in the driver's hardware, or
    /// in gpiolib's own software debouncer), in microseconds; 0 when it does not debounce them.
    var kernelDebounceMicroseconds: UInt32 { get }
    func get() throws(GPIOError) -> Bool
    func release()
}

extension InputLine {
    public var kernelDebounceMicroseconds: UInt32 { 0 }
}

extension GPIOBackend {
    public func requestInput(
        _ line: LineAddress, consumer: String, activeLow: Bool, bias: Bias, debounceMilliseconds: Int64, onEdges: (([LineEvent]) -> Void)?
    ) throws(GPIOError) -> any InputLine {
        try requestInput(line, consumer: consumer, activeLow: activeLow, bias: bias, onEdges: onEdges)
    }

    /// Finds a line without requesting it (for `perch doctor`: requesting an output would drive it).
    public func locate(_ address: LineAddress) throws(GPIOError) -> (chip: ChipInfo, line: LineInfo) {
        let all = try chips()
        let candidates: [ChipInfo]
        switch address.chip {
        case nil:
            candidates = all
        case .label(let label)?:
            candidates = all.filter { $0.label == label }
            if candidates.isEmpty { throw .noSuchChip(.label(label), available: all) }
        case .path(let p)?:
            candidates = all.filter { $0.path == p || $0.name == p || $0.path.hasSuffix("/\(p)") }
            if candidates.isEmpty { throw .noSuchChip(.path(p), available: all) }
        }
        for chip in candidates {
            switch address.line {
            case .name(let n):
                if let line = chip.lines.first(where: { $0.name == n }) { return (chip, line) }
            case .offset(let o):
                if let line = chip.lines.first(where: { $0.offset == o }) { return (chip, line) }
            }
        }
        throw .noSuchLine(address, chips: candidates)
    }
}
