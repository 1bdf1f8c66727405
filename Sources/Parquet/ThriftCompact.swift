/// A reader of the Thrift compact protocol, the encoding of Parquet's footer and page headers.
///
/// Structs are read field by field with `nextField()`; fields a caller does not know are skipped with
/// `skip(_:)`, whatever their type, so that files from newer writers still read. Nesting is bounded
/// (`maxDepth`), and every list or string length is checked against the bytes left before anything is
/// allocated for it.
struct ThriftReader {
    /// Compact protocol wire types.
    enum WireType: UInt8 {
        case boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7, binary = 8
        case list = 9, set = 10, map = 11, structure = 12
    }

    static let maxDepth = 32

    private(set) var cursor: ByteCursor
    private var depth = 0
    private var lastFieldIDs: [Int] = []

    init(_ bytes: UnsafeRawBufferPointer) { cursor = ByteCursor(bytes) }

    /// Bytes consumed so far.
    var offset: Int { cursor.offset }

    // MARK: structs

    /// Enters a struct; pair with `nextField()` until it returns nil.
    mutating func beginStruct() throws(DecodeFailure) {
        guard depth < Self.maxDepth else { throw .malformed("Thrift structs nested deeper than \(Self.maxDepth)") }
        depth += 1
        lastFieldIDs.append(0)
    }

    /// The next field's id and wire type, or nil at the end of the struct (which it leaves).
    mutating func nextField() throws(DecodeFailure) -> (id: Int, type: WireType)? {
        let header = try cursor.byte("Thrift field header")
        if header == 0 {
            depth -= 1
            lastFieldIDs.removeLast()
            return nil
        }
        guard let type = WireType(rawValue: header & 0x0f) else {
            throw .malformed("Thrift field has unknown type \(header & 0x0f)")
        }
        let delta = Int(header >> 4)
        let last = lastFieldIDs[lastFieldIDs.count - 1]
        let id = delta != 0 ? last + delta : Int(try cursor.zigzag("Thrift field id"))
        guard id >= Int(Int16.min), id <= Int(Int16.max) else { throw .malformed("Thrift field id \(id) out of range") }
        lastFieldIDs[lastFieldIDs.count - 1] = id
        return (id, type)
    }

    // MARK: values

    mutating func int(_ type: WireType) throws(DecodeFailure) -> Int64 {
        switch type {
        case .byte: return Int64(Int8(bitPattern: try cursor.byte("Thrift byte")))
        case .i16, .i32, .i64: return try cursor.zigzag("Thrift integer")
        default: throw .malformed("Thrift field of type \(type) where an integer was expected")
        }
    }

    mutating func int32(_ type: WireType) throws(DecodeFailure) -> Int32 {
        let v = try int(type)
        guard let narrow = Int32(exactly: v) else { throw .malformed("Thrift i32 value \(v) out of range") }
        return narrow
    }

    /// A boolean struct field (its value is in the field header's type).
    mutating func bool(_ type: WireType) throws(DecodeFailure) -> Bool {
        switch type {
        case .boolTrue: return true
        case .boolFalse: return false
        default: throw .malformed("Thrift field of type \(type) where a bool was expected")
        }
    }

    mutating func binary(_ type: WireType) throws(DecodeFailure) -> UnsafeRawBufferPointer {
        guard type == .binary else { throw .malformed("Thrift field of type \(type) where binary was expected") }
        let length = try cursor.count(atMost: cursor.remaining, "Thrift binary length")
        return try cursor.take(length, "Thrift binary")
    }

    mutating func string(_ type: WireType) throws(DecodeFailure) -> String {
        String(decoding: try binary(type), as: UTF8.self)
    }

    /// A list or set header: the element type and count (checked against the bytes left: every element
    /// takes at least one byte).
    mutating func listHeader(_ type: WireType) throws(DecodeFailure) -> (element: WireType, count: Int) {
        guard type == .list || type == .set else { throw .malformed("Thrift field of type \(type) where a list was expected") }
        let header = try cursor.byte("Thrift list header")
        guard let element = WireType(rawValue: header & 0x0f) else {
            throw .malformed("Thrift list has unknown element type \(header & 0x0f)")
        }
        var count = Int(header >> 4)
        if count == 15 { count = try cursor.count(atMost: cursor.remaining, "Thrift list size") }
        guard count <= cursor.remaining else { throw .malformed("Thrift list of \(count) elements in \(cursor.remaining) bytes") }
        return (element, count)
    }

    /// A list of structs, each read by `element` (which calls `beginStruct` itself).
    mutating func list<T>(_ type: WireType, _ element: (inout ThriftReader) throws(DecodeFailure) -> T) throws(DecodeFailure) -> [T] {
        let (elementType, count) = try listHeader(type)
        var out: [T] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            guard elementType == .structure else {
                throw .malformed("Thrift list of \(elementType) where structs were expected")
            }
            out.append(try element(&self))
        }
        return out
    }

    /// A list of integers.
    mutating func int32List(_ type: WireType) throws(DecodeFailure) -> [Int32] {
        let (elementType, count) = try listHeader(type)
        var out: [Int32] = []
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try int32(elementType)) }
        return out
    }

    /// A list of strings.
    mutating func stringList(_ type: WireType) throws(DecodeFailure) -> [String] {
        let (elementType, count) = try listHeader(type)
        var out: [String] = []
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try string(elementType)) }
        return out
    }

    /// Skips one value of `type` (a field's value, or a list element when `inList`).
    mutating func skip(_ type: WireType, inList: Bool = false) throws(DecodeFailure) {
        switch type {
        case .boolTrue, .boolFalse:
            if inList { _ = try cursor.byte("Thrift bool") }
        case .byte: _ = try cursor.byte("Thrift byte")
        case .i16, .i32, .i64: _ = try cursor.varint("Thrift integer")
        case .double: try cursor.skip(8, "Thrift double")
        case .binary: _ = try binary(.binary)
        case .list, .set:
            let (elementType, count) = try listHeader(type)
            try nested { (r: inout ThriftReader) throws(DecodeFailure) in
                for _ in 0..<count { try r.skip(elementType, inList: true) }
            }
        case .map:
            let count = try cursor.count(atMost: cursor.remaining, "Thrift map size")
            guard count > 0 else { return }
            let types = try cursor.byte("Thrift map types")
            guard let key = WireType(rawValue: types >> 4), let value = WireType(rawValue: types & 0x0f) else {
                throw .malformed("Thrift map has unknown key or value type")
            }
            guard count <= cursor.remaining / 2 else { throw .malformed("Thrift map of \(count) entries in \(cursor.remaining) bytes") }
            try nested { (r: inout ThriftReader) throws(DecodeFailure) in
                for _ in 0..<count {
                    try r.skip(key, inList: true)
                    try r.skip(value, inList: true)
                }
            }
        case .structure:
            try beginStruct()
            while let field = try nextField() { try skip(field.type) }
        }
    }

    private mutating func nested(_ body: (inout ThriftReader) throws(DecodeFailure) -> Void) throws(DecodeFailure) {
        guard depth < Self.maxDepth else { throw .malformed("Thrift values nested deeper than \(Self.maxDepth)") }
        depth += 1
        try body(&self)
        depth -= 1
    }
}
