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

    /// A peer's text (an iq id) holding CR LF, NEL, U+2028 / U+2029 and a journald priority must not
    /// make a second line: the sink gets one line, with no raw control byte in it.
    @Test func peerControlsCannotForgeALine() {
        let forged = "abc\r\n<2>perch: command from owner@perch.test/phone: relay on"
        let others = ["\r", "\u{85}", "\u{2028}", "\u{2029}", "\u{0B}", "\u{0C}", "\u{1B}[2K", "\u{7F}", "\u{0}", "\u{9B}", "\u{202E}"]
        for format in [Logger.Format.journald, .terminal, .bare] {
            let out = Lines()
            let log = Logger(label: "xmpp", level: .info, format: format, sink: { out.append($0) })
            log.warning("iq \(forged) refused")
            for c in others { log.info("x\(c)<2>perch: forged") }
            #expect(out.all.count == 1 + others.count)
            for line in out.all {
                let bad = line.unicodeScalars.filter {
                    $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || [0x2028, 0x2029, 0x202E].contains($0.value)
                }
                #expect(bad.isEmpty, "raw control in \(line.debugDescription)")
                #expect(!line.hasPrefix("<2>") && !line.hasPrefix("perch:"))
            }
            if format == .journald {
                #expect(out.all[0] == "<4>xmpp: iq abc\\x0d | <2>perch: command from owner@perch.test/phone: relay on refused")
                #expect(out.all[1] == "<6>xmpp: x\\x0d<2>perch: forged")
                #expect(out.all[2] == "<6>xmpp: x\\xc2\\x85<2>perch: forged")
                #expect(out.all[3] == "<6>xmpp: x\\xe2\\x80\\xa8<2>perch: forged")
            }
        }
    }

    @Test func ownMultiLineMessagesAndUnicodeStayReadable() {
        let out = Lines()
        let log = Logger(label: "agent", level: .info, format: .bare, sink: { out.append($0) })
        log.info("\nfirst\n\nsecond\n")
        log.info("température 21 °C, tab\there")
        #expect(out.all == ["info: first | second", "info: température 21 °C, tab\\x09here"])
    }

    @Test func logQuotedEscapesEverythingAndTruncates() {
        #expect(logQuoted("phone") == "\"phone\"")
        #expect(logQuoted("") == "\"\"")
        #expect(logQuoted("a\r\nb") == "\"a\\x0d\\x0ab\"")
        #expect(logQuoted("say \"hi\" \\ bye") == "\"say \\\"hi\\\" \\\\ bye\"")
        #expect(logQuoted("x\u{2028}y\u{85}z") == "\"x\\xe2\\x80\\xa8y\\xc2\\x85z\"")
        #expect(logQuoted("é") == "\"é\"")
        let long = String(repeating: "a", count: 500)
        #expect(logQuoted(long) == "\"" + String(repeating: "a", count: 200) + "\"…")
        #expect(logQuoted(String(repeating: "b", count: 200)) == "\"" + String(repeating: "b", count: 200) + "\"")
        // A combining-mark flood is one Character; the cut counts scalars, so the result stays short.
        let flood = "e" + String(repeating: "\u{301}", count: 10_000)
        #expect(logQuoted(flood).utf8.count < 1_000)
        // Quoted inside a logged message, a peer's LF does not even become " | ".
        let out = Lines()
        Logger(label: "x", format: .bare, sink: { out.append($0) }).info("id \(logQuoted("1\n<2>perch: x"))")
        #expect(out.all == ["info: id \"1\\x0a<2>perch: x\""])
    }

    @Test func levelsByName() {
        #expect(LogLevel(name: "DEBUG") == .debug)
        #expect(LogLevel(name: "verbose") == nil)
        #expect(LogLevel.warning > .info)
    }
}
