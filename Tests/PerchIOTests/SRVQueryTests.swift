import Glibc
import Testing
@testable import PerchIO

/// SRV look-ups carried by the event loop: the loop keeps running while a query waits, a silent
/// server is given up on after the timeout for the next one, a truncated answer is asked again over
/// TCP, and a cancelled query says nothing.
@Suite struct SRVQueryTests {
    /// A UDP name server on a loopback port; `answer` makes the reply to a query's id (nil: silence),
    /// after `delay` ms.
    final class FakeNameServer: @unchecked Sendable {
        let fd: Int32
        let port: UInt16
        init(delay: UInt32 = 0, answer: @escaping @Sendable (UInt16) -> [UInt8]?) {
            let serverFD = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(serverFD, $0, len) } }
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(serverFD, $0, &len) } }
            fd = serverFD
            port = UInt16(bigEndian: addr.sin_port)
            Thread.detach {
                var buf = [UInt8](repeating: 0, count: 512)
                var peer = sockaddr_storage()
                var plen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let n = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(serverFD, &buf, 512, 0, $0, &plen) } }
                guard n > 12, let reply = answer(UInt16(buf[0]) << 8 | UInt16(buf[1])) else { return }
                if delay > 0 { usleep(delay * 1000) }
                _ = withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(serverFD, reply, reply.count, 0, $0, plen) } }
            }
        }
        deinit { close(fd) }
    }

    static var name: String { "_xmpp-client._tcp.perch.test" }

    @Test func theLoopRunsWhileAQueryWaits() throws {
        let loop = try EventLoop()
        let server = FakeNameServer(delay: 400) { srvAnswer(id: $0, name: Self.name, records: [(5, 1, 5299, "xmpp.perch.test")]) }
        var answer: DNSAnswer?
        var tickedBeforeTheAnswer = false
        let query = SRVQuery(loop: loop, name: Self.name, configuration: .init(servers: ["127.0.0.1"], timeoutSeconds: 3, attempts: 1), port: server.port) { answer = $0 }
        query.start()
        loop.schedule(after: 100) { tickedBeforeTheAnswer = answer == nil }
        #expect(loop.run(until: { answer != nil }, timeout: 5_000))
        #expect(answer == .records([SRVRecord(priority: 5, weight: 1, port: 5299, target: "xmpp.perch.test")]))
        #expect(tickedBeforeTheAnswer, "a timer fired on the loop while the query waited")
    }

    @Test func aSilentServerIsGivenUpForTheNext() throws {
        let loop = try EventLoop()
        let silent = FakeNameServer { _ in nil }
        let good = FakeNameServer { srvAnswer(id: $0, name: Self.name, records: [(1, 1, 5222, "b.perch.test")]) }
        // A configuration has one port for all its servers: the silent server is asked alone first,
        // then a query whose first server (127.0.0.2, nothing there) stays silent and whose second answers.
        var first: DNSAnswer?
        let q1 = SRVQuery(loop: loop, name: Self.name, configuration: .init(servers: ["127.0.0.1"], timeoutSeconds: 1, attempts: 1), port: silent.port) { first = $0 }
        q1.start()
        let started = Instant.now()
        #expect(loop.run(until: { first != nil }, timeout: 4_000))
        #expect(Instant.now() - started >= 900, "given up only after the timeout")
        guard case .failure(let why)? = first else { Issue.record("\(String(describing: first))"); return }
        #expect(why.contains("127.0.0.1: no answer within 1 s"), "\(why)")
        var second: DNSAnswer?
        let q2 = SRVQuery(loop: loop, name: Self.name, configuration: .init(servers: ["127.0.0.2", "127.0.0.1"], timeoutSeconds: 1, attempts: 1), port: good.port) { second = $0 }
        q2.start()
        #expect(loop.run(until: { second != nil }, timeout: 4_000))
        #expect(second == .records([SRVRecord(priority: 1, weight: 1, port: 5222, target: "b.perch.test")]), "the second server answered")
    }

    @Test func aCancelledQuerySaysNothing() throws {
        let loop = try EventLoop()
        let server = FakeNameServer(delay: 200) { srvAnswer(id: $0, name: Self.name, records: [(5, 1, 5299, "x.perch.test")]) }
        var called = false
        let query = SRVQuery(loop: loop, name: Self.name, configuration: .init(servers: ["127.0.0.1"], timeoutSeconds: 2, attempts: 1), port: server.port) { _ in called = true }
        query.start()
        loop.schedule(after: 50) { query.cancel() }
        _ = loop.run(until: { false }, timeout: 700)
        #expect(!called)
    }

    @Test func aTruncatedAnswerIsAskedAgainOverTCPOnTheLoop() throws {
        let loop = try EventLoop()
        // UDP answers truncated; a TCP listener on the same port answers in full.
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(tcp) }
        let udp = FakeNameServer { id in
            var m = srvAnswer(id: id, name: Self.name, records: [(0, 1, 5222, "node0.perch.test")])
            m[2] |= 0x02
            return m
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = udp.port.bigEndian
        let len = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(tcp, $0, len) } }) == 0 else {
            Issue.record("the UDP port is taken for TCP")
            return
        }
        listen(tcp, 1)
        let tcpFD = tcp
        Thread.detach {
            let c = accept(tcpFD, nil, nil)
            guard c >= 0 else { return }
            defer { close(c) }
            var head = [UInt8](repeating: 0, count: 2)
            guard recv(c, &head, 2, Int32(MSG_WAITALL)) == 2 else { return }
            var q = [UInt8](repeating: 0, count: Int(head[0]) << 8 | Int(head[1]))
            guard recv(c, &q, q.count, Int32(MSG_WAITALL)) == q.count else { return }
            let full = srvAnswer(id: UInt16(q[0]) << 8 | UInt16(q[1]), name: Self.name, records: (0..<30).map { (UInt16($0), 1, 5222, "node\($0).perch.test") })
            let framed = [UInt8(full.count >> 8), UInt8(full.count & 0xFF)] + full
            _ = send(c, Array(framed.prefix(3)), 3, 0)
            usleep(50_000)
            _ = send(c, Array(framed.dropFirst(3)), framed.count - 3, 0)
        }
        var answer: DNSAnswer?
        let query = SRVQuery(loop: loop, name: Self.name, configuration: .init(servers: ["127.0.0.1"], timeoutSeconds: 3, attempts: 1), port: udp.port) { answer = $0 }
        query.start()
        #expect(loop.run(until: { answer != nil }, timeout: 5_000))
        guard case .records(let records)? = answer else { Issue.record("\(String(describing: answer))"); return }
        #expect(records.count == 30)
    }
}
