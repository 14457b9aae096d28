import PerchHTTP
import XMPPXML

/// The input as what an HTTP server, a proxy or a WebSocket server sends: an HTTP response (fed in
/// two pieces, split where the first byte says), WebSocket frames, a BOSH body and a JSON document.
/// Every limit must hold on what comes out.
func fuzzHTTP(_ data: UnsafeRawBufferPointer) {
    guard data.count >= 1 else { return }
    let bytes = Array(data[1...])
    let cut = min(Int(data[0]), bytes.count)
    let limits = HTTPLimits(maxHeaderBytes: 2048, maxHeaderCount: 16, maxBodyBytes: 4096)
    for method in ["GET", "CONNECT", "HEAD"] {
        var parser = HTTPResponseParser(limits: limits, requestMethod: method)
        do throws(HTTPParseError) {
            var events = try parser.feed(bytes[..<cut])
            events += try parser.feed(bytes[cut...])
            if let last = try parser.finish() { events.append(.response(last)) }
            for case .response(let r) in events {
                precondition(r.body.count <= limits.maxBodyBytes, "a body of \(r.body.count) bytes past the limit")
                precondition(r.head.headers.count <= limits.maxHeaderCount)
                _ = r.head.description
                _ = r.head.keepAlive
            }
        } catch {
            precondition(error.offset >= 0 && error.offset <= bytes.count, "error offset \(error.offset) outside the input of \(bytes.count)")
            _ = error.description
        }
    }
    var handshake = WebSocketHandshake(url: WebURL(scheme: .wss, host: "example.org"), key: Array(repeating: 7, count: 16))
    _ = try? handshake.receive(bytes)
    var proxy = ConnectProxy(host: "example.org", port: 443)
    _ = try? proxy.receive(bytes)
    _ = try? WebURL.parse(String(decoding: bytes, as: UTF8.self))
}

/// The input as frames from a WebSocket server, in two pieces: messages stay under the limit, valid
/// text, and nothing comes after a close or a failure.
func fuzzWebSocket(_ data: UnsafeRawBufferPointer) {
    guard data.count >= 1 else { return }
    let bytes = Array(data[1...])
    let cut = min(Int(data[0]), bytes.count)
    // The scan every message gets before it is parsed, on the raw input too.
    _ = XMPPFraming.holdsOneElement(bytes)
    _ = XMPPFraming.framingElement(String(decoding: bytes, as: UTF8.self))
    var codec = WebSocketCodec(maxMessageBytes: 1024, random: { Array(repeating: 0x5A, count: $0) })
    let events = codec.receive(bytes[..<cut]) + codec.receive(bytes[cut...])
    var ended = false
    for e in events {
        switch e {
        case .message(let m):
            precondition(!ended, "a message after the close")
            precondition(m.utf8.count <= 1024, "a message of \(m.utf8.count) bytes past the limit")
            if XMPPFraming.holdsOneElement(Array(m.utf8)) { precondition(m.utf8.contains(UInt8(ascii: "<")), "one element without a tag") }
            _ = XMPPFraming.framingElement(m)
            if let parsed = try? XMPPFraming.parse(m, limits: XMLStreamLimits(maxStanzaBytes: 4096, maxDepth: 16, maxAttributes: 16)) { _ = parsed }
        case .ping(let p), .pong(let p): precondition(p.count <= 125 && !ended)
        case .close, .failed:
            precondition(!ended, "two ends")
            ended = true
        case .send(let frame): precondition(frame.count <= 125 + 14, "a control frame of \(frame.count) bytes")
        }
    }
    precondition(ended == (codec.state == .closed))
}

/// The input as a BOSH response body, as a host-meta XRD and as host-meta.json.
func fuzzBOSHAndJSON(_ data: UnsafeRawBufferPointer) {
    let bytes = Array(data)
    let limits = XMLStreamLimits(maxStanzaBytes: 16 * 1024, maxDepth: 16, maxAttributes: 32)
    if let body = try? BOSHBody.parse(bytes, limits: limits) {
        for s in body.stanzas { inspect(s) }
        var session = BOSHSession(domain: "example.org", rid: 1, limits: limits)
        _ = session.start()
        let response = HTTPResponse(head: HTTPResponseHead(status: 200, reason: "OK"), body: bytes)
        if (try? session.received(rid: 1, response: response)) != nil {
            _ = session.nextRequest()
            _ = try? session.lost(rid: 2)
        }
    }
    if let links = try? HostMeta.parseXRD(bytes) { _ = HostMeta.endpoints(links) }
    do throws(JSONError) {
        _ = try JSONReader(maxBytes: 8192, maxDepth: 16).parse(bytes)
    } catch {
        precondition(error.offset >= 0 && error.offset <= max(bytes.count, 8192), "JSON error offset \(error.offset)")
    }
    if let links = try? HostMeta.parseJSON(bytes) { _ = HostMeta.endpoints(links) }
}
