import Glibc

/// The event loop's time: the monotonic clock timers run on, and the wall clock readings, alerts and
/// schedules are stamped with.
///
/// The system clock reads the kernel's clocks. A manual clock moves only when a test says so
/// (``EventLoop/advance(by:)``, ``EventLoop/jumpWall(by:)``), so `for = "2m"`, `repeat = "1h"`, a
/// 30-minute override or a schedule a day away are tested in milliseconds, and a wall clock that
/// jumps (NTP setting the time at boot on a board without a real-time clock) can be staged.
public final class LoopClock {
    enum Mode {
        case system
        /// Monotonic milliseconds, and what is added to them to give wall milliseconds.
        case manual(monotonic: Int64, wallOffset: Int64)
    }

    private(set) var mode: Mode

    /// The kernel's clocks.
    public init() { mode = .system }

    /// A clock that stands still until moved, starting at `wall` (Unix milliseconds).
    public init(manualAt wall: Int64, monotonic: Int64 = 1_000_000) {
        mode = .manual(monotonic: monotonic, wallOffset: wall - monotonic)
    }

    public var isManual: Bool {
        if case .manual = mode { true } else { false }
    }

    /// Now on the monotonic clock.
    public var now: Instant {
        switch mode {
        case .system: .now()
        case .manual(let mono, _): Instant(milliseconds: mono)
        }
    }

    /// Now on the wall clock, in milliseconds since the Unix epoch.
    public var wallMilliseconds: Int64 {
        switch mode {
        case .system: WallClock.milliseconds()
        case .manual(let mono, let offset): mono + offset
        }
    }

    /// Moves a manual clock's monotonic time (and its wall time with it) to `instant`.
    func set(_ instant: Instant) {
        guard case .manual(let mono, let offset) = mode, instant.milliseconds > mono else { return }
        mode = .manual(monotonic: instant.milliseconds, wallOffset: offset)
    }

    /// Moves a manual clock's wall time alone, as setting the system time does.
    func jumpWall(by milliseconds: Int64) {
        guard case .manual(let mono, let offset) = mode else { return }
        mode = .manual(monotonic: mono, wallOffset: offset + milliseconds)
    }
}

@available(*, unavailable)
extension LoopClock: Sendable {}
