import Testing
@testable import PerchConfig

/// Durations whose milliseconds do not fit 64 bits are a configuration error naming the key, not a
/// trap in the multiplication.
@Suite struct DurationOverflowTests {
    @Test(arguments: [
        ("[connection]\nping_interval = 9223372036854775807", "perch.toml:4: connection.ping_interval: must be a duration written with its unit"),
        ("[connection]\nping_timeout = -9223372036854775808", "perch.toml:4: connection.ping_timeout: must be a duration written with its unit"),
        ("[connection]\nconnect_timeout = 9223372036854776", "perch.toml:4: connection.connect_timeout: must be a duration written with its unit"),
        ("[connection]\nreconnect_max = \"9999999999999999d\"", "perch.toml:4: connection.reconnect_max: must be between"),
        ("[connection]\nping_interval = \"99999999999999999999999s\"", "perch.toml:4: connection.ping_interval: must be between"),
        ("[commands]\nmax_age = \"9223372036854775807h\"", "perch.toml:4: commands.max_age: must be between"),
        ("[outbox]\nmax_age = 9223372036854775807", "perch.toml:4: outbox.max_age: must be a duration written with its unit"),
        ("[[output]]\nname = \"a\"\nline = \"X\"\nmax_pulse = 9223372036854775807", "perch.toml:6: output[0].max_pulse: must be a duration written with its unit"),
        ("[[sensor]]\nname = \"s\"\nsource = \"thermal\"\ninterval = \"106751991167301d\"", "perch.toml:6: sensor[0].interval: must be between"),
    ])
    func hugeDurationsAreRefusedByKey(_ text: String, _ expected: String) {
        let message: String
        do {
            _ = try load("[account]\njid = \"a@b\"\n" + text)
            message = "no error"
        } catch { message = error.description }
        #expect(message.hasPrefix(expected), "got: \(message)")
    }

    @Test func anIntegerBeyondSixtyFourBitsIsASyntaxErrorWithItsLine() {
        do {
            _ = try load("[account]\njid = \"a@b\"\n[connection]\nping_interval = 99999999999999999999")
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("perch.toml:4: "), "got: \(error.description)")
            #expect(error.description.contains("does not fit a 64-bit integer"))
        }
    }

    /// A bare number is refused with a hint (issue: `max_pulse = 30` was taken as 30 s while the
    /// reference config says durations are strings), and the one grammar applies: `1.5s` works.
    @Test func aBareNumberIsRefusedAndTheOneGrammarApplies() throws {
        do {
            _ = try load("[account]\njid = \"a@b\"\n[[output]]\nname = \"a\"\nline = \"X\"\nmax_pulse = 30")
            Issue.record("accepted")
        } catch {
            #expect(error.description == "perch.toml:6: output[0].max_pulse: must be a duration written with its unit, such as \"30s\" or \"30ms\" (a bare 30 could mean either)", "\(error.description)")
        }
        let c = try load("[account]\njid = \"a@b\"\n[connection]\nping_interval = \"1.5m\"\nping_timeout = \"20 s\"")
        #expect(c.connection.pingInterval == 90_000)
        #expect(c.connection.pingTimeout == 20_000)
        do {
            _ = try load("[account]\njid = \"a@b\"\n[connection]\nping_interval = \"30\"")
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("perch.toml:4: connection.ping_interval: \"30\" has no unit: write 30s"), "\(error.description)")
        }
    }
}
