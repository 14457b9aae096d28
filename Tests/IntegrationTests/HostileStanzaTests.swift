import Foundation
import Testing
import XMPPAddress
import XMPPClient
import XMPPCore

/// Stanzas a stranger can make a server relay to the device: over the parser's per-stanza limits,
/// or inventing element names and namespaces without end. The device stays online and answers its
/// owner; its memory stays bounded.
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct HostileStanzaTests {
    /// Where a test runs: Prosody of its own with mod_offline (Prosody's default, which stores what a
    /// stranger sends while the device is away and hands it over at every login), or the shared ejabberd.
    struct Target: Sendable, CustomTestStringConvertible {
        let name: String
        let port: Int
        /// Start a Prosody of the test's own on `port`, with offline storage.
        let ownProsody: Bool
        var testDescription: String { name }

        static let prosodyOffline = Target(name: "Prosody with mod_offline", port: 15310, ownProsody: true)
        static let ejabberd = Target(name: "ejabberd", port: 15232, ownProsody: false)
    }

    static var targets: [Target] { (IT.prosody ? [.prosodyOffline] : []) + (IT.ejabberd ? [.ejabberd] : []) }

    static let board = "perch@perch.test/board"
    static let bare = "perch@perch.test"

    /// A message nested 65 deep (the message is depth 1).
    static func deep(_ id: String) -> XMLElement {
        var inner = XMLElement("a", namespace: "urn:perch:it:deep")
        for _ in 0..<63 { inner = XMLElement("a", namespace: "urn:perch:it:deep", children: [.element(inner)]) }
        var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": bare, "type": "chat", "id": id])
        m.append(inner)
        return m
    }

    /// A message whose payload has 65 attributes.
    static func wide(_ id: String) -> XMLElement {
        var x = XMLElement("x", namespace: "urn:perch:it:wide")
        for i in 0..<65 { x[attribute: "a\(i)"] = "v" }
        var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": bare, "type": "chat", "id": id])
        m.append(x)
        return m
    }

    func hostileServer(_ target: Target) throws -> ServerProcess? {
        guard target.ownProsody else { return nil }
        let server = try ServerProcess(.prosody, port: target.port)
        setenv("PERCH_IT_PROSODY_OFFLINE", "1", 1)
        defer { unsetenv("PERCH_IT_PROSODY_OFFLINE") }
        try server.start()
        return server
    }

    func peer(_ user: String, _ target: Target) throws -> Peer {
        let p = try Peer(user: user, domain: "perch.test", port: target.port)
        #expect(p.connect(), "\(user) could not log in to \(target.name)")
        return p
    }

    /// The owner subscribes to the device's presence and waits for it to be available.
    func watchPresence(_ owner: Peer) {
        owner.send(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe", "to": Self.bare]))
        #expect(owner.waitFor { $0.name == "presence" && $0.stanzaType == nil && $0.from?.description == Self.board } != nil, "the owner sees the device online")
    }

    /// The device's own unavailable presence (not the server's answer for the bare JID when the owner
    /// subscribes, which Prosody sends before the device's presence is known to it).
    func unavailable(_ owner: Peer) -> [XMLElement] {
        owner.received.filter { $0.name == "presence" && $0.stanzaType == "unavailable" && $0.from?.description == Self.board }
    }

    static let strangerLine = "refused a stanza over the limits from \"stranger@perch.test\""

    @Test(arguments: targets)
    func overLimitStanzasFromAStrangerDoNotTakeTheDeviceOffline(_ target: Target) throws {
        let server = try hostileServer(target)
        defer { try? server?.stop() }
        let stranger = try peer("stranger", target)
        if target.ownProsody {
            // While the device is away: the server stores them and delivers them when it logs in.
            stranger.send(Self.deep("offline-deep"))
            stranger.send(Self.wide("offline-wide"))
            stranger.idle(500)
        }
        let daemon = try DaemonProcess(config: daemonConfig(port: target.port), password: "perch-secret")
        #expect(daemon.waitFor("online as \(Self.board)"), "log:\n\(daemon.log)")
        if target.ownProsody {
            // A stranger's are not logged one by one: the stranger gate logs the first, sums up the rest.
            #expect(daemon.waitFor(Self.strangerLine), "log:\n\(daemon.log)")
        }
        let owner = try peer("peer", target)
        watchPresence(owner)

        // While it is online: two messages and an iq request, each past a limit.
        stranger.send(Self.deep("online-deep"))
        stranger.send(Self.wide("online-wide"))
        var ping = XMLElement("ping", namespace: XMPPNamespace.ping)
        for i in 0..<65 { ping[attribute: "a\(i)"] = "v" }
        let answer = try stranger.ask(Self.board, ping)
        guard case .failure(let error)? = answer else { Issue.record("the iq was not refused: \(String(describing: answer))"); return }
        #expect(error.condition == .policyViolation)
        #expect(daemon.waitFor(Self.strangerLine), "log:\n\(daemon.log)")
        #expect(daemon.log.components(separatedBy: Self.strangerLine).count == 2, "one line for all of the stranger's:\n\(daemon.log)")
        #expect(!daemon.log.contains("from 'stranger@perch.test/tester' (id"), "log:\n\(daemon.log)")
        // A role holder's over-limit stanza is dropped too, and logged with what it broke.
        owner.send(Self.deep("owner-deep"))
        #expect(daemon.waitFor("(id 'owner-deep'): elements nested deeper than 64"), "log:\n\(daemon.log)")

        // The owner is answered, and never saw the device go away.
        #expect(try owner.say("help", to: Self.board) != nil, "log:\n\(daemon.log)")
        owner.idle(1_000)
        #expect(unavailable(owner).isEmpty, "the device went offline: \(unavailable(owner))")
        #expect(daemon.log.components(separatedBy: "online as ").count == 2, "one session only:\n\(daemon.log)")
        #expect(!daemon.log.contains("will not accept"), "log:\n\(daemon.log)")

        if target.ownProsody {
            // Nothing is left in offline storage: a restart logs in once and stays.
            #expect(daemon.terminate() == 0)
            try daemon.restart()
            #expect(daemon.waitFor("online as \(Self.board)", count: 2), "log:\n\(daemon.log)")
            owner.idle(2_000)
            #expect(daemon.log.components(separatedBy: "online as ").count == 3, "log:\n\(daemon.log)")
            #expect(try owner.say("help", to: Self.board) != nil)
        }
        stranger.disconnect()
        owner.disconnect()
        #expect(daemon.terminate() == 0)
    }

    /// One stanza of `count` elements, each with a name and a namespace nobody used before.
    static func inventive(_ n: Int, count: Int) -> XMLElement {
        var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": board, "type": "chat", "id": "fresh\(n)"])
        for k in 0..<count {
            m.append(XMLElement("fresh-element-\(n)-\(k)-padding", namespace: "urn:perch:it:fresh-namespace:\(n):\(k)"))
        }
        return m
    }

    static func residentKiB(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
        return nil
    }

    /// libxml2 keeps every name it has seen for as long as its parser context lives: a stranger that
    /// invents them grew the daemon by 20 MB, then ended its stream ("dictionary allocation failure").
    /// 100 stanzas of 1,000 new element names and 1,000 new namespaces each (about 75 KB, 200,000
    /// names and 6 MB of them in all) must leave the daemon online and within 4 MB of where it
    /// started: what one stanza costs (its tree, at most 4,096 names plus its own in the dictionary,
    /// about 1 MB) and what the allocator keeps, not what the stream has seen.
    @Test(arguments: targets)
    func inventedNamesKeepTheDaemonsMemoryBounded(_ target: Target) throws {
        let server = try hostileServer(target)
        defer { try? server?.stop() }
        let daemon = try DaemonProcess(config: daemonConfig(port: target.port), password: "perch-secret")
        #expect(daemon.waitFor("online as \(Self.board)"), "log:\n\(daemon.log)")
        let owner = try peer("peer", target)
        watchPresence(owner)
        let stranger = try peer("stranger", target)
        let pid = daemon.process.processIdentifier
        // Warm up: the first of them, and the owner's command, allocate what every later one reuses.
        for n in 0..<5 { stranger.send(Self.inventive(n, count: 1_000)) }
        stranger.idle(1_000)
        #expect(try owner.say("help", to: Self.board) != nil, "log:\n\(daemon.log)")
        let before = try #require(Self.residentKiB(pid))
        for n in 5..<105 {
            stranger.send(Self.inventive(n, count: 1_000))
            if n % 10 == 0 { stranger.idle(200) }
        }
        stranger.idle(2_000)
        #expect(try owner.say("help", to: Self.board, timeout: 30_000) != nil, "log:\n\(daemon.log)")
        let after = try #require(Self.residentKiB(pid))
        print("HostileStanzaTests \(target.name): daemon RSS \(before) KiB before, \(after) KiB after 100 inventive stanzas")
        #expect(after - before < 4 * 1024, "the daemon grew from \(before) KiB to \(after) KiB")
        #expect(daemon.log.components(separatedBy: "online as ").count == 2, "one session only:\n\(daemon.log)")
        #expect(unavailable(owner).isEmpty, "the device went offline: \(unavailable(owner))")
        stranger.disconnect()
        owner.disconnect()
        #expect(daemon.terminate() == 0)
    }
}
