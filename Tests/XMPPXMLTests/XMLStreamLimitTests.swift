import Testing
import XMPPCore
@testable import XMPPXML

/// Feeds `input` in chunks and returns every event; throws what the parser throws.
func limitEvents(_ input: String, limits: XMLStreamLimits = .default, chunk: Int = 1 << 20, parser: XMLStreamParser? = nil) throws -> [XMLStreamEvent] {
    let parser = parser ?? XMLStreamParser(limits: limits)
    let bytes = Array(input.utf8)
    var events: [XMLStreamEvent] = []
    var i = 0
    while i < bytes.count {
        events += try parser.feed(Array(bytes[i..<min(bytes.count, i + chunk)]))
        i += chunk
    }
    return events
}

/// The stanza that follows every over-limit one in these tests: it must arrive whole.
let nextStanza = "<message from='owner@example.org/phone' id='next' type='chat'><body>status</body></message>"

func isNextStanza(_ event: XMLStreamEvent?) -> Bool {
    guard case .element(let e) = event else { return false }
    return e.stanzaID == "next" && e.child("body")?.text == "status" && e[attribute: "from"] == "owner@example.org/phone"
}

func oversized(_ event: XMLStreamEvent?) -> OversizedStanza? {
    if case .oversized(let o) = event { return o }
    return nil
}

/// Per-stanza limits drop the stanza, not the stream (servers relay whatever senders write).
@Suite struct XMLStreamLimitTests {
    let stranger = "<message from='stranger@evil.example/x' to='device@example.org' id='m1' type='chat'>"

    @Test func depthPastTheLimitSkipsTheStanzaOnly() throws {
        // The message is depth 1: 64 nested elements inside make 65.
        let deep = stranger + String(repeating: "<a>", count: 64) + String(repeating: "</a>", count: 64) + "</message>"
        let events = try limitEvents(header + deep + nextStanza)
        #expect(events.count == 3)
        let o = try #require(oversized(events[1]))
        #expect(o.limit == .depth)
        #expect(o.name == "message" && o.namespace == XMPPNamespace.client)
        #expect(o.from == "stranger@evil.example/x" && o.id == "m1" && o.type == "chat" && o.to == "device@example.org")
        #expect(isNextStanza(events[2]))
        // 64 deep is within the limit.
        let fits = stranger + String(repeating: "<a>", count: 63) + String(repeating: "</a>", count: 63) + "</message>"
        guard case .element = try limitEvents(header + fits)[1] else { Issue.record("64 deep was refused"); return }
    }

    @Test func depthPastLibxml2sOwnLimitIsSkippedToo() throws {
        // libxml2 stops at 256 levels unless told otherwise; servers relay deeper.
        for n in [300, 10_000] {
            let deep = stranger + String(repeating: "<a>", count: n) + String(repeating: "</a>", count: n) + "</message>"
            let events = try limitEvents(header + deep + nextStanza, chunk: 1000)
            #expect(oversized(events[1])?.limit == .depth)
            #expect(isNextStanza(events.last))
        }
    }

    @Test func tooManyAttributesSkipTheStanzaAndTheSenderIsStillKnown() throws {
        // from after 65 others: found wherever it stands.
        let attrs = (0..<65).map { " a\($0)='x'" }.joined()
        let events = try limitEvents(header + "<iq type='get' id='q1'\(attrs) from='stranger@evil.example/x'><ping xmlns='urn:xmpp:ping'/></iq>" + nextStanza)
        let o = try #require(oversized(events[1]))
        #expect(o.limit == .attributes)
        #expect(o.name == "iq" && o.type == "get" && o.id == "q1" && o.from == "stranger@evil.example/x")
        #expect(isNextStanza(events[2]))
        // On a child element too.
        let child = try limitEvents(header + stranger + "<x xmlns='urn:example'\(attrs)/></message>" + nextStanza)
        #expect(oversized(child[1])?.limit == .attributes)
        #expect(isNextStanza(child[2]))
        // 64 are fine.
        let fits = (0..<63).map { " a\($0)='x'" }.joined()
        guard case .element = try limitEvents(header + "<message\(fits)/>")[1] else { Issue.record("64 attributes were refused"); return }
    }

    @Test func textOnePastTheSizeLimitSkipsTheStanza() throws {
        // <message> is 7 + 3 bytes, <body> 4 + 3: the text brings the stanza to the limit exactly, or one past.
        let limit = XMLStreamLimits.default.maxStanzaBytes
        let exact = "<message><body>" + String(repeating: "a", count: limit - 17) + "</body></message>"
        let over = "<message id='big'><body>" + String(repeating: "a", count: limit - 17 - 6 + 1) + "</body></message>"
        for chunk in [1 << 20, 4096, 1000, 333] {
            // Text split across chunks (and libxml2's own pieces) is counted once, in full.
            let events = try limitEvents(header + exact + over + nextStanza, chunk: chunk)
            #expect(events.count == 4)
            guard case .element(let e) = events[1] else { Issue.record("the stanza at the limit was refused (chunk \(chunk))"); continue }
            #expect(e.child("body")?.text.utf8.count == limit - 17)
            #expect(oversized(events[2])?.limit == .size)
            #expect(oversized(events[2])?.id == "big")
            #expect(isNextStanza(events[3]))
        }
    }

    @Test func namespaceDeclarationsCountTowardsTheSize() throws {
        let limits = XMLStreamLimits(maxStanzaBytes: 1000)
        let declarations = (0..<20).map { " xmlns:p\($0)='urn:example:\(String(repeating: "n", count: 50))'" }.joined()
        let events = try limitEvents(header + "<message id='ns'\(declarations)/>" + nextStanza, limits: limits)
        #expect(oversized(events[1])?.limit == .size)
        #expect(isNextStanza(events[2]))
    }

    @Test func nothingIsKeptWhileSkipping() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(header + stranger + "<body>")
        let chunk = String(repeating: "a", count: 64 * 1024)
        for _ in 0..<6 { _ = try parser.feed(chunk) }
        #expect(parser.skipping?.limit == .size)
        #expect(parser.frames.isEmpty)
        let events = try parser.feed("</body>" + String(repeating: "<a b='c'>d</a>", count: 1000) + "</message>" + nextStanza)
        #expect(oversized(events.first)?.from == "stranger@evil.example/x")
        #expect(isNextStanza(events.last))
        #expect(parser.skipping == nil)
    }

    @Test func aStanzaPastAnyServersLimitStillEndsTheStream() throws {
        // Skipping is bounded too: no server relays a 10 MB stanza, so it is refused after 512 KiB.
        let parser = XMLStreamParser()
        _ = try parser.feed(header + "<message><body>")
        let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
        var fed = 0
        var refused = false
        while fed < 10 * 1024 * 1024 {
            do { _ = try parser.feed(chunk) } catch {
                #expect(error.condition == .policyViolation)
                refused = true
                break
            }
            fed += chunk.count
        }
        #expect(refused)
        #expect(fed <= XMLStreamLimits.default.skipCeiling + 64 * 1024)
    }

    @Test func nestingWithoutEndPastTheCeilingEndsTheStream() {
        // 200,000 levels count 800,000 bytes: past what any server relays.
        #expect(condition(of: header + String(repeating: "<x>", count: 200_000), chunk: 65536) == .policyViolation)
        // 10,000 are only a stanza being skipped.
        #expect(condition(of: header + String(repeating: "<x>", count: 10_000), chunk: 65536) == nil)
    }

    @Test func oneUnfinishedHugeTagIsStillFatal() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(header + "<message a='")
        let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
        var condition: StreamError.Condition?
        for _ in 0..<40 {
            do { _ = try parser.feed(chunk) } catch {
                condition = error.condition
                break
            }
        }
        #expect(condition == .policyViolation)
    }

    @Test func limitIsPerStanza() {
        // Many stanzas that are each under the limit are fine, however many there are.
        let one = "<message><body>" + String(repeating: "b", count: 1000) + "</body></message>"
        #expect(condition(of: header + String(repeating: one, count: 500), limits: XMLStreamLimits(maxStanzaBytes: 2000)) == nil)
    }

    @Test func everySplitOfAnOversizedStanzaGivesTheSameEvents() throws {
        let limits = XMLStreamLimits(maxStanzaBytes: 400, maxDepth: 3, maxAttributes: 3)
        let input = header + "<message id='a' from='x@y/z'><b><c><d>deep</d></c></b></message>"
            + "<iq id='b' type='set' p='1' q='2'><x xmlns='urn:e'/></iq>"
            + "<message id='c'><body>" + String(repeating: "t", count: 500) + "</body></message>" + nextStanza
        let whole = try limitEvents(input, limits: limits)
        #expect(whole.compactMap { oversized($0)?.id } == ["a", "b", "c"])
        #expect(isNextStanza(whole.last))
        let bytes = Array(input.utf8)
        for cut in stride(from: 1, to: bytes.count, by: 7) {
            let parser = XMLStreamParser(limits: limits)
            let events = try parser.feed(Array(bytes[..<cut])) + parser.feed(Array(bytes[cut...]))
            #expect(events == whole)
        }
    }
}

/// RFC 6120 §11.6: XML 1.0 in UTF-8; and a stream header is only the first element.
@Suite struct XMLStreamDeclarationTests {
    let stream = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"

    @Test func anotherEncodingEndsTheStream() {
        #expect(condition(of: "<?xml version='1.0' encoding='ISO-8859-1'?>" + stream) == .unsupportedEncoding)
        // (libxml2 refuses this one itself: the bytes are not UTF-16.)
        #expect(condition(of: "<?xml version='1.0' encoding='utf-16'?>" + stream) != nil)
        #expect(condition(of: "<?xml version='1.0' encoding='US-ASCII'?>" + stream) == .unsupportedEncoding)
        #expect(condition(of: "<?xml version='1.0' encoding='UTF-8'?>" + stream) == nil)
        #expect(condition(of: "<?xml version='1.0' encoding='utf-8'?>" + stream) == nil)
        // UTF-16 by its byte order mark, with no declaration.
        let parser = XMLStreamParser()
        var bytes: [UInt8] = [0xFF, 0xFE]
        for u in stream.utf16 { bytes += [UInt8(u & 0xFF), UInt8(u >> 8)] }
        #expect(throws: XMLStreamError.self) { try parser.feed(bytes) }
    }

    @Test func xml11EndsTheStream() {
        #expect(condition(of: "<?xml version='1.1'?>" + stream) == .badFormat)
        #expect(condition(of: "<?xml version='1.0'?>" + stream) == nil)
    }

    @Test func aStreamHeaderAsAStanzaEndsTheStream() {
        #expect(condition(of: header + stream + "<message/>") == .badFormat)
        #expect(condition(of: header + "<stream:stream/>") == .badFormat)
        // Deeper down it is just an element of someone's payload.
        #expect(condition(of: header + "<message><stream:stream/></message>") == nil)
    }
}

/// libxml2's name dictionary is bounded per stream: a fresh context between stanzas.
@Suite struct XMLStreamDictionaryTests {
    /// A stanza of `count` element names and namespaces nobody used before.
    func inventive(_ n: Int, count: Int = 50) -> String {
        "<message id='inv\(n)'>" + (0..<count).map { "<e\(n)x\($0) xmlns='urn:fresh:\(n):\($0)' a\(n)y\($0)='v'/>" }.joined() + "</message>"
    }

    @Test func inventedNamesDoNotGrowTheDictionaryWithoutBound() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(header)
        var elements = 0
        for n in 0..<200 {
            for event in try parser.feed(inventive(n)) {
                guard case .element(let e) = event else { continue }
                #expect(e.stanzaID == "inv\(n)")
                #expect(e.elements.count == 50)
                #expect(e.elements.last?.namespace == "urn:fresh:\(n):49")
                elements += 1
            }
            // Each stanza adds 150 names; the bound is checked between stanzas.
            #expect(parser.dictionaryCount <= XMLStreamParser.dictionaryLimit + 200)
        }
        #expect(elements == 200)
        #expect(parser.freshContexts >= 5)
        #expect(isNextStanza(try parser.feed(nextStanza).last))
    }

    @Test func aFreshContextKeepsTheStreamsNamespacesAndEverySplitWorks() throws {
        // The header declares a prefix a later stanza uses: the fresh context must know it too.
        let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:q='urn:example:q' version='1.0'>"
        let input = header + (0..<6).map { inventive($0, count: 4) + "<iq id='i\($0)' type='get' q:flag='1'><q:ping/></iq> " }.joined()
            + "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>"
        let reference = XMLStreamParser()
        reference.dictionaryLimit = Int.max
        let whole = try limitEvents(input, parser: reference)
        #expect(reference.freshContexts == 0)
        #expect(whole.count == 1 + 12 + 2)
        guard case .element(let iq) = whole[2] else { Issue.record("no iq"); return }
        #expect(iq.elements.first?.namespace == "urn:example:q")
        #expect(iq.attributes.contains { $0.namespace == "urn:example:q" && $0.name == "flag" })
        let bytes = Array(input.utf8)
        for cut in 1..<bytes.count {
            let parser = XMLStreamParser()
            parser.dictionaryLimit = 10
            let events = try parser.feed(Array(bytes[..<cut])) + parser.feed(Array(bytes[cut...]))
            #expect(events == whole)
            #expect(parser.freshContexts >= 5)
        }
        // One byte at a time.
        let parser = XMLStreamParser()
        parser.dictionaryLimit = 10
        var events: [XMLStreamEvent] = []
        for b in bytes { events += try parser.feed([b]) }
        #expect(events == whole)
    }
}
