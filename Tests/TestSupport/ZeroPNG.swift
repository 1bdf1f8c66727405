// Hostile PNGs for the memory tests, built in well under a second: every sample is zero, so the image data is
// one long run of zero bytes, deflated once in blocks that are then repeated (a full flush makes each block
// independent of what came before). A 13000 x 13000 16-bit RGBA image (1.35 GB of samples) takes about 1.3 MB.

import CZlib
import Foundation

/// Writes a non-interlaced PNG of `width` x `height` zero pixels to `path` (atomically): colour type
/// `colorType` (0 grey, 2 RGB, 4 grey + alpha, 6 RGBA) at `bitDepth` 8 or 16. `trailingZeros` more zero
/// bytes follow the last row inside the same zlib stream (data a decoder must not inflate), and the
/// stream's checksum is right for all of it. The image data is cut into IDAT chunks of at most 1 MiB.
public func writeZeroPNG(path: String, width: Int, height: Int, bitDepth: Int = 16, colorType: Int = 6,
                         trailingZeros: Int = 0) throws {
    let channels = [0: 1, 2: 3, 4: 2, 6: 4][colorType]!
    let rowBytes = 1 + width * channels * bitDepth / 8
    let total = rowBytes * height + trailingZeros
    let segment = 1 << 22
    var stream: [UInt8] = [0x78, 0x01]
    let whole = try deflatedZeros(segment)
    for _ in 0..<(total / segment) { stream += whole }
    if total % segment > 0 { stream += try deflatedZeros(total % segment) }
    stream += [0x03, 0x00]  // an empty final block (fixed Huffman: just the end-of-block code)
    // Adler-32 of `total` zero bytes: a stays 1, b gains 1 per byte.
    let adler = UInt32(total % 65521) << 16 | 1
    stream += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: adler >> UInt32($0)) }

    var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
    header += [UInt8(bitDepth), UInt8(colorType), 0, 0, 0]
    file += pngChunk("IHDR", header)
    var start = 0
    while start < stream.count {
        let end = min(start + (1 << 20), stream.count)
        file += pngChunk("IDAT", Array(stream[start..<end]))
        start = end
    }
    file += pngChunk("IEND", [])
    try Data(file).write(to: URL(fileURLWithPath: path), options: .atomic)
}

/// One PNG chunk: length, type, data, CRC-32 of type and data.
public func pngChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let body = Array(type.utf8) + data
    let crc = body.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
    return bigEndian(UInt32(data.count)) + body + bigEndian(crc)
}

private func bigEndian(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> UInt32($0)) } }

/// `count` zero bytes as raw deflate blocks ending on a full flush (byte-aligned, no reference to earlier data).
private func deflatedZeros(_ count: Int) throws -> [UInt8] {
    var stream = z_stream()
    guard deflateInit2_(&stream, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw CocoaError(.featureUnsupported)
    }
    defer { deflateEnd(&stream) }
    var input = [UInt8](repeating: 0, count: count)
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(count))) + 64)
    let status = input.withUnsafeMutableBufferPointer { source in
        output.withUnsafeMutableBufferPointer { target in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(count)
            stream.next_out = target.baseAddress
            stream.avail_out = uInt(target.count)
            return deflate(&stream, Z_FULL_FLUSH)
        }
    }
    guard status == Z_OK, stream.avail_in == 0 else { throw CocoaError(.featureUnsupported) }
    return Array(output[..<(output.count - Int(stream.avail_out))])
}
