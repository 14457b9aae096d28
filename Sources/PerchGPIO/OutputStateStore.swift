public import PerchIO

/// The last state the daemon set on each output, kept in a small file (`name=0|1` per line) so an
/// output declared `initial = "restore"` comes back as it was after a restart or a power cut.
///
/// Only outputs declared `initial = "restore"` are recorded. Each change to one rewrites the file
/// atomically and syncs it: such outputs change when someone sends a command, a few times a day, so
/// this costs an SD card nothing worth counting.
public final class OutputStateStore {
    public let path: String
    private var values: [String: Bool] = [:]
    /// Called when the file cannot be written (the state is still applied to the line).
    public var onError: ((IOError) -> Void)?

    public init(path: String) {
        self.path = path
        guard let text = readTextFile(path, limit: 1 << 16) else { return }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = String(parts[0])
            switch parts[1] {
            case "1": values[key] = true
            case "0": values[key] = false
            default: continue
            }
        }
    }

    public func value(for name: String) -> Bool? { values[name] }

    public func set(_ value: Bool, for name: String) {
        guard values[name] != value else { return }
        values[name] = value
        let text = values.keys.sorted().map { "\($0)=\(values[$0]! ? 1 : 0)\n" }.joined()
        do { try writeFileAtomically(path, Array(text.utf8), mode: 0o600) } catch { onError?(error) }
    }
}
