import TOML
import XMPPAddress

extension ConfigurationLoader {
    /// `[commands]`, `[telemetry]` and `[outbox]`.
    func parseAgent(_ root: TOMLTable, _ r: Reader, _ config: inout Configuration) throws(ConfigurationError) {
        if let t = try r.table(root, "commands") {
            try r.allowOnly(t, ["max_age", "rate_limit"], prefix: "commands.")
            config.commands.maxAge = try r.duration(t, "max_age", prefix: "commands.", range: 1_000...86_400_000) ?? config.commands.maxAge
            if let n = try r.integer(t, "rate_limit", prefix: "commands.") {
                guard (0...6000).contains(n) else { throw r.error(t["rate_limit"], "commands.rate_limit", "must be between 0 (no limit) and 6000 commands a minute") }
                config.commands.rateLimit = Int(n)
            }
        }
        if let t = try r.table(root, "telemetry") {
            let p = "telemetry."
            try r.allowOnly(t, ["presence", "min_interval", "pubsub", "service", "node", "access_model", "max_items", "persist"], prefix: p)
            var tel = config.telemetry
            tel.presence = try r.bool(t, "presence", prefix: p) ?? tel.presence
            tel.minInterval = try r.duration(t, "min_interval", prefix: p, range: 1_000...86_400_000) ?? tel.minInterval
            if let s = try r.choice(t, "pubsub", prefix: p, ["none", "pep", "service"]) { tel.pubsub = .init(rawValue: s)! }
            tel.service = try r.string(t, "service", prefix: p)
            tel.node = try r.string(t, "node", prefix: p)
            tel.accessModel = try r.choice(t, "access_model", prefix: p, ["open", "presence", "roster", "whitelist"]) ?? tel.accessModel
            if let n = try r.integer(t, "max_items", prefix: p) {
                guard (1...10_000).contains(n) else { throw r.error(t["max_items"], p + "max_items", "must be between 1 and 10000") }
                tel.maxItems = Int(n)
            }
            tel.persist = try r.bool(t, "persist", prefix: p) ?? tel.persist
            if tel.pubsub == .service && tel.service == nil {
                throw ConfigurationError(file: file, line: t.line, key: p + "service", "is required with pubsub = \"service\" (the pubsub service's address, e.g. pubsub.example.org)")
            }
            if tel.pubsub == .service, let s = tel.service, (try? JID(s)) == nil {
                throw r.error(t["service"], p + "service", "\"\(s)\" is not a valid JID")
            }
            if tel.pubsub != .none && tel.node == nil {
                tel.node = "urn:xmpp:perch:readings:0"
            }
            config.telemetry = tel
        }
    }

    func parseOutbox(_ root: TOMLTable, _ r: Reader, _ config: inout Configuration) throws(ConfigurationError) {
        guard let t = try r.table(root, "outbox") else { return }
        let p = "outbox."
        try r.allowOnly(t, ["commit_interval", "durability", "max_entries", "max_megabytes", "max_age"], prefix: p)
        var o = config.outbox
        o.commitInterval = try r.duration(t, "commit_interval", prefix: p, range: 0...300_000) ?? o.commitInterval
        if let d = try r.choice(t, "durability", prefix: p, ["process", "power"]) { o.syncEveryCommit = d == "power" }
        if let n = try r.integer(t, "max_entries", prefix: p) {
            guard (100...10_000_000).contains(n) else { throw r.error(t["max_entries"], p + "max_entries", "must be between 100 and 10000000") }
            o.maxEntries = Int(n)
        }
        if let n = try r.integer(t, "max_megabytes", prefix: p) {
            guard (1...4096).contains(n) else { throw r.error(t["max_megabytes"], p + "max_megabytes", "must be between 1 and 4096") }
            o.maxBytes = Int(n) << 20
        }
        o.maxAge = try r.duration(t, "max_age", prefix: p, range: 60_000...(366 * 86_400_000)) ?? o.maxAge
        config.outbox = o
    }
}
