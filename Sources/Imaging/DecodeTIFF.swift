// TIFF: libtiff through the C shim returns the first page's samples (or RGB for YCbCr); the
// samples are read with the mode and rawmode Pillow's TiffImagePlugin picks from
// (photometric, sample format, bits per sample, extra samples), then converted as Pillow's
// convert("RGB") does. Pillow applies the Orientation tag when it loads a TIFF, so we do too.
//
// Handled (anything else is `unsupported`, as Pillow reports "unknown pixel mode"):
//   WhiteIsZero/BlackIsZero 1/2/4/8-bit ("1;I", "L;2I", ... inverted for WhiteIsZero), 12-bit
//   ("I;12" little-endian only) and 16-bit ("I;16"/"I;16B"), RGB = min(value, 255); signed 16-bit
//   and 32-bit -> "I", clipped to 0...255; 32-bit float -> "F", truncated into 0...255; grey + extra
//   sample (L with X or A; associated "La" cannot be converted by Pillow either), RGB 8/16-bit
//   with X/A/associated-alpha extras ("RGBa" is un-premultiplied like Pillow's unpackRGBa),
//   palette 1/2/4/8-bit (colormap values >> 8, entries past the map black) with an optional
//   extra sample, CMYK 8/16-bit (not inverted), YCbCr through libtiff/libjpeg.
// Pillow's quirks are kept: uncompressed separate planes only as RGB, RGBA or CMYK (16-bit ones
// read a byte per sample, see tiff.c), FillOrder 2 only where Pillow has a bit-reversed mode, and
// big-endian signed or float samples of compressed files byte-swapped a second time.

import CImageCodecs

func decodeTIFF(_ input: DecoderInput) throws(ImageError) -> RGBImage {
    var tiff = cic_tiff_image()
    defer { cic_free(tiff.pixels) }
    // Besides the samples and libtiff's strip or tile buffer: the RGB result and its rotated copy.
    let status = try withMemoryGate(input, extraPerPixel: 3 + 3) { gate in
        cic_tiff_decode(input.base, input.bytes.count, Int64(input.maxPixels), gate, &tiff)
    }
    guard status == CIC_OK, let pixels = tiff.pixels else {
        throw input.error(status: status, message: messageText(tiff.message), width: tiff.width, height: tiff.height)
    }
    let width = Int(tiff.width), height = Int(tiff.height), rowBytes = Int(tiff.row_bytes)
    let image: RGBImage
    switch Int(tiff.layout) {
    case Int(CIC_TIFF_RGB8):
        image = convertToRGB(rows: pixels, rowBytes: rowBytes, width: width, height: height,
                             layout: .rgb(stride: 3, r: 0, g: 1, b: 2))
    case Int(CIC_TIFF_RGBA8):
        if tiff.compression == 1 {
            // Pillow reads uncompressed YCbCr itself (mode "YCbCr" and its own conversion to RGB).
            throw input.unsupported("uncompressed YCbCr")
        }
        image = convertToRGB(rows: pixels, rowBytes: rowBytes, width: width, height: height,
                             layout: .rgb(stride: 4, r: 0, g: 1, b: 2))
    default:
        image = try convertTIFFSamples(tiff, pixels: pixels, input: input)
    }
    return applyOrientation(image, Int(tiff.orientation))
}

/// Native samples -> RGB following Pillow's OPEN_INFO table (fill order already applied by libtiff).
private func convertTIFFSamples(_ tiff: cic_tiff_image, pixels: UnsafePointer<UInt8>,
                                input: DecoderInput) throws(ImageError) -> RGBImage {
    let width = Int(tiff.width), height = Int(tiff.height), rowBytes = Int(tiff.row_bytes)
    let photometric = Int(tiff.photometric), fileBits = Int(tiff.bits_per_sample)
    // Uncompressed 16-bit separate planes come a byte per sample, as Pillow reads them (see tiff.c).
    let bits = Int(tiff.layout) == Int(CIC_TIFF_BYTE_PLANES) ? 8 : fileBits
    let format = Int(tiff.sample_format)
    // For separate planes the shim has already left out trailing unspecified extra samples, as Pillow does.
    let samples = Int(tiff.samples_per_pixel)
    let extras = withUnsafeBytes(of: tiff.extra_samples) { raw in
        (0..<Int(tiff.extra_count)).map { Int(raw.load(fromByteOffset: $0 * 4, as: Int32.self)) }
    }
    let describe = "photometric \(photometric), \(samples) x \(fileBits)-bit samples, sample format \(format), "
        + "extra samples \(extras)"
    guard samples >= 1, samples <= 6, samples - extras.count >= 1 else {
        throw input.unsupported("unknown pixel layout (\(describe))")
    }
    // Pillow reads uncompressed separate planes with its own decoder, one plane per letter of the rawmode:
    // only "RGB", "RGBA" and "CMYK" (and their 16-bit forms) have a rawmode for each plane, and a plane
    // beyond the mode's letters (an unspecified extra sample) has none.
    if tiff.compression == 1, tiff.planar == 2, tiff.stored_samples > 1 {
        let readable: Bool
        switch (photometric, format, fileBits, samples, extras) {
        case (2, 1, 8, 3, []), (2, 1, 8, 4, []), (2, 1, 8, 4, [2]), (2, 1, 8, 4, [999]), (5, 1, 8, 4, []),
             (2, 1, 16, 3, []), (2, 1, 16, 4, []), (2, 1, 16, 4, [2]), (5, 1, 16, 4, []):
            readable = Int(tiff.stored_samples) == samples
        default:
            readable = false
        }
        guard readable else {
            throw input.unsupported("uncompressed separate planes of this layout (\(describe), "
                + "\(tiff.stored_samples) planes)")
        }
    }
    // FillOrder 2 (libtiff has already reversed the bits): Pillow has a mode for it with these layouts only.
    if tiff.fill_order == 2 {
        let reversible: Bool
        switch (photometric, format, bits, samples, extras) {
        case (0...1, 1, 1, 1, []), (0...1, 1, 2, 1, []), (0...1, 1, 4, 1, []), (0...1, 1, 8, 1, []),
             (3, 1, 1, 1, []), (3, 1, 2, 1, []), (3, 1, 4, 1, []), (3, 1, 8, 1, []), (2, 1, 8, 3, []):
            reversible = true
        case (1, 1, 16, 1, []):
            reversible = tiff.big_endian == 0
        default:
            reversible = false
        }
        guard reversible else { throw input.unsupported("FillOrder 2 with this layout (\(describe))") }
    }
    let sampleBytes = max(bits / 8, 1)
    let stride = samples * sampleBytes
    // 16- and 32-bit samples come in native byte order; `msb` is the offset of the high byte.
    let nativeBigEndian = UInt16(1).bigEndian == 1
    let msb = nativeBigEndian ? 0 : 1
    let littleEndianFile = tiff.big_endian == 0
    // Pillow reads big-endian signed and float samples with the rawmodes "I;16BS", "I;32BS" and "F;32BF",
    // which byte-swap. That is right for uncompressed data (its own decoder reads the file's bytes), but
    // libtiff, which decodes every compressed file, has already put the samples in native order (Pillow
    // converts only the unsigned rawmodes to native ones): they are swapped a second time.
    let swapTwice = !littleEndianFile && tiff.compression != 1

    var layout: PixelLayout?
    switch (photometric, format, bits, samples, extras) {
    // Bilevel and grey below 8 bits: a lookup table over the unpacked values.
    case (0, 1, 1, 1, []), (1, 1, 1, 1, []), (0, 1, 2, 1, []), (1, 1, 2, 1, []), (0, 1, 4, 1, []), (1, 1, 4, 1, []):
        let levels = 1 << bits, scale = 255 / (levels - 1)
        let table: [UInt8] = (0..<levels).flatMap { v -> [UInt8] in
            let value = photometric == 0 ? 255 - v * scale : v * scale
            return [UInt8(value), UInt8(value), UInt8(value)]
        }
        return convertSubByte(pixels, rowBytes: rowBytes, width: width, height: height, bits: bits,
                              palette: Palette(rgb: table))
    case (3, 1, 1, 1, []), (3, 1, 2, 1, []), (3, 1, 4, 1, []):
        return convertSubByte(pixels, rowBytes: rowBytes, width: width, height: height, bits: bits,
                              palette: try tiffPalette(tiff, input: input))
    case (0, 1, 8, 1, []):
        layout = .palette(Palette(rgb: (0..<768).map { UInt8(255 - $0 / 3) }))
    case (1, 1, 8, 1, []), (1, 2, 8, 1, []):
        layout = .gray(stride: stride, offset: 0)
    case (1, 1, 8, 2, [0]), (1, 1, 8, 2, [2]):
        layout = .gray(stride: stride, offset: 0)
    case (0, 1, 16, 1, []) where littleEndianFile:
        layout = .gray16Clipped(stride: stride, bigEndian: nativeBigEndian)
    case (1, 1, 16, 1, []):
        layout = .gray16Clipped(stride: stride, bigEndian: nativeBigEndian)
    case (1, 2, 16, 1, []):
        layout = .graySigned16Clipped(stride: stride, bigEndian: nativeBigEndian != swapTwice)
    case (1, 1, 12, 1, []) where littleEndianFile:
        // Pillow's "I;12" rawmode, little-endian files only (its OPEN_INFO has no big-endian entry).
        guard rowBytes >= (width * 12 + 7) / 8 else { throw input.corrupt("rows shorter than their samples (\(describe))") }
        return convertToRGB(rows: pixels, rowBytes: rowBytes, width: width, height: height, layout: .gray12Clipped)
    case (1, 2, 32, 1, []):
        layout = .gray32(stride: stride, float: false, swapped: swapTwice)        // "I;32S", "I;32BS"
    case (1, 1, 32, 1, []) where littleEndianFile:
        layout = .gray32(stride: stride, float: false, swapped: false)            // "I;32N": read as signed
    case (0, 3, 32, 1, []), (1, 3, 32, 1, []):
        layout = .gray32(stride: stride, float: true, swapped: swapTwice)
    case (2, 1, 8, 3, []), (2, 1, 8, 4, []), (2, 1, 8, 4, [0]), (2, 1, 8, 4, [2]), (2, 1, 8, 4, [999]),
         (2, 1, 8, 5, [0, 0]), (2, 1, 8, 5, [2, 0]), (2, 1, 8, 6, [0, 0, 0]), (2, 1, 8, 6, [2, 0, 0]):
        layout = .rgb(stride: stride, r: 0, g: 1, b: 2)
    case (2, 1, 8, 4, [1]), (2, 1, 8, 5, [1, 0]), (2, 1, 8, 6, [1, 0, 0]):
        layout = .premultipliedRGBA(stride: stride, offsets: (0, 1, 2, 3))
    case (2, 1, 16, 3, []), (2, 1, 16, 4, []), (2, 1, 16, 4, [0]), (2, 1, 16, 4, [2]):
        layout = .rgb(stride: stride, r: msb, g: 2 + msb, b: 4 + msb)
    case (2, 1, 16, 4, [1]):
        layout = .premultipliedRGBA(stride: stride, offsets: (msb, 2 + msb, 4 + msb, 6 + msb))
    case (3, 1, 8, 1, []), (3, 1, 8, 2, [0]), (3, 1, 8, 2, [2]):
        layout = .paletteStrided(try tiffPalette(tiff, input: input), stride: stride)
    case (5, 1, 8, 4, []), (5, 1, 8, 5, [0]), (5, 1, 8, 6, [0, 0]):
        layout = .cmyk(stride: stride, offsets: (0, 1, 2, 3), inverted: false)
    case (5, 1, 16, 4, []):
        layout = .cmyk(stride: stride, offsets: (msb, 2 + msb, 4 + msb, 6 + msb), inverted: false)
    default:
        layout = nil
    }
    guard let layout else { throw input.unsupported("unknown pixel layout (\(describe))") }
    guard rowBytes >= width * stride else { throw input.corrupt("rows shorter than their samples (\(describe))") }
    return convertToRGB(rows: pixels, rowBytes: rowBytes, width: width, height: height, layout: layout)
}

/// The colormap as Pillow reads it: 16-bit values // 256, entries past the map black.
private func tiffPalette(_ tiff: cic_tiff_image, input: DecoderInput) throws(ImageError) -> Palette {
    let count = Int(tiff.colormap_count)
    guard count > 0 else { throw input.corrupt("palette image without a colormap") }
    return withUnsafeBytes(of: tiff.colormap) { raw in
        let map = raw.bindMemory(to: UInt16.self)
        var rgb = [UInt8](repeating: 0, count: 768)
        for i in 0..<min(count, 256) {
            rgb[3 * i] = UInt8(map[i] >> 8)
            rgb[3 * i + 1] = UInt8(map[256 + i] >> 8)
            rgb[3 * i + 2] = UInt8(map[512 + i] >> 8)
        }
        return Palette(rgb: rgb)
    }
}

/// 1/2/4-bit single-sample rows: unpack each row, then look the values up.
private func convertSubByte(_ pixels: UnsafePointer<UInt8>, rowBytes: Int, width: Int, height: Int, bits: Int,
                            palette: Palette) -> RGBImage {
    var row = [UInt8](repeating: 0, count: width)
    return row.withUnsafeMutableBufferPointer { values in
        makeRGB(width: width, height: height) { out in
            for y in 0..<height {
                unpackSamples(pixels + y * rowBytes, bits: bits, count: width, into: values.baseAddress!)
                convertRow(values.baseAddress!, out + y * width * 3, width: width, layout: .palette(palette))
            }
        }
    }
}
