import Testing
import XMPPCore
@testable import XMPPXML

/// The trees the parser builds, compared whole with trees built by hand: children in document order,
/// text runs merged between tags, and nothing of one stanza leaking into the next, however the bytes
/// are split and whatever the previous stanza was (large, skipped, cut short).
@Suite struct XMLTreeBuildingTests {
    private func elements(_ text: String, limits: XMLStreamLimits = .default, byteByByte: Bool = false) throws -> [XMLStreamEvent] {
        let parser = XMLStreamParser(limits: limits)
        let bytes = Array((header + text).utf8)
        var events: [XMLStreamEvent] = []
        if byteByByte {
            for b in bytes { events += try parser.feed([b]) }
        } else {
            events = try parser.feed(bytes)
        }
        return events.filter { if case .streamOpened = $0 { return false } else { return true } }
    }

    @Test func mixedContentKeepsDocumentOrderAndMergesTextRuns() throws {
        let text = "<message id='m1'><body>a<b/>c&amp;d&lt;<i x='1'>x</i>e<![CDATA[<f>]]>g</body><t/></message>"
        let expected = XMLElement("message", namespace: "jabber:client", attributes: [XMLAttribute("id", "m1")], children: [
            .element(XMLElement("body", namespace: "jabber:client", children: [
                .text("a"),
                .element(XMLElement("b", namespace: "jabber:client")),
                .text("c&d<"),
                .element(XMLElement("i", namespace: "jabber:client", attributes: [XMLAttribute("x", "1")], children: [.text("x")])),
                .text("e<f>g"),
            ])),
            .element(XMLElement("t", namespace: "jabber:client")),
        ])
        #expect(try elements(text) == [.element(expected)])
        #expect(try elements(text, byteByByte: true) == [.element(expected)])
    }

    @Test func manyChildrenAndALongTextRunThenASmallStanza() throws {
        let items = (0..<300).map { "<item n='\($0)'>\(String(repeating: "v", count: $0))</item>" }.joined()
        let long = String(repeating: "0123456789", count: 2000)
        let text = "<iq id='big'><query xmlns='urn:example'>\(items)<note>\(long)</note></query></iq><iq id='small'><ping xmlns='urn:xmpp:ping'/></iq>"
        let query = XMLElement("query", namespace: "urn:example", children:
            (0..<300).map { n in
                .element(XMLElement("item", namespace: "urn:example", attributes: [XMLAttribute("n", "\(n)")],
                                    children: n == 0 ? [] : [.text(String(repeating: "v", count: n))]))
            } + [.element(.text("note", namespace: "urn:example", long))])
        let big = XMLElement("iq", namespace: "jabber:client", attributes: [XMLAttribute("id", "big")], children: [.element(query)])
        let small = XMLElement("iq", namespace: "jabber:client", attributes: [XMLAttribute("id", "small")],
                               children: [.element(XMLElement("ping", namespace: "urn:xmpp:ping"))])
        #expect(try elements(text) == [.element(big), .element(small)])
    }

    @Test func aStanzaSkippedHalfBuiltLeavesNothingInTheNext() throws {
        let limits = XMLStreamLimits(maxStanzaBytes: 400, maxDepth: 3, maxAttributes: 3)
        // Skipped for depth with text and children already built, then for size inside a text run.
        let deep = "<message id='d'><a>t1<b/>t2<c><d>too deep</d></c>t3</a></message>"
        let wordy = "<message id='w'><body>" + String(repeating: "x", count: 500) + "</body></message>"
        let next = "<message id='n'><body>after</body></message>"
        let events = try elements(deep + next + wordy + next, limits: limits)
        let after = XMLElement("message", namespace: "jabber:client", attributes: [XMLAttribute("id", "n")],
                               children: [.element(.text("body", namespace: "jabber:client", "after"))])
        #expect(events.count == 4)
        guard events.count == 4 else { return }
        if case .oversized(let o) = events[0] { #expect(o.id == "d" && o.limit == .depth) } else { Issue.record("not skipped: \(events[0])") }
        #expect(events[1] == .element(after))
        if case .oversized(let o) = events[2] { #expect(o.id == "w" && o.limit == .size) } else { Issue.record("not skipped: \(events[2])") }
        #expect(events[3] == .element(after))
    }

    @Test func aResetDropsAHalfBuiltStanza() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(header + "<message id='half'><body>text<x/>more")
        parser.reset()
        let events = try parser.feed(header + "<message id='whole'/>")
        #expect(events.last == .element(XMLElement("message", namespace: "jabber:client", attributes: [XMLAttribute("id", "whole")])))
    }

    @Test func repeatedAttributeValuesThatShareTheirEndsStayDistinct() throws {
        // Same length, same first and last eight bytes: the same slot of the table of repeated values,
        // told apart only by their bytes. Then an escaped one and a non-ASCII one of the same length.
        let values = ["owner@example.A.org/phone-laptop", "owner@example.B.org/phone-laptop", "owner@example.A.org/phone-laptop",
                      "owner@example&amp;org/phone-laptop", "owner@example.\u{E9}.org/phone-laptop", "owner@example.B.org/phone-laptop"]
        let text = values.map { "<message from='\($0)' to='\($0)'/>" }.joined()
        let events = try elements(text)
        let decoded = ["owner@example.A.org/phone-laptop", "owner@example.B.org/phone-laptop", "owner@example.A.org/phone-laptop",
                       "owner@example&org/phone-laptop", "owner@example.\u{E9}.org/phone-laptop", "owner@example.B.org/phone-laptop"]
        #expect(events == decoded.map { .element(XMLElement("message", namespace: "jabber:client", attributes: [XMLAttribute("from", $0), XMLAttribute("to", $0)])) })
        var table = RepeatedValues()
        for v in ["0123456789-A-0123456789", "0123456789-B-0123456789", "0123456789-A-0123456789"] {
            let bytes = Array(v.utf8)
            #expect(bytes.withUnsafeBufferPointer { table.string($0) } == v)
        }
        // Escaped values are left to the caller, short or long.
        #expect(Array("a&#38;b".utf8).withUnsafeBufferPointer { table.string($0) } == nil)
        #expect(Array("0123456789&#38;0123456789".utf8).withUnsafeBufferPointer { table.string($0) } == nil)
    }

    @Test func knownNamespacesComeOutAsTheirConstants() throws {
        let events = try elements("<iq id='1'><pubsub xmlns='http://jabber.org/protocol/pubsub'/><x xmlns='urn:example:not-a-known-one'/></iq>")
        guard case .element(let iq)? = events.first else { Issue.record("no iq"); return }
        #expect(iq.elements.map(\.namespace) == ["http://jabber.org/protocol/pubsub", "urn:example:not-a-known-one"])
        let name = Array("http://jabber.org/protocol/pubsub#event".utf8) + [0]
        #expect(name.withUnsafeBufferPointer { KnownNamespaces.constant($0.baseAddress!, length: $0.count - 1) } == "http://jabber.org/protocol/pubsub#event")
        let other = Array("http://jabber.org/protocol/pubsub#evenT".utf8) + [0]
        #expect(other.withUnsafeBufferPointer { KnownNamespaces.constant($0.baseAddress!, length: $0.count - 1) } == nil)
    }
}
