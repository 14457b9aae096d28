/// The `{name}` placeholders of an alert's message.
public enum AlertText {
    /// The names between braces, in order.
    public static func placeholders(in text: String) -> [String] {
        var out: [String] = []
        var current: String?
        for c in text {
            if c == "{" { current = "" } else if c == "}", let name = current {
                if !name.isEmpty { out.append(name) }
                current = nil
            } else if current != nil { current!.append(c) }
        }
        return out
    }

    /// `text` with each `{name}` replaced by `value(name)` (left as written when that is nil).
    public static func fill(_ text: String, _ value: (String) -> String?) -> String {
        var out = ""
        var current: String?
        for c in text {
            if c == "{" {
                if let pending = current { out += "{" + pending }
                current = ""
            } else if c == "}", let name = current {
                out += value(name) ?? "{\(name)}"
                current = nil
            } else if current != nil { current!.append(c) } else { out.append(c) }
        }
        if let pending = current { out += "{" + pending }
        return out
    }
}
