/// Bounds on what one HTTP response may make the parser hold.
public struct HTTPLimits: Sendable, Hashable {
    /// The status line, header fields and chunked trailers together, in bytes.
    public var maxHeaderBytes: Int
    /// The most header fields (trailers included).
    public var maxHeaderCount: Int
    /// The largest body (after removing chunked framing).
    public var maxBodyBytes: Int

    public init(maxHeaderBytes: Int = 16 * 1024, maxHeaderCount: Int = 64, maxBodyBytes: Int = 1 << 20) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
    }
}

/// A response's status line and header fields.
public struct HTTPResponseHead: Sendable, Hashable, CustomStringConvertible {
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    public var status: Int
    public var reason: String
    public var headers: HTTPHeaders

    public init(minorVersion: Int = 1, status: Int, reason: String, headers: HTTPHeaders = HTTPHeaders()) {
        self.minorVersion = minorVersion
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    /// "101 Switching Protocols", for log lines (the reason escaped).
    public var description: String { "\(status) \(HTTPText.printable(reason.utf8, limit: 80))" }

    /// Whether the server keeps the connection open after this response (RFC 9112 §9.3).
    public var keepAlive: Bool {
        if headers.hasToken("Connection", "close") { return false }
        return minorVersion >= 1 || headers.hasToken("Connection", "keep-alive")
    }
}

/// A complete response.
public struct HTTPResponse: Sendable, Hashable {
    public var head: HTTPResponseHead
    public var body: [UInt8]

    public init(head: HTTPResponseHead, body: [UInt8]) {
        self.head = head
        self.body = body
    }
}

/// What the parser found in the bytes fed to it.
public enum HTTPResponseEvent: Sendable, Hashable {
    /// A complete response (head and body); on a kept-alive connection more may follow.
    case response(HTTPResponse)
    /// A 101 answer, or a 2xx answer to CONNECT (or any final answer with ``HTTPResponseParser/headOnly``):
    /// the connection now carries another protocol, whose first bytes (already received) are
    /// `remaining`. The parser reads nothing more.
    case tunnel(HTTPResponseHead, remaining: [UInt8])
}

/// Why a response could not be read: what was wrong and at which byte of the connection (counted
/// from the first byte fed to the parser).
public struct HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case malformedStatusLine = "malformed status line"
        case unsupportedVersion = "unsupported HTTP version"
        case malformedHeader = "malformed header field"
        case obsoleteLineFolding = "folded header line"
        case headerTooLarge = "header too large"
        case tooManyHeaders = "too many header fields"
        case badContentLength = "bad Content-Length"
        case unsupportedTransferEncoding = "unsupported Transfer-Encoding"
        case badChunk = "malformed chunk"
        case bodyTooLarge = "body too large"
        case truncated = "connection closed mid-response"
        case finished = "bytes after the parser finished"
    }

    public let kind: Kind
    /// The offset of the offending byte in the connection's byte stream.
    public let offset: Int
    public let detail: String

    public init(_ kind: Kind, at offset: Int, _ detail: String) {
        self.kind = kind
        self.offset = offset
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue) at byte \(offset): \(detail)" }
}

/// An incremental HTTP/1.1 response parser (RFC 9112), for any split of the input: feed it what the
/// socket gave and it reports each complete response. Content-Length and chunked bodies, bodies
/// delimited by the connection's end (``finish()``), 1xx interim answers skipped, 101 and 2xx-to-
/// CONNECT as tunnels. Strict where leniency lets a peer smuggle: bare CR or LF, obs-fold, whitespace
/// before the colon, Content-Length together with Transfer-Encoding, and conflicting lengths are all
/// refused. After an error it refuses everything (the connection must be closed).
public struct HTTPResponseParser: Sendable {
    public let limits: HTTPLimits
    /// The method of the request being answered: HEAD answers have no body, 2xx CONNECT answers open a
    /// tunnel. Set it before each request on a kept-alive connection when it changes.
    public var requestMethod: String
    /// Stop at the first final (non-1xx) head whatever its status, reporting it as
    /// ``HTTPResponseEvent/tunnel(_:remaining:)``: for the WebSocket upgrade and CONNECT, where any
    /// answer but success ends the connection and its body is not worth waiting for.
    public var headOnly = false

    private enum State: Sendable {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
        case failed(HTTPParseError)
    }

    private var state = State.head
    private var buffer: [UInt8] = []
    /// Connection offset of buffer[0].
    private var base = 0
    /// Where the search for the next LF resumes (index into buffer).
    private var scan = 0
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []
    private var headerBytes = 0
    private var headerCount = 0

    public init(limits: HTTPLimits = HTTPLimits(), requestMethod: String = "GET") {
        self.limits = limits
        self.requestMethod = requestMethod
    }

    /// True between responses (nothing of a next response received yet).
    public var isIdle: Bool {
        if case .head = state { return buffer.isEmpty && head == nil }
        return false
    }

    /// Reads `bytes`; returns the responses they completed.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(HTTPParseError) -> [HTTPResponseEvent] {
        switch state {
        case .failed(let e): throw e
        case .done:
            let e = HTTPParseError(.finished, at: base + buffer.count, "the connection was handed over to another protocol")
            state = .failed(e)
            throw e
        default: break
        }
        buffer.append(contentsOf: bytes)
        var events: [HTTPResponseEvent] = []
        do throws(HTTPParseError) {
            try run(&events)
        } catch {
            state = .failed(error)
            buffer = []
            throw error
        }
        return events
    }

    /// The connection ended: returns the response a close-delimited body completes, throws if a
    /// response was cut short, nil when idle.
    public mutating func finish() throws(HTTPParseError) -> HTTPResponse? {
        switch state {
        case .failed(let e): throw e
        case .untilClose:
            state = .done
            return HTTPResponse(head: head!, body: body)
        case .head where buffer.isEmpty && head == nil:
            state = .done
            return nil
        case .done: return nil
        default:
            let e = HTTPParseError(.truncated, at: base + buffer.count, head.map { "in the body of \($0)" } ?? "in the status line or header")
            state = .failed(e)
            throw e
        }
    }

    // MARK: The machine

    private mutating func run(_ events: inout [HTTPResponseEvent]) throws(HTTPParseError) {
        var pos = 0
        defer {
            if pos > 0 {
                buffer.removeFirst(pos)
                base += pos
                scan = max(0, scan - pos)
            }
        }
        while true {
            switch state {
            case .head, .trailers:
                guard let line = try nextLine(from: &pos) else { return }
                try headerLine(line, events: &events, pos: &pos)
            case .fixed(let remaining):
                let n = min(remaining, buffer.count - pos)
                guard n > 0 || remaining == 0 else { return }
                body.append(contentsOf: buffer[pos..<(pos + n)])
                pos += n
                if remaining - n == 0 {
                    complete(&events)
                } else {
                    state = .fixed(remaining: remaining - n)
                    return
                }
            case .chunkSize:
                let at = base + pos
                guard let line = try nextLine(from: &pos) else { return }
                let size = try chunkSize(line, at: at)
                if size == 0 {
                    state = .trailers
                } else {
                    guard body.count + size <= limits.maxBodyBytes else {
                        throw HTTPParseError(.bodyTooLarge, at: at, "a chunk of \(size) bytes takes the body past \(limits.maxBodyBytes) bytes")
                    }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let n = min(remaining, buffer.count - pos)
                guard n > 0 else { return }
                body.append(contentsOf: buffer[pos..<(pos + n)])
                pos += n
                state = remaining - n == 0 ? .chunkDataEnd : .chunkData(remaining: remaining - n)
            case .chunkDataEnd:
                guard buffer.count - pos >= 2 else { return }
                guard buffer[pos] == 0x0D, buffer[pos + 1] == 0x0A else {
                    throw HTTPParseError(.badChunk, at: base + pos, "chunk data not followed by CRLF (got \(HTTPText.printable(buffer[pos..<(pos + 2)])))")
                }
                pos += 2
                scan = pos
                state = .chunkSize
            case .untilClose:
                let n = buffer.count - pos
                guard n > 0 else { return }
                guard body.count + n <= limits.maxBodyBytes else {
                    throw HTTPParseError(.bodyTooLarge, at: base + pos, "the body runs past \(limits.maxBodyBytes) bytes")
                }
                body.append(contentsOf: buffer[pos...])
                pos = buffer.count
                return
            case .done, .failed:
                return
            }
        }
    }

    /// The next CRLF-terminated line (without CRLF), or nil until it is complete.
    private mutating func nextLine(from pos: inout Int) throws(HTTPParseError) -> ArraySlice<UInt8>? {
        let start = pos
        var i = max(scan, start)
        let isHeader: Bool
        switch state {
        case .head, .trailers: isHeader = true
        default: isHeader = false
        }
        // A chunk-size line is bounded too (chunk extensions are read and ignored).
        let budget = isHeader ? limits.maxHeaderBytes - headerBytes : 1024
        while i < buffer.count {
            let b = buffer[i]
            if b == 0x0A {
                guard i > start, buffer[i - 1] == 0x0D else {
                    throw HTTPParseError(isHeader ? .malformedHeader : .badChunk, at: base + i, "a line ends in a bare LF (lines end in CRLF)")
                }
                let line = buffer[start..<(i - 1)]
                if let cr = line.firstIndex(of: 0x0D) {
                    throw HTTPParseError(isHeader ? .malformedHeader : .badChunk, at: base + cr, "a bare CR inside a line")
                }
                pos = i + 1
                scan = pos
                if isHeader { headerBytes += pos - start }
                return line
            }
            i += 1
            if i - start > budget {
                if isHeader {
                    throw HTTPParseError(.headerTooLarge, at: base + i - 1, "the header runs past \(limits.maxHeaderBytes) bytes")
                }
                throw HTTPParseError(.badChunk, at: base + i - 1, "a chunk-size line longer than 1024 bytes")
            }
        }
        scan = i
        return nil
    }

    private mutating func headerLine(_ line: ArraySlice<UInt8>, events: inout [HTTPResponseEvent], pos: inout Int) throws(HTTPParseError) {
        let at = base + line.startIndex
        if case .head = state, head == nil {
            head = try statusLine(line, at: at)
            return
        }
        if line.isEmpty {
            if case .trailers = state {
                complete(&events)
            } else {
                try endOfHead(&events, pos: &pos)
            }
            return
        }
        if line.first == 0x20 || line.first == 0x09 {
            throw HTTPParseError(.obsoleteLineFolding, at: at, "a header line starts with whitespace (obs-fold, RFC 9112 §5.2, is refused)")
        }
        headerCount += 1
        guard headerCount <= limits.maxHeaderCount else {
            throw HTTPParseError(.tooManyHeaders, at: at, "more than \(limits.maxHeaderCount) header fields")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw HTTPParseError(.malformedHeader, at: at, "no colon in \"\(HTTPText.printable(line))\"")
        }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty else { throw HTTPParseError(.malformedHeader, at: at, "an empty field name") }
        if let bad = name.firstIndex(where: { !HTTPText.isTokenByte($0) }) {
            let what = name[bad] == 0x20 || name[bad] == 0x09 ? "whitespace before the colon" : "byte \(HTTPText.printable([name[bad]])) in the field name"
            throw HTTPParseError(.malformedHeader, at: base + bad, what)
        }
        var v = line[(colon + 1)...]
        while let f = v.first, f == 0x20 || f == 0x09 { v = v.dropFirst() }
        while let l = v.last, l == 0x20 || l == 0x09 { v = v.dropLast() }
        if let bad = v.firstIndex(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            throw HTTPParseError(.malformedHeader, at: base + bad, "control byte \(HTTPText.printable([v[bad]])) in the value of \(String(decoding: name, as: UTF8.self))")
        }
        let field = (String(decoding: name, as: UTF8.self), HTTPText.latin1(v))
        if case .trailers = state { return }  // trailers are read and dropped
        head!.headers.append(field.0, field.1)
    }

    private func statusLine(_ line: ArraySlice<UInt8>, at: Int) throws(HTTPParseError) -> HTTPResponseHead {
        let prefix = Array("HTTP/1.".utf8)
        guard line.count >= 12, line.prefix(7).elementsEqual(prefix) else {
            if line.count >= 5, line.prefix(5).elementsEqual("HTTP/".utf8) {
                throw HTTPParseError(.unsupportedVersion, at: at, "\"\(HTTPText.printable(line))\" (only HTTP/1.0 and 1.1 are spoken)")
            }
            throw HTTPParseError(.malformedStatusLine, at: at, "\"\(HTTPText.printable(line))\" is not an HTTP/1.x status line")
        }
        let s = line.startIndex
        let minor = line[s + 7]
        guard minor == UInt8(ascii: "0") || minor == UInt8(ascii: "1") else {
            throw HTTPParseError(.unsupportedVersion, at: at + 7, "\"\(HTTPText.printable(line.prefix(12)))\" (only HTTP/1.0 and 1.1 are spoken)")
        }
        guard line[s + 8] == 0x20 else { throw HTTPParseError(.malformedStatusLine, at: at + 8, "no space after the version") }
        var status = 0
        for i in 0..<3 {
            let d = line[s + 9 + i]
            guard d >= 0x30 && d <= 0x39 else {
                throw HTTPParseError(.malformedStatusLine, at: at + 9 + i, "the status code \"\(HTTPText.printable(line[(s + 9)..<(s + 12)]))\" is not three digits")
            }
            status = status * 10 + Int(d - 0x30)
        }
        guard status >= 100 else { throw HTTPParseError(.malformedStatusLine, at: at + 9, "status code \(status) is below 100") }
        var reason = ""
        if line.count > 12 {
            guard line[s + 12] == 0x20 else { throw HTTPParseError(.malformedStatusLine, at: at + 12, "no space after the status code") }
            let r = line[(s + 13)...]
            if let bad = r.firstIndex(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
                throw HTTPParseError(.malformedStatusLine, at: base + bad, "control byte in the reason phrase")
            }
            reason = HTTPText.latin1(r)
        }
        return HTTPResponseHead(minorVersion: minor == UInt8(ascii: "1") ? 1 : 0, status: status, reason: reason)
    }

    private mutating func endOfHead(_ events: inout [HTTPResponseEvent], pos: inout Int) throws(HTTPParseError) {
        let h = head!
        let at = base + pos - 2
        if h.status == 101 || (HTTPText.equalsIgnoringCase(requestMethod, "CONNECT") && h.status / 100 == 2) || (headOnly && h.status / 100 != 1) {
            events.append(.tunnel(h, remaining: Array(buffer[pos...])))
            pos = buffer.count
            state = .done
            return
        }
        if h.status / 100 == 1 {  // 100 Continue, 102, 103: interim, the real answer follows
            reset()
            return
        }
        let te = h.headers.tokens("Transfer-Encoding")
        let lengths = h.headers.values("Content-Length")
        if h.status == 204 || h.status == 304 || HTTPText.equalsIgnoringCase(requestMethod, "HEAD") {
            complete(&events)
            return
        }
        if !te.isEmpty {
            guard lengths.isEmpty else {
                throw HTTPParseError(.badContentLength, at: at, "both Transfer-Encoding and Content-Length (refused, RFC 9112 §6.3)")
            }
            guard h.minorVersion == 1 else {
                throw HTTPParseError(.unsupportedTransferEncoding, at: at, "Transfer-Encoding in an HTTP/1.0 response")
            }
            guard te.count == 1, HTTPText.equalsIgnoringCase(te[0], "chunked") else {
                throw HTTPParseError(.unsupportedTransferEncoding, at: at, "Transfer-Encoding \"\(HTTPText.printable(te.joined(separator: ", ").utf8))\" (only chunked is read)")
            }
            state = .chunkSize
            scan = pos
            return
        }
        if !lengths.isEmpty {
            var length: Int?
            for value in lengths {
                for part in value.split(separator: ",", omittingEmptySubsequences: false) {
                    let t = HTTPText.trimmed(part)
                    guard !t.isEmpty, t.utf8.count <= 18, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(t) else {
                        throw HTTPParseError(.badContentLength, at: at, "Content-Length \"\(HTTPText.printable(value.utf8))\" is not a number")
                    }
                    if let length, length != n {
                        throw HTTPParseError(.badContentLength, at: at, "conflicting Content-Length values \(length) and \(n)")
                    }
                    length = n
                }
            }
            let n = length!
            guard n <= limits.maxBodyBytes else {
                throw HTTPParseError(.bodyTooLarge, at: at, "Content-Length \(n) is over the limit of \(limits.maxBodyBytes) bytes")
            }
            state = .fixed(remaining: n)
            return
        }
        state = .untilClose
    }

    private func chunkSize(_ line: ArraySlice<UInt8>, at: Int) throws(HTTPParseError) -> Int {
        var size = 0
        var digits = 0
        for b in line {
            let v: Int
            switch b {
            case 0x30...0x39: v = Int(b - 0x30)
            case 0x41...0x46: v = Int(b - 0x41 + 10)
            case 0x61...0x66: v = Int(b - 0x61 + 10)
            case UInt8(ascii: ";"), 0x20, 0x09:
                guard digits > 0 else { throw HTTPParseError(.badChunk, at: at, "a chunk-size line without a size") }
                return size
            default:
                throw HTTPParseError(.badChunk, at: at + digits, "\"\(HTTPText.printable(line))\" is not a hexadecimal chunk size")
            }
            digits += 1
            guard digits <= 15 else { throw HTTPParseError(.badChunk, at: at, "a chunk size of more than 15 hex digits") }
            size = size * 16 + v
        }
        guard digits > 0 else { throw HTTPParseError(.badChunk, at: at, "an empty chunk-size line") }
        return size
    }

    private mutating func complete(_ events: inout [HTTPResponseEvent]) {
        events.append(.response(HTTPResponse(head: head!, body: body)))
        reset()
    }

    private mutating func reset() {
        head = nil
        body = []
        headerBytes = 0
        headerCount = 0
        state = .head
    }
}
