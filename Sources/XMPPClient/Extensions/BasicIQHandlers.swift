public import XMPPCore
import PerchIO

/// XEP-0092: Software Version and XEP-0202: Entity Time responders (XEP-0199 ping is in Ping.swift).
public enum BasicIQHandlers {
    /// The ping we send to our server for liveness: ``Ping/request(id:to:)``.
    public static func pingRequest(id: String, to domain: String) -> XMLElement {
        Ping.request(id: id, to: domain)
    }

    /// XEP-0092: name and version; the OS only when configured (it helps attackers more than users).
    public static func version(_ request: XMLElement, name: String, version: String, os: String?) -> XMLElement {
        var q = XMLElement("query", namespace: XMPPNamespace.version)
        q.append(.text("name", namespace: XMPPNamespace.version, name))
        q.append(.text("version", namespace: XMPPNamespace.version, version))
        if let os { q.append(.text("os", namespace: XMPPNamespace.version, os)) }
        return Stanza.result(for: request, payload: q)
    }

    /// XEP-0202: the time in UTC with a zero offset (a board's local zone is rarely meaningful).
    public static func time(_ request: XMLElement, seconds: Int64, millis: Int) -> XMLElement {
        var t = XMLElement("time", namespace: XMPPNamespace.time)
        t.append(.text("tzo", namespace: XMPPNamespace.time, "+00:00"))
        t.append(.text("utc", namespace: XMPPNamespace.time, WallClock.iso8601(seconds: seconds, millis: millis)))
        return Stanza.result(for: request, payload: t)
    }
}
