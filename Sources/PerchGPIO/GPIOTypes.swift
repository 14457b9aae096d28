/// Which chip a line is on. Never only a number: a Raspberry Pi 5's header chip changed number between
/// kernels, while its label (`pinctrl-rp1`) did not.
public enum ChipSelector: Hashable, Sendable, CustomStringConvertible {
    /// The chip's label, as `gpiodetect` prints it in brackets (`pinctrl-bcm2711`).
    case label(String)
    /// A device path (`/dev/gpiochip0`) or a chip name (`gpiochip0`).
    case path(String)

    public var description: String {
        switch self {
        case .label(let l): "chip labelled \"\(l)\""
        case .path(let p): p
        }
    }
}

/// Which line on a chip: its name from the device tree (`GPIO17`) or its offset.
public enum LineSelector: Hashable, Sendable, CustomStringConvertible {
    case name(String)
    case offset(Int)

    public var description: String {
        switch self {
        case .name(let n): "\"\(n)\""
        case .offset(let o): "offset \(o)"
        }
    }
}

/// A line to request: the chip (nil: search every chip for the line's name) and the line. ``name`` is
/// the name known for it even when the line is selected by offset (from a board profile), which the
/// simulated backend uses as its file name.
public struct LineAddress: Hashable, Sendable, CustomStringConvertible {
    public var chip: ChipSelector?
    public var line: LineSelector
    public var name: String?

    public init(chip: ChipSelector?, line: LineSelector, name: String? = nil) {
        self.chip = chip
        self.line = line
        self.name = name ?? { if case .name(let n) = line { return n } else { return nil } }()
    }

    public var description: String {
        var s = "line \(line)"
        if let name, case .offset = line { s += " (\(name))" }
        if let chip { s += " on \(chip)" }
        return s
    }
}

/// Internal pull resistors, where the kernel and the SoC support them (Linux 5.5+).
public enum Bias: String, Hashable, Sendable, CaseIterable {
    /// Leave whatever the firmware or device tree set.
    case asIs = "as-is"
    case disabled
    case pullUp = "pull-up"
    case pullDown = "pull-down"
}

public enum Edge: String, Hashable, Sendable {
    case rising, falling
}

/// An edge the kernel saw on an input line.
public struct LineEvent: Hashable, Sendable {
    public var edge: Edge
    /// The kernel's timestamp, CLOCK_MONOTONIC nanoseconds (what GPIO character devices report by default).
    public var monotonicNanoseconds: UInt64

    public init(edge: Edge, monotonicNanoseconds: UInt64) {
        self.edge = edge
        self.monotonicNanoseconds = monotonicNanoseconds
    }
}

/// What `perch gpio list` shows of a chip.
public struct ChipInfo: Hashable, Sendable {
    public var name: String
    public var label: String
    public var path: String
    public var lines: [LineInfo]

    public init(name: String, label: String, path: String, lines: [LineInfo]) {
        self.name = name
        self.label = label
        self.path = path
        self.lines = lines
    }
}

public struct LineInfo: Hashable, Sendable {
    public var offset: Int
    public var name: String?
    /// Who holds the line, if anyone.
    public var consumer: String?
    public var isOutput: Bool

    public init(offset: Int, name: String?, consumer: String?, isOutput: Bool) {
        self.offset = offset
        self.name = name
        self.consumer = consumer
        self.isOutput = isOutput
    }
}
