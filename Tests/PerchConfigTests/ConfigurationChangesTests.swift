import Testing
import PerchConfig

/// What a reload says it changes, and which parts of the daemon it touches.
@Suite struct ConfigurationChangesTests {
    static let base = """
        [account]
        jid = "board@example.org/r"
        [server]
        host = "xmpp.example.org"
        [access]
        owners = ["alice@example.org"]
        viewers = ["@example.org"]
        [telemetry]
        min_interval = "1m"
        [device]
        gpio = "simulated"
        [[output]]
        name = "fan"
        line = "fan"
        max_pulse = "30s"
        [[input]]
        name = "door"
        line = "door"
        states = { on = "open", off = "closed" }
        [[sensor]]
        name = "air"
        source = "file"
        path = "/tmp/air"
        [[alert]]
        name = "hot"
        when = "air > 30"
        [[room]]
        jid = "lab@conference.example.org"

        """

    func load(_ text: String) throws -> Configuration {
        try ConfigurationLoader(file: "perch.toml", environment: ["PERCH_PASSWORD": "x"]).parse(text)
    }

    /// The changes from `base` to `base` with `edit` applied.
    func changes(_ edit: (String) -> String) throws -> ConfigurationChanges {
        ConfigurationChanges(from: try load(Self.base), to: try load(edit(Self.base)))
    }

    @Test func theSameFileChangesNothing() throws {
        let c = try changes { $0 }
        #expect(c.isEmpty)
        #expect(c.reconnect.isEmpty && c.needsRestart.isEmpty && !c.access && !c.gpio && !c.automation && !c.rooms && !c.sensors)
    }

    @Test func linesMovedInTheFileAreNoChange() throws {
        // A comment pushes every table down: line numbers are not settings.
        let c = try changes { "# a comment\n\n" + $0 }
        #expect(c.isEmpty, "\(c.lines)")
    }

    @Test func anAddedOwnerAndARemovedViewerAreNamed() throws {
        let c = try changes {
            $0.replacing("owners = [\"alice@example.org\"]", with: "owners = [\"alice@example.org\", \"bob@example.org\"]")
                .replacing("viewers = [\"@example.org\"]", with: "viewers = []")
        }
        #expect(c.lines == ["owners: +bob@example.org", "viewers: -@example.org"])
        #expect(c.access && c.reconnect.isEmpty && !c.gpio)
    }

    @Test func aSensorWithTheSameSourceUnderAnotherNameIsRenamed() throws {
        let c = try changes { $0.replacing("name = \"air\"", with: "name = \"temp\"").replacing("when = \"air > 30\"", with: "when = \"temp > 30\"") }
        #expect(c.lines == ["sensor air renamed to temp", "alert hot changed"])
        #expect(c.sensors && c.automation)
    }

    @Test func aSensorWithAnotherSourceIsRemovedAndAdded() throws {
        let c = try changes { $0.replacing("name = \"air\"\nsource = \"file\"\npath = \"/tmp/air\"", with: "name = \"air\"\nsource = \"file\"\npath = \"/tmp/air2\"") }
        #expect(c.lines == ["sensor air changed"])
        let d = try changes { $0.replacing("name = \"air\"\nsource = \"file\"\npath = \"/tmp/air\"", with: "name = \"cpu\"\nsource = \"thermal\"").replacing("air > 30", with: "cpu > 30") }
        #expect(d.lines.contains("sensor cpu added (thermal zone thermal_zone0)") || d.lines.contains { $0.hasPrefix("sensor cpu added") }, "\(d.lines)")
        #expect(d.lines.contains("sensor air removed"), "\(d.lines)")
    }

    @Test func anOutputsLineIsRequestedAgainOnlyWhenItsLineSettingsChange() throws {
        let limits = try changes { $0.replacing("max_pulse = \"30s\"", with: "max_pulse = \"1m\"") }
        #expect(limits.lines == ["output fan changed (its line and state are kept)"])
        #expect(limits.gpio && limits.rerequested.isEmpty)

        let moved = try changes { $0.replacing("line = \"fan\"", with: "line = \"fan2\"") }
        #expect(moved.rerequested == ["fan"])
        #expect(moved.lines.count == 1 && moved.lines[0].hasPrefix("output fan: line settings changed"), "\(moved.lines)")

        let inverted = try changes { $0.replacing("line = \"fan\"", with: "line = \"fan\"\nactive_low = true") }
        #expect(inverted.rerequested == ["fan"])
    }

    @Test func anInputsWordsKeepItsLineItsBiasDoesNot() throws {
        let words = try changes { $0.replacing("on = \"open\", off = \"closed\"", with: "on = \"ajar\", off = \"shut\"") }
        #expect(words.lines == ["input door changed (its line is kept)"])
        #expect(words.rerequested.isEmpty)
        let bias = try changes { $0.replacing("line = \"door\"", with: "line = \"door\"\nbias = \"pull-up\"") }
        #expect(bias.rerequested == ["door"])
        #expect(bias.lines == ["input door: line settings changed; its line is requested again"])
    }

    @Test func addedAndRemovedLinesAlertsAndRooms() throws {
        let c = try changes {
            $0.replacing("[[alert]]\nname = \"hot\"\nwhen = \"air > 30\"\n", with: "[[rule]]\nname = \"cool\"\nwhen = \"air > 28\"\ndo = \"fan on\"\n")
                .replacing("[[room]]\njid = \"lab@conference.example.org\"", with: "[[room]]\njid = \"lab@conference.example.org\"\nnick = \"fanbox\"\n[[room]]\njid = \"hall@conference.example.org\"")
                .replacing("[[input]]\nname = \"door\"", with: "[[output]]\nname = \"pump\"\nline = \"pump\"\n[[input]]\nname = \"door\"")
        }
        #expect(c.lines.contains { $0.hasPrefix("output pump added on ") }, "\(c.lines)")
        #expect(c.lines.contains("rule cool added"))
        #expect(c.lines.contains("alert hot removed"))
        #expect(c.lines.contains("room lab@conference.example.org changed"))
        #expect(c.lines.contains("room hall@conference.example.org added"))
        #expect(c.automation && c.rooms && c.gpio && c.reconnect.isEmpty)
    }

    @Test func theAccountAndTheServerReconnect() throws {
        let c = try changes { $0.replacing("host = \"xmpp.example.org\"", with: "host = \"xmpp2.example.org\"\nport = 5223") }
        #expect(c.reconnect == ["server.host", "server.port"])
        #expect(c.lines == ["server: host, port changed"])
        let a = try changes { $0.replacing("jid = \"board@example.org/r\"", with: "jid = \"board2@example.org/r\"") }
        #expect(a.reconnect == ["account.jid"])
        #expect(a.lines == ["account.jid: board@example.org/r → board2@example.org/r"])
    }

    @Test func keysReadAtStartAreSaidAndKeptAsTheyRun() throws {
        let old = try load(Self.base)
        let new = try load(Self.base.replacing("[device]\n", with: "[device]\nstate_dir = \"/tmp/elsewhere\"\n")
            .replacing("min_interval = \"1m\"", with: "min_interval = \"10s\"\npubsub = \"pep\""))
        let c = ConfigurationChanges(from: old, to: new)
        #expect(c.needsRestart == ["device.state_dir", "telemetry.pubsub", "telemetry.node"])
        #expect(c.lines.contains("device.state_dir changed: it takes effect at the next restart (systemctl restart perch)"))
        #expect(c.lines.contains("telemetry.min_interval: 60 s → 10 s"), "\(c.lines)")
        #expect(c.presence)
        let applied = ConfigurationChanges.applicable(new, over: old)
        #expect(applied.device.stateDirectory == old.device.stateDirectory)
        #expect(applied.telemetry.pubsub == .none)
        #expect(applied.telemetry.minInterval == 10_000)
    }

    @Test func anotherSysfsRootReadsTheSensorsAnew() throws {
        let c = try changes { $0.replacing("[device]\n", with: "[device]\nsysfs_root = \"/tmp/sys\"\n") }
        #expect(c.lines == ["device.sysfs_root/procfs_root changed: the sensors are read anew"])
        #expect(c.sensors)
    }
}
