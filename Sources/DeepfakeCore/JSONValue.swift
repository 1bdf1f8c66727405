/// A JSON document to write, fields in the order given. `render()` pretty-prints it with two-space indents:
/// objects and arrays one member per line, except `inlineArray` and `numbers`, which stay on one line
/// (`[a, b]`); empty ones as `{}` / `[]`. Strings and numbers are written by `JSONText`.
package indirect enum JSONValue: Sendable {
    case null
    case bool(Bool)
    case int(Int)
    /// A Float in shortest round-trip form; non-finite as null.
    case float(Float)
    /// A Double in shortest round-trip form; nil and non-finite as null.
    case number(Double?)
    /// Doubles on one line.
    case numbers([Double])
    case string(String)
    /// One member per line.
    case array([JSONValue])
    /// Members on one line, `[a, b]`.
    case inlineArray([JSONValue])
    /// Fields in the order given, one per line.
    case object([(String, JSONValue)])

    /// The value as JSON text, nested `indent` levels deep (the first line is not indented; no final newline).
    package func render(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent), inner = String(repeating: "  ", count: indent + 1)
        switch self {
        case .null: return "null"
        case let .bool(v): return v ? "true" : "false"
        case let .int(v): return "\(v)"
        case let .float(v): return JSONText.number(v)
        case let .number(v): return v.map(JSONText.number) ?? "null"
        case let .numbers(vs): return JSONText.array(vs)
        case let .string(s): return JSONText.string(s)
        case let .array(items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + $0.render(indent: indent + 1) }.joined(separator: ",\n") + "\n" + pad + "]"
        case let .inlineArray(items):
            return "[" + items.map { $0.render(indent: indent + 1) }.joined(separator: ", ") + "]"
        case let .object(fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + fields.map { inner + JSONText.string($0.0) + ": " + $0.1.render(indent: indent + 1) }.joined(separator: ",\n")
                + "\n" + pad + "}"
        }
    }
}
