extension XMLElement {
    /// Serializes the element as it appears inside a stream whose default namespace is `parentNamespace`
    /// (`jabber:client` for stanzas). `xmlns` is written only where the namespace changes.
    public func serialized(parentNamespace: String = XMPPNamespace.client) -> String {
        var out = ""
        write(into: &out, parentNamespace: parentNamespace)
        return out
    }

    /// Appends the serialization to `out`.
    public func write(into out: inout String, parentNamespace: String) {
        out += "<"
        out += name
        if namespace != parentNamespace {
            out += " xmlns='"
            XMLEscaping.escapeAttribute(namespace, into: &out)
            out += "'"
        }
        var prefixes: [String: String] = [:]
        for a in attributes {
            out += " "
            if let ns = a.namespace {
                if ns == XMPPNamespace.xml {
                    out += "xml:"
                } else {
                    let prefix = prefixes[ns] ?? "ns\(prefixes.count)"
                    if prefixes[ns] == nil {
                        prefixes[ns] = prefix
                        out += "xmlns:\(prefix)='"
                        XMLEscaping.escapeAttribute(ns, into: &out)
                        out += "' "
                    }
                    out += prefix + ":"
                }
            }
            out += a.name
            out += "='"
            XMLEscaping.escapeAttribute(a.value, into: &out)
            out += "'"
        }
        if children.isEmpty {
            out += "/>"
            return
        }
        out += ">"
        for child in children {
            switch child {
            case .element(let e): e.write(into: &out, parentNamespace: namespace)
            case .text(let t): XMLEscaping.escapeText(t, into: &out)
            }
        }
        out += "</"
        out += name
        out += ">"
    }
}

/// Escaping for character data and attribute values (XML 1.0 §2.4, §3.3.3).
public enum XMLEscaping {
    /// Escapes `&`, `<`, `>` in character data. `>` is escaped too so `]]>` can never appear.
    /// Characters that XML 1.0 cannot carry at all (most C0 controls) are dropped.
    public static func escapeText(_ s: String, into out: inout String) {
        escape(s, into: &out) { byte in
            switch byte {
            case 0x26: "&amp;"
            case 0x3C: "&lt;"
            case 0x3E: "&gt;"
            case 0x09, 0x0A, 0x0D: nil
            case ..<0x20: ""
            default: nil
            }
        }
    }

    /// Escapes an attribute value written between single quotes. Quotes of both kinds are escaped, and
    /// tab/newline/carriage return become character references so attribute normalisation keeps them.
    public static func escapeAttribute(_ s: String, into out: inout String) {
        escape(s, into: &out) { byte in
            switch byte {
            case 0x26: "&amp;"
            case 0x3C: "&lt;"
            case 0x3E: "&gt;"
            case 0x27: "&apos;"
            case 0x22: "&quot;"
            case 0x09: "&#9;"
            case 0x0A: "&#10;"
            case 0x0D: "&#13;"
            case ..<0x20: ""
            default: nil
            }
        }
    }

    /// Copies `s` to `out`, each ASCII byte `replacement` maps replaced by what it gives ("" drops
    /// it): the runs between such bytes are appended whole, not one scalar at a time. Every byte of a
    /// multi-byte UTF-8 sequence is 0x80 or above, so the indices cut only between scalars.
    @inline(__always)
    private static func escape(_ s: String, into out: inout String, _ replacement: (UInt8) -> String?) {
        let bytes = s.utf8
        var run = bytes.startIndex
        var i = run
        while i != bytes.endIndex {
            let next = bytes.index(after: i)
            if let r = replacement(bytes[i]) {
                if run != i { out += s[run..<i] }
                out += r
                run = next
            }
            i = next
        }
        if run == bytes.startIndex {
            out += s
        } else if run != bytes.endIndex {
            out += s[run..<bytes.endIndex]
        }
    }

    public static func escapeText(_ s: String) -> String {
        var out = ""
        escapeText(s, into: &out)
        return out
    }

    public static func escapeAttribute(_ s: String) -> String {
        var out = ""
        escapeAttribute(s, into: &out)
        return out
    }
}
