import Foundation
import Testing
@testable import TOML

/// Every document of Tests/Fixtures/toml through Perch's parser and Python's `tomllib` (the
/// standard library's TOML 1.0 parser), which must agree:
/// - `valid/`: both accept, with the same values (integers as integers, floats by their IEEE bits,
///   NaN as NaN, strings by their Unicode scalars, tables by key);
/// - `invalid/`: both refuse (Python with a TOMLDecodeError, not some other failure);
/// - `refused/`: valid TOML that Perch refuses on purpose (dates and times, integers beyond 64 bits,
///   nesting deeper than ``TOMLParser/maxDepth``): Python accepts, Perch refuses with the reason
///   in the `.reason` file beside it.
@Suite(.enabled(if: TOMLDiffPython.available, TOMLDiffPython.missingReason))
struct TOMLDifferentialTests {
    @Test func corpusIsThere() {
        #expect(TOMLDiffCorpus.files("valid").count >= 60)
        #expect(TOMLDiffCorpus.files("invalid").count >= 80)
        #expect(TOMLDiffCorpus.files("refused").count >= 10)
        #expect(TOMLDiffCorpus.shipped.count >= 7)
        #expect(TOMLDiffPython.results.count == TOMLDiffCorpus.all.count)
    }

    @Test(arguments: TOMLDiffCorpus.files("valid"))
    func validDocumentsGiveTheSameValues(_ name: String) throws {
        let path = TOMLDiffCorpus.path("valid", name)
        guard case .accepted(let expected?)? = TOMLDiffPython.results[path] else {
            Issue.record("tomllib does not accept the fixture: \(String(describing: TOMLDiffPython.results[path]))")
            return
        }
        let table: TOMLTable
        do { table = try TOMLParser.parse(try TOMLDiffCorpus.text(path)) } catch {
            Issue.record("Perch refuses a valid document: \(error)")
            return
        }
        let got = TOMLDiffValue(table)
        #expect(got == expected, "Perch: \(got)\ntomllib: \(expected)")
    }

    /// The configurations and board profiles Perch ships read the same in both.
    @Test(arguments: TOMLDiffCorpus.shipped)
    func shippedFilesGiveTheSameValues(_ path: String) throws {
        guard case .accepted(let expected?)? = TOMLDiffPython.results[path] else {
            Issue.record("tomllib does not accept \(path): \(String(describing: TOMLDiffPython.results[path]))")
            return
        }
        let got = TOMLDiffValue(try TOMLParser.parse(try TOMLDiffCorpus.text(path)))
        #expect(got == expected, "Perch: \(got)\ntomllib: \(expected)")
    }

    @Test(arguments: TOMLDiffCorpus.files("invalid"))
    func invalidDocumentsAreRefusedByBoth(_ name: String) throws {
        let path = TOMLDiffCorpus.path("invalid", name)
        switch TOMLDiffPython.results[path] {
        case .rejected(let type, _)?:
            #expect(type == "TOMLDecodeError", "tomllib failed otherwise than on the TOML: \(type)")
        case let other:
            Issue.record("tomllib does not refuse the fixture: \(String(describing: other))")
        }
        let text = try TOMLDiffCorpus.text(path)
        #expect(throws: TOMLError.self, "Perch accepts an invalid document") { try TOMLParser.parse(text) }
    }

    @Test(arguments: TOMLDiffCorpus.files("refused"))
    func documentsPerchRefusesOnPurposeAreValidTOML(_ name: String) throws {
        let path = TOMLDiffCorpus.path("refused", name)
        guard case .accepted? = TOMLDiffPython.results[path] else {
            Issue.record("tomllib does not accept the fixture: \(String(describing: TOMLDiffPython.results[path]))")
            return
        }
        let reason = try String(contentsOfFile: path.replacingOccurrences(of: ".toml", with: ".reason"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let text = try TOMLDiffCorpus.text(path)
        #expect { try TOMLParser.parse(text) } throws: { error in
            guard let e = error as? TOMLError else { return false }
            return e.message.contains(reason) && e.line == 1
        }
    }
}

/// The fixture files.
enum TOMLDiffCorpus {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/toml").path

    static func files(_ kind: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(kind)")) ?? []).filter { $0.hasSuffix(".toml") }.sorted()
    }

    static func path(_ kind: String, _ name: String) -> String { "\(root)/\(kind)/\(name)" }

    /// config/*.toml and devices/*.toml.
    static var shipped: [String] {
        let repo = URL(fileURLWithPath: root).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        return ["config", "devices"].flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(repo)/\(dir)")) ?? []).filter { $0.hasSuffix(".toml") }.sorted().map { "\(repo)/\(dir)/\($0)" }
        }
    }

    static var all: [String] { ["valid", "invalid", "refused"].flatMap { kind in files(kind).map { path(kind, $0) } } + shipped }

    /// The file's bytes as the configuration loader gets them; every fixture is valid UTF-8.
    static func text(_ path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let s = String(data: data, encoding: .utf8) else { throw CocoaError(.fileReadInapplicableStringEncoding) }
        return s
    }
}

/// A TOML value in the form both parsers' results are compared in.
indirect enum TOMLDiffValue: Equatable, CustomStringConvertible {
    case string(TOMLDiffString)
    case integer(String)
    /// "nan", or the 16 hexadecimal digits of the IEEE 754 bits (so -0.0 and 0.0 differ).
    case float(String)
    case boolean(Bool)
    case datetime(String)
    case array([TOMLDiffValue])
    case table([TOMLDiffString: TOMLDiffValue])

    init(_ t: TOMLTable) {
        var out: [TOMLDiffString: TOMLDiffValue] = [:]
        for key in t.keys { out[TOMLDiffString(key)] = TOMLDiffValue(t[key]!) }
        self = .table(out)
    }

    init(_ v: TOMLValue) {
        switch v {
        case .string(let s, _): self = .string(TOMLDiffString(s))
        case .integer(let n, _): self = .integer(String(n))
        case .float(let d, _): self = .float(Self.bits(d))
        case .boolean(let b, _): self = .boolean(b)
        case .array(let items, _): self = .array(items.map(TOMLDiffValue.init))
        case .table(let t, _): self = TOMLDiffValue(t)
        }
    }

    static func bits(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        let hex = String(d.bitPattern, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// From the tagged JSON the Python side writes.
    init?(json: Any) {
        guard let d = json as? [String: Any], d.count == 1, let (tag, v) = d.first else { return nil }
        switch tag {
        case "string": guard let s = v as? String else { return nil }; self = .string(TOMLDiffString(s))
        case "integer": guard let s = v as? String else { return nil }; self = .integer(s)
        case "float": guard let s = v as? String else { return nil }; self = .float(s)
        case "bool": guard let b = v as? Bool else { return nil }; self = .boolean(b)
        case "datetime": guard let s = v as? String else { return nil }; self = .datetime(s)
        case "array":
            guard let a = v as? [Any] else { return nil }
            var items: [TOMLDiffValue] = []
            for x in a {
                guard let item = TOMLDiffValue(json: x) else { return nil }
                items.append(item)
            }
            self = .array(items)
        case "table":
            // Pairs, not a JSON object: Foundation would merge keys that differ only in normalization.
            guard let pairs = v as? [[Any]] else { return nil }
            var out: [TOMLDiffString: TOMLDiffValue] = [:]
            for pair in pairs {
                guard pair.count == 2, let k = pair[0] as? String, let item = TOMLDiffValue(json: pair[1]) else { return nil }
                out[TOMLDiffString(k)] = item
            }
            self = .table(out)
        default: return nil
        }
    }

    var description: String {
        switch self {
        case .string(let s): s.description
        case .integer(let s): s
        case .float(let s): "float(\(s))"
        case .boolean(let b): "\(b)"
        case .datetime(let s): "datetime(\(s))"
        case .array(let items): "[\(items.map(\.description).joined(separator: ", "))]"
        case .table(let t): "{\(t.keys.sorted { $0.scalars.lexicographicallyPrecedes($1.scalars) }.map { "\($0) = \(t[$0]!)" }.joined(separator: ", "))}"
        }
    }
}

/// A string compared by its Unicode scalars (Swift's `==` would call NFC and NFD forms equal).
struct TOMLDiffString: Hashable, CustomStringConvertible {
    let scalars: [UInt32]
    init(_ s: String) { scalars = s.unicodeScalars.map(\.value) }
    var description: String {
        "\"" + scalars.map { v in v >= 0x20 && v < 0x7F && v != 0x22 && v != 0x5C ? String(Character(Unicode.Scalar(v)!)) : "\\u{\(String(v, radix: 16))}" }.joined() + "\""
    }
}

/// `/usr/bin/python3` with `tomllib`, run once over the whole corpus.
enum TOMLDiffPython {
    enum Result: Equatable {
        /// The value is nil when it nests too deeply for Foundation's JSON reader.
        case accepted(TOMLDiffValue?)
        case rejected(type: String, message: String)
    }

    static let python = "/usr/bin/python3"
    static let missingReason: Comment =
        "needs \(python) with tomllib (Python 3.11 or later): scripts/install-deps installs Debian's python3"

    static let script = """
        import sys, tomllib, json, math, struct
        def tag(v):
            if isinstance(v, bool): return {"bool": v}
            if isinstance(v, int): return {"integer": str(v)}
            if isinstance(v, float): return {"float": "nan" if math.isnan(v) else struct.pack(">d", v).hex()}
            if isinstance(v, str): return {"string": v}
            if isinstance(v, list): return {"array": [tag(x) for x in v]}
            if isinstance(v, dict): return {"table": [[k, tag(x)] for k, x in v.items()]}
            return {"datetime": v.isoformat()}
        # Two lines a document: its verdict, then its value (null when refused); the value on a line
        # of its own, because Foundation's JSON reader stops at 512 levels of nesting.
        for path in sys.argv[1:]:
            try:
                with open(path, "rb") as f:
                    value = tag(tomllib.load(f))
                print(json.dumps([path, "ok"]))
            except Exception as e:
                value = None
                print(json.dumps([path, "error", type(e).__name__, str(e)]))
            print(json.dumps(value, ensure_ascii=True))
        """

    static let available: Bool = {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        return (try? run(["-c", "import tomllib"]))?.status == 0
    }()

    static let results: [String: Result] = verdicts(TOMLDiffCorpus.all)

    /// tomllib's verdict on each file (none for a file it could not be run on).
    static func verdicts(_ paths: [String]) -> [String: Result] {
        guard let (status, out) = try? run(["-c", script] + paths), status == 0 else { return [:] }
        let lines = out.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var results: [String: Result] = [:]
        for n in stride(from: 0, to: lines.count - 1, by: 2) {
            guard let verdict = try? JSONSerialization.jsonObject(with: Data(lines[n])) as? [String], verdict.count >= 2 else { continue }
            if verdict[1] == "ok" {
                let value = (try? JSONSerialization.jsonObject(with: Data(lines[n + 1]))).flatMap(TOMLDiffValue.init(json:))
                results[verdict[0]] = .accepted(value)
            } else if verdict.count == 4 {
                results[verdict[0]] = .rejected(type: verdict[2], message: verdict[3])
            }
        }
        return results
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, output: Data) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, out)
    }
}
