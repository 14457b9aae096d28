public import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import PerchRules
import PerchSensors
import XMPPAddress
import XMPPClient

extension Agent {
    /// Takes a reloaded configuration without touching the session: the access lists, the command
    /// settings, presence telemetry, the chat words, the alerts, rules and schedules, and the rooms.
    /// The daemon has checked the file and reloaded the hardware (``Hardware/reload(_:rerequest:)``)
    /// first; the account and server are its business. Returns a line per thing done beyond the
    /// changes themselves (rooms joined or left, subscriptions taken back), for the log.
    @discardableResult
    public func reload(_ new: Configuration, _ changes: ConfigurationChanges) -> [String] {
        let old = config
        config = new
        var said: [String] = []
        if old.account.jid != new.account.jid {
            // Our own account's other resources are owners; the delay stamps say who we are.
            executor.policy.selfJID = new.account.jid
            alertDelivery.selfJID = new.account.jid.bare
            boundJIDs.insert(new.account.jid)
        }
        if changes.access {
            executor.policy.owners = new.access.owners
            executor.policy.operators = new.access.operators
            executor.policy.viewers = new.access.viewers
            for jid in guests.jids where executor.policy.role(of: jid) == .stranger { executor.policy.viewers.append(.jid(jid)) }
            // Whoever has a role again may lose it again (and be told so) at a later reload.
            revoked = revoked.filter { executor.policy.role(of: $0) == .stranger }
            // Those who lost their role lose the device's presence, as at login; offline, at the
            // next session (a resumed one brings no roster of its own).
            if case .online = client.status {
                let before = revoked
                revokeUnwanted(Array(client.roster.items.values))
                let taken = revoked.subtracting(before)
                if !taken.isEmpty { said.append("took back the presence subscription of \(taken.map(\.description).sorted().joined(separator: ", "))") }
            } else {
                revokeOnNextSession = true
            }
        }
        if changes.commands { executor.settings = new.commands }
        chatOutputs = Set(new.device.outputs.map { $0.name.lowercased() })
        chatReadings = Set(new.device.sensors.map { $0.name.lowercased() } + new.device.inputs.map { $0.name.lowercased() })
        presence.reconfigure(minInterval: new.telemetry.minInterval, enabled: new.telemetry.presence, sensors: Set(new.device.sensors.map(\.name)))
        if changes.automation || changes.sensors || changes.gpio {
            // A new automation on the same state files: alerts still on are taken up, not told
            // again (as across a restart); a person's switches keep holding their outputs.
            // The zone was read only if something used it (schedules, alert times).
            let usedZone = !(old.schedules.isEmpty && old.alerts.isEmpty) || givenZone != nil
            let zone = usedZone ? automation.zone : Self.zone(givenZone, for: new, logger: logger)
            let replaced = automation
            automation = Automation(config: new, executor: executor, hardware: hardware, loop: loop, logger: replaced.logger, zone: zone)
            automation.takeOver(from: replaced)
            adHoc.reconfigure(alerts: new.alerts.map(\.name), rules: !(new.rules.isEmpty && new.schedules.isEmpty))
            startAutomation()
            // Sensors keep their last readings: new alerts and rules on them need not wait a sample.
            for sensor in new.device.sensors { automation.changed(sensor.name) }
        }
        if changes.rooms { said += rooms.reconfigure(new.rooms) }
        if changes.gpio {
            if case .online = client.status {} else { rescheduleSafeStates() }
        }
        // The status line names the outputs, inputs and sensors as they are now.
        presence.changed(urgent: true)
        return said
    }
}
