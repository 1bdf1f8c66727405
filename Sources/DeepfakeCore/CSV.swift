import Foundation

/// CSV writing (RFC 4180): fields with a comma, quote or line break are quoted, quotes doubled.
package enum CSV {
    /// `s` as one field: quoted when it holds a comma, a quote or a line break.
    package static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `fields` quoted as needed and joined by commas (no line end).
    package static func row(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") }

    /// `text` on one line, unambiguously: JSON's string escapes without quotes (`JSONText.escaped`), so a
    /// backslash becomes `\\`, a line feed `\n`, an escape character `\u001b`.
    package static func singleLine(_ text: String) -> String { JSONText.escaped(text, quote: false) }

    /// A number in shortest round-trip form; `nan`, `inf`, `-inf` for the non-finite values (as pandas and
    /// numpy read them).
    package static func number(_ v: Double) -> String { v.isFinite ? "\(v)" : (v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf")) }
}
