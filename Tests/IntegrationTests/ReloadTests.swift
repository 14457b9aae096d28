import Foundation
import Testing
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore

/// Configuration reload end to end: the daemon (its own process, on the simulated GPIO chip, with a
/// `file` sensor the test writes) runs as perch@DOMAIN/board, the test rewrites its configuration
/// file and sends SIGHUP. peer is the owner throughout, subscribed to the device's presence and
/// watching it; operator has no role until a reload makes it an owner. Against each server.
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct ReloadTests {
    static var servers: [ITServer] { (IT.prosody ? [ITServer.prosody] : []) + (IT.ejabberd ? [ITServer.ejabberd] : []) }

    /// The device's name.
    static let device = "reloadbox"
    /// The service node of the pubsub test (no other suite uses it).
    static let node = "reloadbox/readings"
    /// One output fan on the line fan.
    static let fanOnly = output("fan", line: "fan")

    static func output(_ name: String, line: String) -> String {
        """
        [[output]]
        name = "\(name)"
        line = "\(line)"
        min_switch_interval = "0ms"
        """
    }

    /// The whole configuration file (with @DIR@ for the daemon's directory): owners as given, the
    /// outputs as given, one `file` sensor read every second from DIR/air under the name `sensor`.
    static func reloadConfig(_ server: ITServer, owners: [String] = ["peer"], sensor: String = "air", outputs: String = fanOnly,
                             telemetry: String = "", extra: String = "") -> String {
        let d = server.domain
        return """
        [account]
        jid = "perch@\(d)/board"
        password_file = "@DIR@/password"
        [server]
        host = "127.0.0.1"
        port = \(server.port)
        ca_file = "\(IT.caFile)"
        [access]
        owners = [\(owners.map { "\"\($0)@\(d)\"" }.joined(separator: ", "))]
        [telemetry]
        min_interval = "1s"
        \(telemetry)
        [device]
        name = "\(device)"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        \(outputs)
        [[sensor]]
        name = "\(sensor)"
        source = "file"
        path = "@DIR@/air"
        unit = "°C"
        interval = "1s"
        precision = 0
        \(extra)
        """
    }

    /// Starts the daemon on `config` with air at 25 and waits until it is online and has read it.
    static func reloadBoard(_ server: ITServer, _ config: String) throws -> DaemonProcess {
        let daemon = try DaemonProcess(config: config, password: "perch-secret", setup: { dir in
            try "25\n".write(toFile: "\(dir)/air", atomically: true, encoding: .utf8)
        })
        #expect(daemon.waitFor("online as perch@\(server.domain)/board", timeout: 30), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("sensor air: 25 °C", timeout: 15), "log:\n\(daemon.log)")
        return daemon
    }

    /// The configuration file as the daemon reads it: `text` with @DIR@ filled in.
    static func reloadText(_ daemon: DaemonProcess, _ text: String) -> String {
        text.replacingOccurrences(of: "@DIR@", with: daemon.dir)
    }

    /// Rewrites the daemon's configuration file (atomically, as an editor or a deployment does).
    static func reloadRewrite(_ daemon: DaemonProcess, _ text: String) throws {
        try reloadText(daemon, text).write(toFile: "\(daemon.dir)/perch.toml", atomically: true, encoding: .utf8)
    }

    /// How many times the daemon's log says `text`.
    static func reloadCount(_ daemon: DaemonProcess, _ text: String) -> Int {
        daemon.log.components(separatedBy: text).count - 1
    }

    /// Sends SIGHUP and waits until the daemon logs the reload's end: `reload done: …` (true) or
    /// `reload refused: nothing was changed …` (false); nil when neither comes.
    static func reloadHUP(_ daemon: DaemonProcess, timeout: TimeInterval = 30) -> Bool? {
        let done = reloadCount(daemon, "reload done: "), refused = reloadCount(daemon, "reload refused: nothing was changed")
        kill(daemon.process.processIdentifier, SIGHUP)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && daemon.process.isRunning {
            if reloadCount(daemon, "reload done: ") > done { return true }
            if reloadCount(daemon, "reload refused: nothing was changed") > refused { return false }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    /// An owner (peer unless told), logged in and subscribed to the device's presence, once it has
    /// seen the device available with `status` in its status line.
    static func reloadWatcher(_ server: ITServer, _ daemon: DaemonProcess, status: String, user: String = "peer") throws -> Peer {
        let bare = "perch@\(server.domain)"
        let owner = try Peer.connected(user, server)
        owner.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": bare]))
        let seen = owner.waitFor(timeout: 15_000) { $0.isAlertPresence(from: bare) && $0.child("status")?.text.contains(status) == true }
        #expect(seen != nil, "the owner does not see the device's presence; log:\n\(daemon.log)")
        return owner
    }

    /// The unavailable presences from the device's account received since index `seen`.
    static func reloadUnavailable(_ p: Peer, since seen: Int, from bare: String) -> [XMLElement] {
        p.received[min(seen, p.received.count)...].filter { $0.name == "presence" && $0.stanzaType == "unavailable" && $0.from?.bare.description == bare }
    }

    /// The line of the first line of `text` that contains `part` (1-based), as the daemon counts it.
    static func reloadLine(of part: String, in text: String) -> Int? {
        text.components(separatedBy: "\n").firstIndex { $0.contains(part) }.map { $0 + 1 }
    }

    // MARK: Access

    /// A reload that adds an owner lets it command at once; the other owner, watching the device's
    /// presence, sees it stay available throughout (the session is kept).
    @Test(arguments: servers)
    func aReloadThatAddsAnOwnerLetsItCommandAtOnce(_ server: ITServer) throws {
        let started = Date()
        let daemon = try Self.reloadBoard(server, Self.reloadConfig(server))
        let bare = "perch@\(server.domain)", board = "\(bare)/board"
        let owner = try Self.reloadWatcher(server, daemon, status: "air 25 °C")
        defer { owner.disconnect() }
        let newcomer = try Peer.connected("operator", server)
        defer { newcomer.disconnect() }

        // Not in the lists yet: a stranger, refused.
        let before = try newcomer.say("fan on", to: board)
        #expect(before?.contains("only takes commands") == true, "\(String(describing: before)); log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fan") == "0")

        let seen = owner.received.count
        try Self.reloadRewrite(daemon, Self.reloadConfig(server, owners: ["peer", "operator"]))
        #expect(Self.reloadHUP(daemon) == true, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: owners: +operator@\(server.domain)"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload done: 1 change applied, the session kept"), "log:\n\(daemon.log)")

        // At once, on the same session.
        #expect(try newcomer.say("fan on", to: board) == "fan on", "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fan") == "1")
        #expect(daemon.log.contains("command from operator@\(server.domain) (owner) via chat: fan on → ok"), "log:\n\(daemon.log)")
        #expect(try owner.say("fan off", to: board) == "fan off")
        #expect(daemon.gpioLine("fan") == "0")

        // The owner watches a while longer: the device never went offline, nor logged in again.
        owner.idle(4_000)
        let gone = Self.reloadUnavailable(owner, since: seen, from: bare)
        #expect(gone.isEmpty, "the device went unavailable across the reload: \(gone); log:\n\(daemon.log)")
        #expect(Self.reloadCount(daemon, "online as perch@") == 1, "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("reconnecting"), "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
        print("ReloadTests.aReloadThatAddsAnOwnerLetsItCommandAtOnce on \(server.name): \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// A reload that removes an owner takes its role away at once: its commands are refused and the
    /// device takes back its presence subscription, while the owner who stays keeps the session.
    @Test(arguments: servers)
    func aReloadThatRemovesAnOwnerTakesItsRoleAway(_ server: ITServer) throws {
        let started = Date()
        let daemon = try Self.reloadBoard(server, Self.reloadConfig(server, owners: ["peer", "operator"]))
        let bare = "perch@\(server.domain)", board = "\(bare)/board"
        let owner = try Self.reloadWatcher(server, daemon, status: "air 25 °C")
        defer { owner.disconnect() }
        let leaving = try Self.reloadWatcher(server, daemon, status: "air 25 °C", user: "operator")
        defer { leaving.disconnect() }
        #expect(try leaving.say("fan on", to: board) == "fan on", "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fan") == "1")
        let seen = owner.received.count, seenLeaving = leaving.received.count

        try Self.reloadRewrite(daemon, Self.reloadConfig(server, owners: ["peer"]))
        #expect(Self.reloadHUP(daemon) == true, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: owners: -operator@\(server.domain)"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: took back the presence subscription of operator@\(server.domain)"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload done: 1 change applied, the session kept"), "log:\n\(daemon.log)")
        let unsubscribed = leaving.alertWaitFor(since: seenLeaving, timeout: 10_000) { $0.name == "presence" && $0.stanzaType == "unsubscribed" && $0.from?.bare.description == bare }
        #expect(unsubscribed != nil, "the device did not take back its presence; log:\n\(daemon.log)")
        let refused = try leaving.say("fan off", to: board)
        #expect(refused?.contains("only takes commands") == true, "\(String(describing: refused)); log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fan") == "1", "a removed owner switched the fan")
        #expect(try owner.say("fan off", to: board) == "fan off")
        #expect(daemon.gpioLine("fan") == "0")
        owner.idle(2_000)
        #expect(Self.reloadUnavailable(owner, since: seen, from: bare).isEmpty, "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
        print("ReloadTests.aReloadThatRemovesAnOwnerTakesItsRoleAway on \(server.name): \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// A change of the connection settings cannot keep the session: the daemon says so, logs in
    /// again, and the owner sees it go offline and come back (what the test above watches for).
    @Test(arguments: servers)
    func aReloadThatChangesTheConnectionLogsInAgain(_ server: ITServer) throws {
        let started = Date()
        let daemon = try Self.reloadBoard(server, Self.reloadConfig(server))
        let bare = "perch@\(server.domain)", board = "\(bare)/board"
        let owner = try Self.reloadWatcher(server, daemon, status: "air 25 °C")
        defer { owner.disconnect() }
        let seen = owner.received.count
        try Self.reloadRewrite(daemon, Self.reloadConfig(server, extra: "[connection]\nping_interval = \"45s\""))
        #expect(Self.reloadHUP(daemon) == true, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: connection: ping_interval changed"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: connection.ping_interval changed: reconnecting"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload done: 1 change applied\n") || daemon.log.hasSuffix("reload done: 1 change applied"), "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("the session kept"), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("online as perch@\(server.domain)/board", count: 2, timeout: 30), "log:\n\(daemon.log)")
        let gone = owner.alertWaitFor(since: seen, timeout: 10_000) { $0.name == "presence" && $0.stanzaType == "unavailable" && $0.from?.bare.description == bare }
        #expect(gone != nil, "the owner did not see the device go offline; log:\n\(daemon.log)")
        let back = owner.alertWaitFor(since: seen, timeout: 10_000) { $0.isAlertPresence(from: bare) && $0.child("status")?.text.contains("air 25 °C") == true }
        #expect(back != nil, "the owner did not see the device come back; log:\n\(daemon.log)")
        #expect(try owner.say("fan on", to: board) == "fan on", "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fan") == "1")
        #expect(daemon.terminate() == 0)
        print("ReloadTests.aReloadThatChangesTheConnectionLogsInAgain on \(server.name): \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// A file with an error (cut off in the middle, an alert on a sensor that does not exist) is
    /// refused with FILE:LINE and changes nothing: the owner still commands, the JID the file would
    /// have added is still refused, and the next good file is applied.
    @Test(arguments: servers)
    func aBrokenFileChangesNothing(_ server: ITServer) throws {
        let started = Date()
        let daemon = try Self.reloadBoard(server, Self.reloadConfig(server))
        let bare = "perch@\(server.domain)", board = "\(bare)/board"
        let file = "\(daemon.dir)/perch.toml"
        let owner = try Self.reloadWatcher(server, daemon, status: "air 25 °C")
        defer { owner.disconnect() }
        let newcomer = try Peer.connected("operator", server)
        defer { newcomer.disconnect() }
        let first = try newcomer.say("fan on", to: board)
        #expect(first?.contains("only takes commands") == true, "\(String(describing: first)); log:\n\(daemon.log)")
        let seen = owner.received.count

        /// The old behaviour holds: the owner switches, the newcomer does not.
        func unchanged(_ what: String) throws {
            #expect(try owner.say("fan on", to: board) == "fan on", "after \(what); log:\n\(daemon.log)")
            #expect(daemon.gpioLine("fan") == "1", "after \(what)")
            #expect(try owner.say("fan off", to: board) == "fan off", "after \(what)")
            #expect(daemon.gpioLine("fan") == "0", "after \(what)")
            // A stranger's second refusal may go unanswered; what matters is that nothing is switched.
            let reply = try newcomer.say("fan on", to: board, timeout: 3_000)
            #expect(reply == nil || reply?.contains("only takes commands") == true, "after \(what): \(String(describing: reply))")
            #expect(daemon.gpioLine("fan") == "0", "after \(what): the newcomer switched the fan")
            #expect(!daemon.log.contains("command from operator@\(server.domain) (owner)"), "after \(what); log:\n\(daemon.log)")
        }

        // 1. The new file cut off in the middle of a table header: a TOML error on its last line.
        let good = Self.reloadText(daemon, Self.reloadConfig(server, owners: ["peer", "operator"]))
        let cut = String(good[..<good.range(of: "[[sensor]]")!.lowerBound]) + "[["
        try cut.write(toFile: file, atomically: true, encoding: .utf8)
        let cutLine = cut.components(separatedBy: "\n").count
        #expect(Self.reloadHUP(daemon) == false, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload refused: \(file):\(cutLine): "), "line \(cutLine); log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload refused: nothing was changed, perch runs on as before; fix \(file):\(cutLine) and reload again"), "log:\n\(daemon.log)")
        try unchanged("a file cut off")

        // 2. A complete file whose alert names a sensor that does not exist: refused at its `when`.
        let alert = "[[alert]]\nname = \"hot\"\nwhen = \"nosuch > 30\"\nto = [\"owners\"]"
        let bad = Self.reloadText(daemon, Self.reloadConfig(server, owners: ["peer", "operator"], extra: alert))
        try bad.write(toFile: file, atomically: true, encoding: .utf8)
        let whenLine = try #require(Self.reloadLine(of: "when = \"nosuch", in: bad))
        #expect(Self.reloadHUP(daemon) == false, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload refused: \(file):\(whenLine): alert[0].when: no sensor or input \"nosuch\""), "line \(whenLine); log:\n\(daemon.log)")
        #expect(daemon.log.contains("fix \(file):\(whenLine) and reload again"), "log:\n\(daemon.log)")
        try unchanged("an alert on an unknown sensor")
        #expect(!daemon.log.contains("reload done"), "log:\n\(daemon.log)")

        // 3. The good file: the change is told against what ran all along, and applied.
        try good.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(Self.reloadHUP(daemon) == true, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: owners: +operator@\(server.domain)"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload done: 1 change applied, the session kept"), "log:\n\(daemon.log)")
        #expect(try newcomer.say("fan on", to: board) == "fan on", "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fan") == "1")
        owner.idle(2_000)
        let gone = Self.reloadUnavailable(owner, since: seen, from: bare)
        #expect(gone.isEmpty, "the device went unavailable: \(gone); log:\n\(daemon.log)")
        #expect(Self.reloadCount(daemon, "online as perch@") == 1, "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
        print("ReloadTests.aBrokenFileChangesNothing on \(server.name): \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    // MARK: Rooms

    /// A room added by a reload is joined and takes commands there; removed by the next, it is left;
    /// the session is kept throughout.
    @Test(arguments: servers)
    func aRoomAddedByAReloadIsJoinedAndLeftWhenRemoved(_ server: ITServer) throws {
        let started = Date()
        let room = RoomTests.room(server, "reload")
        let daemon = try Self.reloadBoard(server, Self.reloadConfig(server))
        let bare = "perch@\(server.domain)"
        let owner = try Self.reloadWatcher(server, daemon, status: "air 25 °C")
        defer { owner.disconnect() }
        try owner.createRoom(room, nick: "owner", whois: "anyone")
        let seen = owner.received.count
        let occupant = "\(room)/\(Self.device)"

        try Self.reloadRewrite(daemon, Self.reloadConfig(server, extra: "[[room]]\njid = \"\(room)\""))
        #expect(Self.reloadHUP(daemon) == true, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: room \(room) added"), "log:\n\(daemon.log)")
        #expect(daemon.waitFor("joined the room \(room) as \(Self.device)", timeout: 15), "log:\n\(daemon.log)")
        let joined = owner.alertWaitFor(since: seen, timeout: 10_000) { $0.name == "presence" && $0.stanzaType == nil && $0.from?.description == occupant }
        #expect(joined != nil, "the device is not in the room; log:\n\(daemon.log)")
        try owner.expectReply(in: room, "\(Self.device): fan on", expectFrom: Self.device, "owner: fan on")
        #expect(daemon.gpioLine("fan") == "1")

        let seenIn = owner.received.count
        try Self.reloadRewrite(daemon, Self.reloadConfig(server))
        #expect(Self.reloadHUP(daemon) == true, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: room \(room) removed (the device leaves it)"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: left \(room) (no longer in the configuration)"), "log:\n\(daemon.log)")
        let left = owner.alertWaitFor(since: seenIn, timeout: 10_000) { $0.name == "presence" && $0.stanzaType == "unavailable" && $0.from?.description == occupant }
        #expect(left != nil, "the device did not leave the room; log:\n\(daemon.log)")
        try owner.expectReply(in: room, "\(Self.device): fan off", expectFrom: Self.device, nil)
        #expect(daemon.gpioLine("fan") == "1")
        #expect(Self.reloadCount(daemon, "reload done: 1 change applied, the session kept") == 2, "log:\n\(daemon.log)")
        #expect(Self.reloadUnavailable(owner, since: seen, from: bare).isEmpty, "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
        print("ReloadTests.aRoomAddedByAReloadIsJoinedAndLeftWhenRemoved on \(server.name): \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    // MARK: Sensors

    /// A sensor renamed from air to temp: presence, the chat answers and the pubsub items carry the
    /// new name from the reload on, and the old one no more.
    @Test(arguments: servers)
    func aRenamedSensorIsPublishedUnderItsNewName(_ server: ITServer) throws {
        let started = Date()
        let service = "pubsub.\(server.domain)"
        let telemetry = "pubsub = \"service\"\nservice = \"\(service)\"\nnode = \"\(Self.node)\"\naccess_model = \"open\""
        let daemon = try Self.reloadBoard(server, Self.reloadConfig(server, telemetry: telemetry))
        #expect(daemon.waitFor("pubsub node \(Self.node)", timeout: 15), "log:\n\(daemon.log)")
        let bare = "perch@\(server.domain)", board = "\(bare)/board"
        let owner = try Self.reloadWatcher(server, daemon, status: "air 25 °C")
        defer { owner.disconnect() }

        // The owner subscribes to the node too (the node may take a moment to be there).
        let ps = "http://jabber.org/protocol/pubsub"
        let subscribe = XMLElement("pubsub", namespace: ps, children: [.element(XMLElement("subscribe", namespace: ps, attrs: ["node": Self.node, "jid": "peer@\(server.domain)/tester"]))])
        var subscribed = try owner.ask(service, subscribe, type: "set")
        for _ in 0..<20 {
            if case .success? = subscribed { break }
            owner.idle(250)
            subscribed = try owner.ask(service, subscribe, type: "set")
        }
        #expect(try subscribed?.get() != nil, "subscribed to the node; log:\n\(daemon.log)")
        func item(_ name: String, _ value: String) -> (XMLElement) -> Bool {
            { m in m.name == "message" && m.child("event", namespace: ps + "#event") != nil && Self.reloadFields(m).contains { $0 == (name, value) } }
        }

        // Under the old name first: an item and the status line.
        try "26\n".write(toFile: "\(daemon.dir)/air", atomically: true, encoding: .utf8)
        #expect(owner.waitFor(timeout: 10_000, item("air", "26")) != nil, "no item for air 26; log:\n\(daemon.log)")
        #expect(owner.waitFor(timeout: 10_000) { $0.isAlertPresence(from: bare) && $0.child("status")?.text.contains("air 26 °C") == true } != nil, "log:\n\(daemon.log)")
        let seen = owner.received.count

        try Self.reloadRewrite(daemon, Self.reloadConfig(server, sensor: "temp", telemetry: telemetry))
        #expect(Self.reloadHUP(daemon) == true, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: sensor air renamed to temp"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload done: 1 change applied, the session kept"), "log:\n\(daemon.log)")

        // Presence: the status line names temp, and air no more.
        let renamed = owner.alertWaitFor(since: seen, timeout: 10_000) { $0.isAlertPresence(from: bare) && $0.child("status")?.text.contains("temp 26 °C") == true }
        #expect(renamed != nil, "no presence with temp; log:\n\(daemon.log)")
        #expect(renamed?.child("status")?.text.contains("air ") == false, "\(String(describing: renamed))")
        // The chat answers.
        let status = try owner.say("status", to: board)
        #expect(status?.contains("temp 26 °C") == true && status?.contains("air ") == false, "\(String(describing: status)); log:\n\(daemon.log)")
        #expect(try owner.say("read temp", to: board) == "temp: 26 °C", "log:\n\(daemon.log)")
        let old = try owner.say("read air", to: board)
        #expect(old?.hasPrefix("no sensor \"air\"") == true, "\(String(describing: old))")

        // A new value: an item under temp, and after the first item under temp, none under air.
        try "27\n".write(toFile: "\(daemon.dir)/air", atomically: true, encoding: .utf8)
        #expect(owner.alertWaitFor(since: seen, timeout: 10_000, item("temp", "27")) != nil, "no item for temp 27; log:\n\(daemon.log)")
        #expect(owner.alertWaitFor(since: seen, timeout: 10_000) { $0.isAlertPresence(from: bare) && $0.child("status")?.text.contains("temp 27 °C") == true } != nil, "log:\n\(daemon.log)")
        owner.idle(1_500)
        let since = owner.received[seen...]
        let firstTemp = since.firstIndex { m in m.name == "message" && Self.reloadFields(m).contains { $0.0 == "temp" } }
        #expect(firstTemp != nil)
        if let firstTemp {
            let stale = owner.received[firstTemp...].filter { m in m.name == "message" && Self.reloadFields(m).contains { $0.0 == "air" } }
            #expect(stale.isEmpty, "items under air after the rename: \(stale)")
        }
        if let at = since.firstIndex(where: { $0.isAlertPresence(from: bare) && $0.child("status")?.text.contains("temp ") == true }) {
            let stale = owner.received[at...].filter { $0.isAlertPresence(from: bare) && $0.child("status")?.text.contains("air ") == true }
            #expect(stale.isEmpty, "presence with air after the rename: \(stale)")
        }
        #expect(Self.reloadUnavailable(owner, since: seen, from: bare).isEmpty, "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
        print("ReloadTests.aRenamedSensorIsPublishedUnderItsNewName on \(server.name): \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// The numeric and boolean fields of a stanza, as (name, value) pairs.
    static func reloadFields(_ e: XMLElement) -> [(String, String)] {
        var out: [(String, String)] = []
        func walk(_ e: XMLElement) {
            if e.name == "numeric" || e.name == "boolean", let n = e[attribute: "name"], let v = e[attribute: "value"] { out.append((n, v)) }
            for c in e.elements { walk(c) }
        }
        walk(e)
        return out
    }

    // MARK: Alerts

    /// The alert messages from `bare` received since index `seen` (their text starts with ⚠ or ✓
    /// and the device's name; command replies do not).
    static func reloadAlerts(_ p: Peer, since seen: Int, from bare: String) -> [XMLElement] {
        p.received[min(seen, p.received.count)...].filter {
            $0.name == "message" && $0.stanzaType == "chat" && $0.from?.bare.description == bare
                && $0.child("body").map { $0.text.hasPrefix("⚠ \(device): ") || $0.text.hasPrefix("✓ \(device): ") } == true
        }
    }

    /// Waits for the `count`th alert message from `bare` since `seen`.
    static func reloadNextAlert(_ p: Peer, since seen: Int, from bare: String, count: Int = 1, timeout: Int64) -> XMLElement? {
        var found: XMLElement?
        p.loop.run(until: {
            let all = reloadAlerts(p, since: seen, from: bare)
            found = all.count >= count ? all[count - 1] : nil
            return found != nil
        }, timeout: timeout)
        return found
    }

    /// An alert that is on when a reload changes it is taken up by the new configuration, not told
    /// again; it ends as the new configuration says (its new clear), told once.
    @Test(arguments: servers)
    func anAlertThatIsOnIsNotToldAgainAfterAReload(_ server: ITServer) throws {
        let started = Date()
        func hot(clear: Int) -> String { "[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\nclear = \"air < \(clear)\"\nto = [\"owners\"]" }
        let daemon = try Self.reloadBoard(server, Self.reloadConfig(server, extra: hot(clear: 28)))
        let bare = "perch@\(server.domain)", board = "\(bare)/board"
        let owner = try Self.reloadWatcher(server, daemon, status: "air 25 °C")
        defer { owner.disconnect() }
        let seen = owner.received.count
        try "31\n".write(toFile: "\(daemon.dir)/air", atomically: true, encoding: .utf8)
        let start = Self.reloadNextAlert(owner, since: seen, from: bare, timeout: 10_000)
        #expect(start?.child("body")?.text.hasPrefix("⚠ \(Self.device): hot: air 31 °C (air > 30) since ") == true, "\(String(describing: start)); log:\n\(daemon.log)")

        try Self.reloadRewrite(daemon, Self.reloadConfig(server, extra: hot(clear: 26)))
        #expect(Self.reloadHUP(daemon) == true, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: alert hot changed"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload done: 1 change applied, the session kept"), "log:\n\(daemon.log)")
        owner.idle(3_000)
        let told = Self.reloadAlerts(owner, since: seen, from: bare).map { $0.child("body")?.text ?? "" }
        #expect(told.count == 1, "\(told); log:\n\(daemon.log)")
        #expect(Self.reloadCount(daemon, "alert hot started") == 1, "log:\n\(daemon.log)")
        let list = try owner.say("alerts", to: board)
        #expect(list?.hasPrefix("1 alert on\nhot: ON since ") == true, "\(String(describing: list)); log:\n\(daemon.log)")

        // 27 was below the old clear, not below the new one: still on.
        try "27\n".write(toFile: "\(daemon.dir)/air", atomically: true, encoding: .utf8)
        #expect(daemon.waitFor("sensor air: 27 °C", timeout: 10), "log:\n\(daemon.log)")
        owner.idle(1_500)
        #expect(Self.reloadAlerts(owner, since: seen, from: bare).count == 1, "\(Self.reloadAlerts(owner, since: seen, from: bare).map { $0.child("body")?.text ?? "" }); log:\n\(daemon.log)")
        try "25\n".write(toFile: "\(daemon.dir)/air", atomically: true, encoding: .utf8)
        let end = Self.reloadNextAlert(owner, since: seen, from: bare, count: 2, timeout: 10_000)
        #expect(end?.child("body")?.text.hasPrefix("✓ \(Self.device): hot is over: air 25 °C; it lasted ") == true, "\(String(describing: end)); log:\n\(daemon.log)")
        owner.idle(1_500)
        #expect(Self.reloadAlerts(owner, since: seen, from: bare).count == 2, "\(Self.reloadAlerts(owner, since: seen, from: bare).map { $0.child("body")?.text ?? "" })")
        #expect(daemon.terminate() == 0)
        print("ReloadTests.anAlertThatIsOnIsNotToldAgainAfterAReload on \(server.name): \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    // MARK: Outputs

    /// An output moved to another line (fan: fan → fan2) is requested there and follows commands
    /// there; its old line goes to its safe state and is released (a new output vent takes it in the
    /// same reload). An output whose line is the same keeps its line and its on state, whether
    /// nothing of it changed (lamp) or another of its settings did (pump: max_pulse, applied).
    @Test(arguments: servers)
    func anOutputOnANewLineIsRequestedAgainAndTheOthersKeepTheirState(_ server: ITServer) throws {
        let started = Date()
        let lamp = Self.output("lamp", line: "lamp")
        let before = [Self.output("pump", line: "pump"), lamp, Self.output("fan", line: "fan")].joined(separator: "\n")
        let daemon = try Self.reloadBoard(server, Self.reloadConfig(server, outputs: before))
        let bare = "perch@\(server.domain)", board = "\(bare)/board"
        let owner = try Self.reloadWatcher(server, daemon, status: "air 25 °C")
        defer { owner.disconnect() }
        for name in ["pump", "lamp", "fan"] {
            #expect(try owner.say("\(name) on", to: board) == "\(name) on", "log:\n\(daemon.log)")
            #expect(daemon.gpioLine(name) == "1", "\(name)")
        }
        let seen = owner.received.count

        let after = [Self.output("pump", line: "pump") + "\nmax_pulse = \"2s\"", lamp, Self.output("fan", line: "fan2"), Self.output("vent", line: "fan")].joined(separator: "\n")
        try Self.reloadRewrite(daemon, Self.reloadConfig(server, outputs: after))
        #expect(Self.reloadHUP(daemon) == true, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: output pump changed (its line and state are kept)"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: output fan: line settings changed (line \"fan\" → line \"fan2\"); its line is requested again"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: output vent added on line \"fan\""), "log:\n\(daemon.log)")
        #expect(!daemon.log.contains("reload: output lamp"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload done: 3 changes applied, the session kept"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("output fan: off (safe state) before its line is released"), "log:\n\(daemon.log)")
        // The old line was free for vent.
        #expect(!daemon.log.contains("vent is unavailable"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("output vent on line \"fan\": off"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("output fan on line \"fan2\": off"), "log:\n\(daemon.log)")

        // pump and lamp kept their lines (not requested again) and their states; pump has its new limit.
        for name in ["pump", "lamp"] {
            #expect(daemon.gpioLine(name) == "1", "\(name)")
            #expect(Self.reloadCount(daemon, "output \(name) on line \"\(name)\": ") == 1, "\(name) was requested again; log:\n\(daemon.log)")
        }
        let status = try owner.say("status", to: board)
        #expect(status?.hasPrefix("pump on · lamp on · fan off · vent off") == true, "\(String(describing: status)); log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fan") == "0" && daemon.gpioLine("fan2") == "0")
        let limited = try owner.say("pulse pump 5s", to: board)
        #expect(limited?.contains("max_pulse of 2 s") == true, "\(String(describing: limited)); log:\n\(daemon.log)")
        #expect(daemon.gpioLine("pump") == "1")

        // fan follows commands on fan2, vent on fan.
        #expect(try owner.say("fan on", to: board) == "fan on", "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fan2") == "1")
        #expect(daemon.gpioLine("fan") == "0", "fan still drives its old line")
        #expect(try owner.say("vent on", to: board) == "vent on", "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fan") == "1" && daemon.gpioLine("fan2") == "1")
        #expect(try owner.say("fan off", to: board) == "fan off")
        #expect(daemon.gpioLine("fan2") == "0" && daemon.gpioLine("fan") == "1")
        #expect(daemon.gpioLine("pump") == "1" && daemon.gpioLine("lamp") == "1")
        #expect(Self.reloadUnavailable(owner, since: seen, from: bare).isEmpty, "log:\n\(daemon.log)")
        #expect(daemon.terminate() == 0)
        // The safe state at shutdown, on the lines as they are now.
        #expect(daemon.gpioLine("pump") == "0" && daemon.gpioLine("lamp") == "0" && daemon.gpioLine("fan") == "0")
        print("ReloadTests.anOutputOnANewLineIsRequestedAgainAndTheOthersKeepTheirState on \(server.name): \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// An interlock added by a reload is enforced from then on: with fill on, drain on switches fill
    /// off first. (It is not yet: CommandExecutor takes its interlock groups once, at start, and a
    /// reload that logs "interlocks changed" leaves it with the old ones.)
    @Test(arguments: servers)
    func anInterlockAddedByAReloadHolds(_ server: ITServer) throws {
        let started = Date()
        let valves = [Self.output("fill", line: "fill"), Self.output("drain", line: "drain")].joined(separator: "\n")
        let daemon = try Self.reloadBoard(server, Self.reloadConfig(server, outputs: valves))
        let board = "perch@\(server.domain)/board"
        let owner = try Peer.connected("peer", server)
        defer { owner.disconnect() }
        let interlock = "[[interlock]]\nname = \"valves\"\noutputs = [\"fill\", \"drain\"]\nwait = \"300ms\""
        try Self.reloadRewrite(daemon, Self.reloadConfig(server, outputs: valves + "\n" + interlock))
        #expect(Self.reloadHUP(daemon) == true, "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload: interlocks changed"), "log:\n\(daemon.log)")
        #expect(daemon.log.contains("reload done: 1 change applied, the session kept"), "log:\n\(daemon.log)")
        #expect(try owner.say("fill on", to: board) == "fill on", "log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fill") == "1")
        let drain = try owner.say("drain on", to: board)
        #expect(daemon.gpioLine("drain") == "1")
        #expect(drain == "drain on (after switching fill off)", "\(String(describing: drain)); log:\n\(daemon.log)")
        #expect(daemon.gpioLine("fill") == "0", "fill and drain both on, against the interlock")
        #expect(daemon.terminate() == 0)
        print("ReloadTests.anInterlockAddedByAReloadHolds on \(server.name): \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
}
