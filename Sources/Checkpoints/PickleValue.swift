#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The data a restricted unpickler produces: plain values, containers, numpy arrays and inert records of the
/// allowed classes. Nothing in this tree is executable; a class appears only as its (module, name) pair.
public indirect enum PickleValue: Sendable, Equatable {
    /// Python `None`.
    case none
    case bool(Bool)
    /// A Python int that fits in 64 bits (larger ones are refused while reading).
    case int(Int64)
    case float(Double)
    case string(String)
    /// `bytes`, `bytearray`, a Python 2 `str` or an in-band pickle buffer.
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    /// A dict (or `collections.OrderedDict`) in insertion order.
    case dict(PickleDict)
    case set([PickleValue])
    case frozenset([PickleValue])
    /// A numpy array (a numpy scalar is a 0-d array).
    case array(NDArray)
    /// A numpy dtype object.
    case dtype(NumpyDType)
    /// An instance of an allowed class, as the data its pickle carries.
    case object(PickleObject)
    /// A reference to an allowed class, e.g. `numpy.ndarray` as joblib's wrapper records it.
    case global(module: String, name: String)

    /// The string of `.string`, or of `.bytes` holding UTF-8 (Python 2 pickles store names as bytes).
    public var stringValue: String? {
        switch self {
        case let .string(s): return s
        case let .bytes(b): return b.withUnsafeBytes { strictUTF8($0) }
        default: return nil
        }
    }

    /// An integer from `.int`, `.bool` or a 0-d integer/bool numpy array.
    public var intValue: Int64? {
        switch self {
        case let .int(v): return v
        case let .bool(b): return b ? 1 : 0
        case let .array(a) where a.shape.isEmpty: return try? a.int64s().first
        default: return nil
        }
    }

    /// A number from `.float`, `.int`, `.bool` or a 0-d numeric numpy array.
    public var doubleValue: Double? {
        switch self {
        case let .float(v): return v
        case let .int(v): return Double(v)
        case let .bool(b): return b ? 1 : 0
        case let .array(a) where a.shape.isEmpty: return try? a.doubles().first
        default: return nil
        }
    }

    /// The elements of a list or tuple.
    public var sequence: [PickleValue]? {
        switch self {
        case let .list(v), let .tuple(v): return v
        default: return nil
        }
    }

    /// A short name of the case, for messages ("int", "ndarray float32 [3]", "sklearn...LogisticRegression").
    public var kindDescription: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .set: return "set"
        case .frozenset: return "frozenset"
        case let .array(a): return "ndarray \(a.dtype.name) \(a.shape)"
        case let .dtype(d): return "dtype \(d.name)"
        case let .object(o): return o.className
        case let .global(m, n): return "class \(m).\(n)"
        }
    }
}

/// Dict entries in insertion order. A repeated simple key (str, int, bool, float, None, short bytes) replaces
/// the earlier value in place, as Python does; other keys (tuples, arrays, ...) are kept as written.
public struct PickleDict: Sendable, Equatable {
    public private(set) var keys: [PickleValue] = []
    public private(set) var values: [PickleValue] = []
    private var index: [SimpleKey: Int] = [:]

    public init() {}

    /// Number of entries.
    public var count: Int { keys.count }

    /// Sets `key` to `value`: replaces the value of an equal simple key, otherwise appends.
    public mutating func set(_ key: PickleValue, _ value: PickleValue) {
        if let simple = SimpleKey(key) {
            if let i = index[simple] { values[i] = value; return }
            index[simple] = keys.count
        }
        keys.append(key)
        values.append(value)
    }

    /// The value stored under the string key `name` (also matching a Python 2 byte-string key).
    public subscript(name: String) -> PickleValue? {
        if let i = index[.string(name)] { return values[i] }
        if let i = index[.bytes(Array(name.utf8))] { return values[i] }
        return nil
    }

    /// The value under an arbitrary key (linear search for keys that are not simple).
    public subscript(key: PickleValue) -> PickleValue? {
        if let simple = SimpleKey(key) { return index[simple].map { values[$0] } }
        return keys.lastIndex(of: key).map { values[$0] }
    }

    /// (key, value) pairs in insertion order.
    public var entries: [(key: PickleValue, value: PickleValue)] { zip(keys, values).map { (key: $0.0, value: $0.1) } }

    public static func == (a: PickleDict, b: PickleDict) -> Bool { a.keys == b.keys && a.values == b.values }

    /// Keys cheap to hash and compare.
    private enum SimpleKey: Hashable {
        case none, bool(Bool), int(Int64), float(UInt64), string(String), bytes([UInt8])

        init?(_ v: PickleValue) {
            switch v {
            case .none: self = .none
            case let .bool(b): self = .bool(b)
            case let .int(i): self = .int(i)
            case let .float(f): self = .float(f.bitPattern)
            case let .string(s): self = .string(s)
            case let .bytes(b) where b.count <= 256: self = .bytes(b)
            default: return nil
            }
        }
    }
}

/// An instance of an allowed class: which class, the arguments its pickle passed to the constructor and the
/// state `BUILD` gave it (usually the instance `__dict__`).
public struct PickleObject: Sendable, Equatable {
    /// The class's module, e.g. "sklearn.svm._classes".
    public var module: String
    /// The class name, e.g. "OneClassSVM".
    public var name: String
    /// Positional constructor arguments (NEWOBJ, REDUCE, INST/OBJ), often empty.
    public var args: [PickleValue]
    /// Keyword arguments (NEWOBJ_EX), in order.
    public var kwargs: PickleDict
    /// The state set by BUILD, nil when there was none.
    public var state: PickleValue?

    public init(module: String, name: String, args: [PickleValue] = [], kwargs: PickleDict = PickleDict(), state: PickleValue? = nil) {
        self.module = module; self.name = name; self.args = args; self.kwargs = kwargs; self.state = state
    }

    /// "module.name".
    public var className: String { module + "." + name }

    /// The instance attributes: the state dict, or the merged (dict, slot dict) pair Python's default
    /// `__setstate__` accepts. Empty when the state is something else.
    public var attributes: PickleDict {
        switch state {
        case let .dict(d)?: return d
        case let .tuple(pair)? where pair.count == 2:
            var merged = PickleDict()
            for part in pair {
                if case let .dict(d) = part { for (k, v) in zip(d.keys, d.values) { merged.set(k, v) } }
            }
            return merged
        default: return PickleDict()
        }
    }

    /// The attribute `name` of the instance state, if present.
    public subscript(attribute: String) -> PickleValue? { attributes[attribute] }
}

/// The string whose UTF-8 encoding is exactly `raw`, or nil when `raw` is not valid UTF-8 (decoding replaces
/// invalid sequences, so a valid input is the one that round-trips). Works on every deployment target.
func strictUTF8(_ raw: UnsafeRawBufferPointer) -> String? {
    var s = String(decoding: raw, as: UTF8.self)
    let same = s.withUTF8 { u in
        u.count == raw.count && (u.count == 0 || memcmp(u.baseAddress!, raw.baseAddress!, u.count) == 0)
    }
    return same ? s : nil
}
