import PerchConfig
import PerchGPIO
import PerchHardware
import PerchIO
import PerchLog
import PerchSensors
import XMPPAddress
import XMPPClient
import XMPPCore

/// Publishes readings and input events as pubsub items: to PEP on the device's own JID (XEP-0163) or to
/// a node on a pubsub service (XEP-0060). The node is created and configured when missing (access
/// model, max_items, persistence from the configuration). Each item carries typed fields with unit and
/// timestamp in the XEP-0323 `fields` shape.
///
/// While offline nothing is published here; the durable outbox (a later part) keeps those readings.
final class PubSubPublisher {
    static let ns = "http://jabber.org/protocol/pubsub"
    static let owner = "http://jabber.org/protocol/pubsub#owner"
    static let data = "urn:xmpp:iot:sensordata"

    let settings: Configuration.Telemetry
    let client: XMPPClient
    let logger: Logger
    let deviceName: String
    /// Where items go: the service, or nil for PEP (our own bare JID).
    let service: JID?
    let node: String
    private var ready = false
    private var queued: [XMLElement] = []

    init(settings: Configuration.Telemetry, client: XMPPClient, deviceName: String, logger: Logger) {
        self.settings = settings
        self.client = client
        self.deviceName = deviceName
        self.logger = logger
        service = settings.pubsub == .service ? settings.service.flatMap { try? JID($0) } : nil
        node = settings.node ?? "urn:xmpp:perch:readings:0"
    }

    var enabled: Bool { settings.pubsub != .none }

    /// The session is up: make sure the node exists with our configuration, then publish.
    func online() {
        guard enabled else { return }
        ready = false
        if service == nil {
            // PEP creates the node on first publish, with our publish-options.
            ready = true
            flush()
            return
        }
        ensureNode { [weak self] ok in
            guard let self else { return }
            self.ready = ok
            if ok { self.flush() }
        }
    }

    func offline() { ready = false }

    /// A reading as an item.
    func publish(_ reading: Reading, precision: Int) {
        guard enabled else { return }
        var f: XMLElement
        switch reading.value {
        case .number:
            f = XMLElement("numeric", namespace: Self.data, attrs: ["name": reading.sensor, "momentary": "true", "automaticReadout": "true", "value": reading.value.description, "nrDecimals": String(precision)])
            if !reading.unit.isEmpty { f.attributes.append(.init("unit", reading.unit)) }
        case .boolean(let b):
            f = XMLElement("boolean", namespace: Self.data, attrs: ["name": reading.sensor, "momentary": "true", "automaticReadout": "true", "value": b ? "true" : "false"])
        }
        enqueue(id: "\(reading.sensor)-\(reading.timestamp)", fields: [f], at: reading.timestamp)
    }

    /// An input change, at once (an event, not a sampled value).
    func publishEvent(input: String, value: Bool, at ms: Int64) {
        guard enabled else { return }
        let f = XMLElement("boolean", namespace: Self.data, attrs: ["name": input, "momentary": "true", "value": value ? "true" : "false"])
        enqueue(id: "\(input)-\(ms)", fields: [f], at: ms)
    }

    private func enqueue(id: String, fields: [XMLElement], at ms: Int64) {
        let stamp = WallClock.iso8601(seconds: ms / 1000, millis: Int(ms % 1000))
        let timestamp = XMLElement("timestamp", namespace: Self.data, attributes: [.init("value", stamp)], children: fields.map { .element($0) })
        let payload = XMLElement("fields", namespace: Self.data, children: [.element(XMLElement("node", namespace: Self.data, attributes: [.init("nodeId", deviceName)], children: [.element(timestamp)]))])
        let item = XMLElement("item", namespace: Self.ns, attributes: [.init("id", id)], children: [.element(payload)])
        guard ready, case .online = client.status else {
            // Only the latest few wait for the session here; the outbox is where history is kept.
            queued.append(item)
            if queued.count > 64 { queued.removeFirst(queued.count - 64) }
            return
        }
        send(item)
    }

    private func flush() {
        let items = queued
        queued = []
        for item in items { send(item) }
    }

    /// PEP: whether the server takes our configuration as publish-options (ejabberd refuses some
    /// fields there); if not, the node is configured once after the first publish creates it.
    private var usePublishOptions = true
    private var configured = false

    private func send(_ item: XMLElement, retry: Bool = true) {
        var publish = XMLElement("publish", namespace: Self.ns, attrs: ["node": node])
        publish.append(item)
        var pubsub = XMLElement("pubsub", namespace: Self.ns)
        pubsub.append(publish)
        let withOptions = service == nil && usePublishOptions
        if withOptions { pubsub.append(XMLElement("publish-options", namespace: Self.ns, children: [.element(configForm(publishOptions: true))])) }
        client.sendIQ(Stanza.iq(type: "set", id: client.makeID("pub"), to: service, payload: pubsub)) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success:
                if self.service == nil, !self.usePublishOptions, !self.configured {
                    self.configured = true
                    self.configure { _ in }
                }
            case .failure(let e):
                if withOptions && retry {
                    self.logger.info("the server refused our publish-options (\(e)); configuring the PEP node instead")
                    self.usePublishOptions = false
                    self.send(item, retry: false)
                    return
                }
                self.logger.warning("publishing to \(self.service?.description ?? "PEP") node \(self.node) failed: \(e)")
            }
        }
    }

    /// The node's configuration as a form: access model, max_items, persistence.
    func configForm(publishOptions: Bool) -> XMLElement {
        let formType = publishOptions ? "http://jabber.org/protocol/pubsub#publish-options" : "http://jabber.org/protocol/pubsub#node_config"
        return DataForm.form(type: "submit", title: nil, instructions: nil, fields: [
            .init(variable: "FORM_TYPE", type: "hidden", value: formType),
            .init(variable: "pubsub#access_model", type: "list-single", value: settings.accessModel),
            .init(variable: "pubsub#max_items", type: "text-single", value: String(settings.maxItems)),
            .init(variable: "pubsub#persist_items", type: "boolean", value: settings.persist ? "true" : "false"),
        ])
    }

    /// Creates the service node if it does not exist, and (re)applies our configuration.
    private func ensureNode(_ done: @escaping (Bool) -> Void) {
        var pubsub = XMLElement("pubsub", namespace: Self.ns)
        pubsub.append(XMLElement("create", namespace: Self.ns, attrs: ["node": node]))
        pubsub.append(XMLElement("configure", namespace: Self.ns, children: [.element(configForm(publishOptions: false))]))
        client.sendIQ(Stanza.iq(type: "set", id: client.makeID("create"), to: service, payload: pubsub)) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success:
                self.logger.notice("created pubsub node \(self.node) on \(self.service?.description ?? "PEP") (access model \(self.settings.accessModel))")
                done(true)
            case .failure(let e) where e.condition == .conflict:
                // It exists: apply our configuration to it.
                self.configure(done)
            case .failure(let e):
                self.logger.error("cannot create pubsub node \(self.node) on \(self.service?.description ?? "PEP"): \(e); readings are not published (the account may need the right to create nodes there)")
                done(false)
            }
        }
    }

    private func configure(_ done: @escaping (Bool) -> Void) {
        let payload = XMLElement("pubsub", namespace: Self.owner, children: [
            .element(XMLElement("configure", namespace: Self.owner, attrs: ["node": node], children: [configForm(publishOptions: false)]))
        ])
        client.sendIQ(Stanza.iq(type: "set", id: client.makeID("cfg"), to: service, payload: payload)) { [weak self] result in
            guard let self else { return }
            if case .failure(let e) = result {
                self.logger.warning("cannot configure pubsub node \(self.node): \(e); publishing with its current configuration")
            }
            done(true)
        }
    }

    // MARK: Subscriptions (owners)

    /// The node's subscriptions, as text for a person.
    func listSubscriptions(_ completion: @escaping (Result<[String], StanzaError>) -> Void) {
        let payload = XMLElement("pubsub", namespace: Self.owner, children: [.element(XMLElement("subscriptions", namespace: Self.owner, attrs: ["node": node]))])
        client.sendIQ(Stanza.iq(type: "get", id: client.makeID("subs"), to: service, payload: payload)) { result in
            completion(result.map { iq in
                iq.child("pubsub", namespace: Self.owner)?.child("subscriptions", namespace: Self.owner)?.elements.compactMap { s in
                    s[attribute: "jid"].map { "\($0) (\(s[attribute: "subscription"] ?? "?"))" }
                } ?? []
            })
        }
    }

    /// Removes a JID's subscription to the node.
    func removeSubscription(_ jid: JID, _ completion: @escaping (Result<Void, StanzaError>) -> Void) {
        let sub = XMLElement("subscription", namespace: Self.owner, attrs: ["jid": jid.description, "subscription": "none"])
        let payload = XMLElement("pubsub", namespace: Self.owner, children: [.element(XMLElement("subscriptions", namespace: Self.owner, attrs: ["node": node], children: [sub]))])
        client.sendIQ(Stanza.iq(type: "set", id: client.makeID("unsub"), to: service, payload: payload)) { result in
            completion(result.map { _ in () })
        }
    }
}
