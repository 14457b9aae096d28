/// A node in an element tree: a child element or a run of character data.
public enum XMLNode: Hashable, Sendable {
    case element(XMLElement)
    case text(String)
}

/// An attribute. `namespace` is nil for ordinary (unprefixed) attributes; `xml:lang` is stored with
/// name `lang` and the XML namespace.
public struct XMLAttribute: Hashable, Sendable {
    public var name: String
    public var namespace: String?
    public var value: String

    public init(_ name: String, _ value: String, namespace: String? = nil) {
        self.name = name
        self.value = value
        self.namespace = namespace
    }
}

/// A minimal element tree for XMPP: one element with its namespace, attributes and children.
///
/// This is the subset of XML that XMPP uses (RFC 6120 §11): no comments, processing instructions,
/// DTDs or entity references ever appear in a tree. Namespaces are resolved: every element carries its
/// namespace URI, and the serializer emits `xmlns` only where a child's namespace differs from its parent's.
public struct XMLElement: Hashable, Sendable {
    public var name: String
    public var namespace: String
    public var attributes: [XMLAttribute]
    public var children: [XMLNode]

    public init(_ name: String, namespace: String, attributes: [XMLAttribute] = [], children: [XMLNode] = []) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
    }

    /// Convenience: attributes as an ordered list of (name, value) pairs, all unqualified.
    public init(_ name: String, namespace: String, attrs: KeyValuePairs<String, String?>, children: [XMLElement] = []) {
        self.name = name
        self.namespace = namespace
        self.attributes = attrs.compactMap { pair in pair.value.map { XMLAttribute(pair.key, $0) } }
        self.children = children.map(XMLNode.element)
    }

    // MARK: Attributes

    /// The value of an unqualified attribute.
    public subscript(attribute name: String) -> String? {
        get {
            for a in attributes where a.name == name && a.namespace == nil { return a.value }
            return nil
        }
        set {
            if let i = attributes.firstIndex(where: { $0.name == name && $0.namespace == nil }) {
                if let newValue { attributes[i].value = newValue } else { attributes.remove(at: i) }
            } else if let newValue {
                attributes.append(XMLAttribute(name, newValue))
            }
        }
    }

    /// The `xml:lang` attribute.
    public var lang: String? {
        attributes.first { $0.name == "lang" && $0.namespace == XMPPNamespace.xml }?.value
    }

    // MARK: Children

    /// Child elements, in document order.
    public var elements: [XMLElement] {
        children.compactMap { if case .element(let e) = $0 { return e } else { return nil } }
    }

    /// The first child element with this name and namespace (the parent's namespace when omitted).
    public func child(_ name: String, namespace: String? = nil) -> XMLElement? {
        let ns = namespace ?? self.namespace
        for case .element(let e) in children where e.name == name && e.namespace == ns { return e }
        return nil
    }

    /// Child elements in a namespace.
    public func children(namespace: String) -> [XMLElement] {
        children.compactMap { if case .element(let e) = $0, e.namespace == namespace { return e } else { return nil } }
    }

    /// The concatenated character data directly inside this element.
    public var text: String {
        var s = ""
        for case .text(let t) in children { s += t }
        return s
    }

    /// Appends a child element.
    public mutating func append(_ element: XMLElement) { children.append(.element(element)) }

    /// Appends character data.
    public mutating func append(text: String) { children.append(.text(text)) }

    /// A copy with one more child.
    public func appending(_ element: XMLElement) -> XMLElement {
        var copy = self
        copy.append(element)
        return copy
    }

    /// A text-only element: `<name xmlns=namespace>text</name>`.
    public static func text(_ name: String, namespace: String, _ text: String) -> XMLElement {
        XMLElement(name, namespace: namespace, children: [.text(text)])
    }
}
