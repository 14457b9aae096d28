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
