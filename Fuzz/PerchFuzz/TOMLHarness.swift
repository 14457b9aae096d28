import TOML

/// The input as a TOML document (the configuration file and the board profiles): the parser must
/// return a table or an error, never crash, and every line it reports must be one of the input's.
func fuzzTOML(_ data: UnsafeRawBufferPointer) {
    let text = String(decoding: data, as: UTF8.self)
    var lines = 1
    for b in text.utf8 where b == 0x0A { lines += 1 }
    do {
        let t = try TOMLParser.parse(text)
        visit(t, lines: lines)
    } catch {
        precondition((1...lines).contains(error.line), "error on line \(error.line) of \(lines): \(error.message)")
        _ = error.description
    }
}

private func visit(_ t: TOMLTable, lines: Int) {
    precondition((0...lines).contains(t.line))
    for key in t.keys {
        guard let v = t[key] else { preconditionFailure("key '\(key)' without a value") }
        visit(v, lines: lines)
    }
}

private func visit(_ v: TOMLValue, lines: Int) {
    precondition((1...lines).contains(v.line), "value on line \(v.line) of \(lines)")
    _ = v.typeName
    switch v {
    case .array(let items, _): for item in items { visit(item, lines: lines) }
    case .table(let t, _): visit(t, lines: lines)
    case .string, .integer, .float, .boolean: break
    }
}
