import Foundation
import Testing
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore

/// Alerts and rules end to end: the daemon (its own process, on the simulated GPIO chip) reads a
/// `file` sensor `air` every second from DIR/air, which the test writes; an `[[alert]]` hot (air > 30,
/// clear below 28) goes to the owner (peer) or to a room, a `[[rule]]` cool (air > 28) switches the
/// output fan. Against each server; the outage test kills a server of its own.
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct AlertTests {
    static var servers: [ITServer] { (IT.prosody ? [ITServer.prosody] : []) + (IT.ejabberd ? [ITServer.ejabberd] : []) }

    /// The device's name: every alert's text starts with it.
    static let device = "alertbox"

    static func hotAlert(to: String = "\"owners\"") -> String {
        """
        [[alert]]
        name = "hot"
        when = "air > 30"
        clear = "air < 28"
        to = [\(to)]
        """
    }

    static func coolRule(override: String? = nil) -> String {
        """
        [[rule]]
        name = "cool"
        when = "air > 28"
        do = "fan on"
        else = "fan off"
        \(override.map { "override = \"\($0)\"" } ?? "")
        """
    }

    /// A daemon as perch@DOMAIN/board named alertbox, with the output fan, the sensor air (starting at
    /// `air`) and `automation` ([[alert]], [[rule]] and [[room]] tables); waits until it is online and
    /// has read the sensor once.
    static func alertBoard(_ server: ITServer, port: Int? = nil, automation: String, connection: String = "", air: Int = 25) throws -> DaemonProcess {
        let d = server.domain
        let config = """
        [account]
        jid = "perch@\(d)/board"
        password_file = "@DIR@/password"
        [server]
        host = "127.0.0.1"
        port = \(port ?? server.port)
        ca_file = "\(IT.caFile)"
        \(connection)
        [access]
        owners = ["peer@\(d)"]
        [telemetry]
        min_interval = "1s"
        [device]
        name = "\(device)"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        [[output]]
        name = "fan"
        line = "fan"
        min_switch_interval = "0ms"
        [[sensor]]
        name = "air"
        source = "file"
        path = "@DIR@/air"
        unit = "°C"
        interval = "1s"
        precision = 0
        \(automation)
        """
        let daemon = try DaemonProcess(config: config, password: "perch-secret", setup: { dir in
            try "\(air)\n".write(toFile: "\(dir)/air", atomically: true, encoding: .utf8)
        })
        #expect(daemon.waitFor("online as perch@\(d)/board"), "log:\n\(daemon.log)")
        #expect(daemon.waitFor(" watch air"), "log:\n\(daemon.log)")
        // The first reading, taken at start (and evaluated with it): a later value is a change.
        #expect(daemon.waitFor("sensor air: \(air) °C"), "log:\n\(daemon.log)")
        return daemon
    }

    /// Writes the sensor's file (atomically: the daemon never reads half a number).
    static func alertSetAir(_ daemon: DaemonProcess, _ value: Int) throws {
        try "\(value)\n".write(toFile: "\(daemon.dir)/air", atomically: true, encoding: .utf8)
    }

    /// `HH:MM` of `date` in the local time zone, as the daemon writes times in its messages.
    static func alertClock(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone.current
        f.dateFormat = "HH:mm"
        return f.string(from: date)
    }

    /// The clock texts a message about something at `date` may carry (the sample comes up to a
    /// second or two later, perhaps in the next minute).
    static func alertClocks(_ date: Date) -> Set<String> {
        [alertClock(date), alertClock(date.addingTimeInterval(2.5))]
    }

    /// How many times the daemon's log says `text`.
    static func alertCount(_ daemon: DaemonProcess, _ text: String) -> Int {
        daemon.log.components(separatedBy: text).count - 1
    }

    /// The daemon's own delay stamp on `message` (Unix ms): the one its bare JID wrote, not a server's.
    static func alertStamp(_ message: XMLElement, by jid: String) -> Int64? {
        Delay.all(in: message).first { $0.from.map { (try? JID($0))?.bare.description == jid } ?? false }?.stamp
    }

    static func alertHasHints(_ m: XMLElement) -> Bool {
        m.child("store", namespace: "urn:xmpp:hints") != nil && m.child("perch", namespace: "urn:perch:reply") != nil
    }

    // MARK: The owner

    /// The owner hears the alert within 2 s of the crossing, and its end; nothing is said twice, a
    /// value between clear and when changes nothing, and presence shows the alert while it is on.
    @Test(arguments: servers)
    func anAlertReachesTheOwnerOnceAndItsEndToo(_ server: ITServer) throws {
        let daemon = try Self.alertBoard(server, automation: Self.hotAlert())
        let bare = "perch@\(server.domain)"
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        // The owner subscribes to the device's presence (approved: an owner).
        owner.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": bare]))
        let calm = owner.waitFor { $0.isAlertPresence(from: bare) && $0.child("status")?.text.contains("air 25 °C") == true }
        #expect(calm != nil && calm?.child("show") == nil, "\(String(describing: calm)); log:\n\(daemon.log)")
        #expect(calm?.child("status")?.text.hasPrefix("⚠") == false)

        // The crossing.
        let seen = owner.received.count
        let crossed = Date()
        try Self.alertSetAir(daemon, 31)
        let start = owner.alertNext(since: seen, from: bare, timeout: 5_000)
        let took = Date().timeIntervalSince(crossed)
        #expect(start != nil, "no alert; log:\n\(daemon.log)")
        #expect(took < 2, "the alert took \(took) s")
        if let start {
            let body = start.child("body")?.text ?? ""
            #expect(Self.alertClocks(crossed).contains { body == "⚠ \(Self.device): hot: air 31 °C (air > 30) since \($0)" }, "\(body)")
            #expect(start.stanzaType == "chat", "\(start)")
            #expect(Self.alertHasHints(start), "the store hint and the reply marker: \(start)")
            #expect(Delay.all(in: start).isEmpty, "a live alert carries no delay: \(start)")
        }
        let away = owner.alertWaitFor(since: seen, timeout: 3_000) { $0.isAlertPresence(from: bare) && $0.child("show")?.text == "away" }
        #expect(away?.child("status")?.text.hasPrefix("⚠ hot · ") == true, "\(String(describing: away)); log:\n\(daemon.log)")
        let list = try owner.alertSay("alerts", to: "\(bare)/board")
        #expect(list?.hasPrefix("1 alert on\nhot: ON since ") == true, "\(String(describing: list))")
        #expect(list?.contains("air 31 °C") == true, "\(String(describing: list))")

        // Still hot, then between clear and when: nothing more is said.
        owner.idle(2_500)
        try Self.alertSetAir(daemon, 29)
        owner.idle(2_000)
        #expect(owner.alertMessages(since: seen, from: bare).count == 1, "\(owner.alertMessages(since: seen, from: bare).map { $0.child("body")?.text ?? "" })")
        #expect(Self.alertCount(daemon, "alert hot started") == 1 && Self.alertCount(daemon, "alert hot ended") == 0, "log:\n\(daemon.log)")

        // The clear.
        let seenOn = owner.received.count
        let cleared = Date()
        try Self.alertSetAir(daemon, 27)
        let end = owner.alertNext(since: seenOn, from: bare, timeout: 5_000)
        let tookEnd = Date().timeIntervalSince(cleared)
        #expect(end != nil, "no end; log:\n\(daemon.log)")
        #expect(tookEnd < 2, "the end took \(tookEnd) s")
        if let end {
            let body = end.child("body")?.text ?? ""
            #expect(body.hasPrefix("✓ \(Self.device): hot is over: air 27 °C; it lasted "), "\(body)")
            #expect(Self.alertClocks(crossed).contains { body.contains("(\($0)") } && Self.alertClocks(cleared).contains { body.contains("–\($0)") }, "\(body)")
            #expect(end.stanzaType == "chat" && Self.alertHasHints(end), "\(end)")
        }
        // (A reading's presence may go out just before the alert's end is evaluated: "⚠ hot · air 27 °C",
        // then, 150 ms later, the line without the alert.)
        let back = owner.alertWaitFor(since: seenOn, timeout: 3_000) {
            $0.isAlertPresence(from: bare) && $0.child("show") == nil && $0.child("status")?.text.contains("air 27 °C") == true
        }
        #expect(back != nil, "log:\n\(daemon.log)")
        #expect(back?.child("status")?.text.contains("⚠") == false, "\(String(describing: back))")

        // No repeats of the end either.
        owner.idle(2_500)
        let all = owner.alertMessages(since: seen, from: bare)
        #expect(all.count == 2, "\(all.map { $0.child("body")?.text ?? "" })")
        let after = try owner.alertSay("alerts", to: "\(bare)/board")
        #expect(after == "no alert is on\nhot: off (air > 30; to owners); air 27 °C", "\(String(describing: after))")
        #expect(daemon.terminate() == 0)
    }

    /// Muted, an alert is not told, but presence still shows it; unmuted while it is on, it is told at
    /// once, with the time it started.
    @Test(arguments: servers)
    func aMutedAlertIsToldWhenUnmuted(_ server: ITServer) throws {
        let daemon = try Self.alertBoard(server, automation: Self.hotAlert())
        let bare = "perch@\(server.domain)"
        let board = "\(bare)/board"
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        owner.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": bare]))
        let muted = try owner.alertSay("mute hot 1h", to: board)
        #expect(muted?.hasPrefix("hot muted for everyone for 1 h, until ") == true, "\(String(describing: muted))")
        #expect(daemon.log.contains("peer@\(server.domain) muted hot for 1 h"), "log:\n\(daemon.log)")
        let seen = owner.received.count
        let crossed = Date()
        try Self.alertSetAir(daemon, 31)
        // Muted or not, presence shows it.
        let away = owner.alertWaitFor(since: seen, timeout: 5_000) { $0.isAlertPresence(from: bare) && $0.child("show")?.text == "away" }
        #expect(away?.child("status")?.text.hasPrefix("⚠ hot · ") == true, "\(String(describing: away)); log:\n\(daemon.log)")
        owner.idle(1_500)
        #expect(owner.alertMessages(since: seen, from: bare).isEmpty, "a muted alert was told")
        let list = try owner.alertSay("alerts", to: board)
        #expect(list?.hasPrefix("1 alert on\nhot: ON since ") == true && list?.contains(" · muted until ") == true, "\(String(describing: list))")

        #expect(try owner.alertSay("unmute hot", to: board) == "hot unmuted")
        let told = owner.alertNext(since: seen, from: bare, timeout: 3_000)
        let body = told?.child("body")?.text ?? ""
        #expect(Self.alertClocks(crossed).contains { body == "⚠ \(Self.device): hot: air 31 °C (air > 30) since \($0)" }, "\(body); log:\n\(daemon.log)")
        #expect(try owner.alertSay("unmute hot", to: board) == "hot is not muted")
        try Self.alertSetAir(daemon, 27)
        let end = owner.alertNext(since: seen, from: bare, count: 2, timeout: 5_000)
        #expect(end?.child("body")?.text.hasPrefix("✓ \(Self.device): hot is over: ") == true, "\(String(describing: end))")
        owner.idle(1_500)
        #expect(owner.alertMessages(since: seen, from: bare).count == 2)
        #expect(daemon.terminate() == 0)
    }

    // MARK: A room

    /// An alert to a room with alerts = true: a group chat line there, and no chat message to anyone;
    /// raised while the network is cut (a proxy: the server keeps the session and the device in the
    /// room), the line waits and goes to the room when the device is back.
    @Test(arguments: servers)
    func anAlertToARoomIsAGroupChatLine(_ server: ITServer) throws {
        let proxy = try TCPProxy(port: server.name == "Prosody" ? 15456 : 15466, target: server.port)
        defer { proxy.stop() }
        let room = RoomTests.room(server, "alerts")
        let bare = "perch@\(server.domain)"
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        try owner.createRoom(room, nick: "owner", whois: "anyone")
        let rooms = "[[room]]\njid = \"\(room)\"\nalerts = true\n"
        let connection = "[connection]\nreconnect_max = \"10s\""
        let daemon = try Self.alertBoard(server, port: proxy.port, automation: rooms + Self.hotAlert(to: "\"\(room)\""), connection: connection)
        #expect(daemon.waitFor("joined the room \(room) as \(Self.device)"), "log:\n\(daemon.log)")
        owner.idle(500)
        let occupant = "\(room)/\(Self.device)"
        func line(since seen: Int, _ prefix: String) -> XMLElement? {
            owner.alertWaitFor(since: seen, timeout: 5_000) { m in
                m.name == "message" && m.stanzaType == "groupchat" && m.from?.description == occupant && m.child("body")?.text.hasPrefix(prefix) == true
            }
        }

        let seen = owner.received.count
        let crossed = Date()
        try Self.alertSetAir(daemon, 31)
        let start = line(since: seen, "⚠ \(Self.device): hot: ")
        let took = Date().timeIntervalSince(crossed)
        #expect(start != nil, "log:\n\(daemon.log)")
        #expect(took < 2, "the alert took \(took) s")
        let body = start?.child("body")?.text ?? ""
        #expect(Self.alertClocks(crossed).contains { body == "⚠ \(Self.device): hot: air 31 °C (air > 30) since \($0)" }, "\(body)")

        try Self.alertSetAir(daemon, 27)
        let end = line(since: seen, "✓ \(Self.device): hot is over: air 27 °C; it lasted ")
        #expect(end != nil, "log:\n\(daemon.log)")
        owner.idle(2_000)
        let lines = owner.received[seen...].filter { $0.name == "message" && $0.from?.description == occupant && $0.child("body").map { Self.isAlertText($0.text) } == true }
        #expect(lines.count == 2, "\(lines)")
        #expect(owner.alertMessages(since: seen, from: bare).isEmpty, "the alert went to the owner too")

        // The network cut: the line waits in state_dir/alerts for the device to be back in the room.
        proxy.cut(for: 600)
        #expect(daemon.waitFor("reconnecting in"), "log:\n\(daemon.log)")
        let seenCut = owner.received.count
        let crossedCut = Date()
        try Self.alertSetAir(daemon, 31)
        #expect(daemon.waitFor("alert hot started", count: 2), "log:\n\(daemon.log)")
        let waiting = (try? String(contentsOfFile: "\(daemon.dir)/state/alerts", encoding: .utf8)) ?? ""
        #expect(waiting.hasPrefix("started\thot\troom:\(room)\t"), "state_dir/alerts: \(waiting)")
        owner.idle(500)
        #expect(owner.received[seenCut...].allSatisfy { $0.from?.description != occupant || $0.name != "message" }, "a line while the device is cut off")
        proxy.cut(for: 0)
        let late = line(since: seenCut, "⚠ \(Self.device): hot: ")
        #expect(late != nil, "log:\n\(daemon.log)")
        let lateBody = late?.child("body")?.text ?? ""
        #expect(Self.alertClocks(crossedCut).contains { lateBody == "⚠ \(Self.device): hot: air 31 °C (air > 30) since \($0)" }, "\(lateBody)")
        // The room may pass the device's delay on (or strip it, as Prosody does with a sender's own).
        if let stamp = late.flatMap({ Self.alertStamp($0, by: bare) }) {
            let written = Int64(crossedCut.timeIntervalSince1970 * 1000)
            #expect(stamp >= written - 100 && stamp <= written + 2_000, "delay stamp \(stamp) for a crossing at \(written)")
        }
        #expect(daemon.log.contains("sent 1 alert message that waited for the server"), "log:\n\(daemon.log)")
        owner.idle(1_000)
        let again = owner.received[seenCut...].filter { $0.name == "message" && $0.from?.description == occupant }
        #expect(again.count == 1, "\(again)")
        #expect(daemon.terminate() == 0)
    }

    // MARK: Rules

    /// The rule switches the fan on when air > 28 and off when it no longer holds, audited as the
    /// device's own operator command via rule cool; a sample that changes nothing switches nothing.
    @Test(arguments: servers)
    func aRuleSwitchesAnOutputAndBack(_ server: ITServer) throws {
        let daemon = try Self.alertBoard(server, automation: Self.coolRule())
        let bare = "perch@\(server.domain)"
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        let before = try owner.alertSay("rules", to: "\(bare)/board")
        #expect(before == "rule cool: when air > 28 → fan on, else fan off; does not hold now", "\(String(describing: before))")
        #expect(daemon.gpioLine("fan") != "1")

        let crossed = Date()
        try Self.alertSetAir(daemon, 29)
        let on = owner.alertUntil(timeout: 5) { daemon.gpioLine("fan") == "1" }
        let took = Date().timeIntervalSince(crossed)
        #expect(on, "log:\n\(daemon.log)")
        #expect(took < 2, "the rule took \(took) s")
        #expect(daemon.waitFor("command from \(bare) (operator) via rule cool: fan on → ok"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("rule cool: air > 28 holds: fan on"), "log:\n\(daemon.log)")
        let holding = try owner.alertSay("rules", to: "\(bare)/board")
        #expect(holding == "rule cool: when air > 28 → fan on, else fan off; holds now", "\(String(describing: holding))")

        try Self.alertSetAir(daemon, 27)
        #expect(owner.alertUntil(timeout: 5) { daemon.gpioLine("fan") == "0" }, "log:\n\(daemon.log)")
        #expect(daemon.waitFor("command from \(bare) (operator) via rule cool: fan off → ok"), "log:\n\(daemon.log)")
        // The samples go on; the rule does not switch again.
        owner.idle(2_500)
        #expect(Self.alertCount(daemon, "via rule cool: fan") == 2, "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fan") == "0")
        #expect(daemon.terminate() == 0)
    }

    /// The owner switches the fan off while the rule holds: the rule leaves it off for its override
    /// (3 s), even when its condition stops and starts holding again meanwhile, then switches it on.
    @Test(arguments: servers)
    func aPersonsSwitchOutlastsTheRuleForItsOverride(_ server: ITServer) throws {
        let daemon = try Self.alertBoard(server, automation: Self.coolRule(override: "3s"))
        let bare = "perch@\(server.domain)"
        let board = "\(bare)/board"
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        try Self.alertSetAir(daemon, 29)
        #expect(owner.alertUntil(timeout: 5) { daemon.gpioLine("fan") == "1" }, "log:\n\(daemon.log)")

        let sent = Date()
        #expect(try owner.alertSay("fan off", to: board) == "fan off")
        #expect(daemon.gpioLine("fan") == "0")
        #expect(daemon.waitFor("rule cool leaves fan alone for 3 s (override): peer@\(server.domain) switched it"), "log:\n\(daemon.log)")
        let held = try owner.alertSay("rules", to: board)
        #expect(held?.hasPrefix("rule cool: when air > 28 → fan on, else fan off; holds now (fan is a person's until ") == true, "\(String(describing: held))")
        // The condition stops holding and holds again within the override: the rule keeps its hands off.
        try Self.alertSetAir(daemon, 27)
        #expect(daemon.waitFor("rule cool: air > 28 no longer holds, but fan was switched by a person", timeout: 3), "log:\n\(daemon.log)")
        try Self.alertSetAir(daemon, 29)
        #expect(daemon.waitFor("rule cool: air > 28 holds, but fan was switched by a person", timeout: 3), "log:\n\(daemon.log)")
        var undone: TimeInterval?
        while Date().timeIntervalSince(sent) < 2.8 {
            if daemon.gpioLine("fan") != "0" { undone = Date().timeIntervalSince(sent); break }
            owner.idle(50)
        }
        #expect(undone == nil, "the rule switched the fan back \(undone ?? 0) s after the owner; log:\n\(daemon.log)")

        // The override over, the rule has the fan again.
        let back = owner.alertUntil(timeout: 5) { daemon.gpioLine("fan") == "1" }
        let after = Date().timeIntervalSince(sent)
        #expect(back, "log:\n\(daemon.log)")
        #expect(after >= 2.8 && after < 5, "back on \(after) s after the owner's switch")
        #expect(daemon.log.contains("rule cool: a person's override ended: fan on"), "log:\n\(daemon.log)")
        #expect(Self.alertCount(daemon, "via rule cool: fan on → ok") == 2, "log:\n\(daemon.log)")
        #expect(Self.alertCount(daemon, "via rule cool: fan off") == 0, "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
    }
}

extension AlertTests {
    /// Whether a message's text is an alert's: ⚠ (a start, a reminder, one that came and went) or ✓
    /// (an end) and the device's name; command replies start otherwise.
    static func isAlertText(_ text: String) -> Bool {
        text.hasPrefix("⚠ \(device): ") || text.hasPrefix("✓ \(device): ")
    }
}

extension Peer {
    /// The alert messages from `bare` received since index `seen`: chat messages whose text starts
    /// with ⚠ or ✓ and the device's name (command replies do not).
    func alertMessages(since seen: Int, from bare: String) -> [XMLElement] {
        received[min(seen, received.count)...].filter {
            $0.name == "message" && $0.stanzaType == "chat" && $0.from?.bare.description == bare
                && $0.child("body").map { AlertTests.isAlertText($0.text) } == true
        }
    }

    /// Waits for the `count`th alert message since `seen`.
    func alertNext(since seen: Int, from bare: String, count: Int = 1, timeout: Int64) -> XMLElement? {
        var found: XMLElement?
        loop.run(until: { [unowned self] in
            let all = self.alertMessages(since: seen, from: bare)
            found = all.count >= count ? all[count - 1] : nil
            return found != nil
        }, timeout: timeout)
        return found
    }

    /// Says `body` to `to` and waits for the reply, passing over alert messages (which may come first).
    func alertSay(_ body: String, to: String, timeout: Int64 = 10_000) throws -> String? {
        let target = try JID(to)
        let seen = received.count
        send(Stanza.message(to: target, body: body, id: client.makeID("m")))
        let reply = alertWaitFor(since: seen, timeout: timeout) {
            $0.name == "message" && $0.stanzaType != "error" && $0.from?.bare == target.bare
                && $0.child("body").map { !AlertTests.isAlertText($0.text) } == true
        }
        return reply?.child("body")?.text
    }

    /// Waits until a stanza received since index `seen` satisfies `match`.
    func alertWaitFor(since seen: Int, timeout: Int64, _ match: @escaping (XMLElement) -> Bool) -> XMLElement? {
        var found: XMLElement?
        loop.run(until: { [unowned self] in
            found = self.received[min(seen, self.received.count)...].first(where: match)
            return found != nil
        }, timeout: timeout)
        return found
    }

    /// Runs this peer's loop until `condition` holds (checked every 50 ms), for up to `timeout` s.
    func alertUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            idle(50)
        }
        return condition()
    }
}

extension XMLElement {
    /// An available presence from the device's account.
    func isAlertPresence(from bare: String) -> Bool {
        name == "presence" && stanzaType == nil && from?.bare.description == bare
    }
}
