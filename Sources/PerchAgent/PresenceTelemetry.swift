import PerchHardware
import PerchIO
import PerchSensors
import XMPPClient

/// The device's state as presence, for people: a short status line any client shows (`pump on ·
/// door closed · air 21.4 °C`). A switch or an input change goes out at once (a burst within
/// ``coalesce`` becomes one presence); sensor readings, which are noise to a roster, at most once
/// per `min_interval`. `<show>dnd</show>` while a sensor or a line is in error.
final class PresenceTelemetry {
    let executor: CommandExecutor
    let hardware: Hardware
    var minInterval: Int64
    var enabled: Bool
    let loop: EventLoop
    /// The active alerts' names, shown first in the status line with `<show>away</show>`; nil: none.
    var alertMarker: () -> String? = { nil }
    /// How a presence goes out (the client; a test records it instead).
    var send: (_ show: String?, _ status: String) -> Void
    /// Switches and input changes this close together go out as one presence.
    static let coalesce: Int64 = 150
    private var lastSent: Instant?
    private var pending: EventLoop.Timer?
    /// When the pending presence is due.
    private var pendingDue: Instant?
    private var lastText: (String?, String)?
    /// Sensors that have had a reading since start: the first one of each goes out with the
    /// switches, so the line does not wait a min_interval to show what was read at start.
    private var read: Set<String> = []

    /// Takes `telemetry.presence` and `min_interval` from a reloaded configuration, and forgets the
    /// sensors that are gone (a renamed one is new: its first reading shows at once).
    func reconfigure(minInterval: Int64, enabled: Bool, sensors: Set<String>) {
        self.minInterval = minInterval
        read = read.intersection(sensors)
        let wasEnabled = self.enabled
        self.enabled = enabled
        if enabled && !wasEnabled { update() }
    }

    /// A sensor was read: at once the first time, else as min_interval allows.
    func reading(_ sensor: String) {
        changed(urgent: read.insert(sensor).inserted)
    }

    init(client: XMPPClient, executor: CommandExecutor, hardware: Hardware, minInterval: Int64, enabled: Bool, loop: EventLoop) {
        self.executor = executor
        self.hardware = hardware
        self.minInterval = minInterval
        self.enabled = enabled
        self.loop = loop
        send = { [unowned client] show, status in client.setPresence(show: show, status: status) }
    }

    func start() {
        guard enabled else { return }
        update()
    }

    /// Something changed. `urgent` (an output switched, an input moved): within ``coalesce``,
    /// whatever min_interval says; otherwise (a reading) when min_interval allows.
    func changed(urgent: Bool = false) {
        guard enabled else { return }
        let now = loop.now
        let wait = urgent ? Self.coalesce : lastSent.map { max(0, minInterval - (now - $0)) } ?? 0
        let due = now + wait
        if let pendingDue, pendingDue <= due { return }
        pending?.cancel()
        if wait == 0 {
            pending = nil
            pendingDue = nil
            return update()
        }
        pendingDue = due
        pending = loop.schedule(after: wait) { [weak self] in
            self?.pending = nil
            self?.pendingDue = nil
            self?.update()
        }
    }

    func update() {
        let alert = alertMarker()
        let status = alert.map { "⚠ \($0) · " + executor.presenceText() } ?? executor.presenceText()
        let show: String? = alert != nil ? "away" : healthy ? nil : "dnd"
        if let last = lastText, last.0 == show, last.1 == status { return }
        lastText = (show, status)
        lastSent = loop.now
        send(show, status)
    }

    var healthy: Bool {
        guard hardware.unavailable.isEmpty else { return false }
        for name in hardware.sensors.order {
            if case .failed(_, _)? = hardware.sensors.sensors[name]?.state { return false }
        }
        return true
    }
}
