/// JSON text for result lines and reports: strings escaped per RFC 8259 (and more, see `escaped`), numbers in
/// shortest round-trip form, non-finite numbers as null. `JSONValue` builds whole documents from these pieces.
package enum JSONText {
    /// `s` as a quoted JSON string.
    package static func string(_ s: String) -> String { "\"" + escaped(s, quote: true) + "\"" }

    /// `s` with JSON's string escapes and nothing else: a backslash as `\\`, line feed, carriage return and
    /// tab as `\n`, `\r`, `\t`, any other control character (C0, DEL, C1) and the line and paragraph separators
    /// as `\u00XX` / `\u2028`, and, with `quote`, `"` as `\"`. The result holds no line break and no
    /// terminal control, and reads back unambiguously.
    package static func escaped(_ s: String, quote: Bool) -> String {
        var out = ""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"" where quote: out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A float as JSON: the shortest decimal that reads back to the same Float; non-finite values as null.
    package static func number(_ v: Float) -> String { v.isFinite ? "\(v)" : "null" }

    /// A Double as JSON: shortest round-trip decimal; non-finite as null.
    package static func number(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }

    /// `[a, b, ...]` of floats.
    package static func array(_ values: [Float]) -> String { "[" + values.map(number).joined(separator: ", ") + "]" }

    /// `[a, b, ...]` of doubles.
    package static func array(_ values: [Double]) -> String { "[" + values.map(number).joined(separator: ", ") + "]" }
}

