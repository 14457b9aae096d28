import CLinux
import Glibc

/// A single-threaded event loop on epoll.
///
/// The loop sleeps in `epoll_wait` until a watched descriptor is ready or the earliest timer is due; it
/// never polls. An idle daemon therefore wakes only for its own timers (the keepalive), which is what
/// keeps it quiet on a battery or a busy board. Signals arrive through a signalfd and work from other
/// threads (DNS look-ups) comes back through an eventfd, so everything runs on the loop's thread.
///
/// Not thread-safe, except ``Mailbox``, which other threads use to hand work back.
public final class EventLoop {
    /// Readiness reported for a descriptor.
    public struct Events: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: 1)
        public static let writable = Events(rawValue: 2)
        /// The peer hung up or the descriptor has an error; reading will tell which.
        public static let hangup = Events(rawValue: 4)
    }

    /// A scheduled callback. Cancelling an already-fired timer does nothing.
    public final class Timer {
        fileprivate let deadline: Instant
        fileprivate var action: (() -> Void)?
        fileprivate init(deadline: Instant, action: @escaping () -> Void) {
            self.deadline = deadline
            self.action = action
        }
        public func cancel() { action = nil }
        public var isPending: Bool { action != nil }
    }

    private let epfd: Int32
    private var handlers: [Int32: (Events) -> Void] = [:]
    private var timers: [Timer] = []
    private var running = false
    /// Whether stop() was called during the current outermost run (nested runs must not swallow it).
    private var stopRequested = false
    private var signalFD: Int32 = -1
    private var signalHandler: ((Int32) -> Void)?
    let mailbox: Mailbox
    private var completions: [UInt64: (any Sendable) -> Void] = [:]
    private var nextToken: UInt64 = 0
    /// How many times `epoll_wait` returned: the loop's wake-ups, for tests and benchmarks.
    public private(set) var wakeups = 0
    /// The loop's time (the kernel's, or a test's manual clock).
    public let clock: LoopClock
    /// Called when the wall clock is set (NTP at boot, an operator's `date -s`), not when it merely runs.
    private var wallObservers: [() -> Void] = []
    /// The timerfd the kernel cancels when the wall clock is set (opened with the first observer).
    private var wallFD: Int32 = -1
    /// What ``run(until:timeout:)`` waits for, and until when (on the kernel's monotonic clock, so a
    /// manual clock standing still cannot make a test wait for ever).
    private var waiting: (condition: () -> Bool, deadline: Instant, nextCheck: Instant)?

    /// - Parameter clock: the kernel's clocks, or a manual clock for tests.
    public init(clock: LoopClock = LoopClock()) throws(IOError) {
        self.clock = clock
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else { throw IOError.errno("epoll_create1") }
        let efd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard efd >= 0 else { throw IOError.errno("eventfd") }
        mailbox = Mailbox(fd: efd)
        watch(efd, .readable) { [unowned self] _ in
            var value: UInt64 = 0
            _ = read(efd, &value, 8)
            for (token, value) in self.mailbox.takeAll() {
                self.completions.removeValue(forKey: token)?(value)
            }
        }
    }

    deinit {
        close(epfd)
        close(mailbox.fd)
        if signalFD >= 0 { close(signalFD) }
        if wallFD >= 0 { close(wallFD) }
    }

    // MARK: Time

    /// Now on the loop's monotonic clock: what timers are measured against.
    public var now: Instant { clock.now }

    /// Now on the loop's wall clock, in milliseconds since the Unix epoch.
    public var wallMilliseconds: Int64 { clock.wallMilliseconds }

    /// Calls `observer` on the loop whenever the wall clock is set (a jump, not its running): a board
    /// without a real-time clock boots in the past and NTP moves it by months. The kernel reports it
    /// through a timerfd armed with TFD_TIMER_CANCEL_ON_SET, so watching costs no wake-up.
    public func observeWallClockChanges(_ observer: @escaping () -> Void) {
        wallObservers.append(observer)
        guard !clock.isManual, wallFD < 0 else { return }
        let fd = timerfd_create(CLOCK_REALTIME, Int32(TFD_CLOEXEC | TFD_NONBLOCK))
        guard fd >= 0 else { return }
        wallFD = fd
        armWallTimer()
        watch(fd, .readable) { [unowned self] _ in
            var expirations: UInt64 = 0
            // ECANCELED: the clock was set. The timer (in the year 9999) is armed again after any wake,
            // so a clock set past it once cannot end the watching.
            let set = read(fd, &expirations, 8) < 0 && errno == ECANCELED
            self.armWallTimer()
            if set { for observer in self.wallObservers { observer() } }
        }
    }

    /// Arms the wall-clock timer at the far future, cancelled by the kernel when the clock is set.
    private func armWallTimer() {
        var spec = itimerspec()
        spec.it_value.tv_sec = time_t(253_402_300_799)  // 9999-12-31T23:59:59Z
        _ = timerfd_settime(wallFD, Int32(TFD_TIMER_ABSTIME) | (1 << 1) /* TFD_TIMER_CANCEL_ON_SET */, &spec, nil)
    }

    /// Moves a manual clock forward by `milliseconds`, firing every timer due on the way in deadline
    /// order at its own deadline (and those the fired ones schedule within the window). For tests.
    public func advance(by milliseconds: Int64) {
        precondition(clock.isManual, "advance(by:) needs a manual clock")
        let target = clock.now + max(0, milliseconds)
        while true {
            timers.removeAll { $0.action == nil }
            guard let next = timers.filter({ $0.deadline <= target }).min(by: { $0.deadline < $1.deadline }) else { break }
            clock.set(next.deadline)
            fireTimers()
        }
        clock.set(target)
    }

    /// Sets a manual clock's wall time `milliseconds` later (or earlier, negative) without moving its
    /// monotonic time, and tells the observers, as the kernel would. For tests.
    public func jumpWall(by milliseconds: Int64) {
        precondition(clock.isManual, "jumpWall(by:) needs a manual clock")
        clock.jumpWall(by: milliseconds)
        for observer in wallObservers { observer() }
    }

    // MARK: Descriptors

    /// Watches a descriptor. Level-triggered: the handler is called while the condition holds.
    public func watch(_ fd: Int32, _ interest: Events, handler: @escaping (Events) -> Void) {
        var ev = epoll_event()
        ev.events = Self.mask(interest)
        ev.data.fd = fd
        let op = handlers[fd] == nil ? EPOLL_CTL_ADD : EPOLL_CTL_MOD
        handlers[fd] = handler
        _ = epoll_ctl(epfd, op, fd, &ev)
    }

    /// Changes what a watched descriptor is watched for.
    public func update(_ fd: Int32, _ interest: Events) {
        guard handlers[fd] != nil else { return }
        var ev = epoll_event()
        ev.events = Self.mask(interest)
        ev.data.fd = fd
        _ = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev)
    }

    /// Stops watching a descriptor (call before closing it).
    public func unwatch(_ fd: Int32) {
        guard handlers.removeValue(forKey: fd) != nil else { return }
        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nil)
    }

    private static func mask(_ e: Events) -> UInt32 {
        var m: UInt32 = 0
        if e.contains(.readable) { m |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
        if e.contains(.writable) { m |= EPOLLOUT.rawValue }
        return m
    }

    // MARK: Timers

    /// Runs `action` on the loop after `milliseconds`.
    @discardableResult
    public func schedule(after milliseconds: Int64, _ action: @escaping () -> Void) -> Timer {
        let t = Timer(deadline: clock.now + max(0, milliseconds), action: action)
        timers.append(t)
        return t
    }

    // MARK: Signals

    /// Delivers these signals to `handler` on the loop instead of their default action.
    public func handleSignals(_ signals: [Int32], handler: @escaping (Int32) -> Void) throws(IOError) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let fd = signalfd(signalFD, &set, Int32(SFD_CLOEXEC | SFD_NONBLOCK))
        guard fd >= 0 else { throw IOError.errno("signalfd") }
        signalFD = fd
        signalHandler = handler
        watch(fd, .readable) { [unowned self] _ in
            var info = signalfd_siginfo()
            while read(fd, &info, MemoryLayout<signalfd_siginfo>.size) == MemoryLayout<signalfd_siginfo>.size {
                self.signalHandler?(Int32(info.ssi_signo))
            }
        }
    }

    // MARK: Background work

    /// Runs blocking `work` (a DNS look-up) on its own thread and delivers its result to `completion`
    /// on the loop. The thread ends when the work does.
    public func background<T: Sendable>(_ work: @escaping @Sendable () -> T, completion: @escaping (T) -> Void) {
        nextToken += 1
        let token = nextToken
        completions[token] = { value in completion(value as! T) }
        let mailbox = self.mailbox
        Thread.detach { mailbox.post(token, work()) }
    }

    // MARK: Running

    /// Runs until ``stop()`` is called.
    public func run() {
        // A nested run (run(until:) in a callback) keeps a stop() asked for by the run around it.
        if !running { stopRequested = false }
        running = true
        var events = [epoll_event](repeating: epoll_event(), count: 32)
        while running {
            let timeout = nextTimeout()
            let n = epoll_wait(epfd, &events, Int32(events.count), timeout)
            wakeups += 1
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            for i in 0..<Int(n) {
                let fd = events[i].data.fd
                let raw = events[i].events
                var e: Events = []
                if raw & EPOLLIN.rawValue != 0 { e.insert(.readable) }
                if raw & EPOLLOUT.rawValue != 0 { e.insert(.writable) }
                if raw & (EPOLLHUP.rawValue | EPOLLERR.rawValue | EPOLLRDHUP.rawValue) != 0 { e.insert(.hangup) }
                // A handler may have unwatched this descriptor while handling an earlier event.
                handlers[fd]?(e)
            }
            fireTimers()
            if let w = waiting {
                let now = Instant.now()
                if now >= w.nextCheck {
                    waiting?.nextCheck = now + 10
                    if w.condition() { running = false }
                }
                if now >= w.deadline { running = false }
            }
        }
    }

    /// Runs the loop until `condition` holds or `timeout` milliseconds pass on the kernel's clock
    /// (whatever the loop's clock is), checking it after the first turn and then every 10 ms. For tests and
    /// one-shot tools. Returns whether the condition held.
    @discardableResult
    public func run(until condition: @escaping () -> Bool, timeout: Int64) -> Bool {
        if condition() { return true }
        let outer = waiting
        // Inside a callback of another run: that run goes on once this one returns, unless stop()
        // was called meanwhile.
        let wasRunning = running
        waiting = (condition, Instant.now() + timeout, Instant.now())
        run()
        waiting = outer
        running = wasRunning && !stopRequested
        return condition()
    }

    /// Makes ``run()`` return after the current iteration.
    public func stop() {
        running = false
        stopRequested = true
    }

    private func nextTimeout() -> Int32 {
        timers.removeAll { $0.action == nil }
        var ms: Int64 = -1
        if let next = timers.min(by: { $0.deadline < $1.deadline }) {
            let due = max(0, next.deadline - clock.now)
            // A manual clock reaches a deadline only through advance(by:): sleep for none but the due.
            if due == 0 || !clock.isManual { ms = due }
        }
        if let w = waiting {
            let check = max(0, w.nextCheck - Instant.now())
            ms = ms < 0 ? check : min(ms, check)
        }
        return Int32(clamping: ms)
    }

    private func fireTimers() {
        let now = clock.now
        let due = timers.filter { $0.action != nil && $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
        guard !due.isEmpty else { return }
        timers.removeAll { t in t.action == nil || due.contains { $0 === t } }
        for t in due {
            let action = t.action
            t.action = nil
            action?()
        }
    }
}

@available(*, unavailable)
extension EventLoop: Sendable {}

/// Carries results from other threads to the loop. The only thread-safe part of PerchIO.
final class Mailbox: @unchecked Sendable {
    let fd: Int32
    private var lock = pthread_mutex_t()
    private var items: [(UInt64, any Sendable)] = []

    init(fd: Int32) {
        self.fd = fd
        pthread_mutex_init(&lock, nil)
    }

    deinit { pthread_mutex_destroy(&lock) }

    /// Queues a result for the loop and wakes it.
    func post(_ token: UInt64, _ value: any Sendable) {
        pthread_mutex_lock(&lock)
        items.append((token, value))
        pthread_mutex_unlock(&lock)
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    func takeAll() -> [(UInt64, any Sendable)] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let taken = items
        items.removeAll()
        return taken
    }
}

/// A detached POSIX thread running one closure.
enum Thread {
    private final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    static func detach(_ body: @escaping @Sendable () -> Void) {
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        // getaddrinfo needs little stack; keep the thread's reservation small.
        pthread_attr_setstacksize(&attr, 256 * 1024)
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(&thread, &attr, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        pthread_attr_destroy(&attr)
        if rc != 0 {
            // No thread could be made: run inline rather than lose the work.
            Unmanaged<Box>.fromOpaque(box).takeRetainedValue().body()
        }
    }
}
