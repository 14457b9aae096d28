/// The parts of SASLprep (RFC 4013) / OpaqueString (RFC 8265 §4.2) that need no normalisation tables:
/// non-ASCII spaces map to U+0020 and characters "commonly mapped to nothing" are removed. ASCII
/// passwords are unchanged, which is what servers store for them.
public enum SASLPrep {
    public static func prepare(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 >= 0x80 }) else { return s }
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar.value {
            case 0x00AD, 0x034F, 0x1806, 0x180B...0x180D, 0x200B...0x200D, 0x2060, 0xFE00...0xFE0F, 0xFEFF:
                continue
            default:
                if scalar.properties.generalCategory == .spaceSeparator {
                    out.unicodeScalars.append(" ")
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// SCRAM's `saslname` escaping (RFC 5802 §5.1): `=` becomes `=3D` and `,` becomes `=2C`.
    public static func scramName(_ s: String) -> String {
        var out = ""
        for c in prepare(s) {
            switch c {
            case "=": out += "=3D"
            case ",": out += "=2C"
            default: out.append(c)
            }
        }
        return out
    }
}
