public import XMPPCore

/// Renders elements for the `--trace-xml` log with secrets removed: SASL payloads (which carry
/// passwords for PLAIN and proofs for SCRAM) are replaced by their length.
public enum XMLTrace {
    public static func redacted(_ e: XMLElement) -> String {
        redact(e).serialized()
    }

    static func redact(_ e: XMLElement) -> XMLElement {
        if e.namespace == XMPPNamespace.sasl, ["auth", "response", "challenge", "success"].contains(e.name) {
            var copy = e
            let n = e.text.count
            copy.children = n == 0 ? [] : [.text("[\(n) base64 characters redacted]")]
            return copy
        }
        return e
    }
}
