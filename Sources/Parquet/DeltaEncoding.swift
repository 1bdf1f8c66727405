/// Decodes one DELTA_BINARY_PACKED stream of exactly `count` values from the start of `data`; returns the
/// values (as 64-bit; INT32 columns truncate them, which gives the same result as 32-bit wrapping
/// arithmetic) and the number of bytes the stream took.
func decodeDeltaBinaryPacked(_ data: UnsafeRawBufferPointer, count: Int) throws(DecodeFailure) -> (values: [Int64], consumed: Int) {
    var c = ByteCursor(data)
    let blockSize = try c.count(atMost: 1 << 20, "delta block size")
    let miniblocks = try c.count(atMost: 1 << 20, "delta miniblock count")
    let total = try c.count(atMost: Int(Int32.max), "delta value count")
    let first = try c.zigzag("delta first value")
    guard blockSize > 0, blockSize % 128 == 0, miniblocks > 0, blockSize % miniblocks == 0,
          (blockSize / miniblocks) % 32 == 0 else {
        throw .malformed("delta header has block size \(blockSize) with \(miniblocks) miniblocks")
    }
    guard total == count else { throw .malformed("delta stream holds \(total) values, the page needs \(count)") }
    guard count > 0 else { return ([], c.offset) }
    let perMiniblock = blockSize / miniblocks
    var values = [Int64](repeating: 0, count: count)
    var previous = UInt64(bitPattern: first)
    values[0] = first
    var filled = 1
    while filled < count {
        let minDelta = UInt64(bitPattern: try c.zigzag("delta block minimum"))
        let widths = try c.take(miniblocks, "delta miniblock bit widths")
        for m in 0..<miniblocks where filled < count {
            let width = Int(widths[m])
            guard width <= 64 else { throw .malformed("delta miniblock bit width \(width)") }
            let body = try c.take(perMiniblock * width / 8, "delta miniblock")
            let n = min(perMiniblock, count - filled)
            if width == 0 {
                for _ in 0..<n {
                    previous = previous &+ minDelta
                    values[filled] = Int64(bitPattern: previous)
                    filled += 1
                }
            } else if let base = body.baseAddress {
                for i in 0..<n {
                    previous = previous &+ minDelta &+ readBits(base, available: body.count, bitOffset: i * width, width: width)
                    values[filled] = Int64(bitPattern: previous)
                    filled += 1
                }
            }
        }
    }
    return (values, c.offset)
}

/// Lengths from a DELTA_BINARY_PACKED stream, each checked to be a valid byte count, and their sum.
func decodeLengths(_ data: UnsafeRawBufferPointer, count: Int, _ what: String) throws(DecodeFailure) -> (lengths: [Int], total: Int, consumed: Int) {
    let (raw, consumed) = try decodeDeltaBinaryPacked(data, count: count)
    var total = 0
    var lengths: [Int] = []
    lengths.reserveCapacity(count)
    for v in raw {
        guard v >= 0, v <= Int64(Int32.max) else { throw .malformed("\(what) \(v) is out of range") }
        let (sum, overflow) = total.addingReportingOverflow(Int(v))
        guard !overflow else { throw .malformed("\(what)s overflow") }
        total = sum
        lengths.append(Int(v))
    }
    return (lengths, total, consumed)
}
