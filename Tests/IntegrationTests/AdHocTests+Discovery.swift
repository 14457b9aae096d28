import Foundation
import Testing
import XMPPAddress
import XMPPClient
import XMPPCore

/// What XEP-0050 clients see of the commands through a real server: the device's own disco#items
/// lists the commands node (Gajim's service discovery browses from there), disco#info advertises
/// disco#items, the pulse form gives each output's own limit, and a refused pulse completes with an
/// error note (Psi closes its form on an iq error without a word).
@Suite(.serialized, .enabled(if: IT.anyServer, "set PERCH_IT_PROSODY=1 / PERCH_IT_EJABBERD=1 (scripts/integration/run starts the servers)"))
struct AdHocBrowseTests {
    static var servers: [ITServer] { (IT.prosody ? [ITServer.prosody] : []) + (IT.ejabberd ? [ITServer.ejabberd] : []) }
    static let commands = "http://jabber.org/protocol/commands"
    static let forms = "jabber:x:data"

    /// A daemon with outputs pump (max_pulse 2 s) and fill (the default 60 s), owned by peer.
    func ahdStart(_ server: ITServer) throws -> DaemonProcess {
        let d = server.domain
        return try DaemonProcess(config: """
        [account]
        jid = "perch@\(d)/board"
        password_file = "@DIR@/password"
        [server]
        host = "127.0.0.1"
        port = \(server.port)
        ca_file = "\(IT.caFile)"
        [access]
        owners = ["peer@\(d)"]
        [device]
        name = "testbed"
        gpio = "simulated"
        simulated_dir = "@DIR@/gpio"
        state_dir = "@DIR@/state"
        [[output]]
        name = "pump"
        line = "pump"
        max_pulse = "2s"
        [[output]]
        name = "fill"
        line = "fill"
        """, password: "perch-secret")
    }

    func ahdQuery(_ p: Peer, _ to: String, _ namespace: String, node: String? = nil) throws -> XMLElement? {
        try p.ask(to, XMLElement("query", namespace: namespace, attrs: ["node": node]))?.get().child("query", namespace: namespace)
    }

    @Test(arguments: servers)
    func theFullJIDIsBrowsableToTheCommands(_ server: ITServer) throws {
        let daemon = try ahdStart(server)
        #expect(daemon.waitFor("online as"), "log:\n\(daemon.log)")
        let board = "perch@\(server.domain)/board"
        let owner = try Peer.connected("peer", server)
        let stranger = try Peer.connected("stranger", server)

        // disco#info advertises disco#items, and the items without a node list the commands node.
        let info = try #require(try ahdQuery(owner, board, XMPPNamespace.discoInfo))
        let features = info.elements.compactMap { $0[attribute: "var"] }
        #expect(features.contains(XMPPNamespace.discoItems), "\(features)")
        #expect(features.contains(Self.commands))
        let items = try #require(try ahdQuery(owner, board, XMPPNamespace.discoItems)).elements.filter { $0.name == "item" }
        #expect(items.map { $0[attribute: "node"] } == [Self.commands])
        #expect(items.first?[attribute: "jid"] == board)
        #expect(items.first?[attribute: "name"] == "Commands")

        // That node describes itself as the command list a browser can walk into, and holds the commands.
        let list = try #require(try ahdQuery(owner, board, XMPPNamespace.discoInfo, node: Self.commands))
        #expect(list.elements.contains { $0[attribute: "category"] == "automation" && $0[attribute: "type"] == "command-list" })
        #expect(list.elements.contains { $0[attribute: "var"] == XMPPNamespace.discoItems })
        let nodes = try #require(try ahdQuery(owner, board, XMPPNamespace.discoItems, node: Self.commands)).elements.compactMap { $0[attribute: "node"] }
        #expect(nodes == ["status", "read", "set-output", "pulse-output"])

        // A stranger learns nothing: an empty list.
        let strangers = try #require(try ahdQuery(stranger, board, XMPPNamespace.discoItems))
        #expect(strangers.elements.isEmpty)
        owner.disconnect()
        stranger.disconnect()
        #expect(daemon.terminate() == 0)
    }

    @Test(arguments: servers)
    func aPulseOverTheLimitCompletesWithAnErrorNote(_ server: ITServer) throws {
        let daemon = try ahdStart(server)
        #expect(daemon.waitFor("online as"), "log:\n\(daemon.log)")
        let board = "perch@\(server.domain)/board"
        let owner = try Peer.connected("peer", server)

        let first = try #require(try owner.ask(board, XMLElement("command", namespace: Self.commands, attrs: ["node": "pulse-output", "action": "execute"]), type: "set")?.get().child("command", namespace: Self.commands))
        let sid = try #require(first[attribute: "sessionid"])
        let output = first.child("x", namespace: Self.forms)?.elements.first { $0[attribute: "var"] == "output" }
        #expect(output?.elements.filter { $0.name == "option" }.map { $0[attribute: "label"] } == ["pump (at most 2 s)", "fill (at most 60 s)"])

        let x = XMLElement("x", namespace: Self.forms, attrs: ["type": "submit"], children: [
            XMLElement("field", namespace: Self.forms, attrs: ["var": "output"], children: [.text("value", namespace: Self.forms, "pump")]),
            XMLElement("field", namespace: Self.forms, attrs: ["var": "duration"], children: [.text("value", namespace: Self.forms, "10s")]),
        ])
        let answer = try owner.ask(board, XMLElement("command", namespace: Self.commands, attrs: ["node": "pulse-output", "sessionid": sid, "action": "complete"], children: [x]), type: "set")
        let done = try #require(try answer?.get().child("command", namespace: Self.commands), "an iq error, not a completed command")
        #expect(done[attribute: "status"] == "completed")
        let note = done.child("note", namespace: Self.commands)
        #expect(note?[attribute: "type"] == "error")
        #expect(note?.text == "Not done: pump: a pulse of 10 s is longer than this output's max_pulse of 2 s", "\(note?.text ?? "no note")")
        #expect(daemon.gpioLine("pump") != "1", "nothing ran")
        #expect(daemon.waitFor("via adhoc: pulse pump 10 s → refused (not-allowed)"), "log:\n\(daemon.log)")
        owner.disconnect()
        #expect(daemon.terminate() == 0)
    }
}
