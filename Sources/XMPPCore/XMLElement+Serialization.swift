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
        if !s.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D) }) {
            out += s
            return
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 { continue }
                out.unicodeScalars.append(scalar)
            }
        }
    }

    /// Escapes an attribute value written between single quotes. Quotes of both kinds are escaped, and
    /// tab/newline/carriage return become character references so attribute normalisation keeps them.
    public static func escapeAttribute(_ s: String, into out: inout String) {
        if !s.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 || $0 < 0x20 }) {
            out += s
            return
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "'": out += "&apos;"
            case "\"": out += "&quot;"
            case "\t": out += "&#9;"
            case "\n": out += "&#10;"
            case "\r": out += "&#13;"
            default:
                if scalar.value < 0x20 { continue }
                out.unicodeScalars.append(scalar)
            }
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
