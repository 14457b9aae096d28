import Glibc
import Testing
import PerchIO
@testable import PerchSensors

let fixtures = String(#filePath.split(separator: "/").dropLast(2).joined(separator: "/").prepending("/")) + "/Fixtures/sysfs"
let pi4 = SysfsReader(sysRoot: "\(fixtures)/raspberry-pi-4b/sys", procRoot: "\(fixtures)/raspberry-pi-4b/proc", diskPath: "/")

extension String {
    func prepending(_ s: String) -> String { s + self }
}

func number(_ v: SourceValue) -> Double? {
    if case .number(let d) = v.value { return d }
    return nil
}

func approx(_ a: Double?, _ b: Double, _ eps: Double = 1e-6) -> Bool { a.map { abs($0 - b) < eps } ?? false }

@Suite struct SysfsSourceTests {
    @Test func thermalZonesByNameAndByType() throws {
        let byName = try pi4.read(.thermal(zone: "thermal_zone0"))
        #expect(approx(number(byName), 47.236))
        #expect(byName.unit == "°C")
        #expect(approx(number(try pi4.read(.thermal(zone: "cpu-thermal"))), 47.236))
        #expect(throws: SensorError.self) { try pi4.read(.thermal(zone: "gpu-thermal")) }
        do { _ = try pi4.read(.thermal(zone: "gpu-thermal")) } catch { #expect(error.message.contains("thermal_zone0 (cpu-thermal)")) }
    }

    @Test func hwmonAttributesWithTheirUnits() throws {
        let t = try pi4.read(.hwmon(chip: "cpu_thermal", attribute: "temp1_input"))
        #expect(approx(number(t), 47.236))
        #expect(t.unit == "°C")
        #expect(approx(number(try pi4.read(.hwmon(chip: "hwmon0", attribute: "temp1_input"))), 47.236))
        #expect(try pi4.read(.hwmon(chip: "rpi_volt", attribute: "in0_lcrit_alarm")).unit == "V")
        do {
            _ = try pi4.read(.hwmon(chip: "nct6775", attribute: "temp1_input"))
            Issue.record("found a chip that is not there")
        } catch {
            #expect(error.message.contains("hwmon0 (cpu_thermal)"))
        }
        #expect(throws: SensorError.self) { try pi4.read(.hwmon(chip: "cpu_thermal", attribute: "temp9_input")) }
    }

    @Test func iioProcessedValues() throws {
        let t = try pi4.read(.iio(device: "bme280", channel: "temp"))
        #expect(approx(number(t), 21.37))
        #expect(t.unit == "°C")
        let p = try pi4.read(.iio(device: "bme280", channel: "pressure"))
        #expect(approx(number(p), 1013.25480468))
        #expect(p.unit == "hPa")
        let h = try pi4.read(.iio(device: "iio:device0", channel: "humidityrelative"))
        #expect(approx(number(h), 48.218))
        #expect(h.unit == "%")
    }

    @Test func iioRawTimesScalePlusOffset() throws {
        // ADS1015: a shared in_voltage_scale, mV per step.
        let v = try pi4.read(.iio(device: "ads1015", channel: "voltage0"))
        #expect(approx(number(v), 3.304))
        #expect(v.unit == "V")
        // HDC1080: (raw + offset) × scale.
        let t = try pi4.read(.iio(device: "hdc100x", channel: "temp"))
        #expect(approx(number(t), (26500 - 15887.515151) * 2.517700195 / 1000))
        let h = try pi4.read(.iio(device: "hdc100x", channel: "humidityrelative"))
        #expect(approx(number(h), 30000 * 1.525878906 / 1000))
        do {
            _ = try pi4.read(.iio(device: "bme280", channel: "illuminance"))
            Issue.record("read a channel that is not there")
        } catch {
            #expect(error.message.contains("humidityrelative"), "lists the channels: \(error)")
        }
    }

    @Test func oneWireThermometersCheckTheirCRC() throws {
        let good = try pi4.read(.w1(id: "28-0316a2795bff"))
        #expect(approx(number(good), 23.125))
        do {
            _ = try pi4.read(.w1(id: "28-0416b0a1c2ff"))
            Issue.record("a failed CRC was accepted")
        } catch {
            #expect(error.message.contains("CRC check failed"))
        }
        // Two thermometers: the id must be given.
        do {
            _ = try pi4.read(.w1(id: nil))
            Issue.record("picked one of two thermometers")
        } catch {
            #expect(error.message.contains("several"))
        }
        #expect(throws: SensorError.self) { try pi4.read(.w1(id: "28-ffffffffffff")) }
    }

    @Test func oneWireNonsenseValuesAreErrors() {
        #expect(throws: SensorError.self) { try SysfsReader.checkW1(85000, device: "28-x") }
        #expect(throws: SensorError.self) { try SysfsReader.checkW1(-127000, device: "28-x") }
        #expect(throws: Never.self) { try SysfsReader.checkW1(-10500, device: "28-x") }
        #expect(throws: SensorError.self) { try SysfsReader.parseW1Slave("72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n", device: "28-x") }
    }

    @Test func systemFigures() throws {
        #expect(approx(number(try pi4.read(.system(.load1))), 0.42))
        #expect(approx(number(try pi4.read(.system(.load15))), 0.25))
        #expect(approx(number(try pi4.read(.system(.memoryAvailable))), 3364124.0 / 1024))
        #expect(approx(number(try pi4.read(.system(.memoryUsed))), (3884084.0 - 3364124.0) / 3884084.0 * 100))
        #expect(approx(number(try pi4.read(.system(.uptime))), 123456.78))
        let free = try SysfsReader().read(.system(.diskFree))
        #expect((number(free) ?? 0) > 0)
        #expect(free.unit == "MiB")
    }

    @Test func filesHoldNumbers() throws {
        let dir = "/tmp/perch-sensor-\(getpid())"
        try makeDirectories(dir)
        defer { _ = system("rm -rf \(dir)") }
        try writeFileAtomically("\(dir)/level", Array(" 42.5\n".utf8))
        #expect(approx(number(try pi4.read(.file(path: "\(dir)/level", scale: 2))), 85))
        try writeFileAtomically("\(dir)/level", Array("n/a".utf8))
        #expect(throws: SensorError.self) { try pi4.read(.file(path: "\(dir)/level", scale: 1)) }
        #expect(throws: SensorError.self) { try pi4.read(.file(path: "\(dir)/missing", scale: 1)) }
    }
}

@Suite struct CommandSourceTests {
    @Test func numbersAndJSON() throws {
        #expect(approx(number(try CommandSource.read(argv: ["/bin/echo", "21.5"], timeout: 5_000, key: nil)), 21.5))
        let json = #"{"sensor": {"temp": 19.25, "ok": true}, "list": [1, 2]}"#
        #expect(approx(number(try CommandSource.read(argv: ["/bin/echo", json], timeout: 5_000, key: "sensor.temp")), 19.25))
        #expect(try CommandSource.read(argv: ["/bin/echo", json], timeout: 5_000, key: "sensor.ok").value == .boolean(true))
        #expect(throws: SensorError.self) { try CommandSource.read(argv: ["/bin/echo", json], timeout: 5_000, key: "sensor.missing") }
        #expect(throws: SensorError.self) { try CommandSource.read(argv: ["/bin/echo", "warm"], timeout: 5_000, key: nil) }
    }

    @Test func failuresAndTimeouts() {
        do {
            _ = try CommandSource.read(argv: ["/bin/sleep", "5"], timeout: 200, key: nil)
            Issue.record("a command ran past its timeout")
        } catch {
            #expect(error.message.contains("did not finish within 200 ms"))
        }
        do {
            _ = try CommandSource.read(argv: ["/bin/false"], timeout: 2_000, key: nil)
            Issue.record("a failing command was accepted")
        } catch {
            #expect(error.message.contains("exited with status 1"))
        }
        #expect(throws: SensorError.self) { try CommandSource.read(argv: ["echo", "1"], timeout: 2_000, key: nil) }
        #expect(throws: SensorError.self) { try CommandSource.read(argv: ["/no/such/program"], timeout: 2_000, key: nil) }
    }

    @Test func hostileJSONIsRefusedNotCrashed() {
        var deep = JSONScanner(Array((String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)).utf8))
        let deepResult = deep.parse()
        #expect(deepResult == nil)
        var truncated = JSONScanner(Array(#"{"a": "#.utf8))
        let truncatedResult = truncated.parse()
        #expect(truncatedResult == nil)
        var trailing = JSONScanner(Array(#"{"a": 1} x"#.utf8))
        let trailingResult = trailing.parse()
        #expect(trailingResult == nil)
    }
}

func offer(_ p: inout ReportPolicy, _ v: SensorValue, _ now: Int64) -> Bool { p.offer(v, now: now) }

@Suite struct ReportPolicyTests {
    @Test func deadbandAndHeartbeat() {
        var p = ReportPolicy(precision: 1, deadband: 0.5, heartbeat: 60_000)
        #expect(offer(&p, .number(20.0), 0))
        #expect(!offer(&p, .number(20.4), 1_000))
        #expect(!offer(&p, .number(19.6), 2_000))
        #expect(offer(&p, .number(20.6), 3_000), "moved by more than the deadband")
        #expect(!offer(&p, .number(20.6), 62_000))
        #expect(offer(&p, .number(20.6), 63_000), "the heartbeat is due")
    }

    @Test func withoutDeadbandAnyChangeCounts() {
        var p = ReportPolicy(precision: 1, deadband: nil, heartbeat: nil)
        #expect(offer(&p, .number(1), 0))
        #expect(!offer(&p, .number(1), 1_000_000))
        #expect(offer(&p, .number(1.1), 1_000_001))
        #expect(offer(&p, .boolean(true), 1_000_002))
        #expect(!offer(&p, .boolean(true), 1_000_003))
    }

    @Test func roundingToPrecision() {
        #expect(ReportPolicy(precision: 1, deadband: nil, heartbeat: nil).rounded(.number(21.37)) == .number(21.4))
        #expect(ReportPolicy(precision: 0, deadband: nil, heartbeat: nil).rounded(.number(21.5)) == .number(22))
        #expect(ReportPolicy(precision: 2, deadband: nil, heartbeat: nil).rounded(.boolean(true)) == .boolean(true))
    }

    @Test func retriesBackOff() {
        #expect(SensorMonitor.nextDelay(interval: 10_000, failures: 0) == 10_000)
        #expect(SensorMonitor.nextDelay(interval: 10_000, failures: 1) == 20_000)
        #expect(SensorMonitor.nextDelay(interval: 10_000, failures: 3) == 80_000)
        #expect(SensorMonitor.nextDelay(interval: 10_000, failures: 10) == 300_000)
        #expect(SensorMonitor.nextDelay(interval: 600_000, failures: 4) == 600_000)
    }
}

@Suite struct SensorMonitorTests {
    @Test func reportsChangesErrorsOnceAndRecovery() throws {
        let loop = try EventLoop()
        let dir = "/tmp/perch-monitor-\(getpid())-\(Int.random(in: 0...1_000_000))"
        try makeDirectories(dir)
        defer { _ = system("rm -rf \(dir)") }
        try writeFileAtomically("\(dir)/v", Array("10\n".utf8))
        var spec = SensorSpec(name: "tank", source: .file(path: "\(dir)/v", scale: 1))
        spec.interval = 30
        spec.unit = "cm"
        spec.deadband = 1
        let monitor = SensorMonitor(loop: loop, specs: [spec], reader: SysfsReader())
        var readings: [Reading] = []
        var failures: [String] = []
        var recoveries = 0
        monitor.onReading = { readings.append($0) }
        monitor.onFailure = { failures.append($1.message) }
        monitor.onRecovery = { _ in recoveries += 1 }
        monitor.start()
        #expect(readings.map(\.value) == [.number(10)])
        #expect(readings.first?.unit == "cm")
        #expect(readings.first?.text == "10 cm")
        try writeFileAtomically("\(dir)/v", Array("10.5\n".utf8))
        loop.run(until: { false }, timeout: 100)
        #expect(readings.count == 1, "within the deadband")
        try writeFileAtomically("\(dir)/v", Array("garbage\n".utf8))
        #expect(loop.run(until: { !failures.isEmpty }, timeout: 2_000))
        loop.run(until: { false }, timeout: 200)
        #expect(failures.count == 1, "an error is reported once per streak")
        if case .failed(let e, _)? = monitor.sensors["tank"]?.state { #expect(e.message.contains("not a number")) } else { Issue.record("state is not failed") }
        try writeFileAtomically("\(dir)/v", Array("10.2\n".utf8))
        #expect(loop.run(until: { recoveries == 1 }, timeout: 3_000))
        // After an error the next good value is sent whatever the deadband says.
        #expect(readings.last?.value == .number(10.2))
        monitor.stop()
    }

    @Test func slowSourcesAreReadOffTheLoop() throws {
        let loop = try EventLoop()
        var spec = SensorSpec(name: "ext", source: .command(argv: ["/bin/echo", "7"], timeout: 2_000, key: nil))
        spec.interval = 60_000
        let monitor = SensorMonitor(loop: loop, specs: [spec], reader: SysfsReader())
        var readings: [Reading] = []
        monitor.onReading = { readings.append($0) }
        monitor.start()
        #expect(readings.isEmpty, "the command runs on another thread")
        #expect(loop.run(until: { !readings.isEmpty }, timeout: 5_000))
        #expect(readings.first?.value == .number(7))
        monitor.stop()
    }

    @Test func readNowGivesTheCurrentValueOrTheError() throws {
        let loop = try EventLoop()
        let monitor = SensorMonitor(loop: loop, specs: [
            SensorSpec(name: "cpu", source: .thermal(zone: "cpu-thermal")),
            SensorSpec(name: "gone", source: .thermal(zone: "nope")),
        ], reader: pi4)
        if case .ok(let r) = monitor.readNow("cpu") { #expect(r.text == "47.2 °C") } else { Issue.record("cpu not read") }
        if case .failed = monitor.readNow("gone") {} else { Issue.record("a missing zone read") }
        #expect(monitor.readNow("unknown") == .unknown)
    }
}
