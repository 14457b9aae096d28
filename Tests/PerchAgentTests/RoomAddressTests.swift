import Testing
@testable import PerchAgent

/// Which lines of a room are for the device, and what they ask.
@Suite struct RoomAddressTests {
    @Test(arguments: [
        ("greenhouse: status", RoomAddress.addressed("status")),
        ("greenhouse, pump on", .addressed("pump on")),
        ("@greenhouse read", .addressed("read")),
        ("GreenHouse:   pump off  ", .addressed("pump off")),
        ("  @GREENHOUSE status", .addressed("status")),
        ("greenhouse:", .addressed("")),
        ("@greenhouse", .addressed("")),
        ("all: status", .broadcast("status")),
        ("@all status", .broadcast("status")),
        ("All, pump off", .broadcast("pump off")),
        ("greenhouse2: status", .notForUs),
        ("greenhouses: status", .notForUs),
        ("@greenhouse2 status", .notForUs),
        ("the greenhouse: is it warm?", .notForUs),
        ("status", .notForUs),
        ("greenhouse status", .notForUs),
        ("allright: then", .notForUs),
        ("@alice: ping", .notForUs),
        ("", .notForUs),
    ])
    func lines(_ body: String, _ expected: RoomAddress) {
        #expect(RoomAddress.parse(body, nick: "greenhouse") == expected, "\(body)")
    }

    @Test func aNickWithSpacesAndNonASCIILetters() {
        #expect(RoomAddress.parse("Serre Nord: status", nick: "serre nord") == .addressed("status"))
        #expect(RoomAddress.parse("ÉCLUSE, pump on", nick: "écluse") == .addressed("pump on"))
        #expect(RoomAddress.parse("@serre nord status", nick: "serre nord") == .notForUs, "@ takes one word")
    }
}
