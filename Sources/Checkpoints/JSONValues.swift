import Foundation

/// Strict reading of values from `JSONSerialization` results, for headers and configs that come from files.
public enum JSONValues {
    /// The integer written in JSON as `value`: an integer literal that fits in `Int`. nil for anything else
    /// (strings such as "192", booleans, fractions and exponents such as 4.5 or 4.0, integers beyond 64 bits,
    /// null, lists, objects); `describe` says which for messages.
    public static func integer(_ value: Any) -> Int? {
        guard let n = value as? NSNumber, !(n is NSDecimalNumber) else { return nil }
        switch String(cString: n.objCType) {
        case "s", "i", "l", "q": return Int(exactly: n.int64Value)
        case "C", "S", "I", "L", "Q": return Int(exactly: n.uint64Value)
        default: return nil
        }
    }

    /// A finite number written in JSON as `value` (integer or not); nil for strings, booleans, null and
    /// containers.
    public static func number(_ value: Any) -> Double? {
        guard let n = value as? NSNumber, boolean(value) == nil else { return nil }
        let d = n.doubleValue
        return d.isFinite ? d : nil
    }

    /// The boolean written in JSON as `true` or `false`; nil for anything else (numbers 0 and 1 included,
    /// which Foundation would also cast to Bool: JSON booleans are the numbers of type char).
    public static func boolean(_ value: Any) -> Bool? {
        guard let n = value as? NSNumber, String(cString: n.objCType) == "c" else { return nil }
        return n.boolValue
    }

    /// What `value` is, for messages: `null`, `true`, `the string "192"`, `4.5`, `18446744073709551616`,
    /// `a list`, `an object`.
    public static func describe(_ value: Any) -> String {
        switch value {
        case is NSNull: return "null"
        case _ where boolean(value) != nil: return boolean(value)! ? "true" : "false"
        case let s as String:
            let shown = s.count > 40 ? String(s.prefix(40)) + "…" : s
            return "the string \"\(shown)\""
        case let n as NSNumber: return n.description
        case is [Any]: return "a list"
        case is [String: Any]: return "an object"
        default: return "\(type(of: value))"
        }
    }
}
