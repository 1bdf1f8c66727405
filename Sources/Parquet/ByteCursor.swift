/// A bounds-checked forward reader over bytes of the file (or of a decompressed page). Every read checks
/// that the bytes are there and throws `DecodeFailure.malformed` when they are not.
struct ByteCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset >= bytes.count }
    /// The bytes not read yet.
    var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[offset...]) }

    mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws(DecodeFailure) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else {
            throw .malformed("\(what()) needs \(count) bytes, only \(remaining) left")
        }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws(DecodeFailure) {
        _ = try take(count, what())
    }

    mutating func byte(_ what: @autoclosure () -> String) throws(DecodeFailure) -> UInt8 {
        guard offset < bytes.count else { throw .malformed("\(what()) ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A 4-byte little-endian unsigned integer.
    mutating func uint32(_ what: @autoclosure () -> String) throws(DecodeFailure) -> UInt32 {
        let raw = try take(4, what())
        return raw.loadUnaligned(as: UInt32.self).littleEndian
    }

    /// An unsigned LEB128 varint of at most 64 bits.
    mutating func varint(_ what: @autoclosure () -> String) throws(DecodeFailure) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte(what())
            if shift == 63 && b > 1 { throw .malformed("\(what()): varint overflows 64 bits") }
            result |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .malformed("\(what()): varint longer than 10 bytes") }
        }
    }

    /// A zigzag-encoded signed varint.
    mutating func zigzag(_ what: @autoclosure () -> String) throws(DecodeFailure) -> Int64 {
        let v = try varint(what())
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    /// A varint that must fit `Int` and be at most `limit`.
    mutating func count(atMost limit: Int, _ what: @autoclosure () -> String) throws(DecodeFailure) -> Int {
        let v = try varint(what())
        guard v <= UInt64(max(limit, 0)) else { throw .malformed("\(what()) is \(v), more than \(limit)") }
        return Int(v)
    }
}

/// Reads `width` bits (0...64), least significant bit first, starting `bitOffset` bits into `p`.
/// The caller guarantees that `(bitOffset + width + 7) / 8 <= available`.
@inline(__always)
func readBits(_ p: UnsafeRawPointer, available: Int, bitOffset: Int, width: Int) -> UInt64 {
    let mask: UInt64 = width >= 64 ? ~0 : (1 << UInt64(width)) &- 1
    let byte = bitOffset >> 3
    let shift = bitOffset & 7
    if byte + 8 <= available {
        let word = p.loadUnaligned(fromByteOffset: byte, as: UInt64.self).littleEndian
        if shift + width <= 64 { return (word >> UInt64(shift)) & mask }
        // More than 56 bits at an odd offset: the ninth byte holds the top bits (it exists, see above).
        let high = UInt64(p.load(fromByteOffset: byte + 8, as: UInt8.self))
        return ((word >> UInt64(shift)) | (high << UInt64(64 - shift))) & mask
    }
    var value: UInt64 = 0
    var got = 0
    var position = bitOffset
    while got < width {
        let bits = UInt64(p.load(fromByteOffset: position >> 3, as: UInt8.self)) >> UInt64(position & 7)
        let take = min(8 - (position & 7), width - got)
        value |= (bits & ((1 << UInt64(take)) &- 1)) << UInt64(got)
        got += take
        position += take
    }
    return value
}

/// The number of bits needed to store values up to `maxValue` (0 for 0).
func bitWidth(of maxValue: Int) -> Int {
    maxValue <= 0 ? 0 : Int.bitWidth - maxValue.leadingZeroBitCount
}
