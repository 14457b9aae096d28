public import XMPPCore

extension XMLElement {
    /// Parses one element from text (something this program serialized and stored), with the same
    /// restricted-XML rules and limits as a stream from the network.
    public static func parse(_ text: String, limits: XMLStreamLimits = XMLStreamLimits(maxStanzaBytes: 1 << 20)) throws(XMLStreamError) -> XMLElement {
        let parser = XMLStreamParser(limits: limits)
        let events = try parser.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + text + "</stream:stream>")
        var found: XMLElement?
        for case .element(let e) in events {
            guard found == nil else { throw XMLStreamError(.badFormat, "more than one element") }
            found = e
        }
        guard let found else { throw XMLStreamError(.badFormat, "no element") }
        return found
    }
}
