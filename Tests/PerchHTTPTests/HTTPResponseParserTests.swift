import Testing
@testable import PerchHTTP

/// Feeds `text` to a fresh parser in pieces of `step` bytes (every split point gets exercised).
func httpFeed(_ text: String, step: Int = .max, limits: HTTPLimits = HTTPLimits(), method: String = "GET") throws(HTTPParseError) -> [HTTPResponseEvent] {
    var p = HTTPResponseParser(limits: limits, requestMethod: method)
    let bytes = Array(text.utf8)
    var events: [HTTPResponseEvent] = []
    var i = 0
    while i < bytes.count {
        let n = min(step, bytes.count - i)
        events += try p.feed(bytes[i..<(i + n)])
        i += n
    }
    if let last = try p.finish() { events.append(.response(last)) }
    return events
}

func httpError(_ text: String, limits: HTTPLimits = HTTPLimits(), method: String = "GET") -> HTTPParseError? {
    do {
        _ = try httpFeed(text, limits: limits, method: method)
        return nil
    } catch { return error }
}

@Suite struct HTTPResponseParserTests {
    @Test func contentLengthBodyInAnySplit() throws {
        let text = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\ncontent-length: 5\r\n\r\nhello"
        for step in [1, 2, 3, 7, 1000] {
            let events = try httpFeed(text, step: step)
            #expect(events.count == 1)
            guard case .response(let r) = events.first else { Issue.record("no response"); continue }
            #expect(r.head.status == 200)
            #expect(r.head.reason == "OK")
            #expect(r.head.headers["CONTENT-TYPE"] == "text/xml")
            #expect(r.body == Array("hello".utf8))
        }
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() throws {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
        for step in [1, 4, 1000] {
            let events = try httpFeed(text, step: step)
            guard case .response(let r)? = events.first, events.count == 1 else { Issue.record("\(events)"); continue }
            #expect(r.body == Array("hello world".utf8))
            #expect(r.head.headers["X-Trailer"] == nil)
        }
    }

    @Test func keepAliveResponsesFollowEachOther() throws {
        let one = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
        let two = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nb\r\n0\r\n\r\n"
        let events = try httpFeed(one + two, step: 3)
        #expect(events.count == 2)
        if case .response(let r)? = events.last { #expect(r.head.status == 404 && r.body == [UInt8(ascii: "b")]) }
    }

    @Test func bodyUntilCloseAndInterimAnswers() throws {
        let events = try httpFeed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nall of it", step: 5)
        guard case .response(let r)? = events.first, events.count == 1 else { Issue.record("\(events)"); return }
        #expect(r.head.minorVersion == 0 && !r.head.keepAlive)
        #expect(r.body == Array("all of it".utf8))
    }

    @Test func noBodyFor204AndHEAD() throws {
        #expect(try httpFeed("HTTP/1.1 204 No Content\r\n\r\n").count == 1)
        #expect(try httpFeed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method: "HEAD").count == 1)
    }

    @Test func switchingProtocolsHandsOverTheRest() throws {
        var p = HTTPResponseParser()
        let events = try p.feed(Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u{81}\u{2}hi".utf8))
        guard case .tunnel(let head, let rest)? = events.first else { Issue.record("\(events)"); return }
        #expect(head.status == 101)
        #expect(rest == [0xC2, 0x81, 0x02, 0x68, 0x69])
        #expect(throws: HTTPParseError.self) { try p.feed([1]) }
    }

    @Test func connectSuccessIsATunnel() throws {
        let events = try httpFeed("HTTP/1.1 200 Connection established\r\n\r\n\u{16}\u{3}", method: "CONNECT")
        guard case .tunnel(_, let rest)? = events.first else { Issue.record("\(events)"); return }
        #expect(rest == [0x16, 0x03])
    }

    @Test func refusalsSayWhatAndWhere() {
        let cases: [(String, HTTPParseError.Kind, Int?)] = [
            ("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", .obsoleteLineFolding, 23),
            ("HTTP/1.1 200 OK\r\nA : b\r\n\r\n", .malformedHeader, 18),
            ("HTTP/1.1 200 OK\nA: b\r\n\r\n", .malformedHeader, 15),
            ("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", .malformedHeader, 21),
            ("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", .malformedHeader, 17),
            ("HTTP/1.1 200 OK\r\nA: \u{0}\r\n\r\n", .malformedHeader, 20),
            ("HTTP/2 200 OK\r\n\r\n", .unsupportedVersion, 0),
            ("HTTP/1.2 200 OK\r\n\r\n", .unsupportedVersion, 7),
            ("SSH-2.0-OpenSSH\r\n\r\n", .malformedStatusLine, 0),
            ("HTTP/1.1 2x0 OK\r\n\r\n", .malformedStatusLine, 10),
            ("HTTP/1.1 099 Low\r\n\r\n", .malformedStatusLine, 9),
            ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", .badContentLength, nil),
            ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", .badContentLength, nil),
            ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .badContentLength, nil),
            ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", .badContentLength, nil),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferEncoding, nil),
            ("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", .unsupportedTransferEncoding, nil),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .badChunk, 47),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", .badChunk, 51),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", .badChunk, nil),
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", .truncated, nil),
            ("HTTP/1.1 200 O", .truncated, nil),
        ]
        for (text, kind, offset) in cases {
            guard let e = httpError(text) else { Issue.record("accepted: \(text.debugDescription)"); continue }
            #expect(e.kind == kind, "\(text.debugDescription): \(e)")
            if let offset { #expect(e.offset == offset, "\(text.debugDescription): \(e)") }
            #expect(!e.description.isEmpty)
        }
    }

    @Test func limitsHold() {
        let small = HTTPLimits(maxHeaderBytes: 64, maxHeaderCount: 2, maxBodyBytes: 4)
        #expect(httpError("HTTP/1.1 200 OK\r\nA: " + String(repeating: "x", count: 100) + "\r\n\r\n", limits: small)?.kind == .headerTooLarge)
        #expect(httpError("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: small)?.kind == .tooManyHeaders)
        #expect(httpError("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", limits: small)?.kind == .bodyTooLarge)
        #expect(httpError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", limits: small)?.kind == .bodyTooLarge)
        #expect(httpError("HTTP/1.1 200 OK\r\n\r\nhello", limits: small)?.kind == .bodyTooLarge)
        // A header that never ends is refused at the limit, not buffered for ever.
        var p = HTTPResponseParser(limits: small)
        #expect(throws: HTTPParseError.self) { try p.feed(Array(repeating: UInt8(ascii: "a"), count: 65)) }
    }

    @Test func anErrorIsFinal() throws {
        var p = HTTPResponseParser()
        #expect(throws: HTTPParseError.self) { try p.feed(Array("HTTP/1.1 200 OK\r\nA : b\r\n".utf8)) }
        #expect(throws: HTTPParseError.self) { try p.feed(Array("\r\n".utf8)) }
    }

    @Test func headerTokens() {
        var h = HTTPHeaders()
        h.append("Connection", "keep-alive, Upgrade")
        h.append("connection", " close ")
        #expect(h.hasToken("CONNECTION", "upgrade"))
        #expect(h.tokens("Connection") == ["keep-alive", "Upgrade", "close"])
        #expect(!h.hasToken("Connection", "up"))
    }
}

@Suite struct HTTPRequestTests {
    @Test func writesTheRequestLineHostAndLength() throws {
        var h = HTTPHeaders()
        h.append("Content-Type", "text/xml; charset=utf-8")
        let r = HTTPRequest(method: "POST", target: "/http-bind", host: "example.org:5280", headers: h, body: Array("<body/>".utf8))
        #expect(String(decoding: try r.serialized(), as: UTF8.self)
            == "POST /http-bind HTTP/1.1\r\nHost: example.org:5280\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: 7\r\n\r\n<body/>")
    }

    @Test func refusesWhatWouldSplitTheRequest() {
        var h = HTTPHeaders()
        h.append("X", "a\r\nInjected: 1")
        #expect(throws: HTTPRequestError.self) { try HTTPRequest(method: "GET", target: "/", host: "h", headers: h).serialized() }
        #expect(throws: HTTPRequestError.self) { try HTTPRequest(method: "GET", target: "/ HTTP/1.1", host: "h").serialized() }
        #expect(throws: HTTPRequestError.self) { try HTTPRequest(method: "G ET", target: "/", host: "h").serialized() }
        #expect(throws: HTTPRequestError.self) { try HTTPRequest(method: "GET", target: "/", host: "h\n").serialized() }
        var bad = HTTPHeaders()
        bad.append("Bad Name", "v")
        #expect(throws: HTTPRequestError.self) { try HTTPRequest(method: "GET", target: "/", host: "h", headers: bad).serialized() }
    }

    @Test func descriptionRedactsCredentials() {
        var h = HTTPHeaders()
        h.append("Proxy-Authorization", "Basic c2VjcmV0OnB3")
        h.append("authorization", "Bearer tok")
        let r = HTTPRequest(method: "CONNECT", target: "x:443", host: "x:443", headers: h)
        #expect(!r.description.containsText("c2VjcmV0"))
        #expect(!r.description.containsText("tok"))
        #expect(!"\(r)".containsText("c2VjcmV0") && !String(reflecting: r).containsText("c2VjcmV0"))
        #expect(r.description.containsText("<redacted>"))
    }
}

extension String {
    func containsText(_ s: String) -> Bool {
        let a = Array(utf8), b = Array(s.utf8)
        guard b.count <= a.count else { return false }
        return (0...(a.count - b.count)).contains { a[$0..<($0 + b.count)].elementsEqual(b) }
    }
}
