public import PerchIO
public import XMPPAddress
import XMPPCore
import XMPPXML

/// The XEP-0198 state on disk, so a restarted daemon (deploy, crash, power cut) resumes the session the
/// server still holds instead of starting a new one: the resumption id, both counters, the full JID and
/// the stanzas not yet acknowledged.
///
/// The file is an XML stream read back with the same hardened parser as the network, so a damaged or
/// hostile file is refused the same way. It is overwritten in place while it fits in a page, else
/// replaced atomically (``InPlaceFile``), and not synced: losing the last write on a power cut only
/// means the server re-sends a few stanzas or the resumption fails.
public final class ResumptionStore {
    public struct Saved: Sendable, Hashable {
        public var state: StreamManagement
        public var jid: JID
        /// When it was saved (Unix ms): the server's resume window counts from about then.
        public var savedAt: Int64

        public init(state: StreamManagement, jid: JID, savedAt: Int64) {
            self.state = state
            self.jid = jid
            self.savedAt = savedAt
        }
    }

    static let ns = "urn:xmpp:perch:resumption:0"
    public let path: String
    private let file: InPlaceFile
    /// Each unacknowledged stanza serialized once, oldest first, the first one being stanza number
    /// `firstSerialized` of `serializedSession`: a burst of commands saves the state many times with
    /// mostly the same stanzas in it. Entries the server acknowledged are dropped from the front, so
    /// every stanza is serialized once however often the state is saved.
    private var serialized: [(name: String, id: String?, bytes: [UInt8])] = []
    private var firstSerialized: UInt32 = 0
    private var serializedSession: String?
    /// How many stanzas were serialized for saving, over the store's life (for the tests).
    private(set) var serializations = 0
    /// The file's bytes, kept between saves so that each save writes into capacity it already has.
    private var buffer: [UInt8] = []

    public init(path: String) {
        self.path = path
        file = InPlaceFile(path: path, mode: 0o600)
    }

    public func save(_ saved: Saved) throws(IOError) {
        let s = saved.state
        var head = XMLElement("session", namespace: Self.ns, attrs: [
            "jid": saved.jid.description, "id": s.resumptionID, "location": s.location,
            "window": String(s.resumeWindow), "inbound": String(s.inbound), "acknowledged": String(s.acknowledged),
            "saved": String(saved.savedAt),
        ])
        head.attributes.removeAll { $0.value.isEmpty }
        var text = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
        head.write(into: &text, parentNamespace: XMPPNamespace.client)
        // The cached stanzas from number acknowledged + 1 on; anything else (another session, numbers
        // that went back after a failed resumption) starts afresh.
        let first = s.acknowledged &+ 1
        let skip = Int(truncatingIfNeeded: first &- firstSerialized)
        if s.resumptionID != serializedSession || skip < 0 || skip > serialized.count {
            serialized = []
            serializedSession = s.resumptionID
        } else {
            serialized.removeFirst(skip)
        }
        firstSerialized = first
        if serialized.count > s.unacknowledged.count { serialized.removeLast(serialized.count - s.unacknowledged.count) }
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: text.utf8)
        for (i, stanza) in s.unacknowledged.enumerated() {
            if i < serialized.count, serialized[i].name == stanza.name, serialized[i].id == stanza.stanzaID {
                buffer.append(contentsOf: serialized[i].bytes)
                continue
            }
            let one = Array(stanza.serialized(parentNamespace: XMPPNamespace.client).utf8)
            serializations += 1
            if i < serialized.count {
                serialized[i] = (stanza.name, stanza.stanzaID, one)
            } else {
                serialized.append((stanza.name, stanza.stanzaID, one))
            }
            buffer.append(contentsOf: one)
        }
        try file.write(body: buffer, tail: Self.tail)
    }

    private static let tail = Array("</stream:stream>".utf8)

    /// The saved state; nil when there is none. A file that cannot be read back is an error naming why.
    public func load() throws(IOError) -> Saved? {
        guard fileExists(path) else { return nil }
        let bytes = try readFileOrError(path)
        let parser = XMLStreamParser(limits: XMLStreamLimits(maxStanzaBytes: 1 << 20))
        let events: [XMLStreamEvent]
        do { events = try parser.feed(bytes) } catch { throw IOError(call: "read \(path)", code: 0, message: "damaged (\(error))") }
        var elements: [XMLElement] = []
        for case .element(let e) in events { elements.append(e) }
        guard let head = elements.first, head.name == "session", head.namespace == Self.ns,
            let jid = head[attribute: "jid"].flatMap({ try? JID($0) }),
            let inbound = head[attribute: "inbound"].flatMap({ UInt32($0) }),
            let acknowledged = head[attribute: "acknowledged"].flatMap({ UInt32($0) }),
            let savedAt = head[attribute: "saved"].flatMap({ Int64($0) })
        else { throw IOError(call: "read \(path)", code: 0, message: "not a Perch session file") }
        var state = StreamManagement(
            resumptionID: head[attribute: "id"], location: head[attribute: "location"],
            resumeWindow: head[attribute: "window"].flatMap { Int64($0) } ?? StreamManagement.defaultResumeWindow)
        state.inbound = inbound
        state.acknowledged = acknowledged
        state.unacknowledged = Array(elements.dropFirst().filter(StreamManagement.counts))
        return Saved(state: state, jid: jid, savedAt: savedAt)
    }

    public func remove() {
        file.remove()
    }
}
