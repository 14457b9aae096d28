import PerchRules

/// The input's lines as alert and rule conditions (`air > 30 and door == open`): a condition that
/// parses prints as text that parses to the same condition, and evaluates to one answer whatever
/// its sensors say, unknown whenever any of them is in error and nothing else decides.
func fuzzCondition(_ data: UnsafeRawBufferPointer) {
    let text = String(decoding: Array(data), as: UTF8.self)
    for line in text.split(separator: "\n").prefix(8) {
        switch Condition.parse(String(line)) {
        case .failure(let e):
            _ = e.message
        case .success(let c):
            guard case .success(let again) = Condition.parse(c.description), again == c else {
                preconditionFailure("condition text does not parse back: \(c.description)")
            }
            let observations: [Observation] = [.number(0), .number(-1e9), .number(30.5), .state(true, on: "open", off: "closed"), .state(false, on: "on", off: "off"), .failed, .unknown]
            for (i, o) in observations.enumerated() {
                _ = c.evaluate { _ in o }
                _ = c.evaluate { name in observations[(name.utf8.count + i) % observations.count] }
            }
            precondition(c.evaluate { _ in .failed } != .yes, "a condition on failed sensors is never true")
            _ = c.failing { _ in .failed }
        }
        _ = AlertText.fill(String(line)) { $0.count > 3 ? nil : "21.5 °C" }
    }
}
