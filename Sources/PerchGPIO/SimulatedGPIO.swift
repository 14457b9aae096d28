import Glibc
public import PerchIO

/// A GPIO chip whose lines are files in a directory, one per line, named after the line and holding
/// `0` or `1` (the physical level). Outputs are written there; inputs are read from there, and a change
/// another process makes (`echo 1 > button`) arrives as an edge event through inotify, without polling.
///
/// It stands in for a board in the demo and in black-box tests. Any chip selector maps to this one
/// directory, so a configuration written for a real board runs unchanged. Missing files are created:
/// outputs at their initial level, inputs at the level their bias implies (0 without one).
public final class SimulatedGPIO: GPIOBackend {
    public let name = "simulated"
    public let directory: String
    private let loop: EventLoop
    private var held: [String: String] = [:]
    private var inputs: [String: SimulatedInput] = [:]
    private var watcher: DirectoryWatcher?

    public init(directory: String, loop: EventLoop) throws(GPIOError) {
        self.directory = directory
        self.loop = loop
        do {
            try makeDirectories(directory)
        } catch {
            throw .failed(nil, operation: "creating the simulated chip directory \(directory)", message: error.message)
        }
    }

    public func chips() throws(GPIOError) -> [ChipInfo] {
        let names = (directoryEntries(directory) ?? []).filter { !$0.hasPrefix(".") && !$0.containsText(".tmp-") }
        let lines = names.enumerated().map { i, n in
            LineInfo(offset: i, name: n, consumer: held[n], isOutput: held[n] != nil && inputs[n] == nil)
        }
        return [ChipInfo(name: "simulated", label: "simulated", path: directory, lines: lines)]
    }

    /// Any selector maps to this one chip; the line is its file (which need not exist yet).
    public func locate(_ address: LineAddress) throws(GPIOError) -> (chip: ChipInfo, line: LineInfo) {
        let file = try fileName(address)
        let chip = try chips()[0]
        let line = chip.lines.first { $0.name == file } ?? LineInfo(offset: chip.lines.count, name: file, consumer: nil, isOutput: false)
        return (chip, line)
    }

    /// The file that stands for a line: its name, or `line<offset>` for an unnamed offset.
    func fileName(_ address: LineAddress) throws(GPIOError) -> String {
        let n: String
        if let name = address.name { n = name } else if case .offset(let o) = address.line { n = "line\(o)" } else { n = "" }
        guard !n.isEmpty, !n.contains("/"), n != ".", n != ".." else {
            throw .noSuchLine(address, chips: (try? chips()) ?? [])
        }
        return n
    }

    private func claim(_ file: String, _ address: LineAddress, _ consumer: String) throws(GPIOError) {
        if let holder = held[file] { throw .lineBusy(address, consumer: holder) }
        held[file] = consumer
    }

    public func requestOutput(_ line: LineAddress, consumer: String, activeLow: Bool, initial: Bool) throws(GPIOError) -> any OutputLine {
        let file = try fileName(line)
        try claim(file, line, consumer)
        let output = SimulatedOutput(backend: self, address: line, path: "\(directory)/\(file)", file: file, activeLow: activeLow)
        do {
            try output.create(initial)
        } catch {
            held[file] = nil
            throw error
        }
        return output
    }

    public func requestInput(_ line: LineAddress, consumer: String, activeLow: Bool, bias: Bias, onEdges: (([LineEvent]) -> Void)?) throws(GPIOError) -> any InputLine {
        let file = try fileName(line)
        let path = "\(directory)/\(file)"
        if !fileExists(path) {
            do {
                try writeFileAtomically(path, Array((bias == .pullUp ? "1\n" : "0\n").utf8), sync: false)
            } catch {
                throw .failed(line, operation: "creating \(path)", message: error.message)
            }
        }
        try claim(file, line, consumer)
        let input = SimulatedInput(backend: self, address: line, path: path, file: file, activeLow: activeLow, onEdges: onEdges)
        do {
            input.last = try input.get()
            if onEdges != nil {
                if watcher == nil {
                    watcher = try DirectoryWatcher(loop: loop, path: directory) { [weak self] name in self?.inputs[name]?.changed() }
                }
                inputs[file] = input
            }
        } catch let error as GPIOError {
            held[file] = nil
            throw error
        } catch {
            held[file] = nil
            throw .failed(line, operation: "watching \(directory)", message: "\(error)")
        }
        return input
    }

    func release(_ file: String) {
        held[file] = nil
        inputs[file] = nil
        if inputs.isEmpty { watcher?.close(); watcher = nil }
    }

    static func readLevel(_ path: String, _ address: LineAddress) throws(GPIOError) -> Bool {
        let bytes: [UInt8]
        do { bytes = try readFileOrError(path, limit: 64) } catch { throw .failed(address, operation: "reading \(path)", message: error.message) }
        switch bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x09 }) {
        case UInt8(ascii: "0"): return false
        case UInt8(ascii: "1"): return true
        default: throw .failed(address, operation: "reading \(path)", message: "it should hold 0 or 1")
        }
    }

    static func monotonicNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

final class SimulatedOutput: OutputLine {
    let address: LineAddress
    let path: String
    let file: String
    let activeLow: Bool
    private weak var backend: SimulatedGPIO?
    /// The line's file, kept open: a switch is one two-byte write over two bytes.
    private let level: InPlaceFile

    init(backend: SimulatedGPIO, address: LineAddress, path: String, file: String, activeLow: Bool) {
        self.backend = backend
        self.address = address
        self.path = path
        self.file = file
        self.activeLow = activeLow
        level = InPlaceFile(path: path, mode: 0o644)
    }

    /// Writes the line's file anew (a leftover from an earlier run is replaced whatever it holds).
    func create(_ value: Bool) throws(GPIOError) {
        let level = value != activeLow
        do {
            try writeFileAtomically(path, Array((level ? "1\n" : "0\n").utf8), sync: false)
        } catch {
            throw .failed(address, operation: "writing \(path)", message: error.message)
        }
    }

    func set(_ value: Bool) throws(GPIOError) {
        let level = value != activeLow
        do {
            // In place: two bytes over two bytes, so a reader never sees a torn value.
            try self.level.write(body: Array((level ? "1\n" : "0\n").utf8), tail: [])
        } catch {
            throw .failed(address, operation: "writing \(path)", message: error.message)
        }
    }

    func get() throws(GPIOError) -> Bool {
        try SimulatedGPIO.readLevel(path, address) != activeLow
    }

    func release() {
        backend?.release(file)
        backend = nil
    }

    deinit { release() }
}

final class SimulatedInput: InputLine {
    let address: LineAddress
    let path: String
    let file: String
    let activeLow: Bool
    let onEdges: (([LineEvent]) -> Void)?
    var last = false
    private weak var backend: SimulatedGPIO?

    init(backend: SimulatedGPIO, address: LineAddress, path: String, file: String, activeLow: Bool, onEdges: (([LineEvent]) -> Void)?) {
        self.backend = backend
        self.address = address
        self.path = path
        self.file = file
        self.activeLow = activeLow
        self.onEdges = onEdges
    }

    func get() throws(GPIOError) -> Bool {
        try SimulatedGPIO.readLevel(path, address) != activeLow
    }

    /// The file was written: an edge if the level changed (an unreadable file is ignored until fixed).
    func changed() {
        guard let value = try? get(), value != last else { return }
        last = value
        onEdges?([LineEvent(edge: value ? .rising : .falling, monotonicNanoseconds: SimulatedGPIO.monotonicNow())])
    }

    func release() {
        backend?.release(file)
        backend = nil
    }

    deinit { release() }
}
