#if FUZZING
import Glibc

/// libFuzzer's driver (built with -sanitize=fuzzer: scripts/fuzz). SwiftPM names an executable's
/// entry point after the target, so it starts libFuzzer itself rather than relying on libFuzzer's main.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@main
struct Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            guard let data else { return 0 }
            fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        })
    }
}
#else
import Glibc

/// Without libFuzzer: runs the inputs named on the command line (files or directories) through the
/// harness once each, so the corpus is replayed as a regression test on any build.
@main
struct ReplayCorpus {
    static func main() {
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            for file in files(path) {
                guard let f = fopen(file, "rb") else { continue }
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = fread(&buffer, 1, buffer.count, f)
                    if n <= 0 { break }
                    bytes += buffer[0..<n]
                }
                fclose(f)
                bytes.withUnsafeBytes { fuzzOne($0) }
                count += 1
            }
        }
        print("replayed \(count) inputs without a crash")
    }

    static func files(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [path] }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { out.append("\(path)/\(name)") }
        }
        return out.sorted()
    }
}
#endif
