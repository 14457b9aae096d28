internal import CLibXML2
import XMPPCore

/// An incremental parser for one XMPP stream, on libxml2's SAX2 push parser.
///
/// Depth 0 is the `<stream:stream>` element, whose opening and closing are reported as events; each
/// first-level child is built into an ``XMLElement`` and reported when its end tag is read. The parser
/// enforces RFC 6120 §11.1 restricted XML: a DTD, an entity declaration or reference (other than the five
/// predefined ones), a processing instruction or a comment ends the stream with `restricted-xml`, and
/// nothing is ever expanded. ``XMLStreamLimits`` bound what one stanza can make us hold in memory: a
/// stanza that crosses one is skipped to its end and reported as ``XMLStreamEvent/oversized(_:)``,
/// and the stream goes on. The stream must be UTF-8 XML 1.0 (RFC 6120 §11.6), and a stream header
/// inside the stream is refused.
///
/// libxml2 keeps every element name and namespace it has seen in a dictionary for as long as its
/// context lives, so a peer that invents names would grow it without bound: between stanzas, once it
/// holds ``dictionaryLimit`` names (or deep nesting has grown libxml2's stacks), the context is
/// replaced by a fresh one primed with the stream's own header, invisibly to the caller.
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
    var context: xmlParserCtxtPtr?
    private let handlers: UnsafeMutablePointer<xmlSAXHandler>

    // Parse state, touched by the SAX callbacks. The parser is used from one thread and its
    // callbacks never overlap (libxml2 calls them one after another from within feed), so the
    // run-time exclusivity checks on these, about a tenth of the decoding time, are left out.
    @exclusivity(unchecked) var depth = 0
    @exclusivity(unchecked) var frames: [Frame] = []
    /// The children of the open elements (``Frame/childStart`` says whose), and the text being read.
    @exclusivity(unchecked) var pending = PendingNodes()
    @exclusivity(unchecked) var stanzaBytes = 0
    @exclusivity(unchecked) var failure: XMLStreamError?
    /// Set while the current stanza is being skipped: what was kept of its tag, and the limit it crossed.
    @exclusivity(unchecked) var skipping: OversizedStanza?
    /// Whether ``skipping`` is set, for the checks on every element and text run (cheaper than
    /// looking into the optional).
    @exclusivity(unchecked) var isSkipping = false
    /// The stream header's prefix and namespace declarations, to prime a fresh context with.
    var streamPrefix: String?
    var streamNamespaces: [(prefix: String?, uri: String)] = []
    /// True while a fresh context reads the synthetic header: nothing is reported.
    var priming = false
    fileprivate var freshRequested = false
    fileprivate var freshOffset = 0
    /// What had been fed to the current context when the current slice began.
    fileprivate var sliceStart = 0
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
    @exclusivity(unchecked) var names = [(key: UnsafeRawPointer?, name: String)](repeating: (nil, ""), count: XMLStreamParser.nameSlots)
    static let nameSlots = 512
    /// Attribute values that recur (JIDs, node names), to hand out again rather than make anew.
    @exclusivity(unchecked) var repeatedValues = RepeatedValues()

    /// Names in libxml2's dictionary past which the context is replaced between stanzas. A stream of
    /// ordinary stanzas uses a few hundred; one stanza may still add up to its size in names.
    public static let dictionaryLimit = 4096
    /// ``dictionaryLimit`` for this parser (tests make it small).
    var dictionaryLimit = XMLStreamParser.dictionaryLimit
    /// How many times the context was replaced mid-stream.
    private(set) var freshContexts = 0
    /// libxml2's per-depth stacks past which the context is replaced too (they grow, never shrink).
    static let stackLimit = 256

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
        discardBuilt()
        stanzaBytes = 0
        failure = nil
        skipping = nil
        isSkipping = false
        streamPrefix = nil
        streamNamespaces = []
        priming = false
        freshRequested = false
        stopRequested = false
        fed = 0
        closed = false
        makeContext()
    }

    /// Whether the stream is open and no stanza is begun (or being skipped): where a framing that
    /// carries one element per message (RFC 7395) must stand after each message.
    public var isBetweenStanzas: Bool { depth == 1 && !isSkipping && !closed }

    /// How many names libxml2's dictionary holds (for tests and the bound above).
    var dictionaryCount: Int {
        guard let context, let dict = context.pointee.dict else { return 0 }
        return Int(xmlDictSize(dict))
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
        guard context != nil, !closed else {
            if bytes.contains(where: { !Self.isXMLWhitespace($0) }) {
                throw XMLStreamError(.notWellFormed, "data after the end of the stream")
            }
            return 0
        }
        var offset = 0
        while offset < bytes.count, let context = self.context {
            let n = min(Self.sliceSize, bytes.count - offset)
            let base = bytes.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self)
            sliceStart = fed
            fed += n
            let rc = withSink(handler) { xmlParseChunk(context, base, Int32(n), 0) }
            if let failure { throw failure }
            if stopRequested {
                // The element that asked for the stop ended at stopOffset (counted in what this context
                // was fed); whatever the peer sent after it was not for this parser.
                stopRequested = false
                closed = true
                let consumed = max(0, offset + stopOffset - sliceStart)
                return max(0, bytes.count - consumed)
            }
            if freshRequested {
                // A stanza ended at freshOffset and the context has grown: go on from the byte after it
                // with a fresh one.
                freshRequested = false
                let resume = offset + (freshOffset - sliceStart)
                try freshContext()
                offset = resume
                continue
            }
            if rc != 0 {
                let f = lastError(rc)
                failure = f
                throw f
            }
            try checkBuffered(context)
            offset += n
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
            // XML_PARSE_HUGE lifts libxml2's own fixed limits (nesting 256 deep, names of 50,000 bytes,
            // a 10 MB dictionary), which end the parse: servers relay stanzas past them, and ours (per
            // stanza, checkBuffered, the dictionary bound) take their place.
            _ = xmlCtxtUseOptions(context, Int32(XML_PARSE_NONET.rawValue | XML_PARSE_HUGE.rawValue))
            context.pointee.replaceEntities = 0
            context.pointee.loadsubset = 0
            context.pointee.validate = 0
        }
    }

    /// Replaces the context between stanzas: the old one's dictionary and stacks are freed, and the new
    /// one reads a copy of the stream header (nothing reported) so it stands at depth 1 with the same
    /// namespace declarations in scope.
    private func freshContext() throws(XMLStreamError) {
        if let context { xmlFreeParserCtxt(context) }
        context = nil
        for i in names.indices { names[i] = (nil, "") }
        makeContext()
        guard let context else { throw XMLStreamError(.internalServerError, "out of memory for a parser") }
        var header = "<" + (streamPrefix.map { $0 + ":" } ?? "") + "stream"
        for (prefix, uri) in streamNamespaces {
            // As libxml2 handed them over (an escaped character stays escaped), so the new context
            // reads back the same strings.
            let quote = uri.utf8.contains(UInt8(ascii: "'")) ? "\"" : "'"
            header += (prefix.map { " xmlns:" + $0 } ?? " xmlns") + "=" + quote + uri + quote
        }
        header += ">"
        let bytes = Array(header.utf8)
        depth = 0
        priming = true
        let rc = bytes.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { xmlParseChunk(context, $0.baseAddress, Int32($0.count), 0) }
        }
        priming = false
        fed = bytes.count
        freshContexts += 1
        if let failure { throw failure }
        guard rc == 0, depth == 1 else {
            let f = XMLStreamError(.internalServerError, "a fresh parser did not accept the stream header")
            failure = f
            throw f
        }
    }

    /// Whether the context should be replaced now, between stanzas.
    private func contextGrown(_ context: xmlParserCtxtPtr) -> Bool {
        if let dict = context.pointee.dict, Int(xmlDictSize(dict)) > dictionaryLimit { return true }
        return Int(context.pointee.nameMax) > Self.stackLimit || Int(context.pointee.nsMax) > 2 * Self.stackLimit
            || Int(context.pointee.maxatts) > 10 * Self.stackLimit
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

    func fail(_ error: XMLStreamError) {
        if failure == nil { failure = error }
        if let context { xmlStopParser(context) }
    }

    func emit(_ event: XMLStreamEvent) {
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

    /// A first-level element ended: replace a grown context now, before libxml2 reads on. Only when
    /// the element ended within the bytes of the current slice, which are then fed again from there.
    /// After a skipped stanza always: whatever it made libxml2 grow (stacks, attribute table, input
    /// buffer) is given back.
    func stanzaEnded(skipped: Bool = false) {
        guard !stopRequested, !closed, failure == nil, let context, skipped || contextGrown(context) else { return }
        let offset = Int(xmlByteConsumed(context))
        guard offset >= sliceStart, offset <= fed else { return }
        freshOffset = offset
        freshRequested = true
        xmlStopParser(context)
    }

    static func isXMLWhitespace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
}

@available(*, unavailable)
extension XMLStreamParser: Sendable {}
