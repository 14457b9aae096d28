/// Why a GPIO operation failed, worded for the operator who has to fix it.
public enum GPIOError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No chip matches; `available` lists what exists so the operator can pick.
    case noSuchChip(ChipSelector, available: [ChipInfo])
    /// The chip exists but has no such line (or no chip has a line of that name).
    case noSuchLine(LineAddress, chips: [ChipInfo])
    /// Another consumer holds the line.
    case lineBusy(LineAddress, consumer: String?)
    /// The device node cannot be opened by this user.
    case permissionDenied(path: String)
    /// The kernel or the driver refused an operation (bias on an old kernel, an I/O error).
    case failed(LineAddress?, operation: String, message: String)

    public var description: String {
        switch self {
        case .noSuchChip(let chip, let available):
            let list = available.isEmpty
                ? "no GPIO chips are visible (is /dev/gpiochip* there, and the kernel built with GPIO_CDEV?)"
                : "chips present: " + available.map { "\($0.name) [\($0.label)] \($0.lines.count) lines" }.joined(separator: ", ")
            return "no \(chip); \(list). Run `perch gpio list` to see them."
        case .noSuchLine(let line, let chips):
            let named = chips.flatMap { c in c.lines.compactMap { $0.name } }
            let hint = named.isEmpty
                ? "the chip has no named lines; select the line by offset"
                : "named lines include " + named.prefix(12).joined(separator: ", ") + (named.count > 12 ? ", …" : "")
            return "no \(line); \(hint). Run `perch gpio list` to see every line."
        case .lineBusy(let line, let consumer):
            let who = consumer.map { "\"\($0)\"" } ?? "another program"
            return "\(line) is busy: \(who) holds it. Stop that program or free the line (a device-tree overlay or a kernel driver may claim it), then start perch again."
        case .permissionDenied(let path):
            return "permission denied opening \(path). Give perch's user the 'gpio' group (systemd/perch.service does with SupplementaryGroups=gpio) and install systemd/60-perch-gpio.rules so udev gives that group /dev/gpiochip*."
        case .failed(let line, let op, let message):
            return "\(line.map { "\($0): " } ?? "")\(op) failed: \(message)"
        }
    }
}
