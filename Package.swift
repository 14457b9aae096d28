// swift-tools-version: 6.1
//
// Perch: an XMPP device agent for Linux edge boards.
//
// Layering (an arrow means "may import"; nothing points back up). scripts/check-layering holds this
// list to the targets below, so keep both in step.
//   C modules (CLibXML2, CMbedCrypto, CMbedTLS, CIDN, CGPIOD, CSQLite) are each imported by exactly one Swift target, with
//   `internal import`, so no C type appears in a public signature. CLinux has only headers (epoll, signalfd, inotify, getrandom).
//   XMPPAddress   <- nothing                  (RFC 7622 JIDs)
//   XMPPCore      <- XMPPAddress              (element tree, serializer, stanza vocabulary)
//   XMPPXML       <- XMPPCore, CLibXML2       (libxml2 push parser, restricted XML, limits)
//   PerchCrypto   <- CMbedCrypto, CLinux      (digests, HMAC, PBKDF2, random from getrandom, base64)
//   PerchIDN      <- CIDN                     (libidn: SASLprep's stringprep, IDNA ToASCII)
//   XMPPSASL      <- PerchCrypto, PerchIDN    (SCRAM, PLAIN, SASLprep; pure)
//   PerchTLS      <- PerchCrypto, CMbedTLS    (TLS over memory buffers, X.509 checks)
//   PerchHTTP     <- PerchCrypto, XMPPCore, XMPPXML   (HTTP/1.1 messages, WebSocket, RFC 7395 framing, BOSH, XEP-0156, CONNECT; pure)
//   PerchIO       <- CLinux                   (epoll loop, timers, sockets, signals, DNS, inotify)
//   PerchLog      <- nothing                  (levels, journal or plain lines, escaping of what peers send)
//   TOML          <- nothing                  (the TOML parser, with line numbers for errors)
//   XMPPClient    <- XMPPAddress, XMPPCore, XMPPXML, XMPPSASL, PerchIDN, PerchHTTP, PerchTLS, PerchCrypto, PerchIO, PerchLog   (negotiation and session state machines, the driver)
//   PerchGPIO     <- PerchIO                  (backend protocol, simulated chip, outputs, inputs)
//   PerchGPIOD    <- PerchGPIO, PerchIO, CGPIOD   (the libgpiod backend: v1 or v2 API, as installed)
//   PerchSensors  <- PerchIO, CLinux          (sysfs/procfs sources, commands, report policy)
//   PerchStore    <- CSQLite, PerchIO, PerchLog   (the durable outbox on SQLite)
//   PerchBoard    <- PerchGPIO, PerchIO, TOML     (board profiles from devices/)
//   PerchRules    <- PerchIO                  (conditions, alerts, rules, schedules, time zones, cron; pure state machines)
//   PerchConfig   <- TOML, XMPPAddress, PerchIO, PerchCrypto, PerchGPIO, PerchSensors, PerchBoard, PerchHTTP, PerchRules   (the configuration file, checked)
//   PerchHardware <- PerchConfig, PerchGPIO, PerchGPIOD, PerchSensors, PerchBoard, PerchIO, PerchLog   (outputs, inputs and sensors of one device)
//   PerchAgent    <- PerchConfig, PerchHardware, PerchGPIO, PerchSensors, PerchStore, PerchIO, PerchLog, XMPPAddress, XMPPCore, XMPPXML, XMPPClient, PerchRules   (commands, access, telemetry)
//   PerchDaemon   <- PerchConfig, PerchLog, XMPPClient, PerchIO, XMPPCore, XMPPAddress, PerchHardware, PerchAgent   (wiring, signals, systemd)
//   PerchCLI      <- nothing                  (the command line: verbs, options, usage errors; pure)
//   perch         <- PerchCLI, PerchDaemon, PerchConfig, PerchLog, XMPPAddress, PerchHardware, PerchAgent, PerchRules   (the executable)
// No target links Foundation: the daemon uses Glibc only, which keeps the static binary and its
// resident memory small (full Foundation pulls in a 39 MB ICU; FoundationEssentials alone adds ~3 MB RSS).
import PackageDescription

import class Foundation.FileManager
import class Foundation.Pipe
import class Foundation.Process
import class Foundation.ProcessInfo
import struct Foundation.URL

/// libgpiod 1.x and 2.x both install `gpiod.h` and `libgpiod.pc` with incompatible APIs, so the backend
/// is chosen here, by the version pkg-config finds (PKG_CONFIG_PATH is honoured, as for CGPIOD itself):
/// 2 or later compiles Sources/PerchGPIOD/LibgpiodV2Backend.swift (PERCH_LIBGPIOD_V2), anything else,
/// or no pkg-config at all, the v1 LibgpiodBackend.swift (Debian 12's libgpiod 1.6).
///
/// SwiftPM caches the evaluated manifest, keyed on its text and the environment, not on what is
/// installed: after installing another libgpiod with the same environment, run
/// `swift package purge-cache` (or build once with `--manifest-cache none`) so the switch is seen.
/// scripts/gpiosim-tests --libgpiod v2 uses its own PKG_CONFIG_PATH, scratch path and no cache.
func libgpiodMajorVersion() -> Int {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["pkg-config", "--modversion", "libgpiod"]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = Pipe()
    guard (try? process.run()) != nil else { return 1 }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0, let text = String(data: data, encoding: .utf8) else { return 1 }
    return Int(text.split(separator: ".").first.map { String($0.filter { $0.isNumber }) } ?? "") ?? 1
}
let libgpiodSettings: [SwiftSetting] = libgpiodMajorVersion() >= 2 ? [.define("PERCH_LIBGPIOD_V2")] : []

/// libxml2: the static build scripts/libxml2-static makes (Debian 12's source and patches, without
/// ICU, lzma, zlib or iconv, only the push parser) when .build-libxml2/prefix/lib/libxml2.a exists,
/// and Debian's libxml2.so through pkg-config otherwise. The static one keeps libxml2.so, libicuuc,
/// libicudata (31 MB mapped), liblzma and libz out of the daemon. Every Swift target sees the same
/// headers (the prefix's, through -Xcc -I, since a module importing XMPPXML may load CLibXML2), and
/// every product with XMPPXML in it links the archive by its path (Sources/CLibXML2/static's module
/// map has no `link "xml2"`, whose -lxml2 would find Debian's libxml2.so in /usr/lib, searched
/// first). Only the archive's members the parser needs are linked. As for libgpiod above, SwiftPM
/// caches this decision:
/// scripts/libxml2-static drops the cache when it builds a new prefix; after deleting the prefix by
/// hand, run `swift package purge-cache` and touch Package.swift.
let libxml2Prefix = Context.packageDirectory + "/.build-libxml2/prefix"
let staticLibxml2 = FileManager.default.fileExists(atPath: libxml2Prefix + "/lib/libxml2.a")
let libxml2SwiftSettings: [SwiftSetting] =
    staticLibxml2 ? [.unsafeFlags(["-Xcc", "-I\(libxml2Prefix)/include/libxml2"])] : []
let libxml2LinkerSettings: [LinkerSetting] =
    staticLibxml2 ? [.unsafeFlags(["-Xlinker", "\(libxml2Prefix)/lib/libxml2.a"])] : []

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
] + libxml2SwiftSettings
/// The daemon's own code does without _StringProcessing: using any of it (String.contains(String),
/// replacing, firstRange, Regex) links the regex engine and Unicode name tables, about 2 MB of
/// binary. PerchIO's containsText and splitText cover what Perch needs.
let shippedSettings = swiftSettings + [
    .unsafeFlags(["-Xfrontend", "-disable-implicit-string-processing-module-import"]),
    // Each function in a section of its own, so that the linker can lay out the executable in the
    // order of Sources/perch/perch.order (see the perch target) and drop what nothing calls. The
    // compiler skips code generation when a module's IR is unchanged, so objects built before this
    // flag keep their single .text until they are rebuilt (rm -rf .build/release once).
    .unsafeFlags(["-Xfrontend", "-function-sections"]),
]

let package = Package(
    name: "perch",
    products: [
        .executable(name: "perch", targets: ["perch"])
    ],
    targets: [
        // MARK: C libraries from Debian's -dev packages
        // libxml2: the static build of scripts/libxml2-static, or Debian's (see staticLibxml2).
        staticLibxml2
            ? .systemLibrary(name: "CLibXML2", path: "Sources/CLibXML2/static")
            : .systemLibrary(
                name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0",
                providers: [.apt(["libxml2-dev"])]),
        // Debian 12's libmbedtls-dev ships no pkg-config file: the module maps carry the link lines.
        .systemLibrary(name: "CMbedCrypto", path: "Sources/CMbedCrypto", providers: [.apt(["libmbedtls-dev"])]),
        .systemLibrary(name: "CMbedTLS", path: "Sources/CMbedTLS", providers: [.apt(["libmbedtls-dev"])]),
        // libidn's stringprep, for SASLprep (RFC 4013); linked dynamically (libidn12) in every build.
        .systemLibrary(name: "CIDN", path: "Sources/CIDN", pkgConfig: "libidn", providers: [.apt(["libidn-dev"])]),
        .systemLibrary(
            name: "CGPIOD", path: "Sources/CGPIOD", pkgConfig: "libgpiod", providers: [.apt(["libgpiod-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Linux headers the Glibc module leaves out (epoll, signalfd, eventfd); nothing to link.
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),

        // MARK: Protocol building blocks (no I/O)
        .target(name: "XMPPAddress", swiftSettings: shippedSettings),
        .target(name: "XMPPCore", dependencies: ["XMPPAddress"], swiftSettings: shippedSettings),
        .target(name: "XMPPXML", dependencies: ["XMPPCore", "CLibXML2"], swiftSettings: shippedSettings, linkerSettings: libxml2LinkerSettings),
        .target(name: "PerchCrypto", dependencies: ["CMbedCrypto", "CLinux"], swiftSettings: shippedSettings),
        .target(name: "PerchIDN", dependencies: ["CIDN"], swiftSettings: shippedSettings),
        .target(name: "XMPPSASL", dependencies: ["PerchCrypto", "PerchIDN"], swiftSettings: shippedSettings),
        .target(name: "PerchTLS", dependencies: ["PerchCrypto", "CMbedTLS"], swiftSettings: shippedSettings),
        // The byte-level protocols of the HTTP transports (WebSocket, BOSH, discovery, CONNECT proxies).
        .target(name: "PerchHTTP", dependencies: ["PerchCrypto", "XMPPCore", "XMPPXML"], swiftSettings: shippedSettings),

        // MARK: I/O and the client
        .target(name: "PerchIO", dependencies: ["CLinux"], swiftSettings: shippedSettings),
        .target(
            name: "XMPPClient",
            dependencies: ["XMPPAddress", "XMPPCore", "XMPPXML", "XMPPSASL", "PerchIDN", "PerchHTTP", "PerchTLS", "PerchCrypto", "PerchIO", "PerchLog"],
            swiftSettings: shippedSettings),

        // MARK: Hardware
        .target(name: "PerchGPIO", dependencies: ["PerchIO"], swiftSettings: shippedSettings),
        // Every libgpiod call: the v1 or the v2 API, whichever libgpiod is installed (see libgpiodSettings).
        .target(name: "PerchGPIOD", dependencies: ["PerchGPIO", "PerchIO", "CGPIOD"], swiftSettings: shippedSettings + libgpiodSettings),

        .target(name: "PerchSensors", dependencies: ["PerchIO", "CLinux"], swiftSettings: shippedSettings),
        // The durable outbox (SQLite): every SQLite call is here.
        .target(name: "PerchStore", dependencies: ["CSQLite", "PerchIO", "PerchLog"], swiftSettings: shippedSettings),
        .target(name: "PerchBoard", dependencies: ["PerchGPIO", "PerchIO", "TOML"], swiftSettings: shippedSettings),
        // Alerts, rules and schedules as pure state machines, with the time zone and cron arithmetic.
        .target(name: "PerchRules", dependencies: ["PerchIO"], swiftSettings: shippedSettings),

        // MARK: The daemon
        .target(name: "TOML", swiftSettings: shippedSettings),
        // The command line, parsed before anything is read.
        .target(name: "PerchCLI", swiftSettings: shippedSettings),
        .target(name: "PerchLog", swiftSettings: shippedSettings),
        .target(
            name: "PerchConfig", dependencies: ["TOML", "XMPPAddress", "PerchIO", "PerchCrypto", "PerchGPIO", "PerchSensors", "PerchBoard", "PerchHTTP", "PerchRules"],
            swiftSettings: shippedSettings),
        // The configured device, opened: backend, outputs, inputs, sensors; and the hardware CLI.
        .target(
            name: "PerchHardware",
            dependencies: ["PerchConfig", "PerchGPIO", "PerchGPIOD", "PerchSensors", "PerchBoard", "PerchIO", "PerchLog"],
            swiftSettings: shippedSettings),
        // The product: roles, one command vocabulary, and the chat / ad-hoc / IoT front-ends and telemetry.
        .target(
            name: "PerchAgent",
            dependencies: ["PerchConfig", "PerchHardware", "PerchGPIO", "PerchSensors", "PerchStore", "PerchIO", "PerchLog", "XMPPAddress", "XMPPCore", "XMPPXML", "XMPPClient", "PerchRules"],
            swiftSettings: shippedSettings),
        .target(
            name: "PerchDaemon",
            dependencies: ["PerchConfig", "PerchLog", "XMPPClient", "PerchIO", "XMPPCore", "XMPPAddress", "PerchHardware", "PerchAgent"],
            swiftSettings: shippedSettings),
        .executableTarget(
            name: "perch", dependencies: ["PerchCLI", "PerchDaemon", "PerchConfig", "PerchLog", "XMPPAddress", "PerchHardware", "PerchAgent", "PerchRules"], exclude: ["perch.order"],
            swiftSettings: shippedSettings,
            // lld packs the executable's 27,000 relative relocations into 5 KB (DT_RELR, glibc 2.36,
            // Debian 12) instead of 650 KB the loader reads at every start: 0.6 MB smaller, 0.9 MB
            // less resident. perch.order (written by scripts/link-order) lays out the code start-up,
            // the session and the idle loop run side by side, so that they fault in a few hundred KB
            // of text instead of most of it; names it lists that the build does not have are skipped.
            linkerSettings: [.unsafeFlags([
                "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/perch/perch.order",
                "-Xlinker", "--no-warn-symbol-ordering",
                // The static runtime links executables with -export-dynamic, which puts 7,000 of
                // Perch's own symbols in the dynamic symbol table (0.5 MB the loader pages in for
                // its look-ups); nothing looks them up.
                "-Xlinker", "--no-export-dynamic",
            ])]),
        // The fuzz harness: replays Fuzz/corpus in a normal build; scripts/fuzz builds it with
        // -sanitize=fuzzer -DFUZZING for libFuzzer.
        .executableTarget(
            name: "perch-fuzz", dependencies: ["XMPPXML", "XMPPCore", "XMPPAddress", "XMPPClient", "PerchIO", "TOML", "PerchHTTP", "PerchRules"], path: "Fuzz/PerchFuzz",
            swiftSettings: shippedSettings),

        // MARK: Tests
        .testTarget(name: "XMPPAddressTests", dependencies: ["XMPPAddress"], swiftSettings: swiftSettings),
        .testTarget(name: "XMPPCoreTests", dependencies: ["XMPPCore", "XMPPAddress"], swiftSettings: swiftSettings),
        .testTarget(name: "XMPPXMLTests", dependencies: ["XMPPXML", "XMPPCore"], swiftSettings: swiftSettings),
        .testTarget(name: "PerchCryptoTests", dependencies: ["PerchCrypto"], swiftSettings: swiftSettings),
        .testTarget(name: "XMPPSASLTests", dependencies: ["XMPPSASL", "PerchCrypto"], swiftSettings: swiftSettings),
        .testTarget(name: "PerchIDNTests", dependencies: ["PerchIDN"], swiftSettings: swiftSettings),
        .testTarget(name: "PerchTLSTests", dependencies: ["PerchTLS", "PerchCrypto"], swiftSettings: swiftSettings),
        .testTarget(name: "PerchHTTPTests", dependencies: ["PerchHTTP", "PerchCrypto", "XMPPCore", "XMPPXML"], swiftSettings: swiftSettings),
        .testTarget(name: "PerchIOTests", dependencies: ["PerchIO"], swiftSettings: swiftSettings),
        .testTarget(
            name: "XMPPClientTests", dependencies: ["XMPPClient", "XMPPCore", "XMPPXML", "XMPPAddress", "XMPPSASL", "PerchCrypto", "PerchIO", "PerchLog", "PerchTLS"],
            swiftSettings: swiftSettings),
        .testTarget(name: "PerchGPIOTests", dependencies: ["PerchGPIO", "PerchIO"], swiftSettings: swiftSettings),
        // Runs against real kernel lines: inside the gpio-sim VM (scripts/gpiosim-tests) or on a board.
        .testTarget(name: "PerchGPIODTests", dependencies: ["PerchGPIOD", "PerchGPIO", "PerchIO"], swiftSettings: swiftSettings + libgpiodSettings),
        .testTarget(name: "PerchSensorsTests", dependencies: ["PerchSensors", "PerchIO"], swiftSettings: swiftSettings),
        .testTarget(name: "PerchRulesTests", dependencies: ["PerchRules", "PerchIO"], swiftSettings: swiftSettings),
        .testTarget(name: "PerchBoardTests", dependencies: ["PerchBoard", "PerchGPIO", "PerchIO"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PerchHardwareTests",
            dependencies: ["PerchHardware", "PerchBoard", "PerchConfig", "PerchGPIO", "PerchGPIOD", "PerchIO", "PerchLog", "PerchSensors"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "PerchAgentTests",
            dependencies: ["PerchAgent", "PerchConfig", "PerchGPIO", "PerchHardware", "PerchIO", "PerchLog", "PerchSensors", "PerchStore", "XMPPAddress", "XMPPCore", "XMPPClient", "PerchRules"],
            swiftSettings: swiftSettings),
        .testTarget(name: "PerchStoreTests", dependencies: ["PerchStore", "PerchIO", "PerchLog"], swiftSettings: swiftSettings),
        .testTarget(name: "TOMLTests", dependencies: ["TOML"], swiftSettings: swiftSettings),
        .testTarget(name: "PerchCLITests", dependencies: ["PerchCLI"], swiftSettings: swiftSettings),
        .testTarget(name: "PerchConfigTests", dependencies: ["PerchConfig", "XMPPAddress", "PerchBoard", "PerchGPIO", "PerchSensors", "PerchRules"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PerchDaemonTests", dependencies: ["PerchDaemon", "PerchConfig", "PerchLog", "XMPPCore"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "IntegrationTests", dependencies: ["XMPPClient", "XMPPCore", "XMPPAddress", "PerchIO", "PerchLog"],
            swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v6]
)

// MARK: Only some test targets, when asked for: scripts/gpiosim-tests --libgpiod v2 builds only what the
// kernel-line tests need (PERCH_TEST_TARGETS=PerchGPIODTests, with --product perchPackageTests).
if let only = ProcessInfo.processInfo.environment["PERCH_TEST_TARGETS"] {
    let keep = Set(only.split(separator: ",").map(String.init))
    package.targets.removeAll { $0.type == .test && !keep.contains($0.name) }
}

// MARK: Micro-benchmarks (package-benchmark), only when asked for, so the daemon's builds and CI's test
// builds never fetch or compile the benchmark framework:
//   PERCH_BENCHMARKS=1 swift package --scratch-path .build-benchmarks benchmark
if ProcessInfo.processInfo.environment["PERCH_BENCHMARKS"] != nil {
    package.dependencies.append(.package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "PerchBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"), "XMPPXML", "XMPPCore", "XMPPAddress", "XMPPSASL", "PerchCrypto",
                "PerchAgent", "PerchConfig", "PerchHardware", "PerchGPIO", "PerchIO", "PerchLog", "PerchRules", "XMPPClient",
            ],
            path: "Benchmarks/PerchBenchmarks", swiftSettings: libxml2SwiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]))
}
