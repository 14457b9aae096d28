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
        alertDelivery.transmit = { [unowned self] in self.transmitAccepted($0) }
        alertDelivery.makeID = { [unowned self] in self.client.makeID("a") }
        alertDelivery.isInRoom = { [unowned self] room in self.rooms.isJoined(room) }
        alertDelivery.knowsRoom = { [unowned self] room in self.rooms.knows(room) }
        rooms.onJoined = { [unowned self] _ in self.alertDelivery.flush() }
        // What waits for a room the device left, or for someone no longer named, goes now.
        rooms.onLeft = { [unowned self] _ in self.alertDelivery.dropStale() }
        presence.alertMarker = { [unowned self] in
            let names = self.automation.activeNames
            return names.isEmpty ? nil : names.joined(separator: ", ")
        }
        executor.automationCommand = { [unowned self] command, context in self.automation.command(command, context) }
        client.observeStatus { [unowned self] status in
            switch status {
            case .online:
                self.alertDelivery.online = true
                // The client has already sent again what the server did not acknowledge (before it
                // said online), so what waited here cannot overtake an alert's start sent before.
                self.alertDelivery.flush()
            default:
                // Connecting, offline or stopping: what is raised now waits.
                self.alertDelivery.online = false
            }
        }
        startAutomation()
    }

    /// Connects the automation (the first, or the one a reload made) to delivery and presence, and starts it.
    func startAutomation() {
        // Who the alerts name now; what waits for anyone else (or a room no longer known) is dropped.
        alertDelivery.named = config.alerts.isEmpty ? [.role("owners")] : config.alerts.flatMap(\.to)
        alertDelivery.dropStale()
        automation.deliver = { [unowned self] alert, event, text in
            self.alertDelivery.send(alert, event, text, now: self.loop.wallMilliseconds) { spans, times in self.automation.wasText(alert, spans: spans, times: times) }
        }
        automation.recipientsOf = { [unowned self] in self.alertDelivery.recipients($0) }
        automation.tellGoneEnd = { [unowned self] alert, recipients, text, _ in
            self.alertDelivery.sendEnd(ofGone: alert, to: recipients, text: text, now: self.loop.wallMilliseconds) { spans, times in
                self.automation.wasText(alert, condition: nil, spans: spans, times: times)
            }
        }
        automation.onActiveChange = { [unowned self] in self.presence.changed(urgent: true) }
        automation.start()
    }

    /// Sends a stanza and says whether the client took it (false: not online, or the stream is
    /// ending), for what must not be lost when it is refused (alert messages wait again).
    func transmitAccepted(_ stanza: XMLElement) -> Bool {
        client.send(stanza)
    }
}
