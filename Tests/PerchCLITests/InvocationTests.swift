import Testing
@testable import PerchCLI

/// The command line, parsed before any configuration is read: every verb with its own options, and
/// a usage error (exit 64) that says what would be valid.
@Suite struct InvocationTests {
    func parse(_ line: String) -> Result<Invocation, UsageError> {
        Invocation.parse(line.split(separator: " ").map(String.init))
    }

    func error(_ line: String) -> String? {
        if case .failure(let e) = parse(line) { return e.message }
        return nil
    }

    @Test func everyVerbParses() {
        #expect(parse("run --config /c.toml --trace-xml --log-level debug") == .success(.run(config: "/c.toml", traceXML: true, logLevel: "debug")))
        #expect(parse("run") == .success(.run(config: "/etc/perch/perch.toml", traceXML: false, logLevel: nil)))
        #expect(parse("check-config -c /c.toml") == .success(.checkConfig(config: "/c.toml")))
        #expect(parse("doctor --config=/c.toml") == .success(.doctor(config: "/c.toml")))
        #expect(parse("gpio list --board raspberry-pi-4b") == .success(.gpioList(config: nil, board: "raspberry-pi-4b", profiles: nil)))
        #expect(parse("gpio list --config /c.toml --profiles ./devices") == .success(.gpioList(config: "/c.toml", board: nil, profiles: "./devices")))
        #expect(parse("sensors read --config /c.toml") == .success(.sensorsRead(config: "/c.toml")))
        #expect(parse("--version") == .success(.version))
        #expect(parse("version") == .success(.version))
        #expect(parse("--help") == .success(.help))
        #expect(parse("run --help") == .success(.help))
    }

    /// `--option=value` and `--option value` are the same, for every option that takes a value.
    @Test func bothFormsOfEveryValue() {
        #expect(parse("run --config=/c.toml --log-level=debug") == .success(.run(config: "/c.toml", traceXML: false, logLevel: "debug")))
        #expect(parse("run --log-level=debug --config /c.toml") == parse("run --log-level debug --config=/c.toml"))
        #expect(parse("gpio list --board=rock-5b --profiles=/d") == .success(.gpioList(config: nil, board: "rock-5b", profiles: "/d")))
    }

    @Test func aGroupWithoutItsSubcommandSaysWhichExist() {
        #expect(error("gpio") == "perch gpio needs a subcommand: perch gpio list")
        #expect(error("sensors") == "perch sensors needs a subcommand: perch sensors read")
        #expect(error("sensors --config /c.toml")?.contains("perch sensors read") == true)
        #expect(error("gpio show")?.contains("unknown subcommand 'show' of perch gpio; valid: list") == true)
    }

    @Test func aTypoGetsASuggestion() {
        #expect(error("gpoi list")?.contains("did you mean 'gpio list'?") == true, "\(error("gpoi list") ?? "")")
        #expect(error("chek-config")?.contains("did you mean 'check-config'?") == true)
        #expect(error("docter")?.contains("did you mean 'doctor'?") == true)
        #expect(error("launch")?.contains("valid commands: run, check-config, doctor, gpio list, sensors read") == true)
    }

    @Test func anotherVerbsOptionIsAUsageError() {
        #expect(error("doctor --trace-xml")?.contains("--trace-xml is not an option of perch doctor; it takes --config") == true)
        #expect(error("check-config --board x")?.contains("not an option of perch check-config") == true)
        #expect(error("run --bogus")?.contains("unknown option '--bogus'") == true)
        #expect(error("run --board=x")?.contains("not an option of perch run") == true)
    }

    @Test func valuesAreChecked() {
        #expect(error("run --config") == "--config needs a file")
        #expect(error("run --config=") == "--config needs a file")
        #expect(error("run --config --trace-xml") == "--config needs a file")
        #expect(error("run --log-level loud")?.contains("--log-level needs one of trace, debug, info, notice, warning, error, not 'loud'") == true)
        #expect(error("run --log-level=debug --log-level info") == "--log-level is given twice")
        #expect(error("run --trace-xml=yes") == "--trace-xml takes no value")
        #expect(error("run extra") == "perch run takes no argument 'extra'")
        #expect(error("--config /c.toml run")?.contains("a command comes first") == true)
        #expect(error("") == "no command given")
        #expect(error("--version --config x") == "--version takes nothing else")
        #expect(Invocation.parse(["send", "dev@x", "  "]) == .failure(UsageError("perch send needs a command to send, such as \"status\"")))
        #expect(Invocation.parse(["send", "dev@x", "pump", "on"]) == .success(.send(config: "/etc/perch/perch.toml", device: "dev@x", text: "pump on", timeout: nil)))
    }

    @Test func theExitStatusesAreSysexits() {
        #expect(Invocation.ExitStatus.usage == 64)
        #expect(Invocation.ExitStatus.config == 78)
    }
}
