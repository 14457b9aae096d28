import Testing
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// XEP-0050's command element, both ways, without a device behind it.
@Suite struct AdHocCommandsProtocolTests {
    static let ns = "http://jabber.org/protocol/commands"

    func iq(_ type: String, _ inner: String) throws -> XMLElement {
        try XMLElement.parse("<iq xmlns='jabber:client' from='bob@example.org/laptop' type='\(type)' id='c1'>\(inner)</iq>")
    }

    @Test func readsWhatClientsSend() throws {
        // Gajim's first request, and Psi's submission of the form with the session id.
        let first = try AdHocCommands.request(in: iq("set", "<command xmlns='\(Self.ns)' node='set-output' action='execute'/>")).get()
        #expect(first == .init(node: "set-output"))
        let submit = try AdHocCommands.request(in: iq("set", """
            <command xmlns='\(Self.ns)' node='set-output' sessionid='abc' action='complete'>\
            <x xmlns='jabber:x:data' type='submit'><field var='output'><value>pump</value></field><field var='state'><value>on</value></field></x>\
            </command>
            """)).get()
        #expect(submit.sessionID == "abc")
        #expect(submit.action == .complete)
        #expect(submit.values == ["output": "pump", "state": "on"])
        #expect(try AdHocCommands.request(in: iq("set", "<command xmlns='\(Self.ns)' node='n' action='rewind'/>")).get().action == .other("rewind"))
        #expect(try AdHocCommands.request(in: iq("set", "<command xmlns='\(Self.ns)' node='n' action=''/>")).get().action.rawValue == "")
    }

    @Test func whatIsNotACommandRequestSaysWhy() throws {
        #expect(AdHocCommands.request(in: try iq("get", "<command xmlns='\(Self.ns)' node='status'/>")) == .failure(.notASet))
        #expect(AdHocCommands.request(in: try iq("set", "<command xmlns='urn:other' node='status'/>")) == .failure(.noCommand))
        #expect(AdHocCommands.request(in: try iq("set", "<command xmlns='\(Self.ns)' action='execute'/>")) == .failure(.noNode))
        // A form in another namespace is not the submission.
        let foreign = try AdHocCommands.request(in: iq("set", "<command xmlns='\(Self.ns)' node='n' sessionid='s'><x xmlns='jabber:x:oob'/></command>")).get()
        #expect(foreign.form == nil)
    }

    @Test func requestsAreWritten() throws {
        let r = AdHocCommands.Request(node: "pulse-output", sessionID: "s1", action: .complete, form: DataForm.form(type: "submit", title: nil, instructions: nil, fields: [.init(variable: "output", type: "list-single", value: "pump")]))
        #expect(AdHocCommands.iq(r, id: "c2", to: try JID("dev@example.org/perch")).serialized()
            == "<iq type='set' id='c2' to='dev@example.org/perch'><command xmlns='\(Self.ns)' node='pulse-output' sessionid='s1' action='complete'><x xmlns='jabber:x:data' type='submit'><field var='output' type='list-single'><value>pump</value></field></x></command></iq>")
        #expect(AdHocCommands.Request(node: "status").element.serialized() == "<command xmlns='\(Self.ns)' node='status'/>", "execute is the default: not written")
    }

    @Test func responsesAreWrittenInTheXEPsOrder() {
        let executing = AdHocCommands.response(node: "set-output", sessionID: "s1", status: .executing, actions: .init(execute: .complete, allowed: [.complete]),
                                               form: DataForm.form(type: "form", title: nil, instructions: nil, fields: []))
        #expect(executing.serialized() == "<command xmlns='\(Self.ns)' node='set-output' sessionid='s1' status='executing'><actions execute='complete'><complete/></actions><x xmlns='jabber:x:data' type='form'/></command>")
        let done = AdHocCommands.response(node: "status", sessionID: "s2", status: .completed, note: .init(.error, "Not done: interlocked"))
        #expect(done.serialized() == "<command xmlns='\(Self.ns)' node='status' sessionid='s2' status='completed'><note type='error'>Not done: interlocked</note></command>")
        #expect(AdHocCommands.response(node: "n", sessionID: "s", status: .canceled).serialized() == "<command xmlns='\(Self.ns)' node='n' sessionid='s' status='canceled'/>")
    }

    @Test func readsAServersResponse() throws {
        // Prosody's mod_adhoc answering "Get User Statistics" with its first stage.
        let answer = try iq("result", """
            <command xmlns='\(Self.ns)' node='http://jabber.org/protocol/admin#get-user-stats' sessionid='2026-11-21T17:20:31Z-0.5' status='executing'>\
            <actions execute='complete'><next/><complete/></actions>\
            <note type='warn'>Careful</note><note>Plain</note><note type='loud'>Odd type</note>\
            <x xmlns='jabber:x:data' type='form'><field var='accountjid' type='jid-single'/></x>\
            </command>
            """)
        let r = try AdHocCommands.response(in: answer).get()
        #expect(r.node == "http://jabber.org/protocol/admin#get-user-stats")
        #expect(r.sessionID == "2026-11-21T17:20:31Z-0.5")
        #expect(r.status == .executing)
        #expect(r.actions == .init(execute: .complete, allowed: [.next, .complete]))
        #expect(r.notes == [.init(.warn, "Careful"), .init(.info, "Plain"), .init(.info, "Odd type")])
        #expect(r.form?[attribute: "type"] == "form")
    }

    @Test func aMalformedResponseSaysWhy() throws {
        #expect(AdHocCommands.response(in: try iq("result", "")) == .failure(.noCommand))
        #expect(AdHocCommands.response(in: try iq("result", "<command xmlns='urn:other' node='n' status='completed'/>")) == .failure(.noCommand))
        #expect(AdHocCommands.response(in: try iq("result", "<command xmlns='\(Self.ns)' status='completed'/>")) == .failure(.noNode))
        #expect(AdHocCommands.response(in: try iq("result", "<command xmlns='\(Self.ns)' node='n'/>")) == .failure(.badStatus(nil)))
        #expect(AdHocCommands.response(in: try iq("result", "<command xmlns='\(Self.ns)' node='n' status='done'/>")) == .failure(.badStatus("done")))
    }

    @Test func errorsCarryTheSpecificCondition() throws {
        let request = try iq("set", "<command xmlns='\(Self.ns)' node='n' sessionid='gone'/>")
        let e = AdHocCommands.error(for: request, .badRequest, .badSessionID, text: "start again")
        #expect(e.serialized() == "<iq type='error' id='c1' to='bob@example.org/laptop'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
            + "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>start again</text><bad-sessionid xmlns='\(Self.ns)'/></error></iq>")
        #expect(AdHocCommands.specificCondition(in: e) == .badSessionID)
        #expect(StanzaError(stanza: e)?.condition == .badRequest)
        #expect(AdHocCommands.specificCondition(in: Stanza.error(for: request, StanzaError(.forbidden))) == nil)
        let foreign = try XMLElement.parse("<iq xmlns='jabber:client' type='error' id='c1'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><bad-action xmlns='urn:other'/></error></iq>")
        #expect(AdHocCommands.specificCondition(in: foreign) == nil)
    }

    @Test func discoveryEntries() throws {
        let me = try JID("dev@example.org/perch")
        let items = DiscoItems(node: nil, items: [AdHocCommands.commandListItem(of: me)])
        #expect(items.element.serialized() == "<query xmlns='http://jabber.org/protocol/disco#items'><item jid='dev@example.org/perch' node='\(Self.ns)' name='Commands'/></query>")
        #expect(AdHocCommands.commandListInfo.serialized() == "<query xmlns='http://jabber.org/protocol/disco#info' node='\(Self.ns)'><identity category='automation' type='command-list' name='Commands'/>"
            + "<feature var='http://jabber.org/protocol/disco#items'/><feature var='\(Self.ns)'/></query>")
        let node = try #require(DiscoInfo(answer: AdHocCommands.commandInfo(node: "status", name: "Status")))
        #expect(node.identities == [.init(category: "automation", type: "command-node", name: "Status")])
        #expect(node.features == [Self.ns, "jabber:x:data"])
    }
}
