import PerchConfig
import PerchGPIO
import PerchIO
import PerchLog
import PerchRules
import PerchSensors
import XMPPAddress
import XMPPClient
import XMPPCore

extension Agent {
    /// Connects the alerts, rules and schedules to the session: messages through ``AlertDelivery``,
    /// active alerts into presence, the chat and ad-hoc commands.
    func installAutomation() {
        // Installed whatever the configuration says: messages from before a restart still go, and a
        // reload may bring alerts.
        alertDelivery.transmit = { [unowned self] in self.transmit($0) }
        alertDelivery.makeID = { [unowned self] in self.client.makeID("a") }
        alertDelivery.isInRoom = { [unowned self] room in self.rooms.isJoined(room) }
        rooms.onJoined = { [unowned self] _ in self.alertDelivery.flush() }
        presence.alertMarker = { [unowned self] in
            let names = self.automation.activeNames
            return names.isEmpty ? nil : names.joined(separator: ", ")
        }
        executor.automationCommand = { [unowned self] command, context in self.automation.command(command, context) }
        client.observeStatus { [unowned self] status in
            switch status {
            case .online:
                self.alertDelivery.online = true
                // On the next turn: after the client has sent again what the server did not
                // acknowledge, so an alert's live start never arrives after its waiting end.
                self.loop.schedule(after: 0) { [weak self] in self?.alertDelivery.flush() }
            default:
                // Connecting, offline or stopping: what is raised now waits.
                self.alertDelivery.online = false
            }
        }
        startAutomation()
    }

    /// Connects the automation (the first, or the one a reload made) to delivery and presence, and starts it.
    func startAutomation() {
        automation.deliver = { [unowned self] alert, event, text in
            self.alertDelivery.send(alert, event, text, now: self.loop.wallMilliseconds) { start in self.automation.wasText(alert, start: start) }
        }
        automation.onActiveChange = { [unowned self] in self.presence.changed(urgent: true) }
        automation.start()
    }
}
