import PerchIO
import TOML
import XMPPAddress

/// Typed access to TOML values with located errors.
struct Reader {
    let file: String

    func error(_ value: TOMLValue?, _ key: String, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, line: value?.line, key: key, message)
    }

    func allowOnly(_ t: TOMLTable, _ allowed: [String], prefix: String) throws(ConfigurationError) {
        for key in t.keys where !allowed.contains(key) {
            throw error(t[key], prefix + key, "unknown key (known here: \(allowed.joined(separator: ", ")))")
        }
    }

    func table(_ t: TOMLTable, _ key: String, required: Bool = false) throws(ConfigurationError) -> TOMLTable? {
        switch t[key] {
        case nil:
            if required { throw ConfigurationError(file: file, line: nil, key: key, "the [\(key)] table is required") }
            return nil
        case .table(let v, _)?: return v
        case let other?: throw error(other, key, "must be a table, not \(other.typeName)")
        }
    }

    func string(_ t: TOMLTable, _ key: String, prefix: String, required: Bool = false) throws(ConfigurationError) -> String? {
        switch t[key] {
        case nil:
            if required { throw ConfigurationError(file: file, line: t.line, key: prefix + key, "is required") }
            return nil
        case .string(let s, _)?:
            guard !s.isEmpty else { throw error(t[key], prefix + key, "must not be empty") }
            return s
        case let other?: throw error(other, prefix + key, "must be a string, not \(other.typeName)")
        }
    }

    func integer(_ t: TOMLTable, _ key: String, prefix: String) throws(ConfigurationError) -> Int64? {
        switch t[key] {
        case nil: return nil
        case .integer(let v, _)?: return v
        case let other?: throw error(other, prefix + key, "must be an integer, not \(other.typeName)")
        }
    }

    func bool(_ t: TOMLTable, _ key: String, prefix: String) throws(ConfigurationError) -> Bool? {
        switch t[key] {
        case nil: return nil
        case .boolean(let v, _)?: return v
        case let other?: throw error(other, prefix + key, "must be true or false, not \(other.typeName)")
        }
    }

    func strings(_ t: TOMLTable, _ key: String, prefix: String) throws(ConfigurationError) -> [String] {
        switch t[key] {
        case nil: return []
        case .array(let items, _)?:
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s, _) = item else { throw error(item, "\(prefix)\(key)[\(i)]", "must be a string, not \(item.typeName)") }
                out.append(s)
            }
            return out
        case let other?: throw error(other, prefix + key, "must be an array of strings, not \(other.typeName)")
        }
    }

    func accessList(_ t: TOMLTable, _ key: String) throws(ConfigurationError) -> [AccessEntry] {
        var out: [AccessEntry] = []
        for (i, s) in try strings(t, key, prefix: "access.").enumerated() {
            let k = "access.\(key)[\(i)]"
            if s.hasPrefix("@") {
                guard let d = try? JID(String(s.dropFirst())), d.localpart == nil, d.resourcepart == nil else {
                    throw error(t[key], k, "'\(s)' is not a valid domain")
                }
                out.append(.domain(d.domainpart))
            } else {
                guard let j = try? JID(s) else { throw error(t[key], k, "'\(s)' is not a valid JID") }
                guard j.resourcepart == nil else { throw error(t[key], k, "'\(s)' must be a bare JID (no /resource)") }
                out.append(.jid(j))
            }
        }
        return out
    }

    /// A duration: a string such as "90s", "5m", "1h", "500ms", or an integer number of seconds.
    /// A duration in the one grammar of ``DurationText`` (`"500ms"`, `"1.5s"`, `"5m"`), always a string
    /// with a unit: a bare number could mean seconds or milliseconds, so it is refused with a hint.
    /// A duration too long for any setting is refused by the range check, naming the key.
    func duration(_ t: TOMLTable, _ key: String, prefix: String, range: ClosedRange<Int64>) throws(ConfigurationError) -> Int64? {
        guard let v = t[key] else { return nil }
        let ms: Int64
        switch v {
        case .integer(let n, _):
            throw error(v, prefix + key, "must be a duration written with its unit, such as \"\(n)s\" or \"\(n)ms\" (a bare \(n) could mean either)")
        case .string(let s, _):
            switch DurationText.parse(s) {
            case .success(let parsed): ms = parsed
            case .failure(.tooLong): ms = .max
            case .failure(let why): throw error(v, prefix + key, why.description)
            }
        default: throw error(v, prefix + key, "must be a duration such as \"90s\", not \(v.typeName)")
        }
        guard range.contains(ms) else {
            throw error(v, prefix + key, "must be between \(describeDuration(range.lowerBound)) and \(describeDuration(range.upperBound))")
        }
        return ms
    }
}

extension Reader {
    /// An array of tables (`[[output]]`), each with its line.
    func tables(_ t: TOMLTable, _ key: String) throws(ConfigurationError) -> [TOMLTable] {
        switch t[key] {
        case nil: return []
        case .array(let items, _)?:
            var out: [TOMLTable] = []
            for (i, item) in items.enumerated() {
                guard case .table(let table, _) = item else { throw error(item, "\(key)[\(i)]", "must be a table: write [[\(key)]]") }
                out.append(table)
            }
            return out
        case let other?: throw error(other, key, "must be written as [[\(key)]] tables, not \(other.typeName)")
        }
    }

    /// A number, integer or float.
    func number(_ t: TOMLTable, _ key: String, prefix: String) throws(ConfigurationError) -> Double? {
        switch t[key] {
        case nil: return nil
        case .integer(let v, _)?: return Double(v)
        case .float(let v, _)?:
            guard v.isFinite else { throw error(t[key], prefix + key, "must be a finite number") }
            return v
        case let other?: throw error(other, prefix + key, "must be a number, not \(other.typeName)")
        }
    }

    /// A string that must be one of `choices`.
    func choice(_ t: TOMLTable, _ key: String, prefix: String, _ choices: [String]) throws(ConfigurationError) -> String? {
        guard let s = try string(t, key, prefix: prefix) else { return nil }
        guard choices.contains(s) else {
            throw error(t[key], prefix + key, "must be one of \(choices.map { "\"\($0)\"" }.joined(separator: ", ")), not \"\(s)\"")
        }
        return s
    }
}
