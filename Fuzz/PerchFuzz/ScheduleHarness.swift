import PerchRules

/// The input as a TZif zone file (what TZ or /etc/localtime point at), and its lines as cron lines,
/// `at` times and POSIX TZ strings (from the configuration and the environment). Zones that load
/// must answer consistently: an instant's wall time resolves back to that instant; schedules that
/// parse must give runs after the instant asked about, and print as text that parses to the same.
func fuzzSchedule(_ data: UnsafeRawBufferPointer) {
    let bytes = Array(data)
    var zones: [TimeZoneRules] = [.utc]
    do throws(TimeZoneError) {
        let zone = try TimeZoneRules(tzif: bytes, name: "fuzz")
        check(zone, at: [0, -1, 1_700_000_000, 4_000_000_000, -3_000_000_000])
        var t: Int64 = -(1 << 35)
        var steps = 0
        while steps < 64, let next = zone.nextTransition(after: t), next < 1 << 39 {
            precondition(next > t, "transitions go forward")
            check(zone, at: [next - 1, next, next + 1])
            t = next
            steps += 1
        }
        zones.append(zone)
    } catch {
        _ = error.description
    }
    let text = String(decoding: bytes, as: UTF8.self)
    for line in text.split(separator: "\n").prefix(8) {
        let line = String(line)
        if let zone = try? TimeZoneRules(posix: line) {
            check(zone, at: [0, 1_774_746_000, 4_102_444_800])
            zones.append(zone)
        }
        var specs: [ScheduleSpec] = []
        switch CronSpec.parse(line) {
        case .success(let c):
            guard case .success(let again) = CronSpec.parse(c.text), again == c else { preconditionFailure("cron text does not parse back: \(c.text)") }
            specs.append(.cron(c))
        case .failure(let e): _ = e.description
        }
        switch ScheduleSpec.parseAt(line) {
        case .success(let s): specs.append(s)
        case .failure(let e): _ = e.description
        }
        for spec in specs {
            _ = spec.text
            for zone in zones.prefix(3) {
                let runs = spec.runs(after: 1_774_742_400, through: 1_774_742_400 + 3 * 86400, in: zone, limit: 50)
                var last: Int64 = 1_774_742_400
                for r in runs {
                    precondition(r > last, "runs go forward")
                    last = r
                }
            }
        }
    }
}

/// An instant's wall time resolves to a set of instants that includes it.
private func check(_ zone: TimeZoneRules, at instants: [Int64]) {
    for t in instants {
        let local = zone.local(t)
        precondition(local.offset == zone.offset(at: t))
        _ = zone.abbreviation(at: t)
        _ = local.text + local.dateText
        switch zone.resolve(local.dateTime) {
        case .unique(let u): precondition(u == t, "wall time of \(t) resolves to \(u)")
        case .repeated(let a, let b): precondition(a <= t && t <= b, "wall time of \(t) resolves to \(a), \(b)")
        case .skipped: preconditionFailure("wall time of \(t) resolves to a gap")
        }
    }
}
