import Testing
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// XEP-0325 sets, their parameters and their answers.
@Suite struct IoTControlProtocolTests {
    static let ns = "urn:xmpp:iot:control"

    func set(_ inner: String) throws -> XMLElement {
        try XMLElement.parse("<iq xmlns='jabber:client' from='op@example.org/phone' type='set' id='s1'><set xmlns='\(Self.ns)'>\(inner)</set></iq>")
    }

    @Test func readsTheParametersOfASet() throws {
        let iq = try set("<boolean name='pump' value='true'/><int name='fan' value='1'/><duration name='bell' value='PT0.5S'/><color name='lamp' value='ff0000'/>")
        let set = try #require(IoTControl.set(in: iq))
        let parameters = try set.elements.map { try IoTControl.parameter($0).get() }
        #expect(parameters == [.init(.boolean, name: "pump", value: "true"), .init(.int, name: "fan", value: "1"),
                               .init(.duration, name: "bell", value: "PT0.5S"), .init(.other("color"), name: "lamp", value: "ff0000")])
        #expect(parameters[0].booleanValue == true)
        #expect(parameters[1].booleanValue == true, "1 is an xs:boolean too")
        #expect(parameters[2].durationMilliseconds == 500)
        #expect(parameters[3].kind.elementName == "color")
        #expect(IoTControl.set(in: try XMLElement.parse("<iq xmlns='jabber:client' type='set' id='1'><set xmlns='urn:xmpp:iot:sensordata'/></iq>")) == nil)
    }

    @Test func aParameterWithoutNameOrValueSaysWhich() throws {
        #expect(IoTControl.parameter(try XMLElement.parse("<boolean xmlns='\(Self.ns)' value='true'/>")) == .failure(.missingNameOrValue(element: "boolean")))
        #expect(IoTControl.parameter(try XMLElement.parse("<duration xmlns='\(Self.ns)' name='bell'/>")) == .failure(.missingNameOrValue(element: "duration")))
        #expect(IoTControl.Parameter(.boolean, name: "pump", value: "yes").booleanValue == nil)
    }

    @Test func xsDurations() {
        #expect(IoTControl.parseXSDuration("PT5S") == 5000)
        #expect(IoTControl.parseXSDuration("PT1M30S") == 90_000)
        #expect(IoTControl.parseXSDuration("PT2H") == 7_200_000)
        for bad in ["P1D", "PT", "5S", "-PT5S", "PTS", "PT5", "PT5X", "PT1.2.3S", "PT999999999H"] {
            #expect(IoTControl.parseXSDuration(bad) == nil, "\(bad)")
        }
    }

    @Test func answersAreWritten() throws {
        let request = try set("<boolean name='pump' value='true'/>")
        #expect(Stanza.result(for: request, payload: IoTControl.setResponse).serialized() == "<iq type='result' id='s1' to='op@example.org/phone'><setResponse xmlns='\(Self.ns)'/></iq>")
        let e = IoTControl.errorReply(to: request, parameter: "pump", StanzaError(.notAllowed, text: "interlocked"))
        #expect(e.serialized() == "<iq type='error' id='s1' to='op@example.org/phone'><setResponse xmlns='\(Self.ns)'><parameter name='pump'/></setResponse>"
            + "<error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>interlocked</text></error></iq>")
        #expect(IoTControl.failedParameters(in: e) == ["pump"])
        #expect(IoTControl.errorReply(to: request, parameter: nil, StanzaError(.badRequest)).serialized().contains("<setResponse xmlns='\(Self.ns)'/>"))
        let result = Stanza.result(for: request, payload: IoTControl.setResponse.appending(XMLElement("parameter", namespace: Self.ns, attrs: ["name": "pump"])))
        #expect(IoTControl.failedParameters(in: result).isEmpty, "a result names no failure, whatever it lists")
    }

    @Test func requestsAreWritten() throws {
        let iq = IoTControl.setRequest(id: "s2", to: try JID("dev@example.org/perch"), [.init(.boolean, name: "pump", value: "false"), .init(.duration, name: "bell", value: "PT1S")])
        #expect(iq.serialized() == "<iq type='set' id='s2' to='dev@example.org/perch'><set xmlns='\(Self.ns)'><boolean name='pump' value='false'/><duration name='bell' value='PT1S'/></set></iq>")
    }
}
