import PerchHTTP
import PerchIO
import PerchGPIO
import PerchSensors

/// What a reload changes: the old configuration against the new one, section by section, in words
/// for the log (`owners: +alice@example.org`, `sensor air renamed to temp`) and as the parts the
/// daemon has to touch. Line numbers in the file are not changes.
public struct ConfigurationChanges: Sendable {
    /// One line per change, for the log.
    public private(set) var lines: [String] = []
    /// Why the session has to be made again (the account, the server, the connection settings);
    /// empty: the session is kept.
    public private(set) var reconnect: [String] = []
    /// Keys whose new values are only read at start; the running daemon keeps the old ones.
    public private(set) var needsRestart: [String] = []

    public private(set) var access = false
    public private(set) var commands = false
    public private(set) var presence = false
    public private(set) var sensors = false
    /// Outputs and inputs whose line settings changed (by new name): their lines are requested again.
    public private(set) var rerequested: Set<String> = []
    /// Outputs, inputs, interlocks or safe_after changed in any way (the device is rebuilt around
    /// the lines it keeps).
    public private(set) var gpio = false
    public private(set) var automation = false
    public private(set) var rooms = false

    /// True when nothing changed.
    public var isEmpty: Bool { lines.isEmpty }

    public init(from old: Configuration, to new: Configuration) {
        compareSession(old, new)
        compareAccess(old.access, new.access)
        if old.commands.maxAge != new.commands.maxAge {
            note("commands.max_age: \(describeDuration(old.commands.maxAge)) → \(describeDuration(new.commands.maxAge))")
            commands = true
        }
        if old.commands.rateLimit != new.commands.rateLimit {
            note("commands.rate_limit: \(old.commands.rateLimit) → \(new.commands.rateLimit) a minute")
            commands = true
        }
        if old.device.allowCommands != new.device.allowCommands {
            note("device.allow_commands: \(old.device.allowCommands) → \(new.device.allowCommands)")
            sensors = true
        }
        compareTelemetry(old, new)
        compareSensors(old.device.sensors, new.device.sensors)
        if old.device.sysfsRoot != new.device.sysfsRoot || old.device.procfsRoot != new.device.procfsRoot {
            note("device.sysfs_root/procfs_root changed: the sensors are read anew")
            sensors = true
        }
        compareLines(old.device, new.device)
        compareAutomation(old, new)
        compareRooms(old.rooms, new.rooms)
        if old.log.level != new.log.level { restart("log.level") }
        if old.log.traceXML != new.log.traceXML { restart("log.trace_xml") }
    }

    /// `new` with the keys of ``needsRestart`` as they are in `old`: what the running daemon takes.
    public static func applicable(_ new: Configuration, over old: Configuration) -> Configuration {
        var c = new
        c.device.stateDirectory = old.device.stateDirectory
        c.device.name = old.device.name
        c.device.backend = old.device.backend
        c.device.simulatedDirectory = old.device.simulatedDirectory
        c.telemetry.pubsub = old.telemetry.pubsub
        c.telemetry.service = old.telemetry.service
        c.telemetry.node = old.telemetry.node
        c.telemetry.accessModel = old.telemetry.accessModel
        c.telemetry.maxItems = old.telemetry.maxItems
        c.telemetry.persist = old.telemetry.persist
        c.outbox = old.outbox
        c.log = old.log
        return c
    }

    private mutating func note(_ line: String) { lines.append(line) }

    private mutating func restart(_ key: String) {
        needsRestart.append(key)
        note("\(key) changed: it takes effect at the next restart (systemctl restart perch)")
    }

    // MARK: Sections

    private mutating func compareSession(_ old: Configuration, _ new: Configuration) {
        if old.account.jid != new.account.jid {
            reconnect.append("account.jid")
            note("account.jid: \(old.account.jid) → \(new.account.jid)")
        }
        if old.account.passwordSource != new.account.passwordSource {
            reconnect.append("account.password")
            note("account password: from \(old.account.passwordSource) → from \(new.account.passwordSource)")
        }
        let a = old.server, b = new.server
        var server: [String] = []
        if a.host != b.host { server.append("host") }
        if a.port != b.port { server.append("port") }
        if a.transport != b.transport { server.append("transport") }
        if a.url?.description != b.url?.description { server.append("url") }
        if a.boshWait != b.boshWait { server.append("bosh_wait") }
        if a.caFile != b.caFile { server.append("ca_file") }
        if a.pins != b.pins { server.append("pins") }
        if a.allowPlain != b.allowPlain { server.append("allow_plain") }
        if a.proxy != b.proxy { server.append("proxy") }
        let c = old.connection, d = new.connection
        var connection: [String] = []
        if c.pingInterval != d.pingInterval { connection.append("ping_interval") }
        if c.pingTimeout != d.pingTimeout { connection.append("ping_timeout") }
        if c.connectTimeout != d.connectTimeout { connection.append("connect_timeout") }
        if c.reconnectMax != d.reconnectMax { connection.append("reconnect_max") }
        if c.maxStanzaBytes != d.maxStanzaBytes { connection.append("max_stanza_bytes") }
        for key in server { reconnect.append("server.\(key)") }
        for key in connection { reconnect.append("connection.\(key)") }
        if !server.isEmpty { note("server: \(server.joined(separator: ", ")) changed") }
        if !connection.isEmpty { note("connection: \(connection.joined(separator: ", ")) changed") }
        if old.device.stateDirectory != new.device.stateDirectory { restart("device.state_dir") }
        if old.device.name != new.device.name { restart("device.name") }
        if old.device.backend != new.device.backend { restart("device.gpio") }
        if old.device.simulatedDirectory != new.device.simulatedDirectory { restart("device.simulated_dir") }
    }

    private mutating func compareAccess(_ old: Configuration.Access, _ new: Configuration.Access) {
        for (key, a, b) in [("owners", old.owners, new.owners), ("operators", old.operators, new.operators), ("viewers", old.viewers, new.viewers)] {
            let added = b.filter { !a.contains($0) }, removed = a.filter { !b.contains($0) }
            guard !added.isEmpty || !removed.isEmpty else { continue }
            note("\(key): " + (added.map { "+\($0)" } + removed.map { "-\($0)" }).joined(separator: ", "))
            access = true
        }
        if old.strangers != new.strangers {
            note("access.strangers: \(old.strangers.rawValue) → \(new.strangers.rawValue)")
            access = true
        }
    }

    private mutating func compareTelemetry(_ old: Configuration, _ new: Configuration) {
        let a = old.telemetry, b = new.telemetry
        if a.presence != b.presence {
            note("telemetry.presence: \(a.presence ? "on" : "off") → \(b.presence ? "on" : "off")")
            presence = true
        }
        if a.minInterval != b.minInterval {
            note("telemetry.min_interval: \(describeDuration(a.minInterval)) → \(describeDuration(b.minInterval))")
            presence = true
        }
        // The publisher, its node and the outbox are set up with the session and the database.
        if a.pubsub != b.pubsub { restart("telemetry.pubsub") }
        if a.service != b.service { restart("telemetry.service") }
        if a.node != b.node { restart("telemetry.node") }
        if a.accessModel != b.accessModel { restart("telemetry.access_model") }
        if a.maxItems != b.maxItems { restart("telemetry.max_items") }
        if a.persist != b.persist { restart("telemetry.persist") }
        let o = old.outbox, p = new.outbox
        if o.commitInterval != p.commitInterval || o.syncEveryCommit != p.syncEveryCommit || o.maxEntries != p.maxEntries
            || o.maxBytes != p.maxBytes || o.maxAge != p.maxAge { restart("outbox") }
    }

    private mutating func compareSensors(_ old: [SensorSpec], _ new: [SensorSpec]) {
        let oldNames = Set(old.map(\.name)), newNames = Set(new.map(\.name))
        var removed = old.filter { !newNames.contains($0.name) }
        var added = new.filter { !oldNames.contains($0.name) }
        // A sensor that left under one name and came under another with the same source was renamed.
        for spec in added {
            guard let i = removed.firstIndex(where: { $0.source == spec.source }) else { continue }
            note("sensor \(removed[i].name) renamed to \(spec.name)")
            removed.remove(at: i)
            added.removeAll { $0.name == spec.name }
            sensors = true
        }
        for spec in added { note("sensor \(spec.name) added (\(spec.source))"); sensors = true }
        for spec in removed { note("sensor \(spec.name) removed"); sensors = true }
        for spec in new {
            guard let before = old.first(where: { $0.name == spec.name }), before != spec else { continue }
            note("sensor \(spec.name) changed")
            sensors = true
        }
    }

    private mutating func compareLines(_ old: DeviceConfiguration, _ new: DeviceConfiguration) {
        for spec in new.outputs {
            guard let before = old.outputs.first(where: { $0.name == spec.name }) else {
                note("output \(spec.name) added on \(spec.line)")
                gpio = true
                continue
            }
            guard before != spec else { continue }
            gpio = true
            if !before.sameLineSettings(spec) {
                rerequested.insert(spec.name)
                note("output \(spec.name): line settings changed (\(before.line) → \(spec.line)\(spec.activeLow ? ", active-low" : "")); its line is requested again")
            } else {
                note("output \(spec.name) changed (its line and state are kept)")
            }
        }
        for spec in old.outputs where !new.outputs.contains(where: { $0.name == spec.name }) {
            note("output \(spec.name) removed (its line is released)")
            gpio = true
        }
        for spec in new.inputs {
            guard let before = old.inputs.first(where: { $0.name == spec.name }) else {
                note("input \(spec.name) added on \(spec.line)")
                gpio = true
                continue
            }
            guard before != spec else { continue }
            gpio = true
            if !before.sameLineSettings(spec) {
                rerequested.insert(spec.name)
                note("input \(spec.name): line settings changed; its line is requested again")
            } else {
                note("input \(spec.name) changed (its line is kept)")
            }
        }
        for spec in old.inputs where !new.inputs.contains(where: { $0.name == spec.name }) {
            note("input \(spec.name) removed (its line is released)")
            gpio = true
        }
        if old.interlocks != new.interlocks { note("interlocks changed"); gpio = true }
        if old.safeAfter != new.safeAfter { note("safe_after changed"); gpio = true }
    }

    private mutating func compareAutomation(_ old: Configuration, _ new: Configuration) {
        compareNamed("alert", old.alerts.map(\.unplaced), new.alerts.map(\.unplaced), name: \.name)
        compareNamed("rule", old.rules.map(\.unplaced), new.rules.map(\.unplaced), name: \.name)
        compareNamed("schedule", old.schedules.map(\.unplaced), new.schedules.map(\.unplaced), name: \.name)
    }

    private mutating func compareNamed<T: Equatable>(_ what: String, _ old: [T], _ new: [T], name: (T) -> String) {
        for item in new {
            guard let before = old.first(where: { name($0) == name(item) }) else {
                note("\(what) \(name(item)) added")
                automation = true
                continue
            }
            if before != item {
                note("\(what) \(name(item)) changed")
                automation = true
            }
        }
        for item in old where !new.contains(where: { name($0) == name(item) }) {
            note("\(what) \(name(item)) removed")
            automation = true
        }
    }

    private mutating func compareRooms(_ old: [RoomConfiguration], _ new: [RoomConfiguration]) {
        for room in new {
            guard let before = old.first(where: { $0.jid == room.jid }) else {
                note("room \(room.jid) added")
                rooms = true
                continue
            }
            if before.unplaced != room.unplaced {
                note("room \(room.jid) changed")
                rooms = true
            }
        }
        for room in old where !new.contains(where: { $0.jid == room.jid }) {
            note("room \(room.jid) removed (the device leaves it)")
            rooms = true
        }
    }
}
