/// Variable-length byte strings stored back to back: value `i` is `storage[offsets[i]..<offsets[i + 1]]`.
public struct ByteArrays: Sendable, Equatable, RandomAccessCollection {
    /// `count + 1` offsets into `storage`, starting at 0.
    public private(set) var offsets: [Int] = [0]
    /// All values' bytes, concatenated.
    public private(set) var storage: [UInt8] = []

    public init() {}

    public var startIndex: Int { 0 }
    public var endIndex: Int { offsets.count - 1 }

    /// Value `i`'s bytes.
    public subscript(i: Int) -> ArraySlice<UInt8> { storage[offsets[i]..<offsets[i + 1]] }

    /// Value `i` as a string (nil when it is not valid UTF-8).
    public func string(at i: Int) -> String? {
        storage.withUnsafeBufferPointer { String(validating: UnsafeBufferPointer(rebasing: $0[offsets[i]..<offsets[i + 1]]), as: UTF8.self) }
    }

    mutating func reserve(values: Int, bytes: Int) {
        grow(&offsets, to: offsets.count + values)
        grow(&storage, to: storage.count + bytes)
    }

    /// Appends `count` PLAIN byte arrays (each a 4-byte little-endian length, then its bytes) from `data`.
    /// The lengths are checked first; then the bytes are copied: value by value when they are large (the
    /// copy dominates), else into storage grown once (short strings would pay per-append overhead).
    mutating func appendPlain(_ data: UnsafeRawBufferPointer, count: Int) throws(DecodeFailure) {
        let start = storage.count
        let firstOffset = offsets.count
        grow(&offsets, to: offsets.count + count)
        var c = ByteCursor(data)
        var end = start
        for _ in 0..<count {
            let length = Int(try c.uint32("byte array length"))
            try c.skip(length, "byte array value")
            end += length
            offsets.append(end)
        }
        guard count > 0, let source = data.baseAddress else { return }
        let total = end - start
        if total >= 256 * count {
            grow(&storage, to: end)
            var at = 4
            for i in firstOffset..<offsets.count {
                let length = offsets[i] - offsets[i - 1]
                storage.append(contentsOf: UnsafeRawBufferPointer(start: source + at, count: length))
                at += 4 + length
            }
            return
        }
        grow(&storage, to: end)
        storage.append(contentsOf: repeatElement(0, count: total))
        offsets.withUnsafeBufferPointer { offsets in
            storage.withUnsafeMutableBufferPointer { out in
                guard let target = out.baseAddress else { return }
                var at = 4
                for i in firstOffset..<offsets.count {
                    let length = offsets[i] - offsets[i - 1]
                    (target + offsets[i - 1]).update(from: (source + at).assumingMemoryBound(to: UInt8.self), count: length)
                    at += 4 + length
                }
            }
        }
    }

    /// Appends `totalBytes` bytes for `lengths.count` values, written by `fill` into the new storage.
    mutating func appendValues(lengths: some Sequence<Int>, totalBytes: Int,
                               _ fill: (UnsafeMutableRawBufferPointer, _ storageStart: Int) throws(DecodeFailure) -> Void) throws(DecodeFailure) {
        let start = storage.count
        grow(&storage, to: start + totalBytes)
        storage.append(contentsOf: repeatElement(0, count: totalBytes))
        var end = start
        for length in lengths {
            end += length
            offsets.append(end)
        }
        try storage.withUnsafeMutableBufferPointer { (all: inout UnsafeMutableBufferPointer<UInt8>) throws(DecodeFailure) in
            try fill(UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: all[start...])), start)
        }
    }
}

/// Reserves capacity geometrically (a plain `reserveCapacity` per page would reallocate every time).
func grow<T>(_ array: inout [T], to needed: Int) {
    if array.capacity < needed { array.reserveCapacity(max(needed, array.capacity * 2)) }
}

/// A column chunk's non-null values, typed by the column's physical type.
public enum ColumnValues: Sendable, Equatable {
    case boolean([Bool])
    case int32([Int32])
    case int64([Int64])
    /// INT96 values as their raw 12 bytes (for legacy timestamps: 8 bytes of nanoseconds within the day,
    /// then 4 bytes of Julian day, little-endian).
    case int96(ByteArrays)
    case float([Float])
    case double([Double])
    case byteArray(ByteArrays)
    case fixedLenByteArray(ByteArrays)

    /// The number of values.
    public var count: Int {
        switch self {
        case let .boolean(v): return v.count
        case let .int32(v): return v.count
        case let .int64(v): return v.count
        case let .float(v): return v.count
        case let .double(v): return v.count
        case let .int96(v), let .byteArray(v), let .fixedLenByteArray(v): return v.count
        }
    }
}

/// Counts of the pages a column chunk was read from.
public struct PageCounts: Sendable, Equatable {
    public var dictionary = 0
    public var dataV1 = 0
    public var dataV2 = 0
    public init() {}
}

/// One column chunk, decoded: its non-null values and the levels that place them in rows.
///
/// `count` entries make up the chunk. Entry `i` is a value when `definitionLevels[i]` equals the column's
/// `maxDefinitionLevel` (the values are taken in order), otherwise a null (or an empty or null list at the
/// level the definition level says). `repetitionLevels[i]` is 0 where a new row starts. A column with
/// maximum definition level 0 has no definition levels (every entry is a value); one with maximum
/// repetition level 0 has no repetition levels (every entry is a row). For rows assembled into Swift
/// values (structs, lists, nulls), use `RowGroupData.rows()`.
public struct ColumnData: Sendable {
    public let column: ColumnDescriptor
    public let values: ColumnValues
    public let definitionLevels: [UInt16]
    public let repetitionLevels: [UInt16]
    /// The number of entries (values and nulls).
    public let count: Int
    /// The pages the chunk was read from.
    public let pages: PageCounts

    /// For each entry, the index of its value in `values`, or nil where the entry is null (for a column that
    /// is not repeated, entry `i` is row `i`).
    public func valueIndices() -> [Int?] {
        guard !definitionLevels.isEmpty else { return (0..<count).map { $0 } }
        var next = 0
        let top = UInt16(column.maxDefinitionLevel)
        return definitionLevels.map { level in
            guard level == top else { return nil }
            defer { next += 1 }
            return next
        }
    }
}
