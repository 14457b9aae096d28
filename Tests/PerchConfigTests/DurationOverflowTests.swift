import Testing
@testable import PerchConfig

/// Durations whose milliseconds do not fit 64 bits are a configuration error naming the key, not a
/// trap in the multiplication.
@Suite struct DurationOverflowTests {
    @Test(arguments: [
        ("[connection]\nping_interval = 9223372036854775807", "perch.toml:4: connection.ping_interval: must be between"),
        ("[connection]\nping_timeout = -9223372036854775808", "perch.toml:4: connection.ping_timeout: must be between"),
        ("[connection]\nconnect_timeout = 9223372036854776", "perch.toml:4: connection.connect_timeout: must be between"),
        ("[connection]\nreconnect_max = \"9999999999999999d\"", "perch.toml:4: connection.reconnect_max: must be between"),
        ("[connection]\nping_interval = \"99999999999999999999999s\"", "perch.toml:4: connection.ping_interval: must be between"),
        ("[commands]\nmax_age = \"9223372036854775807h\"", "perch.toml:4: commands.max_age: must be between"),
        ("[outbox]\nmax_age = 9223372036854775807", "perch.toml:4: outbox.max_age: must be between"),
        ("[[output]]\nname = \"a\"\nline = \"X\"\nmax_pulse = 9223372036854775807", "perch.toml:6: output[0].max_pulse: must be between"),
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

    @Test func scaledSaturatesInsteadOfTrapping() {
        #expect(Reader.scaled(.max, by: 1000) == .max)
        #expect(Reader.scaled(.min, by: 1000) == .min)
        #expect(Reader.scaled(-5, by: 1000) == -5000)
        #expect(Reader.parseDuration("9223372036854775807ms") == .max)
        #expect(Reader.parseDuration("9223372036854775808ms") == .max)
        #expect(Reader.parseDuration("90s") == 90_000)
        #expect(Reader.parseDuration("1.5s") == nil)
    }
}
