/// Minimal JSON writing for result lines (strings escaped per RFC 8259, floats in shortest round-trip form).
public enum JSONText {
    /// `s` as a quoted JSON string.
    public static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A float as JSON: the shortest decimal that reads back to the same Float; non-finite values as null.
    public static func number(_ v: Float) -> String { v.isFinite ? "\(v)" : "null" }

    /// `[a, b, ...]` of floats.
    public static func array(_ values: [Float]) -> String { "[" + values.map(number).joined(separator: ", ") + "]" }
}

extension EmbeddingResult {
    /// `{"path": ..., "embedding": [...]}` or `{"path": ..., "error": "..."}`.
    public var jsonLine: String {
        switch embedding {
        case let .success(values): return "{\"path\": \(JSONText.string(path)), \"embedding\": \(JSONText.array(values))}"
        case let .failure(failure): return "{\"path\": \(JSONText.string(path)), \"error\": \(JSONText.string(failure.description))}"
        }
    }
}
