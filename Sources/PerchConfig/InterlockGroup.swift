/// Outputs that must never be on together (a valve's open and close coils, a motor's two directions).
/// Switching one on first switches the others off and waits `wait` milliseconds.
public struct InterlockGroup: Hashable, Sendable {
    public var name: String
    public var outputs: [String]
    public var wait: Int64

    public init(name: String, outputs: [String], wait: Int64) {
        self.name = name
        self.outputs = outputs
        self.wait = wait
    }

    public func contains(_ output: String) -> Bool { outputs.contains { $0.lowercased() == output.lowercased() } }
}
