/// The document while it is parsed: tables are objects, so a header or a dotted key adds to a table
/// in place, and each table remembers how it came to exist, which decides what may still add to it
/// (TOML 1.0, "Table", "Array of Tables" and "Inline Table").
final class TOMLNode {
    enum Origin: Equatable {
        /// The document root.
        case root
        /// Created on the way to a deeper header (`a` for `[a.b]`): a later `[a]` may still define it.
        case implicit
        /// Defined by a `[header]`: no other header may define it again, nor may dotted keys written
        /// under another header add to it.
        case header
        /// Defined by dotted keys (`a.b = 1` defines `a`) under the header numbered `section` (inline
        /// tables count as sections of their own): only dotted keys of the same section add to it.
        case dotted(section: Int)
        /// An element of an array of tables (`[[a]]`).
        case arrayElement
    }

    enum Entry {
        case table(TOMLNode)
        case tables(TOMLTableArray)
        /// A finished value: a scalar, an array or an inline table, none of which can be extended.
        case value(TOMLValue)
    }

    var origin: Origin
    var line: Int
    /// How many tables and arrays enclose this table (the root: 0).
    let depth: Int
    private(set) var keys: [String] = []
    private var entries: [TOMLKey: Entry] = [:]

    init(origin: Origin, line: Int, depth: Int) {
        self.origin = origin
        self.line = line
        self.depth = depth
    }

    subscript(key: String) -> Entry? {
        get { entries[TOMLKey(key)] }
        set {
            let k = TOMLKey(key)
            if entries[k] == nil { keys.append(key) }
            entries[k] = newValue
        }
    }

    /// The finished table. The depth limit keeps this recursion shallow.
    func table() -> TOMLTable {
        var t = TOMLTable(line: line)
        for key in keys {
            switch self[key]! {
            case .table(let n): t.set(key, .table(n.table(), line: n.line))
            case .tables(let a): t.set(key, .array(a.nodes.map { .table($0.table(), line: $0.line) }, line: a.line))
            case .value(let v): t.set(key, v)
            }
        }
        return t
    }
}

/// An array of tables, appended to by each `[[header]]`.
final class TOMLTableArray {
    var nodes: [TOMLNode]
    let line: Int
    init(first: TOMLNode) {
        nodes = [first]
        line = first.line
    }
}
