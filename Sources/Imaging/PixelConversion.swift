// Pillow's conversions to RGB for the modes the decoders produce (Convert.c / Unpack.c
// semantics), applied row by row to the native samples the C shims return.

/// A 256-entry RGB palette; entries past the file's palette are black, as in Pillow's palettes.
struct Palette {
    /// 768 bytes: R, G, B per entry.
    var rgb: [UInt8]

    /// Builds from `count` packed RGB triples.
    init(rgbTriples source: UnsafeRawBufferPointer, count: Int) {
        var rgb = [UInt8](repeating: 0, count: 768)
        for i in 0..<min(count * 3, 768, source.count) { rgb[i] = source[i] }
        self.rgb = rgb
    }

    init(rgb: [UInt8]) {
        precondition(rgb.count <= 768)
        self.rgb = rgb + [UInt8](repeating: 0, count: 768 - rgb.count)
    }

    /// Entry `i` is `(i, i, i)`: what Pillow's "L" mode means.
    static let identityGray = Palette(rgb: (0..<768).map { UInt8($0 / 3) })
}

/// How the samples of one pixel map to RGB, named after the Pillow mode (and rawmode) they follow.
enum PixelLayout {
    /// "L" (and grey with alpha): the byte at `offset` of each `stride`-byte pixel, replicated.
    case gray(stride: Int, offset: Int)
    /// "1": one byte per pixel, zero is black and anything else white.
    case bilevel
    /// "P": one index byte per pixel looked up in the palette (also any 8-bit lookup table).
    case palette(Palette)
    /// "PX"/"PA": the index byte at offset 0 of each `stride`-byte pixel.
    case paletteStrided(Palette, stride: Int)
    /// "RGB"/"RGBA"/"RGBX" and byte-order variants: R, G, B bytes at the given offsets of each
    /// `stride`-byte pixel (16-bit sources point at the most significant byte).
    case rgb(stride: Int, r: Int, g: Int, b: Int)
    /// "I;16": 16-bit grey clipped to 255 (Pillow's I16_RGB), in the given byte order.
    case gray16Clipped(stride: Int, bigEndian: Bool)
    /// "I" from signed 16-bit samples: clipped to 0...255 (Pillow's i2rgb).
    case graySigned16Clipped(stride: Int, bigEndian: Bool)
    /// "I;16" from "I;12": 12-bit samples packed most significant bit first (two in three bytes),
    /// clipped to 255 like any "I;16" value.
    case gray12Clipped
    /// "I" (signed 32-bit, clipped to 0...255 by i2rgb) or "F" (32-bit float, made "L" by f2l: truncated
    /// toward zero inside 0...255, clipped outside, NaN 0) from native-order samples, or byte-swapped ones
    /// when `swapped`.
    case gray32(stride: Int, float: Bool, swapped: Bool)
    /// "CMYK": four bytes at the given offsets of each `stride`-byte pixel; `inverted` for "CMYK;I".
    case cmyk(stride: Int, offsets: (Int, Int, Int, Int), inverted: Bool)
    /// "RGBa" (premultiplied) un-premultiplied the way Pillow's unpackRGBa does, then alpha dropped;
    /// R, G, B and A bytes at the given offsets of each `stride`-byte pixel.
    case premultipliedRGBA(stride: Int, offsets: (Int, Int, Int, Int))
}

/// Pillow's MULDIV255: `a * b / 255` with rounding.
@inline(__always)
func mulDiv255(_ a: Int32, _ b: Int32) -> Int32 {
    let t = a &* b &+ 128
    return ((t >> 8) &+ t) >> 8
}

@inline(__always)
private func clip8(_ v: Int32) -> UInt8 { UInt8(clamping: v) }

/// Converts `height` rows of `rowBytes` bytes (the first `width` pixels of each) to an RGB image.
func convertToRGB(rows base: UnsafePointer<UInt8>, rowBytes: Int, width: Int, height: Int,
                  layout: PixelLayout) -> RGBImage {
    makeRGB(width: width, height: height) { out in
        for y in 0..<height {
            convertRow(base + y * rowBytes, out + y * width * 3, width: width, layout: layout)
        }
    }
}

/// Allocates a `width * height * 3` pixel array and lets `fill` write all of it.
func makeRGB(width: Int, height: Int, _ fill: (UnsafeMutablePointer<UInt8>) -> Void) -> RGBImage {
    let count = width * height * 3
    let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        if count > 0 { fill(buffer.baseAddress!) }
        initialized = count
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}

/// One row: `width` pixels from `src` in `layout` to RGB at `dst`.
func convertRow(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, width: Int, layout: PixelLayout) {
    switch layout {
    case .gray(let stride, let offset):
        for x in 0..<width {
            let v = src[x * stride + offset]
            dst[3 * x] = v
            dst[3 * x + 1] = v
            dst[3 * x + 2] = v
        }
    case .bilevel:
        for x in 0..<width {
            let v: UInt8 = src[x] != 0 ? 255 : 0
            dst[3 * x] = v
            dst[3 * x + 1] = v
            dst[3 * x + 2] = v
        }
    case .palette(let palette):
        palette.rgb.withUnsafeBufferPointer { table in
            for x in 0..<width {
                let i = Int(src[x]) * 3
                dst[3 * x] = table[i]
                dst[3 * x + 1] = table[i + 1]
                dst[3 * x + 2] = table[i + 2]
            }
        }
    case .paletteStrided(let palette, let stride):
        palette.rgb.withUnsafeBufferPointer { table in
            for x in 0..<width {
                let i = Int(src[x * stride]) * 3
                dst[3 * x] = table[i]
                dst[3 * x + 1] = table[i + 1]
                dst[3 * x + 2] = table[i + 2]
            }
        }
    case .rgb(let stride, let r, let g, let b):
        if stride == 3 && r == 0 && g == 1 && b == 2 {
            dst.update(from: src, count: width * 3)
            return
        }
        for x in 0..<width {
            let p = src + x * stride
            dst[3 * x] = p[r]
            dst[3 * x + 1] = p[g]
            dst[3 * x + 2] = p[b]
        }
    case .gray16Clipped(let stride, let bigEndian):
        let high = bigEndian ? 0 : 1
        for x in 0..<width {
            let p = src + x * stride
            let v: UInt8 = p[high] == 0 ? p[1 - high] : 255
            dst[3 * x] = v
            dst[3 * x + 1] = v
            dst[3 * x + 2] = v
        }
    case .graySigned16Clipped(let stride, let bigEndian):
        for x in 0..<width {
            let p = src + x * stride
            let raw = bigEndian ? UInt16(p[0]) << 8 | UInt16(p[1]) : UInt16(p[1]) << 8 | UInt16(p[0])
            let v = UInt8(clamping: max(Int16(bitPattern: raw), 0))
            dst[3 * x] = v
            dst[3 * x + 1] = v
            dst[3 * x + 2] = v
        }
    case .gray12Clipped:
        for x in 0..<width {
            let p = src + x / 2 * 3
            let v = x % 2 == 0 ? Int(p[0]) << 4 | Int(p[1]) >> 4 : Int(p[1] & 0x0F) << 8 | Int(p[2])
            let clipped = UInt8(min(v, 255))
            dst[3 * x] = clipped
            dst[3 * x + 1] = clipped
            dst[3 * x + 2] = clipped
        }
    case .gray32(let stride, let float, let swapped):
        for x in 0..<width {
            let raw = UnsafeRawPointer(src + x * stride).loadUnaligned(as: UInt32.self)
            let bits = swapped ? raw.byteSwapped : raw
            let v: UInt8
            if float {
                let f = Float(bitPattern: bits)
                v = f > 0 && f < 255 ? UInt8(f) : f >= 255 ? 255 : 0
            } else {
                v = UInt8(clamping: Int32(bitPattern: bits))
            }
            dst[3 * x] = v
            dst[3 * x + 1] = v
            dst[3 * x + 2] = v
        }
    case .cmyk(let stride, let o, let inverted):
        let flip: UInt8 = inverted ? 255 : 0
        for x in 0..<width {
            let p = src + x * stride
            let c = Int32(p[o.0] ^ flip), m = Int32(p[o.1] ^ flip), yy = Int32(p[o.2] ^ flip)
            let nk = 255 - Int32(p[o.3] ^ flip)
            dst[3 * x] = clip8(nk - mulDiv255(c, nk))
            dst[3 * x + 1] = clip8(nk - mulDiv255(m, nk))
            dst[3 * x + 2] = clip8(nk - mulDiv255(yy, nk))
        }
    case .premultipliedRGBA(let stride, let o):
        for x in 0..<width {
            let p = src + x * stride
            let a = Int32(p[o.3])
            if a == 0 {
                dst[3 * x] = 0
                dst[3 * x + 1] = 0
                dst[3 * x + 2] = 0
            } else if a == 255 {
                dst[3 * x] = p[o.0]
                dst[3 * x + 1] = p[o.1]
                dst[3 * x + 2] = p[o.2]
            } else {
                dst[3 * x] = clip8(Int32(p[o.0]) * 255 / a)
                dst[3 * x + 1] = clip8(Int32(p[o.1]) * 255 / a)
                dst[3 * x + 2] = clip8(Int32(p[o.2]) * 255 / a)
            }
        }
    }
}

/// Unpacks `count` samples of `bits` (1, 2 or 4) bits, most significant first, to one byte each,
/// unscaled. Used for TIFF and BMP rows (libpng unpacks PNG rows itself).
func unpackSamples(_ src: UnsafePointer<UInt8>, bits: Int, count: Int, into dst: UnsafeMutablePointer<UInt8>) {
    let perByte = 8 / bits
    let mask = UInt8((1 << bits) - 1)
    for i in 0..<count {
        let byte = src[i / perByte]
        let shift = 8 - bits * (i % perByte + 1)
        dst[i] = (byte >> UInt8(shift)) & mask
    }
}

/// Rotates/flips an RGB image by a TIFF/EXIF orientation (2...8), as `ImageOps.exif_transpose` does.
func applyOrientation(_ image: RGBImage, _ orientation: Int) -> RGBImage {
    guard (2...8).contains(orientation) else { return image }
    let w = image.width, h = image.height
    let swaps = orientation >= 5
    let outW = swaps ? h : w, outH = swaps ? w : h
    return image.pixels.withUnsafeBufferPointer { src in
        makeRGB(width: outW, height: outH) { dst in
            for y in 0..<outH {
                for x in 0..<outW {
                    // Source coordinates of output pixel (x, y).
                    let (sx, sy): (Int, Int)
                    switch orientation {
                    case 2: (sx, sy) = (w - 1 - x, y)               // mirror horizontal
                    case 3: (sx, sy) = (w - 1 - x, h - 1 - y)       // rotate 180
                    case 4: (sx, sy) = (x, h - 1 - y)               // mirror vertical
                    case 5: (sx, sy) = (y, x)                       // transpose
                    case 6: (sx, sy) = (y, h - 1 - x)               // rotate 90 clockwise
                    case 7: (sx, sy) = (w - 1 - y, h - 1 - x)       // transverse
                    default: (sx, sy) = (w - 1 - y, x)              // 8: rotate 90 counter-clockwise
                    }
                    let s = (sy * w + sx) * 3, d = (y * outW + x) * 3
                    dst[d] = src[s]
                    dst[d + 1] = src[s + 1]
                    dst[d + 2] = src[s + 2]
                }
            }
        }
    }
}
