import Testing
import PerchGPIO
import PerchIO
@testable import PerchBoard

let devices = "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/") + "/devices"

/// Every profile in devices/, so none can drift from the code.
let allProfiles = (directoryEntries(devices) ?? []).filter { $0.hasSuffix(".toml") }

@Suite struct BoardProfileTests {
    @Test func theRequiredBoardsHaveProfiles() {
        for id in ["raspberry-pi-3b", "raspberry-pi-4b", "raspberry-pi-5", "raspberry-pi-zero-2w", "beaglebone-black"] {
            #expect(allProfiles.contains("\(id).toml"), "devices/\(id).toml is missing")
        }
    }

    @Test(arguments: allProfiles)
    func everyProfileLoadsAndIsConsistent(_ file: String) throws {
        let p = try BoardProfile.load("\(devices)/\(file)")
        #expect(p.id + ".toml" == file, "the id matches the file name")
        #expect(!p.headers.isEmpty)
        for header in p.headers {
            // Every pin that carries a line resolves to that line on a labelled chip.
            for (i, carried) in header.pins.enumerated() where p.lines[carried] != nil {
                let address = try #require(try p.resolve("\(header.prefix)\(i + 1)"))
                #expect(address.name == carried)
                guard case .label(let label)? = address.chip else { Issue.record("\(carried) has no chip label"); continue }
                #expect(p.chips.values.contains(label))
            }
        }
        // Every line is reachable from some header pin.
        for name in p.lines.keys {
            #expect(!p.pins(for: name).isEmpty, "\(name) is on no header pin")
        }
    }

    @Test func raspberryPiNamesAndPins() throws {
        let p = try BoardProfile.find("raspberry-pi-4b", in: [devices])
        #expect(p.headers.first?.pins.count == 40)
        #expect(p.thermalZone == "cpu-thermal")
        let gpio17 = LineAddress(chip: .label("pinctrl-bcm2711"), line: .offset(17), name: "GPIO17")
        #expect(try p.resolve("GPIO17") == gpio17)
        #expect(try p.resolve("gpio17") == gpio17)
        #expect(try p.resolve("pin11") == gpio17)
        #expect(try p.resolve("PIN11") == gpio17)
        #expect(p.pins(for: "GPIO17") == ["pin11"])
        #expect(try p.resolve("relay") == nil, "not a profile name: left to the device tree")
        #expect(throws: BoardError.self) { try p.resolve("pin1") }
        #expect(throws: BoardError.self) { try p.resolve("pin41") }
        do { _ = try p.resolve("pin6") } catch { #expect(error.message.contains("GND")) }
    }

    @Test func piFiveUsesTheRP1Label() throws {
        let p = try BoardProfile.find("raspberry-pi-5", in: [devices])
        #expect(try p.resolve("pin11")?.chip == .label("pinctrl-rp1"))
    }

    @Test func beagleBoneBanks() throws {
        let p = try BoardProfile.find("beaglebone-black", in: [devices])
        let address = try #require(try p.resolve("P9_12"))
        #expect(address == LineAddress(chip: .label("gpio-32-63"), line: .offset(28), name: "GPIO1_28"))
        #expect(try p.resolve("p8_7") == LineAddress(chip: .label("gpio-64-95"), line: .offset(2), name: "GPIO2_2"))
        #expect(p.thermalZone == nil)
        do { _ = try p.resolve("P9_33") } catch { #expect(error.message.contains("AIN4")) }
        #expect(p.line(chipLabel: "gpio-32-63", offset: 28)?.name == "GPIO1_28")
    }

    @Test func unknownProfilesListTheKnownOnes() {
        do {
            _ = try BoardProfile.find("raspberry-pi-6", in: [devices])
            Issue.record("found a profile that does not exist")
        } catch {
            #expect(error.message.contains("raspberry-pi-5"))
        }
    }

    @Test func brokenProfilesNameTheFileLineAndKey() {
        let bad = """
        id = "x"
        name = "X"
        [chips]
        soc = "pinctrl-x"
        [lines]
        GPIO1 = ["soc", 1]
        GPIO2 = ["gpu", 2]
        """
        do {
            _ = try BoardProfile.parse(bad, file: "x.toml")
            Issue.record("accepted a line on an unknown chip")
        } catch {
            #expect(error.message == "x.toml:7: lines.GPIO2: chip \"gpu\" is not in [chips]")
        }
        let typo = """
        id = "x"
        name = "X"
        [chips]
        soc = "pinctrl-x"
        [lines]
        GPIO1 = ["soc", 1]
        [headers.J1]
        prefix = "pin"
        pins = ["GND", "GPIO7"]
        """
        #expect(throws: BoardError.self) { try BoardProfile.parse(typo, file: "x.toml") }
        let duplicate = """
        id = "x"
        name = "X"
        [chips]
        soc = "pinctrl-x"
        [lines]
        GPIO1 = ["soc", 1]
        GPIO2 = ["soc", 1]
        """
        #expect(throws: BoardError.self) { try BoardProfile.parse(duplicate, file: "x.toml") }
    }
}

/// A perch built in a source checkout finds the checkout's profiles, so the README's
/// `perch gpio list --board raspberry-pi-4b` works from the tree (the test runner is built there too).
@Suite struct ProfileSearchTests {
    @Test func aCheckoutBuildSearchesItsOwnDevicesFolderLast() throws {
        #expect(BoardProfile.searchDirectories == BoardProfile.standardDirectories + [devices])
        let p = try BoardProfile.find("raspberry-pi-4b", in: BoardProfile.searchDirectories)
        #expect(p.file == "\(devices)/raspberry-pi-4b.toml")
    }

    @Test func aMissingProfileSaysWhereToLook() {
        do {
            _ = try BoardProfile.find("raspberry-pi-4b", in: ["/nonexistent"])
            Issue.record("found")
        } catch {
            #expect(error.message.contains("give the folder that has it (perch gpio list --profiles DIR, or device.profiles_dir"), "\(error.message)")
        }
    }
}
