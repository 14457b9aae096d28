import XMPPCore

/// XEP-0004 data forms: just what the ad-hoc commands need to build and read.
enum DataForm {
    static let ns = "jabber:x:data"

    /// A choice of a list field: the value submitted, and the label shown (the value when nil).
    struct Option {
        var value: String
        var label: String?

        init(_ value: String, label: String? = nil) {
            self.value = value
            self.label = label
        }
    }

    struct Field {
        var variable: String
        var type: String
        var label: String?
        var options: [Option] = []
        var value: String?
        var required = false
        var desc: String?
    }

    static func form(type: String, title: String?, instructions: String?, fields: [Field]) -> XMLElement {
        var x = XMLElement("x", namespace: ns, attrs: ["type": type])
        if let title { x.append(.text("title", namespace: ns, title)) }
        if let instructions { x.append(.text("instructions", namespace: ns, instructions)) }
        for f in fields {
            var e = XMLElement("field", namespace: ns, attrs: ["var": f.variable, "type": f.type, "label": f.label])
            if let desc = f.desc { e.append(.text("desc", namespace: ns, desc)) }
            if f.required { e.append(XMLElement("required", namespace: ns)) }
            if let v = f.value { e.append(.text("value", namespace: ns, v)) }
            for o in f.options {
                e.append(XMLElement("option", namespace: ns, attrs: ["label": o.label ?? o.value], children: [.text("value", namespace: ns, o.value)]))
            }
            x.append(e)
        }
        return x
    }

    /// The values of a submitted form, by field var (first value of each).
    static func values(_ x: XMLElement?) -> [String: String] {
        guard let x, x.namespace == ns else { return [:] }
        var out: [String: String] = [:]
        for f in x.elements where f.name == "field" {
            if let v = f[attribute: "var"], let value = f.child("value", namespace: ns)?.text { out[v] = value }
        }
        return out
    }
}
