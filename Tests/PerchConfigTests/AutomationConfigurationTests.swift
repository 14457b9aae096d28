import Testing
import PerchConfig
import PerchRules

@Suite struct AutomationConfigurationTests {
    static let device = """
        [account]
        jid = "board@example.org"
        [device]
        gpio = "simulated"
        [[output]]
        name = "fan"
        line = "fan"
        [[input]]
        name = "door"
        line = "door"
        states = { on = "open", off = "closed" }
        [[sensor]]
        name = "air"
        source = "file"
        path = "/tmp/air"
        [[room]]
        jid = "quiet@conference.example.org"
        alerts = false

        """

    func load(_ text: String) throws(ConfigurationError) -> Configuration {
        try ConfigurationLoader(file: "perch.toml", environment: ["PERCH_PASSWORD": "x"]).parse(Self.device + text)
    }

    func error(_ text: String) -> String? {
        do {
            _ = try load(text)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func readsAlertsRulesAndSchedules() throws {
        let c = try load("""
            [[alert]]
            name = "hot"
            when = "air > 30"
            clear = "air < 28"
            for = "2m"
            repeat = "1h"
            message = "greenhouse is hot: {air}"
            to = ["owners", "alice@example.org"]
            [[rule]]
            name = "cool"
            when = "air > 28"
            do = "fan on"
            else = "fan off"
            override = "10m"
            [[schedule]]
            name = "morning"
            cron = "0 6 * * 1-5"
            do = "pulse fan 5s"
            catch_up = "10m"
            """)
        #expect(c.alerts.first?.policy == AlertPolicy(holdFor: 120_000, repeatEvery: 3_600_000, hasClear: true))
        #expect(c.alerts.first?.to.map(\.description) == ["owners", "alice@example.org"])
        #expect(c.rules.first?.override == 600_000)
        #expect(c.schedules.first?.timing.text == "cron 0 6 * * 1-5")
        #expect(c.schedules.first?.catchUp == 600_000)
        #expect(c.automationCommands.map(\.key) == ["rule[0].do", "rule[0].else", "schedule[0].do"])
        let defaults = try load("[[alert]]\nname = \"open\"\nwhen = \"door == open\"\n")
        #expect(defaults.alerts.first?.to == [.role("owners")], "to defaults to the owners")
    }

    @Test func namesWhatIsWrongWithFileLineAndKey() {
        #expect(error("[[alert]]\nname = \"hot\"\nwhen = \"temp > 30\"\n") == "perch.toml:21: alert[0].when: no sensor or input \"temp\"; known: air, door")
        #expect(error("[[alert]]\nname = \"hot\"\nwhen = \"air = 30\"\n")?.contains("alert[0].when: \"=\" after air is not one of > >= < <= == != (write == to compare)") == true)
        #expect(error("[[alert]]\nname = \"hot\"\nwhen = \"door == ajar\"\n")?.contains("door is open or closed, never \"ajar\"") == true)
        #expect(error("[[alert]]\nname = \"hot\"\nwhen = \"air == open\"\n")?.contains("air is a sensor: compare it with a number") == true)
        #expect(error("[[alert]]\nname = \"hot\"\nwhen = \"fan == on\"\n")?.contains("fan is an output; conditions read sensors and inputs") == true)
        #expect(error("[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\nto = [\"quiet@conference.example.org\"]\n")?.contains("alert[0].to[0]: the room quiet@conference.example.org has alerts = false") == true)
        #expect(error("[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\nto = [\"everyone\"]\n")?.contains("\"everyone\" is not a recipient") == true)
        #expect(error("[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\nmessage = \"{tmp} is high\"\n")?.contains("alert[0].message: {tmp} names no sensor or input") == true)
        #expect(error("[[alert]]\nname = \"too hot\"\nwhen = \"air > 30\"\n")?.contains("alert[0].name: \"too hot\" must be one word") == true)
        #expect(error("[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\n[[alert]]\nname = \"HOT\"\nwhen = \"air > 35\"\n")?.contains("alert[1].name: \"HOT\" is taken") == true)
        #expect(error("[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\nrepeat = \"10s\"\n")?.contains("alert[0].repeat: must be between") == true)
        #expect(error("[[schedule]]\nname = \"m\"\nat = \"25:00\"\ndo = \"fan on\"\n")?.contains("schedule[0].at:") == true)
        #expect(error("[[schedule]]\nname = \"m\"\ncron = \"0 24 * * *\"\ndo = \"fan on\"\n")?.contains("schedule[0].cron: field 2 (hour): 24 is out of 0-23") == true)
        #expect(error("[[schedule]]\nname = \"m\"\nat = \"06:00\"\ncron = \"0 6 * * *\"\ndo = \"fan on\"\n")?.contains("give at or cron, not both") == true)
        #expect(error("[[schedule]]\nname = \"m\"\ndo = \"fan on\"\n")?.contains("schedule[0].at: a schedule needs at") == true)
        #expect(error("[[rule]]\nname = \"r\"\nwhen = \"air > 1\"\n")?.contains("rule[0].do: is required") == true)
        #expect(error("[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\nsound = \"loud\"\n")?.contains("alert[0].sound: unknown key") == true)
    }
}
