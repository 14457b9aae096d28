import Glibc
public import PerchBoard
public import PerchConfig
public import PerchGPIO
import PerchGPIOD
public import PerchIO
public import PerchSensors

/// The hardware commands of the `perch` tool: `gpio list`, `sensors read` and `doctor`. Each returns
/// the text to print, so it is tested without a terminal.
public enum HardwareCommands {
    /// The libgpiod API this binary was built for, with the library's own version: "libgpiod v1 API
    /// (library 1.6.3)" or "libgpiod v2 API (library 2.3)".
    public static var gpioLibrary: String { LibgpiodBackend.apiDescription }

    /// What `perch --version` prints.
    public static func versionText(_ perchVersion: String) -> String {
        "perch \(perchVersion)\nbuilt for \(gpioLibrary)\n"
    }

    /// Every chip with its lines; beside each, the profile's name and header pins and the configured
    /// output or input using it.
    public static func gpioList(_ backend: any GPIOBackend, profile: BoardProfile?, device: DeviceConfiguration?) throws(GPIOError) -> String {
        let chips = try backend.chips()
        var out = ""
        if chips.isEmpty {
            guard let profile else { return "no GPIO chips found (\(backend.name))\n" }
            return "no GPIO chips found (\(backend.name)); the \(profile.name)'s header\(profile.headers.count == 1 ? "" : "s"), from its profile:\n" + headerMap(profile)
        }
        // The configured use of each line: (output or input, its name), by chip path and offset.
        var uses: [String: (kind: String, name: String)] = [:]
        let lines = device.map { configuredLines($0) } ?? []
        for (kind, name, address) in lines {
            if let l = try? backend.locate(address) { uses["\(l.chip.path)#\(l.line.offset)"] = (kind, name) }
        }
        for chip in chips {
            out += "\(chip.name) [\(chip.label)] \(chip.lines.count) lines (\(chip.path))\n"
            for line in chip.lines {
                var cols = [pad(String(line.offset), 4), pad(line.name ?? "-", 16)]
                if let profile {
                    let known = profile.line(chipLabel: chip.label, offset: line.offset)
                    cols.append(pad(known.map { ([$0.name] + profile.pins(for: $0.name)).joined(separator: " ") } ?? "", 18))
                }
                // A configured line shows what perch makes of it (an output reads as an input while
                // nobody drives it); any other line, what the kernel says now.
                let use = uses["\(chip.path)#\(line.offset)"]
                cols.append(pad(use?.kind ?? (line.isOutput ? "output" : "input"), 7))
                if let consumer = line.consumer { cols.append("held by \"\(consumer)\"") }
                if let use { cols.append("← \(use.kind) \(use.name)") }
                out += "  " + cols.joined(separator: " ").trimmingTrailingSpaces() + "\n"
            }
        }
        return out
    }

    /// A board's headers as they sit on the board, odd pins left and even pins right (what a user
    /// wants to see before wiring, with or without GPIO on this machine).
    public static func headerMap(_ profile: BoardProfile) -> String {
        var out = ""
        for header in profile.headers {
            out += "\(header.name) (\(header.prefix)1 … \(header.prefix)\(header.pins.count))\n"
            let width = header.pins.map(\.count).max() ?? 0
            let label = "\(header.prefix)\(header.pins.count)".count
            func left(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
            if header.pins.count % 2 == 0 {
                for row in 0..<(header.pins.count / 2) {
                    let (a, b) = (2 * row + 1, 2 * row + 2)
                    out += "  \(left(header.pins[a - 1], width)) \(left("\(header.prefix)\(a)", label)) | \(pad("\(header.prefix)\(b)", label)) \(header.pins[b - 1])\n"
                }
            } else {
                for (i, pin) in header.pins.enumerated() { out += "  \(left("\(header.prefix)\(i + 1)", label)) \(pin)\n" }
            }
        }
        return out
    }

    /// Every configured line: output or input, its name, its address.
    static func configuredLines(_ device: DeviceConfiguration) -> [(kind: String, name: String, address: LineAddress)] {
        device.outputs.map { ("output", $0.name, $0.line) } + device.inputs.map { ("input", $0.name, $0.line) }
    }

    /// Reads every configured sensor once.
    public static func sensorsRead(_ monitor: SensorMonitor, gpio: ((String) -> Bool?)? = nil) -> (text: String, failures: Int) {
        var out = ""
        var failures = 0
        monitor.gpioState = gpio
        for name in monitor.order {
            let source = monitor.sensors[name].map { "\($0.spec.source)" } ?? ""
            switch monitor.readNow(name) {
            case .ok(let r): out += "\(pad(name, 16)) \(pad(r.text, 14)) \(source)\n"
            case .failed(let e, _):
                failures += 1
                out += "\(pad(name, 16)) ERROR          \(source): \(e)\n"
            case .unknown: break
            }
        }
        if monitor.order.isEmpty { out = "no [[sensor]] is configured\n" }
        return (out, failures)
    }

    /// Checks what commonly goes wrong on a fresh board and says how to fix each.
    public static func doctor(_ config: Configuration, loop: EventLoop) -> (text: String, problems: Int) {
        var out = ""
        var problems = 0
        func ok(_ s: String) { out += "ok    \(s)\n" }
        func bad(_ s: String, _ fix: String) {
            problems += 1
            out += "FAIL  \(s)\n      → \(fix)\n"
        }
        let device = config.device
        ok("configuration \(config.file) is valid")
        ok("built for \(gpioLibrary)")
        if let board = device.board { ok("board profile \(board.id) (\(board.name)) from \(board.file)") }

        if device.usesGPIO {
            if device.backend == .libgpiod {
                let nodes = (directoryEntries("/dev") ?? []).filter { $0.hasPrefix("gpiochip") }.map { "/dev/\($0)" }
                if nodes.isEmpty {
                    bad("no /dev/gpiochip* device", "this kernel has no GPIO character devices, or the service's sandbox hides them (perch.service needs DeviceAllow=char-gpiochip rw)")
                }
                for node in nodes {
                    if access(node, R_OK | W_OK) == 0 {
                        ok("\(node) is readable and writable")
                    } else {
                        bad("\(node) is not readable and writable by uid \(getuid())", permissionHint(node))
                    }
                }
            }
            do {
                let backend = try Hardware.makeBackend(device, loop: loop)
                for (kind, name, address) in configuredLines(device) {
                    do {
                        let found = try backend.locate(address)
                        let where_ = "\(found.chip.name) [\(found.chip.label)] offset \(found.line.offset)"
                        // The line as configured (GPIO17, DOOR_SENSOR), not its address: one offset per line.
                        let address = address.name ?? "\(address)"
                        if let holder = found.line.consumer, holder != "perch" {
                            bad("\(kind) \(name): \(address) is held by \"\(holder)\"", "stop the program holding it, or remove the device-tree overlay or driver that claims it")
                        } else {
                            ok("\(kind) \(name): \(address) is \(where_)\(found.line.consumer == "perch" ? " (held by a running perch)" : "")")
                        }
                    } catch {
                        bad("\(kind) \(name): \(address)", error.description)
                    }
                }
            } catch {
                bad("GPIO backend \(device.backend.rawValue)", error.description)
            }
        }

        if device.sensors.contains(where: { if case .w1 = $0.source { true } else { false } }) {
            let w1 = "\(device.sysfsRoot)/bus/w1/devices"
            if fileExists(w1) { ok("1-Wire bus at \(w1)") } else { bad("no 1-Wire bus (\(w1) is missing)", "enable it: dtoverlay=w1-gpio (gpiopin=4 by default) in /boot/firmware/config.txt, and reboot") }
        }
        if device.sensors.contains(where: { if case .iio = $0.source { true } else { false } }) {
            let iio = "\(device.sysfsRoot)/bus/iio/devices"
            if (directoryEntries(iio) ?? []).contains(where: { $0.hasPrefix("iio:device") }) { ok("IIO devices at \(iio)") } else {
                bad("no IIO devices in \(iio)", "load the sensor's kernel driver: a device-tree overlay such as dtoverlay=i2c-sensor,bme280 on a Raspberry Pi, then reboot")
            }
        }
        let monitor = SensorMonitor(loop: loop, specs: device.sensors, reader: device.sysfsReader)
        for name in monitor.order {
            guard let spec = monitor.sensors[name]?.spec else { continue }
            if case .gpio = spec.source { continue }
            switch monitor.readNow(name) {
            case .ok(let r): ok("sensor \(name): \(r.text)")
            case .failed(let e, _): bad("sensor \(name) (\(spec.source))", e.description)
            case .unknown: break
            }
        }

        let state = device.stateDirectory
        if fileExists(state) {
            if access(state, W_OK) == 0 { ok("state directory \(state) is writable") } else {
                bad("state directory \(state) is not writable", "perch.service sets StateDirectory=perch; when running by hand, point [device] state_dir at a directory you own")
            }
        } else {
            // perch run creates it (and perch.service has systemd do it): only a parent it cannot
            // write is a problem.
            var parent = state
            while !fileExists(parent), let slash = parent.utf8.lastIndex(of: UInt8(ascii: "/")) {
                parent = slash == parent.utf8.startIndex ? "/" : String(parent[..<slash])
            }
            var st = stat()
            if stat(parent, &st) == 0, st.st_mode & S_IFMT != S_IFDIR {
                bad("state directory \(state) cannot be created: \(parent) is a file, not a folder", "point [device] state_dir somewhere else, or move \(parent) away")
            } else if access(parent, W_OK) == 0 {
                ok("state directory \(state) does not exist yet: perch run creates it (\(parent) is writable)")
            } else {
                bad("state directory \(state) does not exist and \(parent) is not writable by uid \(getuid())", "perch.service creates it (StateDirectory=perch); by hand, create it, owned by the user perch runs as, or set [device] state_dir")
            }
        }
        out += problems == 0 ? "\nno problems found\n" : "\n\(problems) problem\(problems == 1 ? "" : "s") found\n"
        return (out, problems)
    }

    /// What to do about a GPIO node the user cannot open: which group owns it, and whether we are in it.
    static func permissionHint(_ node: String) -> String {
        var st = stat()
        guard stat(node, &st) == 0 else { return "check the permissions of \(node)" }
        let group = getgrgid(st.st_gid).map { String(cString: $0.pointee.gr_name) } ?? "gid \(st.st_gid)"
        var groups = [gid_t](repeating: 0, count: 64)
        let n = getgroups(64, &groups)
        let member = n > 0 && groups[0..<Int(n)].contains(st.st_gid)
        let user = getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "this user"
        if group == "root" {
            return "\(node) belongs to group root: install systemd/60-perch-gpio.rules (udev gives /dev/gpiochip* to group gpio) and systemd/perch.sysusers, then `udevadm trigger` or reboot"
        }
        return member
            ? "\(user) is in group \(group) but \(node) is not group-writable: install systemd/60-perch-gpio.rules"
            : "add \(user) to group \(group) (`usermod -aG \(group) \(user)`, then log in again); perch.service gets it through SupplementaryGroups=\(group)"
    }

    static func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
