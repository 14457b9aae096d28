public import XMPPAddress
public import XMPPCore

/// XEP-0060: Publish-Subscribe, the protocol side, and XEP-0163: Personal Eventing Protocol (the
/// same requests sent to the account's own bare JID: `to` nil). What is published, when, and what a
/// failure means to the publisher is the caller's business.
public enum PubSub {
    public static let namespace = "http://jabber.org/protocol/pubsub"
    /// §8: the owner's use cases (configuration, subscriptions).
    public static let owner = "http://jabber.org/protocol/pubsub#owner"
    /// §7.1.3 and on: the conditions beside a stanza error.
    public static let errors = "http://jabber.org/protocol/pubsub#errors"
    /// §16.4.6 and §16.4.4: the FORM_TYPE of publish-options and of a node configuration.
    public static let publishOptionsFormType = "http://jabber.org/protocol/pubsub#publish-options"
    public static let nodeConfigFormType = "http://jabber.org/protocol/pubsub#node_config"

    /// The node configuration Perch sets (§16.4.4), as a form both for publish-options (§7.1.5) and
    /// for creating or configuring a node (§8.1.3, §8.2.4).
    public struct NodeConfiguration: Sendable, Hashable {
        /// `pubsub#access_model`: open, presence, roster, whitelist, authorize.
        public var accessModel: String
        public var maxItems: Int
        public var persistItems: Bool

        public init(accessModel: String, maxItems: Int, persistItems: Bool) {
            self.accessModel = accessModel
            self.maxItems = maxItems
            self.persistItems = persistItems
        }

        /// The submitted form, typed as publish-options or as a node configuration.
        public func form(publishOptions: Bool) -> XMLElement {
            DataForm.form(type: "submit", title: nil, instructions: nil, fields: [
                .init(variable: "FORM_TYPE", type: "hidden", value: publishOptions ? PubSub.publishOptionsFormType : PubSub.nodeConfigFormType),
                .init(variable: "pubsub#access_model", type: "list-single", value: accessModel),
                .init(variable: "pubsub#max_items", type: "text-single", value: String(maxItems)),
                .init(variable: "pubsub#persist_items", type: "boolean", value: persistItems ? "true" : "false"),
            ])
        }
    }

    static func pubsub(_ namespace: String, _ children: [XMLElement]) -> XMLElement {
        XMLElement("pubsub", namespace: namespace, children: children.map { .element($0) })
    }

    // MARK: Publishing (§7.1, §7.2)

    /// Publishes `payload` as item `itemID` of `node` (§7.1.1), with publish-options when given
    /// (§7.1.5: the node is created with them, or the publish fails when they do not match it).
    public static func publish(id: String, to service: JID?, node: String, itemID: String, payload: XMLElement,
                               options: NodeConfiguration? = nil) -> XMLElement {
        let item = XMLElement("item", namespace: namespace, attributes: [XMLAttribute("id", itemID)], children: [.element(payload)])
        var children = [XMLElement("publish", namespace: namespace, attrs: ["node": node], children: [item])]
        if let options { children.append(XMLElement("publish-options", namespace: namespace, children: [.element(options.form(publishOptions: true))])) }
        return Stanza.iq(type: "set", id: id, to: service, payload: pubsub(namespace, children))
    }

    /// The id the service gave the published item (§7.1.2), when its answer says.
    public static func publishedItemID(in answer: XMLElement) -> String? {
        answer.child("pubsub", namespace: namespace)?.child("publish", namespace: namespace)?.child("item", namespace: namespace)?[attribute: "id"]
    }

    /// Deletes items from `node` (§7.2.1), notifying subscribers when `notify`.
    public static func retract(id: String, to service: JID?, node: String, itemIDs: [String], notify: Bool) -> XMLElement {
        let retract = XMLElement("retract", namespace: namespace, attrs: ["node": node, "notify": notify ? "true" : nil],
                                 children: itemIDs.map { XMLElement("item", namespace: namespace, attrs: ["id": $0]) })
        return Stanza.iq(type: "set", id: id, to: service, payload: pubsub(namespace, [retract]))
    }

    // MARK: Retrieving items (§6.5.7)

    /// Asks for the items of `node` with these ids.
    public static func itemsRequest(id: String, to service: JID?, node: String, itemIDs: [String]) -> XMLElement {
        let items = XMLElement("items", namespace: namespace, attrs: ["node": node], children: itemIDs.map { XMLElement("item", namespace: namespace, attrs: ["id": $0]) })
        return Stanza.iq(type: "get", id: id, to: service, payload: pubsub(namespace, [items]))
    }

    /// The ids of the items an answer holds: the `id` of every element inside its
    /// `<pubsub><items/></pubsub>` (empty when the answer holds no such list).
    public static func itemIDs(in answer: XMLElement) -> [String] {
        (answer.child("pubsub", namespace: namespace)?.child("items", namespace: namespace)?.elements ?? []).compactMap { $0[attribute: "id"] }
    }

    // MARK: Owning a node (§8)

    /// Creates `node` with `configuration` (§8.1.3).
    public static func create(id: String, to service: JID?, node: String, configuration: NodeConfiguration) -> XMLElement {
        Stanza.iq(type: "set", id: id, to: service, payload: pubsub(namespace, [
            XMLElement("create", namespace: namespace, attrs: ["node": node]),
            XMLElement("configure", namespace: namespace, children: [.element(configuration.form(publishOptions: false))]),
        ]))
    }

    /// Applies `configuration` to an existing `node` (§8.2.4).
    public static func configure(id: String, to service: JID?, node: String, configuration: NodeConfiguration) -> XMLElement {
        Stanza.iq(type: "set", id: id, to: service, payload: pubsub(owner, [
            XMLElement("configure", namespace: owner, attrs: ["node": node], children: [configuration.form(publishOptions: false)]),
        ]))
    }

    /// A subscription to a node, as the owner sees it (§8.8.1).
    public struct Subscription: Sendable, Hashable {
        /// The subscriber, as the service wrote it.
        public var jid: String
        /// none, pending, unconfigured, subscribed (as written; nil when missing).
        public var state: String?

        public init(jid: String, state: String?) {
            self.jid = jid
            self.state = state
        }
    }

    /// Asks for the subscriptions to `node` (§8.8.1).
    public static func subscriptionsRequest(id: String, to service: JID?, node: String) -> XMLElement {
        Stanza.iq(type: "get", id: id, to: service, payload: pubsub(owner, [XMLElement("subscriptions", namespace: owner, attrs: ["node": node])]))
    }

    /// The subscriptions of an answer: every element inside its owner `<subscriptions/>` that has a
    /// `jid` (empty when the answer holds no such list).
    public static func subscriptions(in answer: XMLElement) -> [Subscription] {
        (answer.child("pubsub", namespace: owner)?.child("subscriptions", namespace: owner)?.elements ?? []).compactMap { s in
            s[attribute: "jid"].map { Subscription(jid: $0, state: s[attribute: "subscription"]) }
        }
    }

    /// Sets `jid`'s subscription to `node` (§8.8.2): `none` removes it.
    public static func setSubscription(id: String, to service: JID?, node: String, jid: JID, state: String) -> XMLElement {
        let sub = XMLElement("subscription", namespace: owner, attrs: ["jid": jid.description, "subscription": state])
        return Stanza.iq(type: "set", id: id, to: service, payload: pubsub(owner, [XMLElement("subscriptions", namespace: owner, attrs: ["node": node], children: [sub])]))
    }

    // MARK: Errors

    /// The pubsub-specific condition of an error answer (the element in ``errors`` beside the stanza
    /// error), with the feature it names for `unsupported`.
    public struct ErrorDetail: Sendable, Hashable {
        /// The element's name: `precondition-not-met`, `unsupported`, `invalid-jid`, `item-forbidden`, ….
        public var condition: String
        /// For `unsupported`: the feature the service lacks (`publish-options`, …).
        public var feature: String?

        public init(condition: String, feature: String? = nil) {
            self.condition = condition
            self.feature = feature
        }
    }

    /// The pubsub condition of `answer`, an error stanza; nil when it carries none.
    public static func errorDetail(in answer: XMLElement) -> ErrorDetail? {
        guard answer.stanzaType == "error", let error = answer.child("error", namespace: answer.namespace),
              let e = error.children(namespace: errors).first else { return nil }
        return ErrorDetail(condition: e.name, feature: e[attribute: "feature"])
    }
}
