import Testing
import XMPPAddress
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// XEP-0323 readout requests and the fields that answer them, written and read.
@Suite struct IoTSensorDataProtocolTests {
    static let ns = "urn:xmpp:iot:sensordata"

    func iq(_ type: String, _ inner: String) throws -> XMLElement {
        try XMLElement.parse("<iq xmlns='jabber:client' from='alice@example.org/phone' type='\(type)' id='r1'>\(inner)</iq>")
    }

    @Test func fieldsAreWrittenInOneOrder() {
        let air = IoTSensorData.Field(name: "air", value: .numeric("21.4", unit: "°C", decimals: 1), flags: [.automaticReadout, .momentary])
        #expect(air.element.serialized() == "<numeric xmlns='\(Self.ns)' name='air' momentary='true' automaticReadout='true' value='21.4' unit='°C' nrDecimals='1'/>")
        let bare = IoTSensorData.Field(name: "count", value: .numeric("3", unit: "", decimals: nil), flags: [])
        #expect(bare.element.serialized() == "<numeric xmlns='\(Self.ns)' name='count' value='3'/>", "no unit, no decimals, no flags")
        let pump = IoTSensorData.Field(name: "pump", value: .boolean(true), flags: [.status, .writable])
        #expect(pump.element.serialized() == "<boolean xmlns='\(Self.ns)' name='pump' status='true' writable='true' value='true'/>")
        let other = IoTSensorData.Field(name: "fw", value: .other(type: "string", value: "1.2"), flags: [.writable, .status, .momentary, .automaticReadout])
        #expect(other.element.serialized() == "<string xmlns='\(Self.ns)' name='fw' momentary='true' status='true' writable='true' automaticReadout='true' value='1.2'/>")
    }

    @Test func aReadoutMessageIsWritten() throws {
        let node = IoTSensorData.node("greenhouse", timestamps: [
            IoTSensorData.timestamp("2026-11-21T17:20:31.898Z", [.init(name: "door", value: .boolean(false), flags: [.momentary])]),
        ], errors: [IoTSensorData.error(nodeID: "greenhouse", timestamp: "2026-11-21T17:20:32.000Z", "soil: no such file")])
        let m = IoTSensorData.message(to: try JID("alice@example.org/phone"), id: "sd1", IoTSensorData.fields(request: .init(key: "seqnr", value: "7"), done: true, node))
        #expect(m.serialized() == "<message to='alice@example.org/phone' id='sd1'><fields xmlns='\(Self.ns)' seqnr='7' done='true'><node nodeId='greenhouse'>"
            + "<timestamp value='2026-11-21T17:20:31.898Z'><boolean name='door' momentary='true' value='false'/></timestamp>"
            + "<error nodeId='greenhouse' timestamp='2026-11-21T17:20:32.000Z'>soil: no such file</error></node></fields></message>")
        let item = IoTSensorData.fields(IoTSensorData.node("greenhouse", timestamps: []))
        #expect(item.serialized() == "<fields xmlns='\(Self.ns)'><node nodeId='greenhouse'/></fields>", "a pubsub item's: no id, no done")
    }

    @Test func readsRequestsInBothTerms() throws {
        let new = try IoTSensorData.readoutRequest(in: iq("get", "<req xmlns='\(Self.ns)' id='S0001' momentary='true'><field name='Air'/><field/><field xmlns='urn:other' name='x'/></req>")).get()
        #expect(new.id == .init(key: "id", value: "S0001"))
        #expect(new.fieldNames == ["Air"], "a field without a name, or in another namespace, is not asked for")
        let old = try IoTSensorData.readoutRequest(in: iq("get", "<req xmlns='\(Self.ns)' seqnr='4' momentary='true'/>")).get()
        #expect(old.id == .init(key: "seqnr", value: "4"))
        #expect(try IoTSensorData.readoutRequest(in: iq("get", "<req xmlns='\(Self.ns)'/>")).get().id == .init(key: "seqnr", value: "1"))
        #expect(IoTSensorData.accepted(old.id, queued: false).serialized() == "<accepted xmlns='\(Self.ns)' seqnr='4' queued='false'/>")
    }

    @Test func whatIsNotARequestSaysWhy() throws {
        #expect(IoTSensorData.readoutRequest(in: try iq("set", "<req xmlns='\(Self.ns)' id='1'/>")) == .failure(.notAGet))
        #expect(IoTSensorData.readoutRequest(in: try iq("get", "<req xmlns='urn:xmpp:iot:control' id='1'/>")) == .failure(.noRequest))
        #expect(IoTSensorData.readoutRequest(in: try iq("get", "<query xmlns='\(Self.ns)'/>")) == .failure(.noRequest))
        #expect(IoTSensorData.readoutRequest(id: "r2", to: try JID("dev@example.org/perch"), requestID: "9", fields: ["air"]).serialized()
            == "<iq type='get' id='r2' to='dev@example.org/perch'><req xmlns='\(Self.ns)' id='9' momentary='true'><field name='air'/></req></iq>")
    }

    @Test func readsAReadout() throws {
        // What a gateway sends: two timestamps, a field type we do not model, an error, and a
        // flag written as 1.
        let m = try XMLElement.parse("""
            <message xmlns='jabber:client' from='gw@example.org/iot'><fields xmlns='\(Self.ns)' id='S0001' done='true'><node nodeId='tank'>\
            <timestamp value='2026-11-21T17:20:31Z'><numeric name='level' momentary='1' automaticReadout='true' value='0.75' unit='m' nrDecimals='2'/>\
            <string name='state' status='true' value='filling'/></timestamp>\
            <timestamp value='2026-11-21T17:20:32.500Z'><boolean name='valve' value='1'/></timestamp>\
            <error nodeId='tank' timestamp='2026-11-21T17:20:32Z'>temp: timeout</error>\
            </node></fields></message>
            """)
        let r = try IoTSensorData.readout(in: m).get()
        #expect(r.request == .init(key: "id", value: "S0001"))
        #expect(r.done)
        #expect(r.nodes.map(\.id) == ["tank"])
        let node = r.nodes[0]
        #expect(node.errors == ["temp: timeout"])
        #expect(node.timestamps.map(\.stamp) == [XMPPDateTime.parse("2026-11-21T17:20:31Z"), XMPPDateTime.parse("2026-11-21T17:20:32.5Z")].compactMap { $0 })
        #expect(node.timestamps[0].fields == [
            .init(name: "level", value: .numeric("0.75", unit: "m", decimals: 2), flags: [.momentary, .automaticReadout]),
            .init(name: "state", value: .other(type: "string", value: "filling"), flags: [.status]),
        ])
        #expect(node.timestamps[1].fields == [.init(name: "valve", value: .boolean(true), flags: [])])
    }

    @Test func whatIsWrittenReadsBack() throws {
        let fields: [IoTSensorData.Field] = [
            .init(name: "air", value: .numeric("21.4", unit: "°C", decimals: 1), flags: [.momentary, .automaticReadout]),
            .init(name: "pump", value: .boolean(false), flags: [.status, .writable]),
        ]
        let written = IoTSensorData.fields(IoTSensorData.node("greenhouse", timestamps: [IoTSensorData.timestamp("2026-11-21T17:20:31.898Z", fields)]))
        let r = try IoTSensorData.readout(in: XMLElement.parse(written.serialized())).get()
        #expect(r.request == nil)
        #expect(!r.done)
        #expect(r.nodes.first?.timestamps.first?.fields == fields)
    }

    @Test func aMalformedReadoutSaysWhy() throws {
        func readout(_ inner: String) throws -> Result<IoTSensorData.Readout, IoTSensorData.ReadoutError> {
            IoTSensorData.readout(in: try XMLElement.parse("<message xmlns='jabber:client'><fields xmlns='\(Self.ns)' seqnr='1'>\(inner)</fields></message>"))
        }
        #expect(IoTSensorData.readout(in: try XMLElement.parse("<message xmlns='jabber:client'><fields xmlns='urn:xmpp:iot:control'/></message>")) == .failure(.noFields))
        #expect(try readout("<node><timestamp value='2026-11-21T17:20:31Z'/></node>") == .failure(.nodeWithoutID))
        #expect(try readout("<node nodeId='n'><timestamp/></node>") == .failure(.badTimestamp(nil)))
        #expect(try readout("<node nodeId='n'><timestamp value='now'/></node>") == .failure(.badTimestamp("now")))
        #expect(try readout("<node nodeId='n'><timestamp value='2026-11-21T17:20:31Z'><numeric value='1'/></timestamp></node>") == .failure(.fieldWithoutName))
        #expect(try readout("<node nodeId='n'><timestamp value='2026-11-21T17:20:31Z'><numeric name='a'/></timestamp></node>") == .failure(.fieldWithoutValue("a")))
        #expect(try readout("<node nodeId='n'><timestamp value='2026-11-21T17:20:31Z'><boolean name='a' value='yes'/></timestamp></node>") == .failure(.notABoolean(name: "a", value: "yes")))
        #expect(try readout("<node xmlns='urn:other'/>").map(\.nodes) == .success([]), "a node in another namespace is not one")
    }
}
