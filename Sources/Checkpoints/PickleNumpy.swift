#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A numpy dtype as a pickle describes it: kind, item size and byte order.
public struct NumpyDType: Sendable, Equatable, CustomStringConvertible {
    /// numpy's kind characters (`dtype.kind`).
    public enum Kind: String, Sendable {
        case bool = "b", signed = "i", unsigned = "u", float = "f", complex = "c"
        case unicode = "U", bytes = "S", object = "O", void = "V", datetime = "M", timedelta = "m"
    }
    /// Byte order of multi-byte elements: '<', '>' or '|' (not applicable: 1-byte, bool, bytes, object).
    public enum ByteOrder: String, Sendable {
        case little = "<", big = ">", notApplicable = "|"
    }

    /// What the elements are.
    public var kind: Kind
    /// Bytes per element (for `object`, the pointer size the writer used; elements are pickled values).
    public var itemSize: Int
    /// Byte order of the stored elements (decoding swaps as needed).
    public var byteOrder: ByteOrder
    /// True for record dtypes (named fields) and sub-array dtypes: described, but not decoded.
    public var isStructured: Bool

    public init(kind: Kind, itemSize: Int, byteOrder: ByteOrder, isStructured: Bool = false) {
        self.kind = kind; self.itemSize = itemSize; self.byteOrder = byteOrder; self.isStructured = isStructured
    }

    /// numpy's `dtype.str`, e.g. "<f4", "|b1", "<U3".
    public var descr: String {
        let n: Int
        switch kind {
        case .unicode: n = itemSize / 4
        default: n = itemSize
        }
        return byteOrder.rawValue + kind.rawValue + String(n)
    }

    /// numpy's name for common dtypes ("float32", "int64", "bool"), else `descr`.
    public var name: String {
        switch kind {
        case .bool: return "bool"
        case .signed: return "int\(itemSize * 8)"
        case .unsigned: return "uint\(itemSize * 8)"
        case .float: return "float\(itemSize * 8)"
        case .complex: return "complex\(itemSize * 8)"
        case .object: return "object"
        default: return descr
        }
    }

    public var description: String { name }

    /// Parses the type string numpy passes to `dtype(...)` in a pickle ("f8", "b1", "U3", "O8"), with the
    /// byte order the kind implies until the pickled state says otherwise.
    init?(typeString s: String) {
        guard let first = s.unicodeScalars.first, let kind = Kind(rawValue: String(first)) else { return nil }
        let digits = s.dropFirst()
        let n: Int
        if digits.isEmpty {
            switch kind {
            case .unicode, .bytes, .void: n = 0
            case .object: n = 8
            default: return nil
            }
        } else {
            // Datetime strings may carry a unit ("M8[ns]"): keep the digits before it.
            let number = digits.prefix { $0.isNumber }
            guard let v = Int(number), v >= 0, v <= 1 << 30 else { return nil }
            n = v
        }
        let size = kind == .unicode ? n * 4 : n
        switch kind {
        case .bool: guard size == 1 else { return nil }
        case .signed, .unsigned: guard [1, 2, 4, 8].contains(size) else { return nil }
        case .float: guard [2, 4, 8, 16].contains(size) else { return nil }
        case .complex: guard [8, 16, 32].contains(size) else { return nil }
        default: break
        }
        let order: ByteOrder
        switch kind {
        case .bool, .bytes, .void, .object: order = .notApplicable
        default: order = size <= 1 ? .notApplicable : .little
        }
        self.init(kind: kind, itemSize: size, byteOrder: order)
    }
}

/// A numpy array read from a pickle: dtype, shape and the element bytes as stored (C or Fortran order),
/// or, for `object` arrays, the pickled elements.
public struct NDArray: Sendable, Equatable {
    /// The element data.
    public enum Storage: Sendable, Equatable {
        /// `count × itemSize` bytes in the dtype's byte order.
        case raw([UInt8])
        /// The elements of an object array, in storage order.
        case objects([PickleValue])
    }

    /// Element type.
    public var dtype: NumpyDType
    /// Dimensions (empty for a numpy scalar).
    public var shape: [Int]
    /// True when the elements are stored in Fortran (column-major) order.
    public var fortranOrder: Bool
    /// The element data in storage order.
    public var storage: Storage

    /// Builds an array, checking that the storage holds exactly `shape`'s element count.
    public init(dtype: NumpyDType, shape: [Int], fortranOrder: Bool, storage: Storage) throws(PickleError) {
        guard let n = NDArray.elementCount(shape) else { throw .badArray(reason: "invalid shape \(shape)") }
        switch storage {
        case let .raw(bytes):
            guard dtype.kind != .object else { throw .badArray(reason: "object array given raw bytes") }
            // 0-byte elements would let an empty buffer declare any number of elements (numpy never
            // stores such arrays: it widens U0/S0/V0 to one character).
            guard dtype.itemSize > 0 || n == 0 else {
                throw .badArray(reason: "shape \(shape) of \(dtype.descr): elements of 0 bytes (only an empty array may have them)")
            }
            let (size, overflow) = n.multipliedReportingOverflow(by: dtype.itemSize)
            guard !overflow, size == bytes.count else {
                throw .badArray(reason: "shape \(shape) of \(dtype.descr) needs \(overflow ? "too many" : String(size)) bytes, data has \(bytes.count)")
            }
        case let .objects(items):
            guard items.count == n else { throw .badArray(reason: "shape \(shape) needs \(n) elements, data has \(items.count)") }
        }
        self.dtype = dtype; self.shape = shape; self.fortranOrder = fortranOrder; self.storage = storage
    }

    /// The product of `shape`, nil if a dimension is negative or the product overflows.
    static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    /// Number of elements.
    public var count: Int { NDArray.elementCount(shape) ?? 0 }

    // MARK: Decoding (results always in C order)

    /// The elements as Float (from float16/32/64, integers or bools; float64 is rounded).
    public func floats() throws(PickleError) -> [Float] {
        if dtype.kind == .float && dtype.itemSize == 4 && !dtype.isStructured, case let .raw(bytes) = storage {
            var out = [Float](repeating: 0, count: count)
            out.withUnsafeMutableBytes { dst in bytes.withUnsafeBytes { src in dst.copyMemory(from: src) } }
            if needsSwap { for i in out.indices { out[i] = Float(bitPattern: out[i].bitPattern.byteSwapped) } }
            return cOrder(out)
        }
        return try doubles().map { Float($0) }
    }

    /// The elements as Double (from float16/32/64, integers or bools).
    public func doubles() throws(PickleError) -> [Double] {
        let raw = try rawBytes(for: "floats")
        let n = count, swap = needsSwap
        var out = [Double](repeating: 0, count: n)
        raw.withUnsafeBytes { (src: UnsafeRawBufferPointer) in
            switch (dtype.kind, dtype.itemSize) {
            case (.float, 8):
                out.withUnsafeMutableBytes { $0.copyMemory(from: src) }
                if swap { for i in 0..<n { out[i] = Double(bitPattern: out[i].bitPattern.byteSwapped) } }
            case (.float, 4):
                for i in 0..<n {
                    var b = src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                    if swap { b = b.byteSwapped }
                    out[i] = Double(Float(bitPattern: b))
                }
            case (.float, 2):
                for i in 0..<n {
                    var b = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                    if swap { b = b.byteSwapped }
                    out[i] = Double(floatFromHalfBits(b))
                }
            default:
                break
            }
        }
        switch dtype.kind {
        case .float:
            guard [2, 4, 8].contains(dtype.itemSize) else { throw .badArray(reason: "\(dtype.descr) cannot be read as Double") }
            return cOrder(out)
        case .bool, .signed:
            return try int64s().map { Double($0) }
        case .unsigned:
            return try unsignedValues().map { Double($0) }
        default:
            throw .badArray(reason: "\(dtype.descr) array cannot be read as numbers")
        }
    }

    /// The elements as Int64 (from integers or bools; uint64 values above Int64.max are refused).
    public func int64s() throws(PickleError) -> [Int64] {
        switch dtype.kind {
        case .signed, .bool:
            let raw = try rawBytes(for: "integers")
            let n = count, size = dtype.itemSize, swap = needsSwap
            var out = [Int64](repeating: 0, count: n)
            raw.withUnsafeBytes { src in
                for i in 0..<n {
                    switch size {
                    case 1: out[i] = Int64(Int8(bitPattern: src[i]))
                    case 2: let v = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self); out[i] = Int64(Int16(bitPattern: swap ? v.byteSwapped : v))
                    case 4: let v = src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self); out[i] = Int64(Int32(bitPattern: swap ? v.byteSwapped : v))
                    default: let v = src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self); out[i] = Int64(bitPattern: swap ? v.byteSwapped : v)
                    }
                }
            }
            return cOrder(out)
        case .unsigned:
            var out: [Int64] = []
            out.reserveCapacity(count)
            for v in try unsignedValues() {
                guard v <= UInt64(Int64.max) else { throw .badArray(reason: "uint64 value \(v) does not fit in Int64") }
                out.append(Int64(v))
            }
            return out
        case .object:
            guard case let .objects(items) = storage else { break }
            var out: [Int64] = []
            for item in items {
                guard let v = item.intValue else { throw .badArray(reason: "object array element \(item.kindDescription) is not an integer") }
                out.append(v)
            }
            return cOrder(out)
        default: break
        }
        throw .badArray(reason: "\(dtype.descr) array cannot be read as integers")
    }

    /// The elements as Bool (bools, or integers compared with zero).
    public func bools() throws(PickleError) -> [Bool] {
        try int64s().map { $0 != 0 }
    }

    /// The elements as strings: numpy `U` (UTF-32) and `S` (bytes) arrays with trailing NULs removed, or
    /// object arrays of strings.
    public func strings() throws(PickleError) -> [String] {
        switch dtype.kind {
        case .unicode, .bytes:
            let raw = try rawBytes(for: "strings")
            let n = count, size = dtype.itemSize, swap = needsSwap
            var out: [String] = []
            out.reserveCapacity(n)
            for i in 0..<n {
                let slice = raw[(i * size)..<((i + 1) * size)]
                if dtype.kind == .bytes {
                    var b = Array(slice)
                    while b.last == 0 { b.removeLast() }
                    out.append(String(decoding: b, as: UTF8.self))
                } else {
                    var scalars = String.UnicodeScalarView()
                    var j = slice.startIndex
                    while j + 4 <= slice.endIndex {
                        var v = UInt32(slice[j]) | UInt32(slice[j + 1]) << 8 | UInt32(slice[j + 2]) << 16 | UInt32(slice[j + 3]) << 24
                        if swap { v = v.byteSwapped }
                        if let s = Unicode.Scalar(v) { scalars.append(s) } else { scalars.append("\u{FFFD}") }
                        j += 4
                    }
                    var s = String(scalars)
                    while s.unicodeScalars.last == "\u{0}" { s.unicodeScalars.removeLast() }
                    out.append(s)
                }
            }
            return cOrder(out)
        case .object:
            guard case let .objects(items) = storage else { break }
            var out: [String] = []
            for item in items {
                guard let s = item.stringValue else { throw .badArray(reason: "object array element \(item.kindDescription) is not a string") }
                out.append(s)
            }
            return cOrder(out)
        default: break
        }
        throw .badArray(reason: "\(dtype.descr) array cannot be read as strings")
    }

    /// Every element as a pickle value (numbers, bools, strings), in C order. Slow: for small arrays.
    public func elements() throws(PickleError) -> [PickleValue] {
        switch dtype.kind {
        case .object:
            guard case let .objects(items) = storage else { throw .badArray(reason: "object array without elements") }
            return cOrder(items)
        case .bool: return try bools().map { .bool($0) }
        case .signed: return try int64s().map { .int($0) }
        case .unsigned:
            return try unsignedValues().map { $0 <= UInt64(Int64.max) ? .int(Int64($0)) : .float(Double($0)) }
        case .float: return try doubles().map { .float($0) }
        case .unicode, .bytes: return try strings().map { .string($0) }
        default: throw .badArray(reason: "\(dtype.descr) elements are not supported")
        }
    }

    // MARK: Helpers

    private var needsSwap: Bool {
        let hostLittle = 1.littleEndian == 1
        switch dtype.byteOrder {
        case .little: return !hostLittle
        case .big: return hostLittle
        case .notApplicable: return false
        }
    }

    private func rawBytes(for what: String) throws(PickleError) -> [UInt8] {
        guard !dtype.isStructured else { throw .badArray(reason: "structured dtype cannot be read as \(what)") }
        guard case let .raw(bytes) = storage else { throw .badArray(reason: "object array cannot be read as \(what)") }
        return bytes
    }

    private func unsignedValues() throws(PickleError) -> [UInt64] {
        guard dtype.kind == .unsigned else { throw .badArray(reason: "\(dtype.descr) is not unsigned") }
        let raw = try rawBytes(for: "integers")
        let n = count, size = dtype.itemSize, swap = needsSwap
        var out = [UInt64](repeating: 0, count: n)
        raw.withUnsafeBytes { src in
            for i in 0..<n {
                switch size {
                case 1: out[i] = UInt64(src[i])
                case 2: let v = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self); out[i] = UInt64(swap ? v.byteSwapped : v)
                case 4: let v = src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self); out[i] = UInt64(swap ? v.byteSwapped : v)
                default: let v = src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self); out[i] = swap ? v.byteSwapped : v
                }
            }
        }
        return cOrder(out)
    }

    /// Reorders elements stored in Fortran order into C order.
    private func cOrder<T>(_ values: [T]) -> [T] {
        guard fortranOrder, shape.count > 1, values.count > 1 else { return values }
        let rank = shape.count
        // Fortran strides (in elements) of each axis.
        var fStride = [Int](repeating: 1, count: rank)
        for a in 1..<rank { fStride[a] = fStride[a - 1] * shape[a - 1] }
        var out: [T] = []
        out.reserveCapacity(values.count)
        var index = [Int](repeating: 0, count: rank)
        var source = 0
        for _ in 0..<values.count {
            out.append(values[source])
            // Advance the C-order multi-index (last axis fastest), keeping `source` in step.
            var a = rank - 1
            while a >= 0 {
                index[a] += 1
                source += fStride[a]
                if index[a] < shape[a] { break }
                source -= fStride[a] * shape[a]
                index[a] = 0
                a -= 1
            }
        }
        return out
    }
}
