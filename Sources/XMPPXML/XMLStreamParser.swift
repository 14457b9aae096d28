internal import CLibXML2
import XMPPCore

/// An incremental parser for one XMPP stream, on libxml2's SAX2 push parser.
///
/// Depth 0 is the `<stream:stream>` element, whose opening and closing are reported as events; each
/// first-level child is built into an ``XMLElement`` and reported when its end tag is read. The parser
/// enforces RFC 6120 §11.1 restricted XML: a DTD, an entity declaration or reference (other than the five
/// predefined ones), a processing instruction or a comment ends the stream with `restricted-xml`, and
/// nothing is ever expanded. ``XMLStreamLimits`` bound what one stanza can make us hold in memory.
///
/// It is correct for any split of the input: feed one byte at a time or a whole buffer.
/// Create a fresh parser (or call ``reset()``) at every stream restart (after STARTTLS and after SASL).
///
/// Owns one libxml2 `xmlParserCtxt`; not thread-safe, use from one thread.
public final class XMLStreamParser {
    /// What to do after an event was handled.
    public enum Disposition: Sendable {
        /// Keep parsing.
        case `continue`
        /// Stop right after this element: the stream is about to restart (or be handed to TLS). The bytes
        /// that followed the element are returned by ``feed(_:_:)`` untouched.
        case stop
    }

    public let limits: XMLStreamLimits
    private var context: xmlParserCtxtPtr?
    private let handlers: UnsafeMutablePointer<xmlSAXHandler>

    // Parse state, touched by the SAX callbacks. The parser is used from one thread and its
    // callbacks never overlap (libxml2 calls them one after another from within feed), so the
    // run-time exclusivity checks on these, about a tenth of the decoding time, are left out.
    @exclusivity(unchecked) fileprivate var depth = 0
    @exclusivity(unchecked) fileprivate var frames: [Frame] = []
    @exclusivity(unchecked) fileprivate var stanzaBytes = 0
    @exclusivity(unchecked) fileprivate var failure: XMLStreamError?
    fileprivate var stopRequested = false
    fileprivate var stopOffset: Int = 0
    fileprivate var sink: ((XMLStreamEvent) -> Disposition)?
    private var fed = 0
    private var closed = false
    /// Element and attribute names and namespace URIs, by the address libxml2's dictionary gives
    /// them: each distinct name becomes a Swift string once, not once per element (the long
    /// namespace URIs would otherwise cost an allocation each time). A direct-mapped cache of fixed
    /// size, so a stream that invents names only evicts; the dictionary lives as long as the parser
    /// context, so the cache is emptied with it.
    @exclusivity(unchecked) private var names = [(key: UnsafeRawPointer?, name: String)](repeating: (nil, ""), count: XMLStreamParser.nameSlots)
    static let nameSlots = 512

    /// The chunk size handed to libxml2 at once; limits are checked between chunks, so this bounds
    /// how far past a limit a peer can push us.
    private static let sliceSize = 4096

    public init(limits: XMLStreamLimits = .default) {
        self.limits = limits
        xmlInitParser()
        handlers = .allocate(capacity: 1)
        handlers.initialize(to: xmlSAXHandler())
        Self.installHandlers(handlers)
        makeContext()
    }

    deinit {
        if let context { xmlFreeParserCtxt(context) }
        handlers.deinitialize(count: 1)
        handlers.deallocate()
    }

    /// Starts a new stream: the next bytes must begin with a stream header.
    public func reset() {
        if let context { xmlFreeParserCtxt(context) }
        context = nil
        for i in names.indices { names[i] = (nil, "") }
        depth = 0
        frames.removeAll(keepingCapacity: true)
        stanzaBytes = 0
        failure = nil
        stopRequested = false
        fed = 0
        closed = false
        makeContext()
    }

    /// Feeds bytes and reports each event to `handler` as soon as it is complete.
    ///
    /// - Returns: the number of bytes of `bytes` that were *not* consumed because `handler` returned
    ///   ``Disposition/stop``: they belong to whatever comes after the restart (TLS records, or the next
    ///   stream), and the caller must pass them on. Zero in the normal case.
    /// - Throws: ``XMLStreamError`` when the input is not acceptable; the stream must then be closed with
    ///   the error's condition. After an error the parser must be reset before it is used again.
    @discardableResult
    public func feed(_ bytes: UnsafeRawBufferPointer, _ handler: (XMLStreamEvent) -> Disposition) throws(XMLStreamError) -> Int {
        if let failure { throw failure }
        guard let context, !closed else {
            if bytes.contains(where: { !Self.isXMLWhitespace($0) }) {
                throw XMLStreamError(.notWellFormed, "data after the end of the stream")
            }
            return 0
        }
        var offset = 0
        let start = fed
        while offset < bytes.count {
            let n = min(Self.sliceSize, bytes.count - offset)
            let base = bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self)
            fed += n
            offset += n
            let rc = withSink(handler) { xmlParseChunk(context, base, Int32(n), 0) }
            if let failure { throw failure }
            if stopRequested {
                // The element that asked for the stop ended at stopOffset (counted from the start of this
                // stream); whatever the peer sent after it was not for this parser.
                stopRequested = false
                closed = true
                let consumedHere = max(0, stopOffset - start)
                return max(0, bytes.count - consumedHere)
            }
            if rc != 0 {
                let f = lastError(rc)
                failure = f
                throw f
            }
            try checkBuffered(context)
            if closed { break }
        }
        if closed, offset < bytes.count {
            // Anything but whitespace after </stream:stream> is an error.
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            if rest.contains(where: { !Self.isXMLWhitespace($0) }) {
                throw XMLStreamError(.notWellFormed, "data after the end of the stream")
            }
        }
        return 0
    }

    /// Convenience for tests and simple callers: feeds bytes and returns every event.
    public func feed(_ bytes: [UInt8]) throws(XMLStreamError) -> [XMLStreamEvent] {
        var events: [XMLStreamEvent] = []
        let result: Result<Int, XMLStreamError> = bytes.withUnsafeBytes { buf in
            do throws(XMLStreamError) {
                return .success(try feed(buf) { events.append($0); return .continue })
            } catch {
                return .failure(error)
            }
        }
        _ = try result.get()
        return events
    }

    /// Convenience: feeds a string's UTF-8 bytes.
    public func feed(_ string: String) throws(XMLStreamError) -> [XMLStreamEvent] {
        try feed(Array(string.utf8))
    }

    // MARK: - Internals

    private func withSink(_ handler: (XMLStreamEvent) -> Disposition, _ body: () -> Int32) -> Int32 {
        withoutActuallyEscaping(handler) { escapable in
            sink = escapable
            defer { sink = nil }
            return body()
        }
    }

    private func makeContext() {
        let userData = Unmanaged.passUnretained(self).toOpaque()
        context = xmlCreatePushParserCtxt(handlers, userData, nil, 0, nil)
        if let context {
            // No network access, never substitute entities, keep going after recoverable warnings only.
            _ = xmlCtxtUseOptions(context, Int32(XML_PARSE_NONET.rawValue))
            context.pointee.replaceEntities = 0
            context.pointee.loadsubset = 0
            context.pointee.validate = 0
        }
    }

    /// The bytes libxml2 holds but has not parsed yet: a single unfinished tag or text run can make it
    /// buffer without reporting anything, so this is bounded too.
    private func checkBuffered(_ context: xmlParserCtxtPtr) throws(XMLStreamError) {
        guard let input = context.pointee.input, let cur = input.pointee.cur, let end = input.pointee.end else { return }
        let buffered = end - cur
        if buffered > limits.maxStanzaBytes {
            let f = XMLStreamError(.policyViolation, "an element larger than \(limits.maxStanzaBytes) bytes")
            failure = f
            throw f
        }
    }

    private func lastError(_ rc: Int32) -> XMLStreamError {
        if let err = xmlCtxtGetLastError(context), let msg = err.pointee.message {
            var text = String(cString: msg)
            while text.last == "\n" { text.removeLast() }
            let code = xmlParserErrors(rawValue: UInt32(err.pointee.code))
            if code == XML_ERR_INVALID_CHAR || code == XML_ERR_INVALID_ENCODING || code == XML_ERR_UNSUPPORTED_ENCODING {
                return XMLStreamError(.unsupportedEncoding, "line \(err.pointee.line): \(text)")
            }
            return XMLStreamError(.notWellFormed, "line \(err.pointee.line): \(text)")
        }
        return XMLStreamError(.notWellFormed, "libxml2 error \(rc)")
    }

    fileprivate func fail(_ error: XMLStreamError) {
        if failure == nil { failure = error }
        if let context { xmlStopParser(context) }
    }

    fileprivate func emit(_ event: XMLStreamEvent) {
        guard let sink else { return }
        if sink(event) == .stop {
            stopRequested = true
            if let context {
                stopOffset = Int(xmlByteConsumed(context))
                xmlStopParser(context)
            }
        }
        if case .streamClosed = event { closed = true }
    }

    static func isXMLWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
}

@available(*, unavailable)
extension XMLStreamParser: Sendable {}

/// An element being built.
struct Frame {
    var name: String
    var namespace: String
    var attributes: [XMLAttribute]
    var children: [XMLNode] = []
    var text: String = ""

    mutating func flushText() {
        if !text.isEmpty {
            children.append(.text(text))
            text = ""
        }
    }

    consuming func finish() -> XMLElement {
        flushText()
        return XMLElement(name, namespace: namespace, attributes: attributes, children: children)
    }
}

// MARK: - SAX callbacks

extension XMLStreamParser {
    fileprivate static func parser(_ ctx: UnsafeMutableRawPointer?) -> XMLStreamParser {
        Unmanaged<XMLStreamParser>.fromOpaque(ctx!).takeUnretainedValue()
    }

    private static func installHandlers(_ h: UnsafeMutablePointer<xmlSAXHandler>) {
        h.pointee.initialized = UInt32(XML_SAX2_MAGIC)
        h.pointee.startElementNs = { ctx, localname, prefix, uri, nbNamespaces, namespaces, nbAttributes, _, attributes in
            XMLStreamParser.parser(ctx).startElement(
                localname: localname, uri: uri, nbNamespaces: Int(nbNamespaces), namespaces: namespaces,
                nbAttributes: Int(nbAttributes), attributes: attributes)
        }
        h.pointee.endElementNs = { ctx, _, _, _ in XMLStreamParser.parser(ctx).endElement() }
        h.pointee.characters = { ctx, chars, len in XMLStreamParser.parser(ctx).characters(chars, Int(len)) }
        h.pointee.cdataBlock = { ctx, chars, len in XMLStreamParser.parser(ctx).characters(chars, Int(len)) }
        h.pointee.ignorableWhitespace = { ctx, chars, len in XMLStreamParser.parser(ctx).characters(chars, Int(len)) }
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
        localname: UnsafePointer<xmlChar>?, uri: UnsafePointer<xmlChar>?, nbNamespaces: Int,
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
            var open = StreamOpen()
            for i in 0..<nbNamespaces where namespaces?[2 * i] == nil {
                open.contentNamespace = Self.string(namespaces?[2 * i + 1])
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
            depth = 1
            emit(.streamOpened(open))
            return
        }
        if depth > limits.maxDepth {
            fail(XMLStreamError(.policyViolation, "elements nested deeper than \(limits.maxDepth)"))
            return
        }
        if nbAttributes > limits.maxAttributes {
            fail(XMLStreamError(.policyViolation, "an element with more than \(limits.maxAttributes) attributes"))
            return
        }
        if depth == 1 { stanzaBytes = 0 }
        var attrs: [XMLAttribute] = []
        attrs.reserveCapacity(nbAttributes)
        var size = name.utf8.count + 3
        for i in 0..<nbAttributes {
            let base = 5 * i
            let attrName = interned(attributes?[base])
            let attrURI = attributes?[base + 2].map { interned($0) }
            let value = Self.value(attributes?[base + 3], attributes?[base + 4])
            size += attrName.utf8.count + value.utf8.count + 4
            attrs.append(XMLAttribute(attrName, value, namespace: attrURI))
        }
        if !account(size) { return }
        if !frames.isEmpty { frames[frames.count - 1].flushText() }
        frames.append(Frame(name: name, namespace: ns, attributes: attrs))
        depth += 1
    }

    fileprivate func endElement() {
        guard failure == nil else { return }
        depth -= 1
        if depth == 0 {
            emit(.streamClosed)
            return
        }
        guard let frame = frames.popLast() else { return }
        let element = frame.finish()
        if frames.isEmpty {
            emit(.element(element))
        } else {
            frames[frames.count - 1].flushText()
            frames[frames.count - 1].children.append(.element(element))
        }
    }

    fileprivate func characters(_ chars: UnsafePointer<xmlChar>?, _ len: Int) {
        guard failure == nil, let chars, len > 0 else { return }
        let buffer = UnsafeBufferPointer(start: chars, count: len)
        if frames.isEmpty {
            // Between stanzas only whitespace (keepalives) is allowed.
            if buffer.contains(where: { !Self.isXMLWhitespace($0) }) {
                fail(XMLStreamError(.badFormat, "character data between stanzas"))
            }
            return
        }
        if !account(len) { return }
        frames[frames.count - 1].text += String(decoding: buffer, as: UTF8.self)
    }

    /// Adds to the current stanza's size; false (and the stream failed) when over the limit.
    private func account(_ bytes: Int) -> Bool {
        stanzaBytes += bytes
        if stanzaBytes > limits.maxStanzaBytes {
            fail(XMLStreamError(.policyViolation, "a stanza larger than \(limits.maxStanzaBytes) bytes"))
            return false
        }
        return true
    }

    /// A name from libxml2's dictionary (element and attribute local names, namespace URIs).
    private func interned(_ p: UnsafePointer<xmlChar>?) -> String {
        guard let p else { return "" }
        let key = UnsafeRawPointer(p)
        let slot = Int(bitPattern: UInt(bitPattern: key) >> 3) & (Self.nameSlots - 1)
        if names[slot].key == key { return names[slot].name }
        let name = String(cString: p)
        names[slot] = (key, name)
        return name
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
