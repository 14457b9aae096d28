import Foundation
import Testing
import PerchIO
import XMPPAddress
import XMPPClient
import XMPPCore

/// Hostile commands through each real server: floods from strangers, names probed by strangers, a set
/// that would chatter a relay, forged and future delays, and a flood meant to evict an owner's entry
/// from the iq repeat check.
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct HostileCommandTests {
    static var servers: [ITServer] { (IT.prosody ? [ITServer.prosody] : []) + (IT.ejabberd ? [ITServer.ejabberd] : []) }
    static let control = "urn:xmpp:iot:control"
    static let sensorData = "urn:xmpp:iot:sensordata"
    static let commands = "http://jabber.org/protocol/commands"

    /// A daemon with outputs pump and fan and a sensor tank; `output` goes into pump's table.
    func hcStart(_ server: ITServer, output: String = "") throws -> DaemonProcess {
        let d = server.domain
        let config = """
        [account]
        jid = "perch@\(d)/board"
        password_file = "@DIR@/password"
        [server]
        host = "127.0.0.1"
        port = \(server.port)
        ca_file = "\(IT.caFile)"
        [access]
        owners = ["peer@\(d)"]
        operators = ["operator@\(d)"]
        [commands]
        rate_limit = 1000
        [device]
        name = "testbed"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        [[output]]
        name = "pump"
        line = "pump"
        \(output)
        [[output]]
        name = "fan"
        line = "fan"
        [[sensor]]
        name = "tank"
        source = "file"
        path = "@DIR@/tank"
        unit = "cm"
        interval = "1s"
        """
        let daemon = try DaemonProcess(config: config, password: "perch-secret", setup: { dir in
            try "12\n".write(toFile: "\(dir)/tank", atomically: true, encoding: .utf8)
        })
        #expect(daemon.waitFor("online as perch@\(d)/board"), "log:\n\(daemon.log)")
        return daemon
    }



    func hcSet(_ parameters: [(String, String, String)]) -> XMLElement {
        XMLElement("set", namespace: Self.control, children: parameters.map { .element(XMLElement($0.0, namespace: Self.control, attrs: ["name": $0.1, "value": $0.2])) })
    }

    /// Sends an iq with a chosen id and waits for the answer.
    func hcAsk(_ p: Peer, _ to: String, _ payload: XMLElement, type: String = "set", id: String? = nil) throws -> Result<XMLElement, StanzaError>? {
        var answer: Result<XMLElement, StanzaError>?
        p.client.sendIQ(Stanza.iq(type: type, id: id ?? p.client.makeID("hc"), to: try JID(to), payload: payload), timeout: 10_000) { answer = $0 }
        p.loop.run(until: { answer != nil }, timeout: 12_000)
        return answer
    }

    /// Sends `count` iqs made by `make` without waiting, then counts the answers that come within
    /// `window` ms (the rest are left unanswered by the daemon, or the test would see them).
    func hcFlood(_ p: Peer, _ count: Int, window: Int64 = 4_000, _ make: (Int) throws -> XMLElement) throws -> Int {
        var answered = 0
        var timedOut = 0
        for i in 0..<count {
            p.client.sendIQ(try make(i), timeout: window) { result in
                if case .failure(let e) = result, e.condition == .remoteServerTimeout, e.text?.hasPrefix("no answer within") == true {
                    timedOut += 1
                } else {
                    answered += 1
                }
            }
        }
        p.loop.run(until: { answered + timedOut == count }, timeout: window + 5_000)
        return answered
    }

    func hcCondition(_ r: Result<XMLElement, StanzaError>?) -> StanzaError.Condition? {
        if case .failure(let e)? = r { return e.condition }
        return nil
    }

    /// A chat message with `extras` (delays) and the daemon's reply to it.
    func hcSay(_ p: Peer, _ body: String, to: String, extras: [XMLElement]) throws -> String? {
        let target = try JID(to)
        let seen = p.received.count
        var m = Stanza.message(to: target, body: body, id: p.client.makeID("m"))
        for e in extras { m.append(e) }
        p.send(m)
        var reply: String?
        p.loop.run(until: {
            reply = p.received[seen...].first { $0.name == "message" && $0.stanzaType != "error" && $0.from?.bare == target.bare && $0.child("body") != nil }?.child("body")?.text
            return reply != nil
        }, timeout: 10_000)
        return reply
    }

    func hcDelay(_ offset: TimeInterval, from: String) -> XMLElement {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return XMLElement("delay", namespace: XMPPNamespace.delay, attrs: ["stamp": f.string(from: Date().addingTimeInterval(offset)), "from": from])
    }

    func hcCount(_ text: String, in log: String) -> Int { log.components(separatedBy: text).count - 1 }

    // MARK: Strangers

    /// A stranger gets the same answer for an output, a field or a command node that exists and one
    /// that does not; its flood of sets, readouts and ad-hoc commands gets at most the gate's few
    /// answers, no audit line each, and switches nothing.
    @Test(arguments: servers)
    func strangersAreRefusedFirstAndCheaply(_ server: ITServer) throws {
        let daemon = try hcStart(server)
        let board = server.jid
        let stranger = try Peer.connected("stranger", server)
        let owner = try Peer.connected("peer", server)

        // Probing names: the same forbidden answer for what exists and what does not.
        #expect(hcCondition(try hcAsk(stranger, board, hcSet([("boolean", "pump", "true")]))) == .forbidden, "log:\n\(daemon.log)")
        #expect(hcCondition(try hcAsk(stranger, board, hcSet([("boolean", "heater", "true")]))) == .forbidden, "a missing output must not answer item-not-found")
        func req(_ field: String) -> XMLElement {
            XMLElement("req", namespace: Self.sensorData, attrs: ["id": "1", "momentary": "true"], children: [XMLElement("field", namespace: Self.sensorData, attrs: ["name": field])])
        }
        #expect(hcCondition(try hcAsk(stranger, board, req("tank"), type: "get")) == .forbidden)
        #expect(hcCondition(try hcAsk(stranger, board, req("secret"), type: "get")) == .forbidden)
        #expect(hcCondition(try hcAsk(stranger, board, XMLElement("command", namespace: Self.commands, attrs: ["node": "set-output"]))) == .forbidden)
        #expect(hcCondition(try hcAsk(stranger, board, XMLElement("command", namespace: Self.commands, attrs: ["node": "nonexistent"]))) == .forbidden)

        // The flood: 300 requests of the three kinds, as fast as the server relays them.
        let answered = try hcFlood(stranger, 300) { i in
            let payload: XMLElement
            switch i % 3 {
            case 0: payload = hcSet([("boolean", i % 2 == 0 ? "pump" : "heater", "true")])
            case 1: payload = req("tank")
            default: payload = XMLElement("command", namespace: Self.commands, attrs: ["node": "status"])
            }
            return Stanza.iq(type: i % 3 == 1 ? "get" : "set", id: "flood\(i)", to: try JID(board), payload: payload)
        }
        // 10 at once (6 spent above), 30 a minute after that: a few more while the flood lasts.
        #expect(answered <= 10, "the stranger got \(answered) answers to 300 requests")
        // Once the budget is spent, a real name and a missing one both get nothing: 20 requests to
        // spend what refilled meanwhile, then the two probes right behind them.
        var probes: [String: Result<XMLElement, StanzaError>] = [:]
        for i in 0..<22 {
            let name = i == 20 ? "pump" : i == 21 ? "heater" : "fan"
            stranger.client.sendIQ(Stanza.iq(type: "set", id: "probe\(i)", to: try JID(board), payload: hcSet([("boolean", name, "true")])), timeout: 3_000) {
                if i >= 20 { probes[name] = $0 }
            }
        }
        stranger.loop.run(until: { probes.count == 2 }, timeout: 6_000)
        #expect(hcCondition(probes["pump"]) == .remoteServerTimeout, "\(String(describing: probes["pump"]))")
        #expect(hcCondition(probes["heater"]) == .remoteServerTimeout, "\(String(describing: probes["heater"]))")
        #expect(daemon.gpioLine("pump") == "0")
        // No audit line per refused request: the gate's first line, the rest in its summary.
        let log = daemon.log
        #expect(hcCount("command from stranger@", in: log) == 0, "log:\n\(log)")
        #expect(hcCount("who has no role here", in: log) <= 1, "log:\n\(log)")
        #expect(log.components(separatedBy: "\n").count < 400, "the log grew with the flood:\n\(log)")
        // Role holders still get their answer and their audit line.
        if case .success? = try hcAsk(owner, board, hcSet([("boolean", "pump", "true")])) {} else { Issue.record("the owner was refused") }
        #expect(daemon.gpioLine("pump") == "1")
        #expect(daemon.waitFor("command from peer@\(server.domain) (owner) via iot: pump on → ok"))
        stranger.disconnect()
        owner.disconnect()
        #expect(daemon.terminate() == 0)
    }

    // MARK: One set, many switches

    /// A set naming pump 40 times runs nothing; switches closer than min_switch_interval (its default,
    /// 100 ms) are refused with resource-constraint, and the end of a pulse is not.
    @Test(arguments: servers)
    func aRelayIsNotChattered(_ server: ITServer) throws {
        let daemon = try hcStart(server)
        let board = server.jid
        let owner = try Peer.connected("peer", server)

        let forty = try hcAsk(owner, board, hcSet((0..<40).map { ("boolean", "pump", $0 % 2 == 0 ? "true" : "false") }))
        #expect(hcCondition(forty) == .badRequest, "log:\n\(daemon.log)")
        let twice = try hcAsk(owner, board, hcSet([("boolean", "pump", "true"), ("boolean", "PUMP", "false")]))
        #expect(hcCondition(twice) == .badRequest)
        if case .failure(let e)? = twice { #expect(e.text?.contains("PUMP is named more than once") == true, "\(e)") }
        #expect(daemon.gpioLine("pump") == "0" && daemon.gpioLine("fan") == "0", "nothing ran")
        #expect(!daemon.log.contains("pump on →"), "log:\n\(daemon.log)")

        if case .success? = try hcAsk(owner, board, hcSet([("boolean", "pump", "true")])) {} else { Issue.record("pump on was refused") }
        let soon = try hcAsk(owner, board, hcSet([("boolean", "pump", "false")]))
        #expect(hcCondition(soon) == .resourceConstraint)
        if case .failure(let e)? = soon { #expect(e.text?.contains("relays need 100 ms between switches") == true, "\(e)") }
        #expect(daemon.gpioLine("pump") == "1")
        owner.idle(150)
        if case .success? = try hcAsk(owner, board, hcSet([("boolean", "pump", "false")])) {} else { Issue.record("pump off after the interval was refused") }
        #expect(daemon.gpioLine("pump") == "0")
        // A pulse shorter than the interval ends on time.
        owner.idle(150)
        if case .success? = try hcAsk(owner, board, hcSet([("duration", "pump", "PT0.05S")])) {} else { Issue.record("the pulse was refused") }
        owner.idle(150)
        #expect(daemon.gpioLine("pump") == "0", "the pulse ended")
        owner.disconnect()
        #expect(daemon.terminate() == 0)
    }

    // MARK: Delays

    /// A fresh delay forged before an old one does not make an hour-old command run; a stamp an hour
    /// in the future is refused; a live command runs.
    @Test(arguments: servers)
    func forgedAndFutureDelaysDoNotPass(_ server: ITServer) throws {
        let daemon = try hcStart(server)
        let board = server.jid
        let owner = try Peer.connected("peer", server)
        let forged = [hcDelay(-1, from: "evil"), hcDelay(-3600, from: "peer@\(server.domain)")]
        let stale = try hcSay(owner, "pump on", to: board, extras: forged)
        #expect(stale?.contains("sent 60 min ago") == true, "\(stale ?? "no reply"); log:\n\(daemon.log)")
        #expect(daemon.gpioLine("pump") == "0")
        let future = try hcSay(owner, "pump on", to: board, extras: [hcDelay(3600, from: "peer@\(server.domain)")])
        #expect(future?.contains("in the future") == true, "\(future ?? "no reply")")
        #expect(daemon.gpioLine("pump") == "0")
        // The same forgery on an XEP-0325 set.
        var iq = Stanza.iq(type: "set", id: owner.client.makeID("hc"), to: try JID(board), payload: hcSet([("boolean", "pump", "true")]))
        for d in forged { iq.append(d) }
        var answer: Result<XMLElement, StanzaError>?
        owner.client.sendIQ(iq, timeout: 10_000) { answer = $0 }
        owner.loop.run(until: { answer != nil }, timeout: 12_000)
        // (An iq carries one payload: the client refuses the delays as a second one before the
        // front-end, which would judge the set by its oldest delay, sees it.)
        let condition = hcCondition(answer)
        #expect(condition == .badRequest || condition == .notAllowed, "\(String(describing: answer))")
        #expect(daemon.gpioLine("pump") == "0")
        #expect(try hcSay(owner, "pump on", to: board, extras: []) == "pump on")
        owner.disconnect()
        #expect(daemon.terminate() == 0)
    }

    // MARK: The repeat check

    /// 300 iq sets from a stranger do not evict the owner's earlier set: its retry gets the first
    /// answer and does not run again.
    @Test(arguments: servers)
    func aStrangerFloodDoesNotMakeAnOwnersRetryRunTwice(_ server: ITServer) throws {
        let daemon = try hcStart(server)
        let board = server.jid
        let owner = try Peer.connected("peer", server)
        let stranger = try Peer.connected("stranger", server)
        let id = "owner-set-1"
        if case .success? = try hcAsk(owner, board, hcSet([("boolean", "pump", "true")]), id: id) {} else { Issue.record("pump on was refused") }
        #expect(daemon.gpioLine("pump") == "1")
        owner.idle(150)
        #expect(try owner.say("pump off", to: board) == "pump off")
        #expect(daemon.gpioLine("pump") == "0")
        _ = try hcFlood(stranger, 300, window: 2_000) { i in
            Stanza.iq(type: "set", id: "evict\(i)", to: try JID(board), payload: hcSet([("boolean", "pump", "true")]))
        }
        // The owner's client retries the first set (a lost reply, say): same id, same payload.
        let retry = try hcAsk(owner, board, hcSet([("boolean", "pump", "true")]), id: id)
        if case .success? = retry {} else { Issue.record("the retry was refused: \(String(describing: retry))") }
        #expect(daemon.gpioLine("pump") == "0", "the retry ran the set again; log:\n\(daemon.log)")
        #expect(hcCount("via iot: pump on → ok", in: daemon.log) == 1)
        #expect(daemon.log.contains("iq \"\(id)\" from \"peer@\(server.domain)/tester\" arrived again; sent the first answer"), "log:\n\(daemon.log)")
        owner.disconnect()
        stranger.disconnect()
        #expect(daemon.terminate() == 0)
    }
}
