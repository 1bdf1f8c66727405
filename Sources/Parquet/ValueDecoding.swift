#if _endian(big)
#error("the Parquet reader copies little-endian values directly and needs a little-endian host")
#endif

/// The values of one column chunk (or of its dictionary) as they are decoded, page by page.
struct ValueBuilder {
    let type: PhysicalType
    /// Byte width of FIXED_LEN_BYTE_ARRAY and INT96 values.
    let typeLength: Int
    private var bools: [Bool] = []
    private var ints32: [Int32] = []
    private var ints64: [Int64] = []
    private var floats: [Float] = []
    private var doubles: [Double] = []
    private var bytes = ByteArrays()

    init(type: PhysicalType, typeLength: Int) {
        self.type = type
        self.typeLength = typeLength
    }

    var count: Int {
        switch type {
        case .boolean: return bools.count
        case .int32: return ints32.count
        case .int64: return ints64.count
        case .float: return floats.count
        case .double: return doubles.count
        case .int96, .byteArray, .fixedLenByteArray: return bytes.count
        }
    }

    /// Reserves room for up to `count` values and, for byte arrays, about `byteHint` bytes of data at once
    /// (hints: the arrays still grow when more comes), so that values are not copied on every regrowth.
    mutating func reserve(count: Int, byteHint: Int) {
        switch type {
        case .boolean: bools.reserveCapacity(count)
        case .int32: ints32.reserveCapacity(count)
        case .int64: ints64.reserveCapacity(count)
        case .float: floats.reserveCapacity(count)
        case .double: doubles.reserveCapacity(count)
        case .int96, .byteArray, .fixedLenByteArray: bytes.reserve(values: count, bytes: max(byteHint, 0))
        }
    }

    func finish() -> ColumnValues {
        switch type {
        case .boolean: return .boolean(bools)
        case .int32: return .int32(ints32)
        case .int64: return .int64(ints64)
        case .float: return .float(floats)
        case .double: return .double(doubles)
        case .int96: return .int96(bytes)
        case .byteArray: return .byteArray(bytes)
        case .fixedLenByteArray: return .fixedLenByteArray(bytes)
        }
    }

    /// Bytes one value takes in memory (the offset, for byte arrays; their bytes are charged separately).
    private var bytesEach: Int {
        switch type {
        case .boolean: return 1
        case .int32, .float: return 4
        case .int64, .double, .int96, .byteArray, .fixedLenByteArray: return 8
        }
    }

    /// Decodes `count` values stored with `encoding` in `data` (a page's value section) and appends them.
    mutating func append(_ encoding: Encoding, _ data: UnsafeRawBufferPointer, count: Int,
                         dictionary: ValueBuilder?, budget: inout MemoryBudget) throws(DecodeFailure) {
        guard count > 0 else { return }
        try budget.charge(count, bytesEach: bytesEach, for: "\(count) \(type) values")
        switch encoding {
        case .plain:
            try appendPlain(data, count: count, budget: &budget)
        case .plainDictionary, .rleDictionary:
            guard let dictionary else { throw .malformed("\(encoding) page without a dictionary page before it") }
            try appendFromDictionary(dictionary, indices: data, count: count, budget: &budget)
        case .rle where type == .boolean:
            var c = ByteCursor(data)
            let length = Int(try c.uint32("RLE boolean length"))
            let runs = try c.take(length, "RLE booleans")
            var bits = [UInt8](repeating: 0, count: count)
            _ = try bits.withUnsafeMutableBufferPointer { (out: inout UnsafeMutableBufferPointer<UInt8>) throws(DecodeFailure) in
                try decodeRLEHybrid(runs, width: 1, count: count, into: out)
            }
            bools.append(contentsOf: bits.lazy.map { $0 != 0 })
        case .deltaBinaryPacked where type == .int32 || type == .int64:
            let (values, _) = try decodeDeltaBinaryPacked(data, count: count)
            if type == .int32 {
                ints32.append(contentsOf: values.lazy.map { Int32(truncatingIfNeeded: $0) })
            } else {
                ints64.append(contentsOf: values)
            }
        case .deltaLengthByteArray where type == .byteArray:
            let (lengths, total, consumed) = try decodeLengths(data, count: count, "byte array length")
            let rest = UnsafeRawBufferPointer(rebasing: data[consumed...])
            guard total <= rest.count else { throw .malformed("byte array lengths add up to \(total), only \(rest.count) bytes follow") }
            try budget.charge(total, bytesEach: 1, for: "byte array data")
            try bytes.appendValues(lengths: lengths, totalBytes: total) { (out, _) throws(DecodeFailure) in
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[0..<total]))
            }
        case .deltaByteArray where type == .byteArray || type == .fixedLenByteArray:
            try appendDeltaByteArray(data, count: count, budget: &budget)
        case .byteStreamSplit where type != .boolean && type != .byteArray && type != .int96:
            try appendByteStreamSplit(data, count: count, budget: &budget)
        default:
            throw .unsupported("encoding \(encoding) for \(type) values")
        }
    }

    // MARK: PLAIN

    private mutating func appendPlain(_ data: UnsafeRawBufferPointer, count: Int, budget: inout MemoryBudget) throws(DecodeFailure) {
        switch type {
        case .boolean:
            guard (count + 7) / 8 <= data.count else { throw .malformed("\(count) PLAIN booleans in \(data.count) bytes") }
            bools.reserveCapacity(bools.count + count)
            for i in 0..<count { bools.append(data[i >> 3] >> UInt8(i & 7) & 1 == 1) }
        case .int32: try appendFixed(&ints32, data, count: count)
        case .int64: try appendFixed(&ints64, data, count: count)
        case .float: try appendFixed(&floats, data, count: count)
        case .double: try appendFixed(&doubles, data, count: count)
        case .int96, .fixedLenByteArray:
            let (size, overflow) = count.multipliedReportingOverflow(by: typeLength)
            guard !overflow, size <= data.count else { throw .malformed("\(count) values of \(typeLength) bytes in \(data.count) bytes") }
            try budget.charge(size, bytesEach: 1, for: "fixed-length byte array data")
            let length = typeLength
            try bytes.appendValues(lengths: repeatElement(length, count: count), totalBytes: size) { (out, _) throws(DecodeFailure) in
                out.copyMemory(from: UnsafeRawBufferPointer(rebasing: data[0..<size]))
            }
        case .byteArray:
            // Charge the page's bytes up front: the values' bytes are fewer (each has a 4-byte length).
            try budget.charge(data.count, bytesEach: 1, for: "byte array data")
            try bytes.appendPlain(data, count: count)
        }
    }

    /// Appends `count` little-endian values of `T` copied from `data`.
    private func appendFixed<T: AdditiveArithmetic & BitwiseCopyable>(_ array: inout [T], _ data: UnsafeRawBufferPointer, count: Int) throws(DecodeFailure) {
        let stride = MemoryLayout<T>.stride
        let (size, overflow) = count.multipliedReportingOverflow(by: stride)
        guard !overflow, size <= data.count else { throw .malformed("\(count) PLAIN \(type) values in \(data.count) bytes") }
        grow(&array, to: array.count + count)
        array.append(contentsOf: (0..<count).lazy.map { data.loadUnaligned(fromByteOffset: $0 * stride, as: T.self) })
    }

    // MARK: BYTE_STREAM_SPLIT

    private mutating func appendByteStreamSplit(_ data: UnsafeRawBufferPointer, count: Int, budget: inout MemoryBudget) throws(DecodeFailure) {
        let width: Int
        switch type {
        case .int32, .float: width = 4
        case .int64, .double: width = 8
        default: width = typeLength
        }
        let (size, overflow) = count.multipliedReportingOverflow(by: width)
        guard !overflow, size == data.count else {
            throw .malformed("BYTE_STREAM_SPLIT page of \(data.count) bytes for \(count) values of \(width) bytes")
        }
        // Interleave the streams into a temporary buffer, then append it as PLAIN values.
        var plain = [UInt8](repeating: 0, count: size)
        plain.withUnsafeMutableBytes { out in
            for k in 0..<width {
                let stream = data.baseAddress.map { $0 + k * count }
                guard let stream else { return }
                for i in 0..<count { out[i * width + k] = stream.load(fromByteOffset: i, as: UInt8.self) }
            }
        }
        try plain.withUnsafeBufferPointer { (raw: UnsafeBufferPointer<UInt8>) throws(DecodeFailure) in
            try appendPlain(UnsafeRawBufferPointer(raw), count: count, budget: &budget)
        }
    }

    // MARK: DELTA_BYTE_ARRAY

    private mutating func appendDeltaByteArray(_ data: UnsafeRawBufferPointer, count: Int, budget: inout MemoryBudget) throws(DecodeFailure) {
        let (prefixes, _, prefixBytes) = try decodeLengths(data, count: count, "prefix length")
        let afterPrefixes = UnsafeRawBufferPointer(rebasing: data[prefixBytes...])
        let (suffixes, suffixTotal, suffixBytes) = try decodeLengths(afterPrefixes, count: count, "suffix length")
        let suffixData = UnsafeRawBufferPointer(rebasing: afterPrefixes[suffixBytes...])
        guard suffixTotal <= suffixData.count else {
            throw .malformed("suffix lengths add up to \(suffixTotal), only \(suffixData.count) bytes follow")
        }
        var lengths: [Int] = []
        lengths.reserveCapacity(count)
        var previous = 0
        var total = 0
        for i in 0..<count {
            guard prefixes[i] <= previous else { throw .malformed("prefix length \(prefixes[i]) is longer than the previous value (\(previous))") }
            let length = prefixes[i] + suffixes[i]
            if type == .fixedLenByteArray && length != typeLength {
                throw .malformed("DELTA_BYTE_ARRAY value of \(length) bytes in a FIXED_LEN_BYTE_ARRAY(\(typeLength)) column")
            }
            let (sum, overflow) = total.addingReportingOverflow(length)
            guard !overflow else { throw .malformed("DELTA_BYTE_ARRAY values overflow") }
            total = sum
            lengths.append(length)
            previous = length
        }
        try budget.charge(total, bytesEach: 1, for: "DELTA_BYTE_ARRAY data")
        try bytes.appendValues(lengths: lengths, totalBytes: total) { (out, _) throws(DecodeFailure) in
            guard let dst = out.baseAddress else { return }
            var at = 0, previousStart = 0, read = 0
            for i in 0..<count {
                // The prefix repeats the start of the previous value, already written just before.
                if prefixes[i] > 0 { (dst + at).copyMemory(from: dst + previousStart, byteCount: prefixes[i]) }
                let suffix = UnsafeRawBufferPointer(rebasing: suffixData[read..<(read + suffixes[i])])
                if let src = suffix.baseAddress { (dst + at + prefixes[i]).copyMemory(from: src, byteCount: suffix.count) }
                read += suffixes[i]
                previousStart = at
                at += lengths[i]
            }
        }
    }

    // MARK: dictionary

    /// Decodes RLE_DICTIONARY / PLAIN_DICTIONARY indices (a bit-width byte, then the hybrid encoding) and
    /// appends the dictionary entries they name.
    private mutating func appendFromDictionary(_ dictionary: ValueBuilder, indices data: UnsafeRawBufferPointer, count: Int,
                                               budget: inout MemoryBudget) throws(DecodeFailure) {
        var c = ByteCursor(data)
        let width = Int(try c.byte("dictionary index bit width"))
        guard width <= 32 else { throw .malformed("dictionary index bit width \(width)") }
        var indices = [UInt32](repeating: 0, count: count)
        _ = try indices.withUnsafeMutableBufferPointer { (out: inout UnsafeMutableBufferPointer<UInt32>) throws(DecodeFailure) in
            try decodeRLEHybrid(c.rest, width: width, count: count, into: out)
        }
        let size = dictionary.count
        var highest: UInt32 = 0
        for i in indices { highest = max(highest, i) }
        guard Int(highest) < size else { throw .malformed("dictionary index \(highest) out of range (dictionary of \(size))") }
        switch type {
        case .boolean: bools.append(contentsOf: indices.lazy.map { dictionary.bools[Int($0)] })
        case .int32: ints32.append(contentsOf: indices.lazy.map { dictionary.ints32[Int($0)] })
        case .int64: ints64.append(contentsOf: indices.lazy.map { dictionary.ints64[Int($0)] })
        case .float: floats.append(contentsOf: indices.lazy.map { dictionary.floats[Int($0)] })
        case .double: doubles.append(contentsOf: indices.lazy.map { dictionary.doubles[Int($0)] })
        case .int96, .byteArray, .fixedLenByteArray:
            let entries = dictionary.bytes
            var total = 0
            for i in indices {
                let (sum, overflow) = total.addingReportingOverflow(entries.offsets[Int(i) + 1] - entries.offsets[Int(i)])
                guard !overflow else { throw .limit("dictionary-encoded values overflow") }
                total = sum
            }
            try budget.charge(total, bytesEach: 1, for: "dictionary-encoded byte arrays")
            let lengths = indices.lazy.map { entries.offsets[Int($0) + 1] - entries.offsets[Int($0)] }
            try bytes.appendValues(lengths: lengths, totalBytes: total) { (out, _) throws(DecodeFailure) in
                entries.storage.withUnsafeBytes { src in
                    var at = 0
                    for i in indices {
                        let start = entries.offsets[Int(i)], end = entries.offsets[Int(i) + 1]
                        UnsafeMutableRawBufferPointer(rebasing: out[at..<(at + end - start)])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<end]))
                        at += end - start
                    }
                }
            }
        }
    }
}
