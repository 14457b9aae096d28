import Synchronization
import Testing
import PerchLog

final class Lines: Sendable {
    let lines = Mutex<[String]>([])
    func append(_ s: String) { lines.withLock { $0.append(s) } }
    var all: [String] { lines.withLock { $0 } }
}

@Suite struct LoggerTests {
    @Test func journaldLinesCarryPriorityAndStayOneLine() {
        let out = Lines()
        let log = Logger(label: "xmpp", level: .info, format: .journald, sink: { out.append($0) })
        log.debug("hidden")
        log.info("online")
        log.error("two\nlines")
        log.warning("careful")
        #expect(out.all == ["<6>xmpp: online", "<3>xmpp: two | lines", "<4>xmpp: careful"])
    }

    @Test func levelsByName() {
        #expect(LogLevel(name: "DEBUG") == .debug)
        #expect(LogLevel(name: "verbose") == nil)
        #expect(LogLevel.warning > .info)
    }
}
