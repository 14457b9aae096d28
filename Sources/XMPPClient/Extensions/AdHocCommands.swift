public import XMPPAddress
public import XMPPCore

/// XEP-0050: Ad-Hoc Commands, the protocol side: the `<command/>` element both ways, its status,
/// actions and notes, its specific errors, and the discovery entries of a command list. Which
/// commands exist and who may run them is the caller's business.
public enum AdHocCommands {
    public static let namespace = "http://jabber.org/protocol/commands"

    /// §6: the status of a command session.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case executing, completed, canceled
    }

    /// §6: what a request asks of the session; a request without one asks to `execute`.
    public enum Action: Sendable, Hashable {
        case execute, cancel, prev, next, complete
        /// A value the XEP does not define, as sent.
        case other(String)

        public init(_ text: String?) {
            switch text {
            case nil, "execute"?: self = .execute
            case "cancel"?: self = .cancel
            case "prev"?: self = .prev
            case "next"?: self = .next
            case "complete"?: self = .complete
            case let text?: self = .other(text)
            }
        }

        public var rawValue: String {
            switch self {
            case .execute: "execute"
            case .cancel: "cancel"
            case .prev: "prev"
            case .next: "next"
            case .complete: "complete"
            case .other(let s): s
            }
        }
    }

    /// §6: a note for the person running the command.
    public struct Note: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable {
            case info, warn, error
        }

        public var type: Kind
        public var text: String

        public init(_ type: Kind, _ text: String) {
            self.type = type
            self.text = text
        }

        public var element: XMLElement {
            XMLElement("note", namespace: AdHocCommands.namespace, attributes: [XMLAttribute("type", type.rawValue)], children: [.text(text)])
        }
    }

    /// §4.6: the actions a stage allows, and the one a client's "execute" button means.
    public struct Actions: Sendable, Hashable {
        public var execute: Action?
        public var allowed: [Action]

        public init(execute: Action?, allowed: [Action]) {
            self.execute = execute
            self.allowed = allowed
        }

        public var element: XMLElement {
            XMLElement("actions", namespace: AdHocCommands.namespace, attrs: ["execute": execute?.rawValue],
                       children: allowed.map { XMLElement($0.rawValue, namespace: AdHocCommands.namespace) })
        }
    }

    /// §4.4: the conditions that go beside the general one in an error.
    public enum SpecificCondition: String, Sendable, Hashable, CaseIterable {
        case badAction = "bad-action"
        case badLocale = "bad-locale"
        case badPayload = "bad-payload"
        case badSessionID = "bad-sessionid"
        case malformedAction = "malformed-action"
        case sessionExpired = "session-expired"
    }

    // MARK: Requests (what a requester sends)

    /// A command request as received.
    public struct Request: Sendable, Hashable {
        public var node: String
        /// As sent (it may be empty, which no session has).
        public var sessionID: String?
        public var action: Action
        /// The submitted data form, if the request carries one.
        public var form: XMLElement?

        public init(node: String, sessionID: String? = nil, action: Action = .execute, form: XMLElement? = nil) {
            self.node = node
            self.sessionID = sessionID
            self.action = action
            self.form = form
        }

        /// The submitted values, by field var.
        public var values: [String: String] { DataForm.values(form) }

        /// The `<command/>` element of this request.
        public var element: XMLElement {
            var cmd = XMLElement("command", namespace: AdHocCommands.namespace,
                                 attrs: ["node": node, "sessionid": sessionID, "action": action == .execute ? nil : action.rawValue])
            if let form { cmd.append(form) }
            return cmd
        }
    }

    /// Why an iq is not a command request (§4: an iq set with a `<command/>` naming its node).
    public enum RequestError: Error, Sendable, Hashable {
        case notASet
        case noCommand
        case noNode
    }

    /// The command request in `iq`.
    public static func request(in iq: XMLElement) -> Result<Request, RequestError> {
        guard iq.stanzaType == "set" else { return .failure(.notASet) }
        guard let cmd = iq.child("command", namespace: namespace) else { return .failure(.noCommand) }
        guard let node = cmd[attribute: "node"] else { return .failure(.noNode) }
        return .success(Request(node: node, sessionID: cmd[attribute: "sessionid"], action: Action(cmd[attribute: "action"]),
                                form: cmd.child("x", namespace: DataForm.ns)))
    }

    /// The iq that sends `request` to `to`.
    public static func iq(_ request: Request, id: String, to: JID) -> XMLElement {
        Stanza.iq(type: "set", id: id, to: to, payload: request.element)
    }

    // MARK: Responses (what the responder answers)

    /// A `<command/>` response: then its actions, note and form, each when given.
    public static func response(node: String, sessionID: String, status: Status, actions: Actions? = nil, note: Note? = nil,
                                form: XMLElement? = nil) -> XMLElement {
        var cmd = XMLElement("command", namespace: namespace, attrs: ["node": node, "sessionid": sessionID, "status": status.rawValue])
        if let actions { cmd.append(actions.element) }
        if let note { cmd.append(note.element) }
        if let form { cmd.append(form) }
        return cmd
    }

    /// A command response as received.
    public struct Response: Sendable, Hashable {
        public var node: String
        public var sessionID: String?
        public var status: Status
        public var actions: Actions?
        public var notes: [Note]
        public var form: XMLElement?
    }

    /// Why an answer is not a command response.
    public enum ResponseError: Error, Sendable, Hashable {
        case noCommand
        case noNode
        /// No `status`, or one that §6 does not define (as sent).
        case badStatus(String?)
    }

    /// The command response in `answer` (an iq result). A note of a type §6 does not define counts as
    /// `info` (its default); an unknown action is kept as ``Action/other(_:)``.
    public static func response(in answer: XMLElement) -> Result<Response, ResponseError> {
        guard let cmd = answer.child("command", namespace: namespace) else { return .failure(.noCommand) }
        guard let node = cmd[attribute: "node"] else { return .failure(.noNode) }
        guard let status = cmd[attribute: "status"].flatMap(Status.init(rawValue:)) else { return .failure(.badStatus(cmd[attribute: "status"])) }
        let actions = cmd.child("actions", namespace: namespace).map { a in
            Actions(execute: a[attribute: "execute"].map { Action($0) }, allowed: a.children(namespace: namespace).map { Action($0.name) })
        }
        let notes = cmd.children(namespace: namespace).filter { $0.name == "note" }.map {
            Note($0[attribute: "type"].flatMap(Note.Kind.init(rawValue:)) ?? .info, $0.text)
        }
        return .success(Response(node: node, sessionID: cmd[attribute: "sessionid"], status: status, actions: actions, notes: notes,
                                 form: cmd.child("x", namespace: DataForm.ns)))
    }

    /// An iq error with XEP-0050's specific condition beside the general one (§4.4).
    public static func error(for iq: XMLElement, _ condition: StanzaError.Condition, _ specific: SpecificCondition, text: String) -> XMLElement {
        var reply = Stanza.error(for: iq, StanzaError(condition, text: text))
        if let i = reply.children.lastIndex(where: { if case .element(let e) = $0 { return e.name == "error" } else { return false } }),
           case .element(var error) = reply.children[i] {
            error.append(XMLElement(specific.rawValue, namespace: namespace))
            reply.children[i] = .element(error)
        }
        return reply
    }

    /// The specific condition of an error answer, if it carries one.
    public static func specificCondition(in answer: XMLElement) -> SpecificCondition? {
        guard let error = answer.child("error", namespace: answer.namespace) else { return nil }
        return error.children(namespace: namespace).lazy.compactMap { SpecificCondition(rawValue: $0.name) }.first
    }

    // MARK: Discovery (§2)

    /// The disco#items entry of the command list, for an entity's own item list.
    public static func commandListItem(of jid: JID) -> DiscoItems.Item {
        DiscoItems.Item(jid: jid, node: namespace, name: "Commands")
    }

    /// A command's entry in the command list.
    public static func commandItem(of jid: JID, node: String, name: String) -> DiscoItems.Item {
        DiscoItems.Item(jid: jid, node: node, name: name)
    }

    /// The disco#info of the command list node: browsable (disco#items) and runnable (commands).
    public static var commandListInfo: XMLElement {
        DiscoInfo.query(node: namespace, identities: [.init(category: "automation", type: "command-list", name: "Commands")],
                        features: [XMPPNamespace.discoItems, namespace])
    }

    /// The disco#info of one command node (§2.3): it runs with data forms.
    public static func commandInfo(node: String, name: String) -> XMLElement {
        DiscoInfo.query(node: node, identities: [.init(category: "automation", type: "command-node", name: name)],
                        features: [namespace, DataForm.ns])
    }
}
