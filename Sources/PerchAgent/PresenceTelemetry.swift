import PerchHardware
import PerchIO
import PerchSensors
import XMPPClient

/// The device's state as presence, for people: a status line any client shows (`pump on · air
/// 21.4 °C`), sent when something changed but at most once per `min_interval`; `<show>dnd</show>`
/// while a sensor or a line is in error.
final class PresenceTelemetry {
    let client: XMPPClient
    let executor: CommandExecutor
    let hardware: Hardware
    let minInterval: Int64
    let enabled: Bool
    let loop: EventLoop
    private var lastSent: Instant?
    private var pending: EventLoop.Timer?
    private var lastText: (String?, String)?

    init(client: XMPPClient, executor: CommandExecutor, hardware: Hardware, minInterval: Int64, enabled: Bool, loop: EventLoop) {
        self.client = client
        self.executor = executor
        self.hardware = hardware
        self.minInterval = minInterval
        self.enabled = enabled
        self.loop = loop
    }

    func start() {
        guard enabled else { return }
        update()
    }

    /// Something changed: send now, or when min_interval allows.
    func changed() {
        guard enabled, pending == nil else { return }
        let now = Instant.now()
        let wait = lastSent.map { max(0, minInterval - (now - $0)) } ?? 0
        if wait == 0 { return update() }
        pending = loop.schedule(after: wait) { [weak self] in
            self?.pending = nil
            self?.update()
        }
    }

    func update() {
        let status = executor.statusText()
        let show: String? = healthy ? nil : "dnd"
        if let last = lastText, last.0 == show, last.1 == status { return }
        lastText = (show, status)
        lastSent = .now()
        client.setPresence(show: show, status: status)
    }

    var healthy: Bool {
        guard hardware.unavailable.isEmpty else { return false }
        for name in hardware.sensors.order {
            if case .failed(_, _)? = hardware.sensors.sensors[name]?.state { return false }
        }
        return true
    }
}
