import PerchIO

enum PerchRulesClock {
    static func at(_ ms: Int64) -> Instant { Instant(milliseconds: 1_000_000 + ms) }
}
