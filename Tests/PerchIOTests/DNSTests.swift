import Glibc
import Testing
@testable import PerchIO

/// Builds an SRV answer the way a server would, with name compression pointing into the question.
func srvAnswer(id: UInt16, name: String, records: [(UInt16, UInt16, UInt16, String)], rcode: UInt8 = 0) -> [UInt8] {
    var m = DNSMessage.query(id: id, name: name)
    m[2] = 0x81
    m[3] = 0x80 | rcode
    m[7] = UInt8(records.count)
    for (prio, weight, port, target) in records {
        m += [0xC0, 12, 0, 33, 0, 1, 0, 0, 0x0E, 0x10]
        var rdata: [UInt8] = [UInt8(prio >> 8), UInt8(prio & 0xFF), UInt8(weight >> 8), UInt8(weight & 0xFF), UInt8(port >> 8), UInt8(port & 0xFF)]
        for label in target.split(separator: ".") { rdata.append(UInt8(label.utf8.count)); rdata += Array(label.utf8) }
        rdata.append(0)
        m += [UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)] + rdata
    }
    return m
}

/// One SRV look-up on a loop of its own, run until it answers.
func lookup(_ name: String, configuration: SRVResolver.Configuration, port: UInt16) throws -> DNSAnswer {
    let loop = try EventLoop()
    var answer: DNSAnswer?
    let query = SRVQuery(loop: loop, name: name, configuration: configuration, port: port) { answer = $0 }
    query.start()
    _ = loop.run(until: { answer != nil }, timeout: Int64(configuration.timeoutSeconds * configuration.attempts * configuration.servers.count + 2) * 1000)
    return answer ?? .failure("no answer")
}

@Suite struct DNSTests {
    @Test func parsesSRVAnswers() {
        let m = srvAnswer(id: 7, name: "_xmpp-client._tcp.example.org", records: [(10, 60, 5222, "a.example.org"), (20, 0, 5223, "b.example.org")])
        #expect(DNSMessage.parseSRV(m, expectedID: 7) == .records([
            SRVRecord(priority: 10, weight: 60, port: 5222, target: "a.example.org"),
            SRVRecord(priority: 20, weight: 0, port: 5223, target: "b.example.org"),
        ]))
        #expect(DNSMessage.parseSRV(m, expectedID: 8) == .failure("DNS answer with the wrong id"))
        #expect(DNSMessage.parseSRV(srvAnswer(id: 1, name: "x.y", records: [], rcode: 3), expectedID: 1) == .noSuchName)
        if case .failure = DNSMessage.parseSRV(srvAnswer(id: 1, name: "x.y", records: [], rcode: 2), expectedID: 1) {} else { Issue.record("SERVFAIL not a failure") }
    }

    @Test func malformedAnswersNeverCrash() {
        let good = srvAnswer(id: 9, name: "_xmpp-client._tcp.example.org", records: [(1, 1, 1, "t.example.org")])
        // Every truncation and a pointer loop.
        for n in 0..<good.count { _ = DNSMessage.parseSRV(Array(good[0..<n]), expectedID: 9) }
        var loop = good
        loop[loop.count - 16] = 0xC0
        loop[loop.count - 15] = UInt8(loop.count - 16)
        _ = DNSMessage.parseSRV(loop, expectedID: 9)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var fuzzed = good
            fuzzed[Int.random(in: 2..<fuzzed.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            _ = DNSMessage.parseSRV(fuzzed, expectedID: 9)
        }
    }

    @Test func srvOrderRespectsPriorityAndWeight() {
        let records = [
            SRVRecord(priority: 20, weight: 0, port: 1, target: "backup"),
            SRVRecord(priority: 10, weight: 90, port: 1, target: "heavy"),
            SRVRecord(priority: 10, weight: 10, port: 1, target: "light"),
        ]
        var rng = SystemRandomNumberGenerator()
        var heavyFirst = 0
        for _ in 0..<1000 {
            let o = SRVRecord.order(records, using: &rng)
            #expect(o.last?.target == "backup")
            #expect(Set(o.map(\.target)) == ["backup", "heavy", "light"])
            if o.first?.target == "heavy" { heavyFirst += 1 }
        }
        #expect(heavyFirst > 700 && heavyFirst < 990)
    }

    @Test func resolvConf() {
        let c = SRVResolver.Configuration.parse("# x\nnameserver 10.0.0.1\nnameserver ::1\nsearch lan\noptions timeout:2 attempts:3 rotate\n")
        #expect(c.servers == ["10.0.0.1", "::1"])
        #expect(c.timeoutSeconds == 2)
        #expect(c.attempts == 3)
        #expect(SRVResolver.Configuration.parse("").servers == ["127.0.0.1"])
    }

    @Test func lookupAgainstALocalServer() throws {
        // A one-shot DNS server on a loopback UDP port.
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        let serverFD = fd
        // A thread of its own: a Task would sit on the cooperative pool, which the blocking lookup
        // below (and tests running in parallel on two cores) can leave without a free thread.
        Thread.detach {
            var buf = [UInt8](repeating: 0, count: 512)
            var peer = sockaddr_storage()
            var plen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(serverFD, &buf, 512, 0, $0, &plen) } }
            guard n > 12 else { return }
            let id = UInt16(buf[0]) << 8 | UInt16(buf[1])
            let answer = srvAnswer(id: id, name: "_xmpp-client._tcp.perch.test", records: [(5, 1, 5299, "xmpp.perch.test")])
            _ = withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(serverFD, answer, answer.count, 0, $0, plen) } }
        }
        let answer = try lookup("_xmpp-client._tcp.perch.test", configuration: .init(servers: ["127.0.0.1"], timeoutSeconds: 3, attempts: 1), port: port)
        #expect(answer == .records([SRVRecord(priority: 5, weight: 1, port: 5299, target: "xmpp.perch.test")]))
    }

    /// A truncated UDP answer (TC set) is asked again over TCP, where the whole answer comes.
    @Test func aTruncatedAnswerIsAskedAgainOverTCP() throws {
        // One loopback port for both: UDP answers truncated, TCP answers in full.
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(udp); close(tcp) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        var one: Int32 = 1
        setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(tcp, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(tcp, $0, &len) } }
        #expect(withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(udp, $0, len) } } == 0)
        listen(tcp, 1)
        let port = UInt16(bigEndian: addr.sin_port)
        let (udpFD, tcpFD) = (udp, tcp)
        let records: [(UInt16, UInt16, UInt16, String)] = (0..<40).map { (UInt16($0), 1, 5222, "node\($0).cluster.perch.test") }
        Thread.detach {
            var buf = [UInt8](repeating: 0, count: 512)
            var peer = sockaddr_storage()
            var plen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(udpFD, &buf, 512, 0, $0, &plen) } }
            guard n > 12 else { return }
            let id = UInt16(buf[0]) << 8 | UInt16(buf[1])
            var truncated = srvAnswer(id: id, name: "_xmpp-client._tcp.perch.test", records: [records[0]])
            truncated[2] |= 0x02
            _ = withUnsafePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(udpFD, truncated, truncated.count, 0, $0, plen) } }
            let c = accept(tcpFD, nil, nil)
            guard c >= 0 else { return }
            defer { close(c) }
            var head = [UInt8](repeating: 0, count: 2)
            guard recv(c, &head, 2, Int32(MSG_WAITALL)) == 2 else { return }
            var q = [UInt8](repeating: 0, count: Int(head[0]) << 8 | Int(head[1]))
            guard recv(c, &q, q.count, Int32(MSG_WAITALL)) == q.count else { return }
            let full = srvAnswer(id: UInt16(q[0]) << 8 | UInt16(q[1]), name: "_xmpp-client._tcp.perch.test", records: records)
            let framed = [UInt8(full.count >> 8), UInt8(full.count & 0xFF)] + full
            // In two writes, as a stream may deliver it.
            _ = send(c, Array(framed.prefix(100)), 100, 0)
            _ = send(c, Array(framed.dropFirst(100)), framed.count - 100, 0)
        }
        let answer = try lookup("_xmpp-client._tcp.perch.test", configuration: .init(servers: ["127.0.0.1"], timeoutSeconds: 3, attempts: 1), port: port)
        guard case .records(let got) = answer else { Issue.record("\(answer)"); return }
        #expect(got.count == 40)
        #expect(got.last == SRVRecord(priority: 39, weight: 1, port: 5222, target: "node39.cluster.perch.test"))
    }

    @Test func truncationIsReadFromTheHeader() {
        var m = srvAnswer(id: 3, name: "x.y", records: [])
        #expect(!DNSMessage.isTruncated(m, expectedID: 3))
        m[2] |= 0x02
        #expect(DNSMessage.isTruncated(m, expectedID: 3))
        #expect(!DNSMessage.isTruncated(m, expectedID: 4), "another id is not our answer")
        #expect(!DNSMessage.isTruncated(Array(m.prefix(5)), expectedID: 3))
    }
}
