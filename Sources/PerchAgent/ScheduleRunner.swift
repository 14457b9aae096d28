import Glibc
import PerchConfig
import PerchGPIO
import PerchIO
import PerchLog
import PerchRules
import PerchSensors
import XMPPAddress
import XMPPCore

/// Runs the `[[schedule]]`s at their times on the wall clock, in the system's time zone.
///
/// Each schedule has one timer on the loop, set for its next run. What has been run is kept in
/// `state_dir/schedules` (each schedule's last run), so that:
/// - a run missed while the daemon was down is skipped, unless `catch_up` allows it that late (then it
///   runs once at start, however many were missed);
/// - when the wall clock is set (NTP at boot on a board without a real-time clock, by hours or years),
///   every schedule is planned again from the new time: runs the clock jumped over count as missed
///   (catch_up decides), and a clock set back never runs a schedule again for a time already run.
/// Daylight-saving days follow ``ScheduleSpec``: a time in the spring-forward gap runs when the gap
/// ends, a time that happens twice runs at its first occurrence.
final class ScheduleRunner {
    struct Entry {
        let config: ScheduleConfiguration
        /// The wall time (ms) every run up to which has been run or skipped.
        var doneThrough: Int64
        /// The next run's wall time (ms).
        var next: Int64?
        /// A saved last run far ahead of the clock, set aside at the start: the clock may be the one
        /// that is wrong (a board without a real-time clock before NTP), and once it is set near that
        /// time, nothing already run is run again.
        var savedAhead: Int64?
        var timer: EventLoop.Timer?
    }

    let loop: EventLoop
    let zone: TimeZoneRules
    let logger: Logger
    let path: String
    private(set) var entries: [Entry] = []
    /// Runs a schedule's command; `late`: how late a caught-up run is (ms).
    var run: ((ScheduleConfiguration, _ late: Int64?) -> Void)?
    /// A timer firing this early (ms) is still on time (the loop's timers have a millisecond's grain).
    static let slack: Int64 = 1_000
    /// A timer firing this late (ms) is still on time: a loop busy for a moment (a slow write, a TLS
    /// handshake on a small board) must not make a schedule without catch_up skip its run.
    static let lateSlack: Int64 = 60_000
    /// A saved last run further ahead of the clock than this (ms) was saved by a wrong clock.
    static let futureLimit: Int64 = 86_400_000

    init(schedules: [ScheduleConfiguration], loop: EventLoop, zone: TimeZoneRules, logger: Logger, path: String) {
        self.loop = loop
        self.zone = zone
        self.logger = logger
        self.path = path
        entries = schedules.map { Entry(config: $0, doneThrough: 0) }
    }

    var isEmpty: Bool { entries.isEmpty }

    func start() {
        guard !entries.isEmpty else { return }
        let saved = load()
        let now = loop.wallMilliseconds
        for i in entries.indices {
            if let last = saved[entries[i].config.name], last > now + Self.futureLimit {
                // Saved while the clock was wrong (far ahead): it would hold the schedule back until
                // then. Set aside, in case it is the clock now that is wrong.
                let t = zone.local(last / 1000)
                logger.warning("schedule \(entries[i].config.name): its last run is saved as \(t.dateText) \(t.text), more than a day ahead of the clock: the clock was wrong when it was saved, or is wrong now (check NTP); planning from now (and from that run, if the clock is set to its time)")
                entries[i].doneThrough = now
                entries[i].savedAhead = last
            } else if let last = saved[entries[i].config.name] {
                // A last run a little later than now (the clock is behind) is kept: nothing runs twice.
                entries[i].doneThrough = last
                if last < now { catchUp(i, now: now, why: "while the daemon was down") }
            } else {
                entries[i].doneThrough = now
            }
            plan(i)
        }
        save()
        loop.observeWallClockChanges { [weak self] in self?.wallClockSet() }
        logger.info("schedules in \(zone.name) time: " + entries.map { "\($0.config.name) next \(nextText($0))" }.joined(separator: ", "))
    }

    func nextText(_ e: Entry) -> String {
        guard let next = e.next else { return "never" }
        let t = zone.local(next / 1000)
        return "\(t.dateText) \(t.text) \(zone.abbreviation(at: next / 1000))"
    }

    /// Runs missed since `doneThrough` are run once, late, if catch_up allows the latest of them.
    private func catchUp(_ i: Int, now: Int64, why: String) {
        let e = entries[i]
        let missed = e.config.timing.runs(after: e.doneThrough / 1000, through: now / 1000, in: zone).map { $0 * 1000 }
        guard !missed.isEmpty, let latest = latestRun(e.config.timing, after: e.doneThrough, through: now) else { return }
        entries[i].doneThrough = now
        let late = now - latest
        let when = zone.local(latest / 1000)
        if let window = e.config.catchUp, late <= window {
            logger.notice("schedule \(e.config.name): the run of \(when.dateText) \(when.text) was missed \(why); running it now, \(describeDuration(late)) late (catch_up \(describeDuration(window)))")
            run?(e.config, late)
        } else {
            let count = missed.count == 1 ? "the run of \(when.dateText) \(when.text)" : "\(missed.count < 1000 ? "\(missed.count)" : "more than 1000") runs up to \(when.dateText) \(when.text)"
            let hint = e.config.catchUp.map { "it is \(describeDuration(late)) late, more than catch_up \(describeDuration($0))" } ?? "set catch_up to run a missed run late"
            logger.notice("schedule \(e.config.name): skipped \(count), missed \(why) (\(hint))")
        }
    }

    /// The last run in (`after`, `through`] (wall ms), found in a window that widens from an hour back
    /// and narrows while it holds more runs than `runs` lists: a board that was down for days, or
    /// whose clock jumped from 1970, must not judge catch_up by the thousandth run after the last.
    func latestRun(_ timing: ScheduleSpec, after: Int64, through: Int64) -> Int64? {
        var span: Int64 = 3_600_000
        while true {
            let from = max(after, through - span)
            let found = timing.runs(after: from / 1000, through: through / 1000, in: zone)
            if found.count >= 1000, span > 60_000 {
                span /= 4
                continue
            }
            if let last = found.last { return last * 1000 }
            if from == after { return nil }
            span *= 8
        }
    }

    private func plan(_ i: Int) {
        entries[i].timer?.cancel()
        let now = loop.wallMilliseconds
        let base = max(now, entries[i].doneThrough)
        guard let next = entries[i].config.timing.nextRun(after: base / 1000, in: zone) else {
            entries[i].next = nil
            logger.warning("schedule \(entries[i].config.name): \(entries[i].config.timing.text) never comes; it does not run")
            return
        }
        entries[i].next = next * 1000
        entries[i].timer = loop.schedule(after: max(0, next * 1000 - now)) { [weak self] in self?.due(i) }
    }

    private func due(_ i: Int) {
        guard let next = entries[i].next else { return }
        let now = loop.wallMilliseconds
        // The timer runs on the monotonic clock: a wall clock set back meanwhile makes it early.
        guard now >= next - Self.slack else { return plan(i) }
        // Late (the system was suspended, or the loop busy): the runs since are missed, catch_up
        // decides whether the latest runs now.
        if now > next + Self.lateSlack {
            entries[i].doneThrough = min(entries[i].doneThrough, next - 1)
            catchUp(i, now: now, why: "while the timer was late (the system suspended or busy)")
            entries[i].doneThrough = max(entries[i].doneThrough, now)
            save()
            return plan(i)
        }
        entries[i].doneThrough = max(next, min(now, next + Self.slack))
        save()
        run?(entries[i].config, nil)
        plan(i)
    }

    /// The wall clock was set: plan every schedule from the new time.
    private func wallClockSet() {
        let now = loop.wallMilliseconds
        logger.notice("the system clock was set (now \(zone.local(now / 1000).dateText) \(zone.local(now / 1000).text) \(zone.name)); schedules are planned again from it")
        for i in entries.indices {
            entries[i].timer?.cancel()
            // The clock was the wrong one: the saved last run holds again.
            if let ahead = entries[i].savedAhead, now >= ahead - Self.futureLimit {
                entries[i].doneThrough = max(entries[i].doneThrough, ahead)
                entries[i].savedAhead = nil
            }
            if now > entries[i].doneThrough { catchUp(i, now: now, why: "when the clock jumped") }
            plan(i)
        }
        save()
    }

    // MARK: The file

    /// `name<TAB>wall ms` a line.
    private func load() -> [String: Int64] {
        guard fileExists(path) else { return [:] }
        guard let text = readTextFile(path, limit: 256 * 1024) else {
            logger.warning("cannot read the schedules' last runs from \(path); runs missed while the daemon was down are not caught up this time")
            return [:]
        }
        var out: [String: Int64] = [:]
        var unreadable = 0
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            guard parts.count == 2, let ms = Int64(parts[1]) else {
                unreadable += 1
                continue
            }
            out[String(parts[0])] = ms
        }
        if unreadable > 0 { logger.warning("skipped \(unreadable) unreadable line\(unreadable == 1 ? "" : "s") in \(path)") }
        return out
    }

    private func save() {
        let text = entries.map { "\($0.config.name)\t\($0.doneThrough)\n" }.joined()
        do { try writeFileAtomically(path, Array(text.utf8), mode: 0o600, sync: false) } catch {
            logger.warning("cannot save the schedules' last runs to \(path) (\(error.message)); after a restart catch_up may run one again")
        }
    }
}
