import XMPPAddress
import XMPPClient
import XMPPCore
import XMPPXML

/// One fuzz input through everything that reads untrusted bytes: as an XML stream (``fuzzXML(_:)``),
/// a DNS answer (``fuzzDNS(_:)``), an HTTP response (``fuzzHTTP(_:)``), WebSocket frames
/// (``fuzzWebSocket(_:)``) and a BOSH body, host-meta or JSON document (``fuzzBOSHAndJSON(_:)``) from
/// the network, as a TOML document (``fuzzTOML(_:)``), and as a time zone file, cron lines and TZ
/// strings (``fuzzSchedule(_:)``), and alert and rule conditions (``fuzzCondition(_:)``).
/// Nothing may crash, hang or grow without bound; errors are the expected outcome for most inputs.
func fuzzOne(_ data: UnsafeRawBufferPointer) {
    fuzzXML(data)
    fuzzDNS(data)
    fuzzTOML(data)
    fuzzHTTP(data)
    fuzzWebSocket(data)
    fuzzBOSHAndJSON(data)
    fuzzSchedule(data)
    fuzzCondition(data)
}

/// The XML stream parser (fed in two pieces, split where the input says), then every element through
/// the stanza readers (JIDs, stanza and stream errors, XEP-0082 times, delays) and the stream
/// negotiator; stanzas over the limits are reported and skipped.
func fuzzXML(_ data: UnsafeRawBufferPointer) {
    guard data.count >= 1 else { return }
    let split = Int(data[0]) % max(data.count, 1)
    let body = UnsafeRawBufferPointer(rebasing: data[1...])
    let parser = XMLStreamParser(limits: XMLStreamLimits(maxStanzaBytes: 64 * 1024, maxDepth: 32, maxAttributes: 32))
    var negotiator = StreamNegotiator(jid: try! JID("fuzz@example.org/r"), password: "pencil", security: .directTLS)
    _ = negotiator.start()
    var elements = 0
    func handle(_ event: XMLStreamEvent) -> XMLStreamParser.Disposition {
        _ = negotiator.handle(event)
        if case .oversized(let o) = event { _ = o.description }
        guard case .element(let e) = event else { return .continue }
        elements += 1
        inspect(e)
        return .continue
    }
    let header = Array("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' id='f'>".utf8)
    do throws(XMLStreamError) {
        let start = UnsafeMutableRawBufferPointer.allocate(byteCount: header.count, alignment: 1)
        defer { start.deallocate() }
        start.copyBytes(from: header)
        _ = try parser.feed(UnsafeRawBufferPointer(start), handle)
        let cut = min(split, body.count)
        _ = try parser.feed(UnsafeRawBufferPointer(rebasing: body[..<cut]), handle)
        _ = try parser.feed(UnsafeRawBufferPointer(rebasing: body[cut...]), handle)
    } catch {
        _ = error.streamError.serialized
    }
}

/// Every reader a received element goes through.
func inspect(_ e: XMLElement) {
    _ = e.serialized()
    _ = e.from
    _ = e.to
    _ = e.stanzaKind
    _ = StanzaError(stanza: e)
    if e.namespace == XMPPNamespace.stream { _ = StreamError(element: e).description }
    for child in e.elements {
        if let stamp = child[attribute: "stamp"] { _ = XMPPDateTime.parse(stamp) }
        if let jid = child[attribute: "jid"] { _ = try? JID(jid) }
        _ = StreamManagement.handledCount(child)
        if child.name == "enabled" { _ = StreamManagement(enabled: child) }
    }
    if let text = e.child("body")?.text { _ = try? JID(text) }
}
