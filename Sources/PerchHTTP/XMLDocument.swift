import XMPPCore
import XMPPXML

/// One XML document from an HTTP body (a BOSH `<body/>`, a host-meta XRD), read with the stream
/// parser's restricted-XML rules and limits: UTF-8 only, an XML declaration allowed at the start, no
/// DTD, entities, comments or processing instructions.
enum XMLDocument {
    static func parse(_ bytes: [UInt8], limits: XMLStreamLimits) throws(XMLStreamError) -> XMLElement {
        guard bytes.count <= limits.maxStanzaBytes else {
            throw XMLStreamError(.policyViolation, "a document of \(bytes.count) bytes (the limit is \(limits.maxStanzaBytes))")
        }
        var b = bytes[...]
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { b = b.dropFirst(3) }
        while let f = b.first, f == 0x20 || f == 0x09 || f == 0x0A || f == 0x0D { b = b.dropFirst() }
        if b.starts(with: Array("<?xml".utf8)) {
            // The declaration: version and encoding (only UTF-8) are all it may say.
            guard let end = b.firstIndex(of: UInt8(ascii: ">")), end > b.startIndex, b[end - 1] == UInt8(ascii: "?") else {
                throw XMLStreamError(.badFormat, "an unterminated XML declaration")
            }
            let decl = String(decoding: b[b.startIndex...end].map(HTTPText.lower), as: UTF8.self)
            if let e = decl.utf8.firstRangeOf("encoding") {
                let rest = decl.utf8[e.upperBound...]
                let value = String(decoding: rest.drop { $0 == 0x20 || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "'") || $0 == UInt8(ascii: "\"") }.prefix { $0 != UInt8(ascii: "'") && $0 != UInt8(ascii: "\"") }, as: UTF8.self)
                guard value == "utf-8" else { throw XMLStreamError(.unsupportedEncoding, "the document is in \(value), not UTF-8") }
            }
            b = b[(end + 1)...]
        }
        guard let text = String(validating: b, as: UTF8.self) else { throw XMLStreamError(.unsupportedEncoding, "the document is not valid UTF-8") }
        return try XMLElement.parse(text, limits: limits)
    }
}

extension String.UTF8View {
    /// The first occurrence of `needle` (ASCII), without _StringProcessing.
    func firstRangeOf(_ needle: String) -> Range<String.UTF8View.Index>? {
        let n = Array(needle.utf8)
        guard !n.isEmpty else { return nil }
        var i = startIndex
        while i != endIndex {
            if self[i...].starts(with: n) { return i..<index(i, offsetBy: n.count) }
            i = index(after: i)
        }
        return nil
    }
}
