// BMP, decoded in Swift with the rules of Pillow's BmpImagePlugin:
//   - headers: OS/2 core (12 bytes: 16-bit sizes, BGR palette triples, always bottom-up) and
//     Windows 40/52/56/64/108/124 (BGRX palette quads; top-down when the height is negative);
//   - 1/4/8-bit palettes: a palette whose entries are exactly 0, 1, 2, ... grey (or black/white
//     for two colours) makes the image "L" (or "1") and the samples are then read as 8-bit grey
//     (or as bits), even when that misreads the data, as Pillow does; otherwise "P" with the
//     entries read from the file (entries past them black);
//   - 16-bit: 5-5-5 (BI_RGB or bitfields) or 5-6-5 (bitfields), each channel v * 255 / 31 (or / 63);
//   - 24-bit BGR; 32-bit BGRX for BI_RGB, and the bitfield layouts Pillow supports (alpha dropped);
//   - RLE8/RLE4 with Pillow's decoder semantics (including its word alignment by file offset and
//     its error when the data ends before the last row);
//   - the pixel data must be complete ("image file is truncated" otherwise).

/// Reads little-endian integers from the file, treating bytes past the end as missing.
private struct BMPReader {
    let input: DecoderInput

    var count: Int { input.bytes.count }

    func u8(_ offset: Int) -> Int { Int(input.bytes[offset]) }
    func u16(_ offset: Int) -> Int { u8(offset) | u8(offset + 1) << 8 }
    func u32(_ offset: Int) -> Int { u16(offset) | u16(offset + 2) << 16 }

    func require(_ end: Int, _ what: String) throws(ImageError) {
        if end > count { throw input.truncated("file ends inside the \(what)") }
    }
}

/// What Pillow calls the mode of a BMP and how its samples are unpacked.
private enum BMPMode {
    case bilevel                 // "1": samples read as bits
    case gray                    // "L": samples read as bytes
    case palette(Palette)        // "P"
    case bgr15, bgr16, bgr24     // "RGB" via BGR;15 / BGR;16 / BGR
    case rgb32(r: Int, g: Int, b: Int)  // "RGB"/"RGBA" from four bytes

    /// Bits Pillow's raw decoder consumes per pixel.
    func rawBits(fileBits: Int) -> Int {
        switch self {
        case .bilevel: return 1
        case .gray: return 8
        case .palette: return fileBits
        case .bgr15, .bgr16: return 16
        case .bgr24: return 24
        case .rgb32: return 32
        }
    }
}

func decodeBMP(_ input: DecoderInput) throws(ImageError) -> RGBImage {
    let file = BMPReader(input: input)
    try file.require(18, "file header")
    var offset = file.u32(10)
    let headerSize = file.u32(14)
    try file.require(14 + headerSize, "bitmap header")
    let h = 18  // start of the header fields after the size

    let width: Int, height: Int, bits: Int, compression: Int, paletteEntryBytes: Int
    var colors: Int
    var topDown = false
    var masks: (r: Int, g: Int, b: Int, a: Int) = (0, 0, 0, 0)
    var position = 14 + headerSize
    switch headerSize {
    case 12:
        width = file.u16(h)
        height = file.u16(h + 2)
        bits = file.u16(h + 6)
        compression = 0
        paletteEntryBytes = 3
        colors = 0
    case 40, 52, 56, 64, 108, 124:
        topDown = file.u8(h + 7) == 0xFF
        width = file.u32(h)
        height = topDown ? (1 << 32) - file.u32(h + 4) : file.u32(h + 4)
        bits = file.u16(h + 10)
        compression = file.u32(h + 12)
        colors = file.u32(h + 28)
        paletteEntryBytes = 4
        if compression == 3 {
            if headerSize >= 52 {
                masks = (file.u32(h + 36), file.u32(h + 40), file.u32(h + 44), headerSize >= 56 ? file.u32(h + 48) : 0)
            } else {
                try file.require(position + 12, "bitfield masks")
                masks = (file.u32(position), file.u32(position + 4), file.u32(position + 8), 0)
                position += 12
            }
        }
    default:
        throw input.unsupported("BMP header type (\(headerSize) bytes)")
    }
    try input.checkSize(width: width, height: height)
    guard width > 0, height > 0 else { throw input.corrupt("empty image (\(width) x \(height))") }
    if colors == 0 { colors = 1 << min(bits, 32) }
    if offset == 14 + headerSize && bits <= 8 { offset += paletteEntryBytes * colors }

    var mode: BMPMode
    switch bits {
    case 1, 4, 8: mode = .gray  // refined with the palette below
    case 16: mode = .bgr15
    case 24: mode = .bgr24
    case 32: mode = .rgb32(r: 2, g: 1, b: 0)
    default: throw input.unsupported("pixel depth of \(bits) bits")
    }
    var rle = false
    switch compression {
    case 0: break
    case 1, 2: rle = true
    case 3:
        let rgb = (masks.r, masks.g, masks.b)
        switch (bits, rgb, masks.a) {
        case (32, (0xFF0000, 0xFF00, 0xFF), 0), (32, (0xFF0000, 0xFF00, 0xFF), 0xFF00_0000):
            mode = .rgb32(r: 2, g: 1, b: 0)            // BGRX, BGRA
        case (32, (0xFF00_0000, 0xFF0000, 0xFF00), 0), (32, (0xFF00_0000, 0xFF0000, 0xFF00), 0xFF):
            mode = .rgb32(r: 3, g: 2, b: 1)            // XBGR, ABGR
        case (32, (0xFF00_0000, 0xFF00, 0xFF), 0), (32, (0xFF00_0000, 0xFF00, 0xFF), 0xFF0000):
            mode = .rgb32(r: 3, g: 1, b: 0)            // BGXR, BGAR
        case (32, (0xFF, 0xFF00, 0xFF0000), 0xFF00_0000):
            mode = .rgb32(r: 0, g: 1, b: 2)            // RGBA
        case (32, (0, 0, 0), 0):
            mode = .rgb32(r: 2, g: 1, b: 0)            // BGRA
        case (24, (0xFF0000, 0xFF00, 0xFF), _):
            mode = .bgr24
        case (16, (0xF800, 0x7E0, 0x1F), _):
            mode = .bgr16
        case (16, (0x7C00, 0x3E0, 0x1F), _):
            mode = .bgr15
        default:
            throw input.unsupported("bitfields layout \(bits)-bit r=\(hex(masks.r)) g=\(hex(masks.g)) "
                + "b=\(hex(masks.b)) a=\(hex(masks.a))")
        }
    default:
        throw input.unsupported("compression type \(compression)")
    }

    if bits <= 8 {
        guard colors > 0, colors <= 65536 else { throw input.unsupported("palette size \(colors)") }
        // Pillow reads the palette right after the header (and masks); a short read is not an error.
        let available = max(0, min(paletteEntryBytes * colors, file.count - position))
        let entry = { (i: Int) -> (Int, Int, Int)? in
            let at = position + i * paletteEntryBytes
            guard at + 3 <= position + available else { return nil }
            return (file.u8(at + 2), file.u8(at + 1), file.u8(at))  // stored B, G, R
        }
        let expected = colors == 2 ? [0, 255] : Array(0..<colors)
        let isGray = expected.enumerated().allSatisfy { index, value in
            guard let (r, g, b) = entry(index) else { return false }
            let v = value & 0xFF
            return r == v && g == v && b == v
        }
        if isGray {
            mode = colors <= 2 ? .bilevel : .gray
        } else {
            let entries = available / paletteEntryBytes
            guard entries <= 256 else { throw input.unsupported("palette of \(entries) entries") }
            var rgb = [UInt8](repeating: 0, count: 768)
            for i in 0..<entries {
                let (r, g, b) = entry(i)!
                rgb[3 * i] = UInt8(r)
                rgb[3 * i + 1] = UInt8(g)
                rgb[3 * i + 2] = UInt8(b)
            }
            mode = .palette(Palette(rgb: rgb))
        }
    }
    let dataStart = offset != 0 ? offset : position + (bits <= 8 ? paletteEntryBytes * colors : 0)
    // The RGB result, and for RLE data the decoded indices.
    try input.reserve(bytesFor(width, height, rle ? 4 : 3), width: width, height: height)

    if rle {
        let indices = try decodeBMPRLE(file, start: dataStart, width: width, height: height, rle4: compression == 2)
        let lookup: Palette
        switch mode {
        case .bilevel: lookup = Palette(rgb: [0, 0, 0] + [UInt8](repeating: 255, count: 765))
        case .gray: lookup = .identityGray
        case .palette(let palette): lookup = palette
        default: throw input.unsupported("RLE compression with \(bits)-bit pixels")
        }
        return indices.withUnsafeBufferPointer { rows in
            makeRGB(width: width, height: height) { out in
                for y in 0..<height {
                    let source = topDown ? y : height - 1 - y
                    convertRow(rows.baseAddress! + source * width, out + y * width * 3, width: width,
                               layout: .palette(lookup))
                }
            }
        }
    }

    // Uncompressed: rows of `stride` bytes (sized by the file's bit depth), bottom-up unless top-down.
    let stride = ((width * bits + 31) >> 3) & ~3
    let rawBits = mode.rawBits(fileBits: bits)
    let rowBytes = (width * rawBits + 7) / 8
    guard rowBytes <= stride else { throw input.corrupt("row of \(rowBytes) bytes exceeds the stride of \(stride)") }
    let (needed, overflow) = stride.multipliedReportingOverflow(by: height - 1)
    guard !overflow, dataStart <= file.count, needed + rowBytes <= file.count - dataStart else {
        throw input.truncated("pixel data needs \(needed + rowBytes) bytes from offset \(dataStart), "
            + "\(max(0, file.count - dataStart)) present")
    }
    let base = input.base + dataStart
    return makeRGB(width: width, height: height) { out in
        var unpacked = [UInt8](repeating: 0, count: rawBits < 8 ? width : 0)
        for y in 0..<height {
            let row = base + (topDown ? y : height - 1 - y) * stride
            let dst = out + y * width * 3
            switch mode {
            case .bilevel, .palette:
                let table: Palette
                if case .palette(let palette) = mode { table = palette } else {
                    table = Palette(rgb: [0, 0, 0] + [UInt8](repeating: 255, count: 765))
                }
                if rawBits < 8 {
                    unpacked.withUnsafeMutableBufferPointer { values in
                        unpackSamples(row, bits: rawBits, count: width, into: values.baseAddress!)
                        convertRow(values.baseAddress!, dst, width: width, layout: .palette(table))
                    }
                } else {
                    convertRow(row, dst, width: width, layout: .palette(table))
                }
            case .gray:
                convertRow(row, dst, width: width, layout: .gray(stride: 1, offset: 0))
            case .bgr24:
                convertRow(row, dst, width: width, layout: .rgb(stride: 3, r: 2, g: 1, b: 0))
            case .rgb32(let r, let g, let b):
                convertRow(row, dst, width: width, layout: .rgb(stride: 4, r: r, g: g, b: b))
            case .bgr15, .bgr16:
                let green6: Bool
                if case .bgr16 = mode { green6 = true } else { green6 = false }
                for x in 0..<width {
                    let v = Int(row[2 * x]) | Int(row[2 * x + 1]) << 8
                    dst[3 * x + 2] = UInt8((v & 31) * 255 / 31)
                    if green6 {
                        dst[3 * x + 1] = UInt8(((v >> 5) & 63) * 255 / 63)
                        dst[3 * x] = UInt8(((v >> 11) & 31) * 255 / 31)
                    } else {
                        dst[3 * x + 1] = UInt8(((v >> 5) & 31) * 255 / 31)
                        dst[3 * x] = UInt8(((v >> 10) & 31) * 255 / 31)
                    }
                }
            }
        }
    }
}

private func hex(_ value: Int) -> String { "0x" + String(value, radix: 16) }

/// Pillow's BmpRleDecoder: indices in file row order (bottom row first for bottom-up files).
/// Absolute runs are word-aligned by absolute file offset, as Pillow's reader does.
private func decodeBMPRLE(_ file: BMPReader, start: Int, width: Int, height: Int,
                          rle4: Bool) throws(ImageError) -> [UInt8] {
    let total = width * height
    var data = [UInt8]()
    data.reserveCapacity(total)
    var x = 0
    var at = start
    let end = file.count
    decoding: while data.count < total {
        guard at + 2 <= end else { break }
        let count = file.u8(at), byte = file.u8(at + 1)
        at += 2
        if count != 0 {
            // Encoded run, clipped to the row.
            var pixels = count
            if x + pixels > width { pixels = max(0, width - x) }
            if rle4 {
                let first = UInt8(byte >> 4), second = UInt8(byte & 0x0F)
                for i in 0..<pixels { data.append(i % 2 == 0 ? first : second) }
            } else {
                data.append(contentsOf: repeatElement(UInt8(byte), count: pixels))
            }
            x += pixels
        } else {
            switch byte {
            case 0:  // end of line: pad the row
                while data.count % width != 0 { data.append(0) }
                x = 0
            case 1:  // end of bitmap
                break decoding
            case 2:  // delta: skip right and up
                guard at + 2 <= end else { break decoding }
                let right = file.u8(at), up = file.u8(at + 1)
                at += 2
                data.append(contentsOf: repeatElement(0, count: min(total - data.count, right + up * width)))
                x = data.count % width
            default:  // absolute run of `byte` pixels
                let wanted = min(total - data.count, byte)
                let byteCount = rle4 ? (wanted + 1) / 2 : wanted
                let available = min(byteCount, max(0, end - at))
                if rle4 {
                    for i in 0..<available {
                        let v = file.u8(at + i)
                        data.append(UInt8(v >> 4))
                        if i * 2 + 1 < wanted { data.append(UInt8(v & 0x0F)) }
                    }
                } else {
                    for i in 0..<available { data.append(UInt8(file.u8(at + i))) }
                }
                at += available
                if available < byteCount || data.count == total { break decoding }
                x += byte
                if at % 2 != 0 { at += 1 }
            }
        }
    }
    guard data.count == total else {
        throw file.input.corrupt("RLE data ends after \(data.count) of \(total) pixels (not enough image data)")
    }
    return data
}
