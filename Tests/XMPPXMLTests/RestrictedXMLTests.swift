import Testing
import XMPPCore
@testable import XMPPXML

func condition(of input: String, limits: XMLStreamLimits = .default, chunk: Int = 1 << 20) -> StreamError.Condition? {
    let parser = XMLStreamParser(limits: limits)
    let bytes = Array(input.utf8)
    var i = 0
    do {
        while i < bytes.count {
            _ = try parser.feed(Array(bytes[i..<min(bytes.count, i + chunk)]))
            i += chunk
        }
    } catch {
        return error.condition
    }
    return nil
}

@Suite struct RestrictedXMLTests {
    @Test func billionLaughsIsRefusedWithoutExpanding() {
        var doc = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
        for i in 1...9 { doc += "<!ENTITY lol\(i) '" + String(repeating: "&lol\(i - 1 == 0 ? "" : String(i - 1));", count: 10) + "'>" }
        doc += "]><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><message><body>&lol9;</body></message>"
        #expect(condition(of: doc) == .restrictedXML)
        #expect(condition(of: doc, chunk: 1) == .restrictedXML)
    }

    @Test func externalEntityIsRefused() {
        let doc = "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><message><body>&xxe;</body></message>"
        #expect(condition(of: doc) == .restrictedXML)
    }

    @Test func doctypeAloneIsRefused() {
        #expect(condition(of: "<!DOCTYPE stream><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>") == .restrictedXML)
    }

    @Test func undeclaredEntityIsRefused() {
        #expect(condition(of: header + "<message><body>&nbsp;</body></message>") == .restrictedXML)
    }

    @Test func commentIsRefused() {
        #expect(condition(of: header + "<!-- hello --><message/>") == .restrictedXML)
        #expect(condition(of: header + "<message><!-- inside --></message>") == .restrictedXML)
    }

    @Test func processingInstructionIsRefused() {
        #expect(condition(of: header + "<?php evil() ?><message/>") == .restrictedXML)
        #expect(condition(of: header + "<message><?x y?></message>") == .restrictedXML)
    }

    @Test func predefinedEntitiesAndCharacterReferencesAreFine() {
        #expect(condition(of: header + "<message><body>&amp;&lt;&gt;&apos;&quot;&#169;&#x41;</body></message>") == nil)
    }

    @Test func notWellFormed() {
        #expect(condition(of: header + "<message><body></message>") == .notWellFormed)
        #expect(condition(of: header + "<message a='1' a='2'/>") == .notWellFormed)
        #expect(condition(of: header + "<message><x:y/></message>") == .badNamespacePrefix)
    }

    @Test func invalidUTF8() {
        let parser = XMLStreamParser()
        var bytes = Array((header + "<message><body>").utf8)
        bytes += [0xC3, 0x28, 0xFF, 0xFE]
        bytes += Array("</body></message>".utf8)
        #expect(throws: XMLStreamError.self) { try parser.feed(bytes) }
    }
}

@Suite struct XMLStreamLimitTests {
    @Test func oversizedStanzaIsAPolicyViolation() {
        let big = header + "<message><body>" + String(repeating: "a", count: 300 * 1024) + "</body></message>"
        #expect(condition(of: big) == .policyViolation)
        #expect(condition(of: big, chunk: 4096) == .policyViolation)
    }

    @Test func tenMegabyteStanzaIsRefusedEarly() throws {
        // The parser must refuse well before the whole stanza has been fed: memory stays bounded.
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
        #expect(fed <= 512 * 1024)
    }

    @Test func hugeUnfinishedTagIsRefused() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(header + "<message a='")
        let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
        var refused = false
        for _ in 0..<40 {
            do { _ = try parser.feed(chunk) } catch {
                refused = true
                break
            }
        }
        #expect(refused)
    }

    @Test func deepNestingIsRefused() {
        let deep = header + String(repeating: "<a>", count: 10_000) + String(repeating: "</a>", count: 10_000)
        #expect(condition(of: deep) == .policyViolation)
        #expect(condition(of: header + String(repeating: "<a>", count: 10) + String(repeating: "</a>", count: 10), limits: XMLStreamLimits(maxDepth: 5)) == .policyViolation)
        #expect(condition(of: header + String(repeating: "<a>", count: 5) + String(repeating: "</a>", count: 5), limits: XMLStreamLimits(maxDepth: 5)) == nil)
    }

    @Test func tooManyAttributes() {
        let attrs = (0..<100).map { " a\($0)='x'" }.joined()
        #expect(condition(of: header + "<message\(attrs)/>") == .policyViolation)
    }

    @Test func limitIsPerStanza() {
        // Many stanzas that are each under the limit are fine, however many there are.
        let one = "<message><body>" + String(repeating: "b", count: 1000) + "</body></message>"
        #expect(condition(of: header + String(repeating: one, count: 500), limits: XMLStreamLimits(maxStanzaBytes: 2000)) == nil)
    }
}
