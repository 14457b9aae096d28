public import XMPPCore

/// Renders elements for the `--trace-xml` log with secrets removed: SASL payloads (which carry
/// passwords for PLAIN and proofs for SCRAM) are replaced by a constant text, not by their length
/// (which, for PLAIN, is the password's length plus a constant).
public enum XMLTrace {
    public static func redacted(_ e: XMLElement) -> String {
        redact(e).serialized()
    }

    static func redact(_ e: XMLElement) -> XMLElement {
        if e.namespace == XMPPNamespace.sasl, ["auth", "response", "challenge", "success"].contains(e.name) {
            var copy = e
            copy.children = e.text.isEmpty ? [] : [.text("[redacted]")]
            return copy
        }
        return e
    }
}
