import Testing
import PerchConfig

/// A file with mistakes in several sections names each of them (check-config prints them, a reload
/// logs them), each with FILE:LINE: KEY.
@Suite struct ConfigurationErrorsTests {
    func errors(_ text: String) -> [String] {
        do {
            _ = try ConfigurationLoader(file: "perch.toml", environment: ["PERCH_PASSWORD": "x"]).parse(text)
            return []
        } catch {
            return error.all.map(\.description)
        }
    }

    @Test func everySectionsFirstErrorIsNamed() {
        let found = errors("""
            [account]
            jid = "board@example.org"
            [server]
            port = 70000
            [access]
            owners = ["not a jid"]
            [device]
            gpio = "simulated"
            [[sensor]]
            name = "air"
            source = "nowhere"
            [telemetry]
            min_interval = "soon"
            """)
        #expect(found.count == 4, "\(found)")
        #expect(found.first == "perch.toml:4: server.port: must be between 1 and 65535")
        #expect(found.contains { $0.hasPrefix("perch.toml:6: access.owners") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("perch.toml:11: ") && $0.contains("source") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("perch.toml:13: telemetry.min_interval") }, "\(found)")
    }

    @Test func theAutomationIsReadOnlyOnceTheRestIsRight() {
        // With the sensor wrong, the alert on it would be a second, misleading error.
        let found = errors("""
            [account]
            jid = "board@example.org"
            [device]
            gpio = "simulated"
            [[sensor]]
            name = "air"
            source = "nowhere"
            [[alert]]
            name = "hot"
            when = "air > 30"
            """)
        #expect(found.count == 1, "\(found)")
    }

    @Test func oneErrorIsOne() {
        let found = errors("""
            [account]
            jid = "board@example.org"
            [server]
            port = 0
            """)
        #expect(found == ["perch.toml:4: server.port: must be between 1 and 65535"])
    }
}
