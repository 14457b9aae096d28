internal import CLibXML2
import XMPPCore

// The SAX2 callbacks of XMLStreamParser: building stanzas, restricted XML, and the per-stanza limits
// (a stanza over one is skipped to its end and reported, not fatal to the stream).

/// An element being built: its tag, and where its children begin on the parser's ``PendingNodes``.
struct Frame {
    var name: String
    var namespace: String
    var attributes: [XMLAttribute]
    var childStart: Int

    consuming func finish(children: consuming [XMLNode]) -> XMLElement {
        XMLElement(name, namespace: namespace, attributes: attributes, children: children)
    }
}

// MARK: - SAX callbacks

extension XMLStreamParser {
    fileprivate static func parser(_ ctx: UnsafeMutableRawPointer?) -> XMLStreamParser {
        Unmanaged<XMLStreamParser>.fromOpaque(ctx!).takeUnretainedValue()
    }

    /// The parser a callback runs for, without a retain: libxml2 only calls back from within `feed`,
    /// `freshContext` or `reset`, while the caller holds the parser.
    @inline(__always)
    fileprivate static func borrowing(_ ctx: UnsafeMutableRawPointer?, _ body: (XMLStreamParser) -> Void) {
        Unmanaged<XMLStreamParser>.fromOpaque(ctx!)._withUnsafeGuaranteedRef(body)
    }

    static func installHandlers(_ h: UnsafeMutablePointer<xmlSAXHandler>) {
        h.pointee.initialized = UInt32(XML_SAX2_MAGIC)
        // The callbacks that run for every element and text run borrow the parser (which feed keeps
        // alive) rather than retaining and releasing it each time.
        h.pointee.startElementNs = { ctx, localname, prefix, uri, nbNamespaces, namespaces, nbAttributes, _, attributes in
            XMLStreamParser.borrowing(ctx) {
                $0.startElement(
                    localname: localname, prefix: prefix, uri: uri, nbNamespaces: Int(nbNamespaces), namespaces: namespaces,
                    nbAttributes: Int(nbAttributes), attributes: attributes)
            }
        }
        h.pointee.endElementNs = { ctx, _, _, _ in XMLStreamParser.borrowing(ctx) { $0.endElement() } }
        h.pointee.characters = { ctx, chars, len in XMLStreamParser.borrowing(ctx) { $0.characters(chars, Int(len)) } }
        h.pointee.cdataBlock = { ctx, chars, len in XMLStreamParser.borrowing(ctx) { $0.characters(chars, Int(len)) } }
        h.pointee.ignorableWhitespace = { ctx, chars, len in XMLStreamParser.borrowing(ctx) { $0.characters(chars, Int(len)) } }
        // RFC 6120 §11.1: everything below is restricted XML.
        h.pointee.comment = { ctx, _ in XMLStreamParser.parser(ctx).fail(XMLStreamError(.restrictedXML, "a comment")) }
        h.pointee.processingInstruction = { ctx, _, _ in
            XMLStreamParser.parser(ctx).fail(XMLStreamError(.restrictedXML, "a processing instruction"))
        }
        h.pointee.internalSubset = { ctx, _, _, _ in
            XMLStreamParser.parser(ctx).fail(XMLStreamError(.restrictedXML, "a document type declaration"))
        }
        h.pointee.externalSubset = { ctx, _, _, _ in
            XMLStreamParser.parser(ctx).fail(XMLStreamError(.restrictedXML, "an external DTD subset"))
        }
        h.pointee.entityDecl = { ctx, _, _, _, _, _ in
            XMLStreamParser.parser(ctx).fail(XMLStreamError(.restrictedXML, "an entity declaration"))
        }
        h.pointee.unparsedEntityDecl = { ctx, _, _, _, _ in
            XMLStreamParser.parser(ctx).fail(XMLStreamError(.restrictedXML, "an entity declaration"))
        }
        h.pointee.reference = { ctx, _ in
            XMLStreamParser.parser(ctx).fail(XMLStreamError(.restrictedXML, "an entity reference"))
        }
        h.pointee.getEntity = { ctx, name in
            // Predefined entities (&amp; &lt; &gt; &apos; &quot;) are resolved by libxml2 before this is
            // called; anything reaching here is an undeclared or custom entity.
            if let name, let predefined = xmlGetPredefinedEntity(name) { return predefined }
            XMLStreamParser.parser(ctx).fail(XMLStreamError(.restrictedXML, "an entity reference"))
            return nil
        }
        h.pointee.getParameterEntity = { ctx, _ in
            XMLStreamParser.parser(ctx).fail(XMLStreamError(.restrictedXML, "a parameter entity reference"))
            return nil
        }
        // Structured errors take precedence over the variadic handlers, so libxml2 never prints to stderr.
        // Recoverable errors (an undeclared namespace prefix, for one) end the stream too.
        h.pointee.serror = { ctx, error in
            guard let ctx, let error else { return }
            let level = error.pointee.level
            guard level == XML_ERR_ERROR || level == XML_ERR_FATAL else { return }
            var text = error.pointee.message.map { String(cString: $0) } ?? "malformed XML"
            while text.last == "\n" { text.removeLast() }
            let condition: StreamError.Condition =
                error.pointee.domain == Int32(XML_FROM_NAMESPACE.rawValue) ? .badNamespacePrefix : .notWellFormed
            XMLStreamParser.parser(ctx).fail(XMLStreamError(condition, text))
        }
    }

    fileprivate func startElement(
        localname: UnsafePointer<xmlChar>?, prefix: UnsafePointer<xmlChar>?, uri: UnsafePointer<xmlChar>?, nbNamespaces: Int,
        namespaces: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?, nbAttributes: Int,
        attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?
    ) {
        guard failure == nil else { return }
        let name = interned(localname)
        let ns = interned(uri)
        if depth == 0 {
            guard name == "stream", ns == XMPPNamespace.stream else {
                fail(XMLStreamError(.invalidNamespace, "the stream element is <\(name) xmlns='\(ns)'>"))
                return
            }
            depth = 1
            if priming { return }
            if let problem = declarationProblem() { return fail(problem) }
            var open = StreamOpen()
            streamPrefix = prefix.map { String(cString: $0) }
            streamNamespaces = []
            for i in 0..<nbNamespaces {
                let declared = namespaces?[2 * i].map { String(cString: $0) }
                let value = Self.string(namespaces?[2 * i + 1])
                streamNamespaces.append((declared, value))
                if declared == nil { open.contentNamespace = value }
            }
            for i in 0..<nbAttributes {
                let base = 5 * i
                let attrName = Self.string(attributes?[base])
                let attrURI = attributes?[base + 2].map { String(cString: $0) }
                let value = Self.value(attributes?[base + 3], attributes?[base + 4])
                switch (attrName, attrURI) {
                case ("id", nil): open.id = value
                case ("from", nil): open.from = value
                case ("to", nil): open.to = value
                case ("version", nil): open.version = value
                case ("lang", XMPPNamespace.xml): open.lang = value
                default: break
                }
            }
            emit(.streamOpened(open))
            return
        }
        if depth == 1 {
            // A stream header as a stanza would swallow every stanza after it as its children.
            if name == "stream", ns == XMPPNamespace.stream {
                return fail(XMLStreamError(.badFormat, "a stream header inside the stream"))
            }
            stanzaBytes = 0
        }
        // Names, attributes and namespace declarations all count towards the stanza's size.
        var size = name.utf8.count + 3
        for i in 0..<(2 * nbNamespaces) {
            if let p = namespaces?[i] { size += Int(xmlStrlen(p)) }
        }
        size += 10 * nbNamespaces
        for i in 0..<nbAttributes {
            let base = 5 * i
            if let p = attributes?[base] { size += Int(xmlStrlen(p)) }
            if let start = attributes?[base + 3], let end = attributes?[base + 4], end > start { size += end - start }
            size += 4
        }
        stanzaBytes += size
        if isSkipping {
            depth += 1
            checkSkipCeiling()
            return
        }
        if depth > limits.maxDepth {
            return beginSkipping(.depth, "elements nested deeper than \(limits.maxDepth)")
        }
        if nbAttributes > limits.maxAttributes || stanzaBytes > limits.maxStanzaBytes {
            // Only now, and only for the stanza's own tag, are its id, type, from and to read out for the
            // report; a stanza within the limits costs nothing for it.
            let tag = depth == 1 ? Self.summary(name: name, namespace: ns, nbAttributes: nbAttributes, attributes: attributes) : nil
            if nbAttributes > limits.maxAttributes {
                return beginSkipping(.attributes, "an element with more than \(limits.maxAttributes) attributes", tag: tag)
            }
            return beginSkipping(.size, "a stanza larger than \(limits.maxStanzaBytes) bytes", tag: tag)
        }
        var attrs: [XMLAttribute] = []
        if nbAttributes > 0 {
            attrs.reserveCapacity(nbAttributes)
            for i in 0..<nbAttributes {
                let base = 5 * i
                let attrName = interned(attributes?[base])
                let attrURI = attributes?[base + 2].map { interned($0) }
                let value = attributeValue(attributes?[base + 3], attributes?[base + 4])
                attrs.append(XMLAttribute(attrName, value, namespace: attrURI))
            }
        }
        flushText()
        frames.append(Frame(name: name, namespace: ns, attributes: consume attrs, childStart: pending.count))
        depth += 1
    }

    /// The current stanza crossed a limit at the element being opened: everything built of it is
    /// dropped, and from here on only its depth and size are counted until it ends.
    private func beginSkipping(_ limit: OversizedStanza.Limit, _ detail: String, tag: OversizedStanza? = nil) {
        // The stanza's own tag: just read (a limit crossed at depth 1), or the first frame built.
        var kept = tag ?? frames.first.map(Self.summary(of:)) ?? OversizedStanza(name: "", namespace: "", limit: limit, detail: detail)
        kept.limit = limit
        kept.detail = detail
        skipping = kept
        isSkipping = true
        discardBuilt()
        depth += 1
        checkSkipCeiling()
    }

    private func checkSkipCeiling() {
        if stanzaBytes > limits.skipCeiling {
            fail(XMLStreamError(.policyViolation, "a stanza larger than \(limits.skipCeiling) bytes, more than servers relay"))
        }
    }

    /// What the oversized report keeps of a stanza's own tag: its name, namespace, and the id, type,
    /// from and to attributes wherever they stand among the others, each at most a JID's length.
    private static func summary(
        name: String, namespace: String, nbAttributes: Int, attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?
    ) -> OversizedStanza {
        var kept = OversizedStanza(name: name, namespace: namespace, limit: .size, detail: "")
        for i in 0..<nbAttributes {
            let base = 5 * i
            guard attributes?[base + 2] == nil, let n = attributes?[base], let start = attributes?[base + 3],
                let end = attributes?[base + 4], end - start <= 3071
            else { continue }
            guard xmlStrlen(n) <= 4 else { continue }
            switch String(cString: n) {
            case "id": kept.id = value(start, end)
            case "type": kept.type = value(start, end)
            case "from": kept.from = value(start, end)
            case "to": kept.to = value(start, end)
            default: break
            }
        }
        return kept
    }

    /// The same from a stanza's tag already built into a frame.
    private static func summary(of frame: Frame) -> OversizedStanza {
        var kept = OversizedStanza(name: frame.name, namespace: frame.namespace, limit: .size, detail: "")
        for a in frame.attributes where a.namespace == nil && a.value.utf8.count <= 3071 {
            switch a.name {
            case "id": kept.id = a.value
            case "type": kept.type = a.value
            case "from": kept.from = a.value
            case "to": kept.to = a.value
            default: break
            }
        }
        return kept
    }

    /// Problems with the XML declaration, read by the time the stream header is: RFC 6120 §11.6 wants
    /// XML 1.0 in UTF-8.
    private func declarationProblem() -> XMLStreamError? {
        guard let context else { return nil }
        if let declared = context.pointee.encoding {
            let name = String(cString: declared)
            let lower = String(name.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? Character(Unicode.Scalar($0 + 0x20)) : Character(Unicode.Scalar($0)) })
            if lower != "utf-8" && lower != "utf8" {
                return XMLStreamError(.unsupportedEncoding, "the stream is declared as \(name); XMPP is UTF-8")
            }
        }
        if let input = context.pointee.input, let buf = input.pointee.buf, buf.pointee.encoder != nil {
            return XMLStreamError(.unsupportedEncoding, "the stream is not in UTF-8")
        }
        if let version = context.pointee.version {
            let v = String(cString: version)
            if v != "1.0" {
                return XMLStreamError(.badFormat, "the stream is XML \(v); XMPP is XML 1.0")
            }
        }
        return nil
    }

    fileprivate func endElement() {
        guard failure == nil else { return }
        depth -= 1
        if depth == 0 {
            emit(.streamClosed)
            return
        }
        if isSkipping {
            guard depth == 1, let skipped = skipping else { return }
            skipping = nil
            isSkipping = false
            emit(.oversized(skipped))
            stanzaEnded(skipped: true)
            return
        }
        guard let frame = frames.popLast() else { return }
        flushText()
        let element = frame.finish(children: pending.take(from: frame.childStart))
        if frames.isEmpty {
            pending.trim()
            emit(.element(element))
            stanzaEnded()
        } else {
            pending.append(.element(element))
        }
    }

    fileprivate func characters(_ chars: UnsafePointer<xmlChar>?, _ len: Int) {
        guard failure == nil, let chars, len > 0 else { return }
        let buffer = UnsafeBufferPointer(start: chars, count: len)
        if depth <= 1 {
            // Between stanzas only whitespace (keepalives) is allowed.
            if buffer.contains(where: { !Self.isXMLWhitespace($0) }) {
                fail(XMLStreamError(.badFormat, "character data between stanzas"))
            }
            return
        }
        stanzaBytes += len
        if isSkipping { return checkSkipCeiling() }
        if stanzaBytes > limits.maxStanzaBytes {
            return beginSkippingText()
        }
        pending.appendText(buffer)
    }

    /// The character data read since the last tag becomes one text node of the innermost open element.
    private func flushText() {
        pending.flushText()
    }

    /// Drops everything built of the current stanza.
    func discardBuilt() {
        frames.removeAll(keepingCapacity: true)
        pending.removeAll()
    }

    /// Text made the stanza too large: skip the rest of it (no element is being opened, so depth stays).
    private func beginSkippingText() {
        beginSkipping(.size, "a stanza larger than \(limits.maxStanzaBytes) bytes")
        depth -= 1
    }

    /// A name from libxml2's dictionary (element and attribute local names, namespace URIs).
    private func interned(_ p: UnsafePointer<xmlChar>?) -> String {
        guard let p else { return "" }
        let key = UnsafeRawPointer(p)
        let slot = Int(bitPattern: UInt(bitPattern: key) >> 3) & (Self.nameSlots - 1)
        if names[slot].key == key { return names[slot].name }
        let name = KnownNamespaces.constant(p, length: Int(xmlStrlen(p))) ?? String(cString: p)
        names[slot] = (key, name)
        return name
    }

    /// An attribute value of an element being built.
    private func attributeValue(_ start: UnsafePointer<xmlChar>?, _ end: UnsafePointer<xmlChar>?) -> String {
        guard let start, let end, end > start else { return "" }
        let bytes = UnsafeBufferPointer(start: start, count: end - start)
        if bytes.count > RepeatedValues.maxLength { return Self.value(start, end) }
        return repeatedValues.string(bytes) ?? Self.value(start, end)
    }

    private static func string(_ p: UnsafePointer<xmlChar>?) -> String {
        guard let p else { return "" }
        return String(cString: p)
    }

    private static func value(_ start: UnsafePointer<xmlChar>?, _ end: UnsafePointer<xmlChar>?) -> String {
        guard let start, let end, end > start else { return "" }
        let bytes = UnsafeBufferPointer(start: start, count: end - start)
        // Without entity substitution libxml2 hands over `&amp;` in an attribute as the five characters
        // `&#38;` (so it could tell it from a literal ampersand); nothing else reaches here escaped,
        // since every other entity reference is refused as restricted XML.
        guard bytes.contains(UInt8(ascii: "&")) else { return String(decoding: bytes, as: UTF8.self) }
        let escaped = Array("&#38;".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "&"), i + escaped.count <= bytes.count, bytes[i..<(i + escaped.count)].elementsEqual(escaped) {
                out.append(UInt8(ascii: "&"))
                i += escaped.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
