public import XMPPAddress
public import XMPPCore

/// XEP-0323: Internet of Things - Sensor Data, as its last published version has it (retracted, but
/// the only standard vocabulary existing libraries speak): a momentary readout request and its
/// answer, and the `<fields/>` tree that carries readings (in a message, or as a pubsub item).
public enum IoTSensorData {
    public static let namespace = "urn:xmpp:iot:sensordata"

    // MARK: Fields

    /// One field of a readout.
    public struct Field: Sendable, Hashable {
        public enum Value: Sendable, Hashable {
            /// The value as written (a decimal number), its unit ("" for none) and the decimals shown.
            case numeric(String, unit: String, decimals: Int?)
            case boolean(Bool)
            /// A field type this file does not model (`string`, `int`, `dateTime`, …) and its value.
            case other(type: String, value: String)
        }

        /// The field's flags that Perch writes or reads.
        public struct Flags: OptionSet, Sendable, Hashable {
            public let rawValue: UInt8
            public init(rawValue: UInt8) { self.rawValue = rawValue }

            public static let momentary = Flags(rawValue: 1 << 0)
            public static let status = Flags(rawValue: 1 << 1)
            /// Not in XEP-0323: marks a field XEP-0325 can set (an output).
            public static let writable = Flags(rawValue: 1 << 2)
            public static let automaticReadout = Flags(rawValue: 1 << 3)

            /// Each flag with its attribute name, in the order they are written.
            static let all: [(Flags, String)] = [(.momentary, "momentary"), (.status, "status"), (.writable, "writable"), (.automaticReadout, "automaticReadout")]
        }

        public var name: String
        public var value: Value
        public var flags: Flags

        public init(name: String, value: Value, flags: Flags) {
            self.name = name
            self.value = value
            self.flags = flags
        }

        /// `<numeric name='…' momentary='true' … value='…' unit='…' nrDecimals='…'/>`: the name, the
        /// flags set, the value, then the unit (when not empty) and the decimals.
        public var element: XMLElement {
            let type: String
            switch value {
            case .numeric: type = "numeric"
            case .boolean: type = "boolean"
            case .other(let t, _): type = t
            }
            var e = XMLElement(type, namespace: IoTSensorData.namespace, attributes: [XMLAttribute("name", name)])
            for (flag, attribute) in Flags.all where flags.contains(flag) { e.attributes.append(XMLAttribute(attribute, "true")) }
            switch value {
            case .numeric(let v, let unit, let decimals):
                e.attributes.append(XMLAttribute("value", v))
                if !unit.isEmpty { e.attributes.append(XMLAttribute("unit", unit)) }
                if let decimals { e.attributes.append(XMLAttribute("nrDecimals", String(decimals))) }
            case .boolean(let b):
                e.attributes.append(XMLAttribute("value", b ? "true" : "false"))
            case .other(_, let v):
                e.attributes.append(XMLAttribute("value", v))
            }
            return e
        }
    }

    /// `<timestamp value='…'>` around the fields read at that time (`stamp`: an XEP-0082 DateTime).
    public static func timestamp(_ stamp: String, _ fields: [Field]) -> XMLElement {
        XMLElement("timestamp", namespace: namespace, attributes: [XMLAttribute("value", stamp)], children: fields.map { .element($0.element) })
    }

    /// A readout error of a node (a field that could not be read), stamped.
    public static func error(nodeID: String, timestamp: String, _ text: String) -> XMLElement {
        XMLElement("error", namespace: namespace, attributes: [XMLAttribute("nodeId", nodeID), XMLAttribute("timestamp", timestamp)], children: [.text(text)])
    }

    /// `<node nodeId='…'>`: the timestamps, then the errors.
    public static func node(_ id: String, timestamps: [XMLElement], errors: [XMLElement] = []) -> XMLElement {
        XMLElement("node", namespace: namespace, attributes: [XMLAttribute("nodeId", id)], children: (timestamps + errors).map { .element($0) })
    }

    /// The `<fields/>` of one node: of a request (its id, and `done` on the last message), or on
    /// their own (a pubsub item).
    public static func fields(request: RequestID? = nil, done: Bool = false, _ node: XMLElement) -> XMLElement {
        var attributes: [XMLAttribute] = []
        if let request { attributes.append(XMLAttribute(request.key, request.value)) }
        if done { attributes.append(XMLAttribute("done", "true")) }
        return XMLElement("fields", namespace: namespace, attributes: attributes, children: [.element(node)])
    }

    /// The message that carries a readout's fields to the requester.
    public static func message(to: JID, id: String, _ fields: XMLElement) -> XMLElement {
        var m = XMLElement("message", namespace: XMPPNamespace.client, attrs: ["to": to.description, "id": id])
        m.append(fields)
        return m
    }

    // MARK: Readout requests

    /// The id of a request: the last versions name it `id`, early ones `seqnr`. An answer uses the
    /// request's terms.
    public struct RequestID: Sendable, Hashable {
        public var key: String
        public var value: String

        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    /// A readout request (`<req/>`).
    public struct ReadoutRequest: Sendable, Hashable {
        public var id: RequestID
        /// The fields asked for, by name as sent (none: all).
        public var fieldNames: [String]
    }

    /// Why an iq is not a readout request.
    public enum RequestError: Error, Sendable, Hashable {
        case notAGet
        case noRequest
    }

    /// The readout request in `iq`: an iq get with `<req/>`. A request without an id is id `1`
    /// (under `seqnr`, as the early versions that omit it name it); a `<field/>` without a name is left out.
    public static func readoutRequest(in iq: XMLElement) -> Result<ReadoutRequest, RequestError> {
        guard iq.stanzaType == "get" else { return .failure(.notAGet) }
        guard let req = iq.child("req", namespace: namespace) else { return .failure(.noRequest) }
        let key = req[attribute: "id"] != nil ? "id" : "seqnr"
        let id = RequestID(key: key, value: req[attribute: key] ?? "1")
        let names = req.children(namespace: namespace).filter { $0.name == "field" }.compactMap { $0[attribute: "name"] }
        return .success(ReadoutRequest(id: id, fieldNames: names))
    }

    /// A readout request to send: momentary values, of `fields` only when given.
    public static func readoutRequest(id: String, to: JID, requestID: String, fields: [String] = []) -> XMLElement {
        let req = XMLElement("req", namespace: namespace, attrs: ["id": requestID, "momentary": "true"],
                             children: fields.map { XMLElement("field", namespace: namespace, attrs: ["name": $0]) })
        return Stanza.iq(type: "get", id: id, to: to, payload: req)
    }

    /// The `<accepted/>` answer to a request (`queued`: the readout comes later).
    public static func accepted(_ request: RequestID, queued: Bool) -> XMLElement {
        XMLElement("accepted", namespace: namespace, attributes: [XMLAttribute(request.key, request.value), XMLAttribute("queued", queued ? "true" : "false")])
    }

    // MARK: Reading readouts

    /// A `<fields/>` as received.
    public struct Readout: Sendable, Hashable {
        public var request: RequestID?
        public var done: Bool
        public var nodes: [Node]
    }

    public struct Node: Sendable, Hashable {
        public var id: String
        public var timestamps: [Timestamp]
        /// The texts of the node's readout errors.
        public var errors: [String]
    }

    public struct Timestamp: Sendable, Hashable {
        /// Unix milliseconds.
        public var stamp: Int64
        public var fields: [Field]
    }

    /// What makes a `<fields/>` unreadable.
    public enum ReadoutError: Error, Sendable, Hashable {
        /// No `<fields/>` in this namespace.
        case noFields
        case nodeWithoutID
        /// A timestamp whose `value` is missing or not an XEP-0082 DateTime (as sent).
        case badTimestamp(String?)
        case fieldWithoutName
        case fieldWithoutValue(String)
        /// A boolean field whose value is not an xs:boolean.
        case notABoolean(name: String, value: String)
    }

    /// The readout in `stanza` (a message, a pubsub item) or `stanza` itself when it is the
    /// `<fields/>`. Flags Perch does not model are ignored; so are elements in other namespaces.
    public static func readout(in stanza: XMLElement) -> Result<Readout, ReadoutError> {
        guard let f = stanza.name == "fields" && stanza.namespace == namespace ? stanza : stanza.child("fields", namespace: namespace) else {
            return .failure(.noFields)
        }
        let request = f[attribute: "id"].map { RequestID(key: "id", value: $0) } ?? f[attribute: "seqnr"].map { RequestID(key: "seqnr", value: $0) }
        var nodes: [Node] = []
        for n in f.children(namespace: namespace) where n.name == "node" {
            guard let id = n[attribute: "nodeId"] else { return .failure(.nodeWithoutID) }
            var node = Node(id: id, timestamps: [], errors: [])
            for child in n.children(namespace: namespace) {
                switch child.name {
                case "timestamp":
                    guard let text = child[attribute: "value"], let stamp = XMPPDateTime.parse(text) else { return .failure(.badTimestamp(child[attribute: "value"])) }
                    var fields: [Field] = []
                    for e in child.children(namespace: namespace) {
                        switch field(e) {
                        case .success(let field): fields.append(field)
                        case .failure(let why): return .failure(why)
                        }
                    }
                    node.timestamps.append(Timestamp(stamp: stamp, fields: fields))
                case "error":
                    node.errors.append(child.text)
                default:
                    continue
                }
            }
            nodes.append(node)
        }
        return .success(Readout(request: request, done: f[attribute: "done"] == "true", nodes: nodes))
    }

    static func field(_ e: XMLElement) -> Result<Field, ReadoutError> {
        guard let name = e[attribute: "name"] else { return .failure(.fieldWithoutName) }
        guard let v = e[attribute: "value"] else { return .failure(.fieldWithoutValue(name)) }
        var flags: Field.Flags = []
        for (flag, attribute) in Field.Flags.all where e[attribute: attribute] == "true" || e[attribute: attribute] == "1" { flags.insert(flag) }
        let value: Field.Value
        switch e.name {
        case "numeric":
            value = .numeric(v, unit: e[attribute: "unit"] ?? "", decimals: e[attribute: "nrDecimals"].flatMap { Int($0) })
        case "boolean":
            guard let b = xsBoolean(v) else { return .failure(.notABoolean(name: name, value: v)) }
            value = .boolean(b)
        default:
            value = .other(type: e.name, value: v)
        }
        return .success(Field(name: name, value: value, flags: flags))
    }

    /// xs:boolean: true, false, 1, 0.
    public static func xsBoolean(_ s: String) -> Bool? {
        ["true": true, "1": true, "false": false, "0": false][s]
    }
}
