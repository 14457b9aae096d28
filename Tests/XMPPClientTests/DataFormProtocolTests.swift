import Testing
import XMPPCore
import XMPPXML
@testable import XMPPClient

/// XEP-0004 forms as the ad-hoc commands and the pubsub configuration write them, and submitted
/// forms as clients send them.
@Suite struct DataFormProtocolTests {
    @Test func aFormIsWrittenAsTheXEPSays() {
        let x = DataForm.form(type: "form", title: "Switch an output", instructions: "Pick one.", fields: [
            .init(variable: "output", type: "list-single", label: "Output", options: [.init("pump"), .init("fill", label: "Fill (at most 5 s)")], value: "pump", required: true),
            .init(variable: "duration", type: "text-single", desc: "for example 5s"),
        ])
        #expect(x.serialized() == "<x xmlns='jabber:x:data' type='form'><title>Switch an output</title><instructions>Pick one.</instructions>"
            + "<field var='output' type='list-single' label='Output'><required/><value>pump</value>"
            + "<option label='pump'><value>pump</value></option><option label='Fill (at most 5 s)'><value>fill</value></option></field>"
            + "<field var='duration' type='text-single'><desc>for example 5s</desc></field></x>")
    }

    @Test func readsWhatGajimSubmits() throws {
        let x = try XMLElement.parse("""
            <x xmlns='jabber:x:data' type='submit'>\
            <field var='output' type='list-single'><value>pump</value></field>\
            <field var='state'><value>on</value><value>off</value></field>\
            <field var='empty'/><field type='hidden'><value>no var</value></field>\
            </x>
            """)
        #expect(DataForm.values(x) == ["output": "pump", "state": "on"], "the first value of each field that has a var and one")
    }

    @Test func notAFormHasNoValues() throws {
        #expect(DataForm.values(nil).isEmpty)
        let foreign = try XMLElement.parse("<x xmlns='jabber:x:oob'><field xmlns='jabber:x:data' var='output'><value>pump</value></field></x>")
        #expect(DataForm.values(foreign).isEmpty)
        let foreignValue = try XMLElement.parse("<x xmlns='jabber:x:data'><field var='output'><value xmlns='urn:other'>pump</value></field></x>")
        #expect(DataForm.values(foreignValue).isEmpty)
    }
}
