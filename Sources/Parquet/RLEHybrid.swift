/// Decodes `count` values of the RLE / bit-packed hybrid encoding (levels, dictionary indices, RLE booleans)
/// of bit width `width` from `data` into `out`, and returns the bytes consumed.
///
/// Every run header, run value and bit-packed group is checked against the bytes there; a run value wider
/// than `width` is an error. A final bit-packed run may declare more groups than the bytes that follow hold
/// as long as the values actually needed are there (writers pad the last run).
func decodeRLEHybrid<T: FixedWidthInteger & UnsignedInteger>(
    _ data: UnsafeRawBufferPointer, width: Int, count: Int, into out: UnsafeMutableBufferPointer<T>
) throws(DecodeFailure) -> Int {
    guard width >= 0, width <= T.bitWidth, width <= 32 else {
        throw .malformed("RLE bit width \(width) is out of range")
    }
    guard count <= out.count else { throw .malformed("RLE output too small") }
    guard count > 0 else { return 0 }
    guard let outBase = out.baseAddress else { throw .malformed("RLE output missing") }
    var cursor = ByteCursor(data)
    var produced = 0
    let valueBytes = (width + 7) / 8
    let valueLimit: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
    while produced < count {
        let header = try cursor.varint("RLE run header")
        guard header <= UInt64(UInt32.max) else { throw .malformed("RLE run header \(header) is too large") }
        let remaining = count - produced
        if header & 1 == 1 {
            let groups = Int(header >> 1)
            let n = min(groups * 8, remaining)
            let needed = (n * width + 7) / 8
            guard needed <= cursor.remaining else {
                throw .malformed("bit-packed run of \(n) values needs \(needed) bytes, only \(cursor.remaining) left")
            }
            if width == 0 {
                (outBase + produced).update(repeating: 0, count: n)
            } else if let base = cursor.rest.baseAddress {
                let available = cursor.remaining
                for i in 0..<n {
                    outBase[produced + i] = T(truncatingIfNeeded: readBits(base, available: available, bitOffset: i * width, width: width))
                }
            }
            produced += n
            try cursor.skip(min(groups * width, cursor.remaining), "bit-packed run")
        } else {
            let run = Int(header >> 1)
            var value: UInt64 = 0
            let raw = try cursor.take(valueBytes, "RLE run value")
            for (i, b) in raw.enumerated() { value |= UInt64(b) << UInt64(8 * i) }
            guard value <= valueLimit else { throw .malformed("RLE run value \(value) does not fit \(width) bits") }
            let n = min(run, remaining)
            (outBase + produced).update(repeating: T(truncatingIfNeeded: value), count: n)
            produced += n
        }
    }
    return cursor.offset
}

/// Decodes `count` levels (definition or repetition) of maximum `maxLevel` into `out` and checks that none
/// exceeds `maxLevel`.
func decodeLevels(_ data: UnsafeRawBufferPointer, maxLevel: Int, count: Int, into out: UnsafeMutableBufferPointer<UInt16>,
                  _ what: String) throws(DecodeFailure) {
    _ = try decodeRLEHybrid(data, width: bitWidth(of: maxLevel), count: count, into: out)
    var highest: UInt16 = 0
    for level in UnsafeMutableBufferPointer(rebasing: out[0..<count]) { highest = max(highest, level) }
    guard Int(highest) <= maxLevel else { throw .malformed("\(what) level \(highest) exceeds the column's maximum \(maxLevel)") }
}
