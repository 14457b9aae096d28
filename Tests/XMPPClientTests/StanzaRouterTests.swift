import Testing
import PerchIO
import PerchLog
import XMPPAddress
import XMPPCore
@testable import XMPPClient

/// The stanza router: one handler per route, found by what a stanza carries, the features of what is
/// installed, and a second registration for a route stopping the program instead of replacing the first.
@Suite struct StanzaRouterTests {
    func message(type: String? = "chat", children: [XMLElement] = []) -> XMLElement {
        var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["type": type, "from": "a@b/c"])
        for c in children { m.append(c) }
        return m
    }

    @Test func iqRequestsGoByPayloadNamespace() throws {
        let r = StanzaRouter()
        var seen: [String] = []
        r.iq("urn:a") { _ in seen.append("a"); return .handled }
        r.iq("urn:b", features: ["urn:b"]) { _ in seen.append("b"); return .handled }
        _ = r.iqHandler(for: "urn:b")?(XMLElement("iq", namespace: XMPPNamespace.client))
        #expect(seen == ["b"])
        #expect(r.iqHandler(for: "urn:c") == nil)
        #expect(r.owner(ofIQ: "urn:a")?.hasSuffix("StanzaRouterTests.swift") == true, "the registration names its file")
    }

    @Test func aMessageGoesToItsPayloadsHandlerFirstThenToItsTypes() {
        let r = StanzaRouter()
        var seen: [String] = []
        r.messages(carrying: "urn:xmpp:iot:control") { _ in seen.append("control"); return .handled }
        r.messages(carrying: "jabber:x:conference") { _ in seen.append("invite, passed on"); return .pass }
        r.messages(ofType: [.chat, .normal]) { _ in seen.append("chat"); return .handled }
        #expect(r.route(message(children: [XMLElement("set", namespace: "urn:xmpp:iot:control")])) == .handled)
        #expect(r.route(message(children: [XMLElement("body", namespace: XMPPNamespace.client)])) == .handled)
        #expect(r.route(message(type: nil, children: [XMLElement("x", namespace: "jabber:x:conference")])) == .handled)
        #expect(r.route(message(type: "groupchat")) == .pass, "no route for groupchat: onStanza gets it")
        #expect(seen == ["control", "chat", "invite, passed on", "chat"])
    }

    @Test func presencesGoByType() {
        let r = StanzaRouter()
        var seen: [String] = []
        r.presences(ofType: [.available, .unavailable]) { p in seen.append(p.stanzaType ?? "available"); return .handled }
        #expect(r.route(XMLElement("presence", namespace: XMPPNamespace.client)) == .handled)
        #expect(r.route(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "unavailable"])) == .handled)
        #expect(r.route(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "subscribe"])) == .pass)
        #expect(seen == ["available", "unavailable"])
    }

    @Test func typedViewsOfTheStanzaTypes() {
        #expect(message(type: nil).messageType == .normal)
        #expect(message(type: "groupchat").messageType == .groupchat)
        #expect(message(type: "shout").messageType == nil)
        #expect(XMLElement("presence", namespace: XMPPNamespace.client).presenceType == .available)
        #expect(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "probe"]).presenceType == .probe)
        #expect(XMLElement("iq", namespace: XMPPNamespace.client, attrs: ["type": "set"]).iqType == .set)
        #expect(XMLElement("iq", namespace: XMPPNamespace.client).iqType == nil)
        #expect(XMLElement("message", namespace: "urn:other").messageType == nil, "only jabber:client stanzas")
        // An unknown message type is routed as normal (RFC 6121 §5.2.2); an unknown presence nowhere.
        let r = StanzaRouter()
        r.messages(ofType: [.normal]) { _ in .handled }
        r.presences { _ in .handled }
        #expect(r.route(message(type: "shout")) == .handled)
        #expect(r.route(XMLElement("presence", namespace: XMPPNamespace.client, attrs: ["type": "shout"])) == .pass)
    }

    @Test func theFeaturesAreWhatIsInstalledEachOnce() {
        let r = StanzaRouter()
        r.iq("urn:x:commands", features: ["urn:x:commands", "jabber:x:data"]) { _ in .unhandled }
        r.messages(carrying: "urn:x:control", features: ["urn:x:control", "jabber:x:data"]) { _ in .pass }
        r.declare(["urn:x:extra"])
        #expect(r.features == ["urn:x:commands", "jabber:x:data", "urn:x:control", "urn:x:extra"])
    }

    @Test func discoInfoAndTheCapsHashFollowTheRoutes() throws {
        let loop = try EventLoop()
        let c = XMPPClient(loop: loop, config: ClientConfiguration(jid: try JID("perch@perch.test/board"), password: "x"), logger: Logger(label: "t", level: .error))
        let before = c.advertised.capsVerification
        c.router.iq("urn:xmpp:iot:control", features: ["urn:xmpp:iot:control"]) { _ in .unhandled }
        #expect(c.advertised.listedFeatures.contains("urn:xmpp:iot:control"))
        #expect(c.advertised.listedFeatures.contains(XMPPNamespace.ping), "the client's own features stay")
        #expect(c.advertised.capsVerification != before)
    }

    @Test func theClientsOwnRequestsAreRoutesLikeAnyOther() throws {
        let loop = try EventLoop()
        let c = XMPPClient(loop: loop, config: ClientConfiguration(jid: try JID("perch@perch.test/board"), password: "x"), logger: Logger(label: "t", level: .error))
        for ns in [XMPPNamespace.ping, XMPPNamespace.discoInfo, XMPPNamespace.version, XMPPNamespace.time, XMPPNamespace.roster] {
            #expect(c.router.owner(ofIQ: ns) == "XMPPClient (built in)", "\(ns)")
        }
        #expect(c.advertised.listedFeatures == [XMPPNamespace.caps, XMPPNamespace.discoInfo, XMPPNamespace.version, XMPPNamespace.ping, XMPPNamespace.time].sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        // A ping is answered by the route; a set with a ping payload is nobody's.
        let ping = Stanza.iq(type: "get", id: "p1", payload: XMLElement("ping", namespace: XMPPNamespace.ping))
        guard case .reply(let pong)? = c.router.iqHandler(for: XMPPNamespace.ping)?(ping) else { Issue.record("no pong"); return }
        #expect(pong.stanzaType == "result" && pong.stanzaID == "p1")
        let odd = Stanza.iq(type: "set", id: "p2", payload: XMLElement("ping", namespace: XMPPNamespace.ping))
        guard case .unhandled? = c.router.iqHandler(for: XMPPNamespace.ping)?(odd) else { Issue.record("a set ping was answered"); return }
    }

    @Test func aSecondPingHandlerStopsTheProgram() async {
        await #expect(processExitsWith: .failure) {
            let c = XMPPClient(loop: try EventLoop(), config: ClientConfiguration(jid: try JID("perch@perch.test/board"), password: "x"), logger: Logger(label: "t", level: .error))
            c.router.iq(XMPPNamespace.ping) { _ in .unhandled }
        }
    }

    @Test func statusObserversAddUpAndNeverReplaceEachOther() throws {
        let loop = try EventLoop()
        let c = XMPPClient(loop: loop, config: ClientConfiguration(jid: try JID("perch@perch.test/board"), password: "x"), logger: Logger(label: "t", level: .error))
        var seen: [String] = []
        c.observeStatus { _ in seen.append("daemon") }
        c.observeStatus { _ in seen.append("agent") }
        c.onStatus = { _ in seen.append("onStatus") }
        c.status = .connecting
        c.status = .connecting  // no change, no call
        #expect(seen == ["daemon", "agent", "onStatus"])
    }

    @Test func aSecondHandlerForAnIQNamespaceStopsTheProgram() async {
        await #expect(processExitsWith: .failure) {
            let r = StanzaRouter()
            r.iq("urn:a") { _ in .unhandled }
            r.iq("urn:a") { _ in .unhandled }
        }
    }

    @Test func aSecondHandlerForAMessageTypeStopsTheProgram() async {
        await #expect(processExitsWith: .failure) {
            let r = StanzaRouter()
            r.messages(ofType: [.chat, .normal]) { _ in .pass }
            r.messages(ofType: [.groupchat, .normal]) { _ in .pass }
        }
    }
}
