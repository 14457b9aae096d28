import Glibc
import Testing
@testable import PerchIO

/// A listening socket on 127.0.0.1 with an ephemeral port.
func listenLoopback() -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    listen(fd, 4)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return (fd, Int(UInt16(bigEndian: addr.sin_port)))
}

@Suite(.serialized) struct EventLoopTests {
    @Test func timersFireInOrderAndCancel() throws {
        let loop = try EventLoop()
        var fired: [Int] = []
        loop.schedule(after: 30) { fired.append(3) }
        loop.schedule(after: 10) { fired.append(1) }
        let cancelled = loop.schedule(after: 20) { fired.append(2) }
        cancelled.cancel()
        loop.schedule(after: 50) { loop.stop() }
        loop.run()
        #expect(fired == [1, 3])
    }

    /// A run that timed out leaves its last condition check scheduled: that check must not end the
    /// next run because the old condition holds now (a test waiting for a reply returned without it).
    @Test func aTimedOutRunDoesNotEndTheNextOne() throws {
        let loop = try EventLoop()
        var first = false
        #expect(!loop.run(until: { first }, timeout: 25))
        first = true
        var second = false
        _ = loop.schedule(after: 60) { second = true }
        #expect(loop.run(until: { second }, timeout: 2_000))
        #expect(second)
    }

    /// A run(until:) inside a callback of another (a test helper waiting in a handler, a one-shot tool
    /// waiting inside a callback) returns to the outer run, which goes on until its own condition.
    @Test func aNestedRunDoesNotEndTheOuterOne() throws {
        let loop = try EventLoop()
        var inner = false
        var innerHeld = false
        var outer = false
        loop.schedule(after: 0) {
            loop.schedule(after: 10) { inner = true }
            innerHeld = loop.run(until: { inner }, timeout: 1_000)
        }
        loop.schedule(after: 80) { outer = true }
        #expect(loop.run(until: { outer }, timeout: 2_000), "the outer run went on after the inner one")
        #expect(innerHeld && outer)
    }

    /// stop() inside a nested run ends the outer one too: it is a stop of the loop.
    @Test func aStopInsideANestedRunEndsTheOuterRun() throws {
        let loop = try EventLoop()
        var late = false
        loop.schedule(after: 0) {
            loop.schedule(after: 10) { loop.stop() }
            _ = loop.run(until: { false }, timeout: 1_000)
        }
        loop.schedule(after: 1_500) { late = true }
        loop.schedule(after: 3_000) { loop.stop() }
        loop.run()
        #expect(!late, "the outer run ended with the stop, not at its last timer")
    }

    @Test func idleLoopSleepsUntilItsTimer() throws {
        let loop = try EventLoop()
        loop.schedule(after: 300) { loop.stop() }
        loop.run()
        // One wake-up for the timer (and perhaps one for rounding), not one per poll interval.
        #expect(loop.wakeups <= 3)
    }

    @Test func backgroundWorkComesBackOnTheLoop() throws {
        let loop = try EventLoop()
        var result = 0
        loop.background({ 6 * 7 }) { value in result = value; loop.stop() }
        loop.schedule(after: 5000) { loop.stop() }
        loop.run()
        #expect(result == 42)
    }

    @Test func signalsArriveOnTheLoop() throws {
        let loop = try EventLoop()
        var got: Int32 = 0
        try loop.handleSignals([SIGUSR1]) { sig in got = sig; loop.stop() }
        // Directed at this thread: the test runner has other threads that do not block the signal.
        loop.schedule(after: 10) { pthread_kill(pthread_self(), SIGUSR1) }
        loop.schedule(after: 5000) { loop.stop() }
        loop.run()
        #expect(got == SIGUSR1)
    }

    @Test func tcpEchoAndClose() throws {
        let loop = try EventLoop()
        let (lfd, port) = listenLoopback()
        defer { close(lfd) }
        var serverFD: Int32 = -1
        loop.watch(lfd, .readable) { _ in
            serverFD = accept(lfd, nil, nil)
            loop.watch(serverFD, .readable) { _ in
                var buf = [UInt8](repeating: 0, count: 100)
                let n = read(serverFD, &buf, 100)
                if n > 0 { _ = write(serverFD, buf, n) }
                // Close after echoing "bye".
                if n > 0, buf[0..<n].elementsEqual(Array("bye".utf8)) { loop.unwatch(serverFD); close(serverFD) }
            }
        }
        let addr = try HostResolver.resolve(host: "127.0.0.1", port: port).get()[0]
        #expect(addr.isLoopback)
        #expect(addr.description == "127.0.0.1:\(port)")
        let conn = TCPConnection(loop: loop, address: addr)
        var received: [UInt8] = []
        var connected = false
        var closed = false
        conn.onConnect = { error in
            connected = error == nil
            conn.write(Array("hello".utf8))
        }
        conn.onData = { bytes in
            received += bytes
            if received == Array("hello".utf8) { conn.write(Array("bye".utf8)) }
        }
        conn.onClose = { error in closed = error == nil; loop.stop() }
        conn.connect()
        loop.schedule(after: 5000) { loop.stop() }
        loop.run()
        #expect(connected)
        #expect(received == Array("hellobye".utf8))
        #expect(closed)
    }

    @Test func connectionRefusedIsReported() throws {
        let loop = try EventLoop()
        let (lfd, port) = listenLoopback()
        close(lfd)
        let conn = TCPConnection(loop: loop, address: try HostResolver.resolve(host: "127.0.0.1", port: port).get()[0])
        var error: IOError?
        conn.onConnect = { error = $0; loop.stop() }
        conn.connect()
        loop.schedule(after: 5000) { loop.stop() }
        loop.run()
        #expect(error?.code == ECONNREFUSED)
    }

    @Test func unknownHostFails() {
        if case .success = HostResolver.resolve(host: "no-such-host.invalid", port: 1) { Issue.record("resolved .invalid") }
    }

    @Test func wallClockFormat() {
        #expect(WallClock.iso8601(seconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(WallClock.iso8601(seconds: 1_795_000_000, millis: 7) == "2026-11-18T11:06:40.007Z")
    }
}
