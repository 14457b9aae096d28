public import XMPPAddress
public import XMPPCore

/// XEP-0325: Internet of Things - Control, as its last published version has it (retracted, but the
/// only standard vocabulary existing libraries speak): a `<set/>` of typed parameters, in an iq or a
/// message, and its `<setResponse/>`. What a parameter may name and do is the device's business.
public enum IoTControl {
    public static let namespace = "urn:xmpp:iot:control"

    /// One parameter of a `<set/>`: `<boolean name='pump' value='true'/>`.
    public struct Parameter: Sendable, Hashable {
        /// The parameter types Perch knows (§3.2 has more: they are ``other(_:)``).
        public enum Kind: Sendable, Hashable {
            case boolean, int, long, duration
            case other(String)

            public init(_ elementName: String) {
                switch elementName {
                case "boolean": self = .boolean
                case "int": self = .int
                case "long": self = .long
                case "duration": self = .duration
                default: self = .other(elementName)
                }
            }

            public var elementName: String {
                switch self {
                case .boolean: "boolean"
                case .int: "int"
                case .long: "long"
                case .duration: "duration"
                case .other(let name): name
                }
            }
        }

        public var kind: Kind
        public var name: String
        /// The value as sent.
        public var value: String

        public init(_ kind: Kind, name: String, value: String) {
            self.kind = kind
            self.name = name
            self.value = value
        }

        /// The value as an xs:boolean (true, false, 1, 0).
        public var booleanValue: Bool? { IoTSensorData.xsBoolean(value) }

        /// The value as an xs:duration, in milliseconds (see ``IoTControl/parseXSDuration(_:)``).
        public var durationMilliseconds: Int64? { IoTControl.parseXSDuration(value) }

        public var element: XMLElement {
            XMLElement(kind.elementName, namespace: IoTControl.namespace, attrs: ["name": name, "value": value])
        }
    }

    /// Why a parameter element cannot be read.
    public enum ParameterError: Error, Sendable, Hashable {
        /// No `name` or no `value` (the element's name as sent).
        case missingNameOrValue(element: String)
    }

    /// The parameter an element of a `<set/>` is.
    public static func parameter(_ e: XMLElement) -> Result<Parameter, ParameterError> {
        guard let name = e[attribute: "name"], let value = e[attribute: "value"] else { return .failure(.missingNameOrValue(element: e.name)) }
        return .success(Parameter(Parameter.Kind(e.name), name: name, value: value))
    }

    /// The `<set/>` of a stanza (an iq set, or a message: §3.1), if it carries one.
    public static func set(in stanza: XMLElement) -> XMLElement? {
        stanza.child("set", namespace: namespace)
    }

    /// A `<set/>` of these parameters.
    public static func set(_ parameters: [Parameter]) -> XMLElement {
        XMLElement("set", namespace: namespace, children: parameters.map { .element($0.element) })
    }

    /// The iq that asks `to` to set the parameters.
    public static func setRequest(id: String, to: JID, _ parameters: [Parameter]) -> XMLElement {
        Stanza.iq(type: "set", id: id, to: to, payload: set(parameters))
    }

    /// The answer when every parameter was set.
    public static var setResponse: XMLElement { XMLElement("setResponse", namespace: namespace) }

    /// An error reply to `request` (an iq or a message) with a `<setResponse/>` naming the
    /// parameter at fault, when one is.
    public static func errorReply(to request: XMLElement, parameter: String?, _ error: StanzaError) -> XMLElement {
        var reply = Stanza.error(for: request, error)
        var response = setResponse
        if let parameter { response.append(XMLElement("parameter", namespace: namespace, attrs: ["name": parameter])) }
        reply.children.insert(.element(response), at: 0)
        return reply
    }

    /// The parameters an error answer names as at fault (none when it names none or is no such error).
    public static func failedParameters(in answer: XMLElement) -> [String] {
        guard answer.stanzaType == "error", let response = answer.child("setResponse", namespace: namespace) else { return [] }
        return response.children(namespace: namespace).filter { $0.name == "parameter" }.compactMap { $0[attribute: "name"] }
    }

    /// xs:duration, the parts a pulse needs: `PT5S`, `PT0.5S`, `PT1M30S`, `PT2H`; nil for anything
    /// else (days, a sign, a part without a number) and for 1e12 ms or more.
    public static func parseXSDuration(_ s: String) -> Int64? {
        guard s.hasPrefix("PT"), s.count > 2 else { return nil }
        var total = 0.0
        var number = ""
        for c in s.dropFirst(2) {
            if c.isNumber || c == "." { number.append(c); continue }
            guard let n = Double(number) else { return nil }
            switch c {
            case "H": total += n * 3_600_000
            case "M": total += n * 60_000
            case "S": total += n * 1000
            default: return nil
            }
            number = ""
        }
        guard number.isEmpty, total < 1e12 else { return nil }
        return Int64(total.rounded())
    }
}
