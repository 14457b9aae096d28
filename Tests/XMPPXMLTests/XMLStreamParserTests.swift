import Testing
import XMPPCore
@testable import XMPPXML

let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='s1' from='example.org' version='1.0' xml:lang='en'>"

let transcript = header
    + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>"
    + " \n "
    + "<message from='a@example.org/r' to='b@example.org' type='chat' id='m1'><body>hi &amp; &lt;bye&gt; &#x263A; &#65;</body><x xmlns='urn:example' a=\"q&apos;s\" b='a&amp;b&lt;c&gt;&#38;&quot;'/></message>"
    + "<iq type='result' id='1'><query xmlns='jabber:iq:roster'><item jid='c@example.org'><group>G</group></item></query></iq>"
    + "<presence xml:lang='de'><status><![CDATA[<raw>]]></status></presence>"
    + "</stream:stream>"

func parseAll(_ chunks: [[UInt8]]) throws -> [XMLStreamEvent] {
    let parser = XMLStreamParser()
    var events: [XMLStreamEvent] = []
    for chunk in chunks { events += try parser.feed(chunk) }
    return events
}

@Suite struct XMLStreamParserTests {
    @Test func parsesAWholeStream() throws {
        let events = try parseAll([Array(transcript.utf8)])
        #expect(events.count == 6)
        guard case .streamOpened(let open) = events[0] else { Issue.record("no stream open"); return }
        #expect(open.id == "s1")
        #expect(open.from == "example.org")
        #expect(open.version == "1.0")
        #expect(open.lang == "en")
        #expect(open.contentNamespace == "jabber:client")

        guard case .element(let features) = events[1] else { Issue.record("no features"); return }
        #expect(features.name == "features")
        #expect(features.namespace == XMPPNamespace.stream)
        #expect(features.child("mechanisms", namespace: XMPPNamespace.sasl)?.child("mechanism")?.text == "SCRAM-SHA-1")

        guard case .element(let message) = events[2] else { Issue.record("no message"); return }
        #expect(message.stanzaKind == .message)
        #expect(message[attribute: "id"] == "m1")
        #expect(message.child("body")?.text == "hi & <bye> ☺ A")
        #expect(message.child("x", namespace: "urn:example")?[attribute: "a"] == "q's")
        #expect(message.child("x", namespace: "urn:example")?[attribute: "b"] == "a&b<c>&\"")

        guard case .element(let presence) = events[4] else { Issue.record("no presence"); return }
        #expect(presence.lang == "de")
        #expect(presence.child("status")?.text == "<raw>")
        #expect(events[5] == .streamClosed)
    }

    @Test func everySplitGivesTheSameEvents() throws {
        let bytes = Array(transcript.utf8)
        let whole = try parseAll([bytes])
        // One byte at a time.
        #expect(try parseAll(bytes.map { [$0] }) == whole)
        // Every two-way split.
        for cut in 1..<bytes.count {
            #expect(try parseAll([Array(bytes[..<cut]), Array(bytes[cut...])]) == whole)
        }
        // Random splits, reproducible.
        var rng = SplitMix(seed: 42)
        for _ in 0..<200 {
            var chunks: [[UInt8]] = []
            var i = 0
            while i < bytes.count {
                let n = Int(rng.next() % 17) + 1
                chunks.append(Array(bytes[i..<min(bytes.count, i + n)]))
                i += n
            }
            #expect(try parseAll(chunks) == whole)
        }
    }

    @Test func multiByteCharactersSplitAcrossChunks() throws {
        let text = header + "<message><body>Grüße ☺ 😀 ℃</body></message>"
        let bytes = Array(text.utf8)
        let events = try parseAll(bytes.map { [$0] })
        guard case .element(let m) = events.last else { Issue.record("no message"); return }
        #expect(m.child("body")?.text == "Grüße ☺ 😀 ℃")
    }

    @Test func stopHandsBackTheBytesAfterTheElement() throws {
        let parser = XMLStreamParser()
        let input = Array((header + "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\u{16}\u{03}\u{03}TLSBYTES").utf8)
        var seen: [XMLStreamEvent] = []
        let left = try input.withUnsafeBytes { buf in
            try parser.feed(buf) { event in
                seen.append(event)
                if case .element(let e) = event, e.name == "proceed" { return .stop }
                return .continue
            }
        }
        #expect(seen.count == 2)
        #expect(left == 11)
        // After a reset the parser takes a new stream.
        parser.reset()
        let events = try parser.feed(header + "<stream:features/>")
        #expect(events.count == 2)
    }

    @Test func whitespaceKeepalivesAreIgnored() throws {
        let events = try parseAll([Array((header + " ").utf8), Array(" \n\t ".utf8), Array("<iq type='get' id='p'/>".utf8)])
        #expect(events.count == 2)
    }

    @Test func textBetweenStanzasIsAnError() {
        #expect(throws: XMLStreamError.self) { try parseAll([Array((header + "junk<iq/>").utf8)]) }
    }

    @Test func wrongStreamNamespace() {
        let bad = "<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>"
        #expect { try parseAll([Array(bad.utf8)]) } throws: { ($0 as? XMLStreamError)?.condition == .invalidNamespace }
    }
}

/// A small deterministic generator so split tests are reproducible.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
