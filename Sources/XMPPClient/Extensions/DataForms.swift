public import XMPPCore

/// XEP-0004: Data Forms, what Perch builds (the ad-hoc commands' forms and results, the pubsub
/// node configuration) and reads (a submitted form's values).
public enum DataForm {
    public static let ns = "jabber:x:data"

    /// A choice of a list field: the value submitted, and the label shown (the value when nil).
    public struct Option: Sendable, Hashable {
        public var value: String
        public var label: String?

        public init(_ value: String, label: String? = nil) {
            self.value = value
            self.label = label
        }
    }

    /// A field (§3.2). `type` is a field type of §3.3 (`list-single`, `text-single`, `hidden`, …).
    public struct Field: Sendable, Hashable {
        public var variable: String
        public var type: String
        public var label: String?
        public var options: [Option]
        public var value: String?
        public var required: Bool
        public var desc: String?

        public init(variable: String, type: String, label: String? = nil, options: [Option] = [], value: String? = nil,
                    required: Bool = false, desc: String? = nil) {
            self.variable = variable
            self.type = type
            self.label = label
            self.options = options
            self.value = value
            self.required = required
            self.desc = desc
        }
    }

    /// A form of `type` (§3.1: `form`, `submit`, `cancel`, `result`).
    public static func form(type: String, title: String?, instructions: String?, fields: [Field]) -> XMLElement {
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

    /// The values of a submitted form, by field var (first value of each). Empty when `x` is nil or
    /// not a data form; fields without a `var` or a value are left out.
    public static func values(_ x: XMLElement?) -> [String: String] {
        guard let x, x.namespace == ns else { return [:] }
        var out: [String: String] = [:]
        for f in x.elements where f.name == "field" {
            if let v = f[attribute: "var"], let value = f.child("value", namespace: ns)?.text { out[v] = value }
        }
        return out
    }
}
