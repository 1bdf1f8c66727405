// Bit-exact re-implementation of Pillow's `Image.resize(size, filter)` for 8-bit RGB images with
// the BILINEAR, BICUBIC and LANCZOS filters: libImaging's separable, antialiased convolution
// resampler with 22-bit fixed-point taps (src/libImaging/Resample.c), written independently.
//
// What Pillow does, and this file with it:
// * Each axis gets its own 1-D filter bank. For output index `i` the filter is centred at
//   `(i + 0.5) * scale` (scale = in/out, the box width computed in Float and divided in Double)
//   and spans `filter.support * max(scale, 1)` source pixels on each side, so downscaling widens
//   the kernel (antialiasing) and upscaling uses the plain kernel. A tap at source index `j`
//   weighs `kernel((j - centre + 0.5) / max(scale, 1))`.
// * The first and last source index are `trunc(centre ∓ support + 0.5)`, clamped to the image;
//   the taps are divided by their (double) sum when it is non-zero, then rounded half away from
//   zero to integers in units of 2^-22.
// * Pixels are accumulated in 32-bit integers starting from 2^21 (rounding), shifted right by 22
//   (arithmetic) and clamped to 0...255 — after each of the two passes, so the intermediate
//   image is 8-bit.
// * Pass order (Pillow 13.0): vertical first when the height shrinks by more than twice as many
//   pixels as the width (`inH - outH > 0 && inH - outH > 2 * (inW - outW)`), otherwise
//   horizontal first, on just the rows the vertical pass reads. Pillow 12 and older always went
//   horizontal first; the two orders can differ by one unit in the last place.
// * An axis whose size does not change is not filtered at all; equal sizes give a copy.
//
// The kernels (Pillow's formulas, evaluated in Double in the same operation order, without fused
// multiply-adds):
// * bilinear (triangle), support 1: `1 - |x|` for |x| < 1;
// * bicubic (Keys, a = -0.5), support 2;
// * lanczos (3 lobes), support 3: `sinc(x) * sinc(x / 3)` for -3 <= x < 3, `sinc(x) = sin(πx)/(πx)`
//   (libm's `sin`).
//
// Any rectangular window of the resized image can be produced on its own; every output pixel is
// computed exactly as in the full resize, since each pixel depends only on its own taps.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A resampling filter of Pillow's `Image.resize` (`Image.Resampling.BILINEAR`, `BICUBIC`, `LANCZOS`).
public enum ResampleFilter: String, Sendable, Hashable, CaseIterable {
    /// Triangle filter (`Image.BILINEAR`), support 1 source pixel (times the downscale factor).
    case bilinear
    /// Keys cubic with a = -0.5 (`Image.BICUBIC`, Pillow's default), support 2.
    case bicubic
    /// Three-lobe Lanczos windowed sinc (`Image.LANCZOS`, formerly `ANTIALIAS`), support 3.
    case lanczos

    /// The kernel's half-width in source pixels at scale 1 (Pillow's `filter.support`).
    public var support: Double {
        switch self {
        case .bilinear: return 1.0
        case .bicubic: return 2.0
        case .lanczos: return 3.0
        }
    }

    /// The kernel at `x`, as Pillow evaluates it in `double`.
    @inline(__always)
    func weight(_ x: Double) -> Double {
        switch self {
        case .bilinear: return Self.triangle(x)
        case .bicubic: return Self.cubic(x)
        case .lanczos: return Self.lanczos3(x)
        }
    }

    /// `1 - |x|` inside (-1, 1), zero outside.
    @inline(__always)
    static func triangle(_ t: Double) -> Double {
        let x = t < 0 ? -t : t
        return x < 1.0 ? 1.0 - x : 0.0
    }

    /// Keys' cubic convolution kernel with a = -0.5, with Pillow's operation order.
    @inline(__always)
    static func cubic(_ t: Double) -> Double {
        let x = t < 0 ? -t : t
        if x < 1.0 {
            // ((a + 2) x - (a + 3)) x x + 1 with a + 2 = 1.5 and a + 3 = 2.5 (exact constants).
            let p = 1.5 * x - 2.5
            let q = p * x
            let r = q * x
            return r + 1.0
        }
        if x < 2.0 {
            // (((x - 5) x + 8) x - 4) a
            let p = x - 5.0
            let q = p * x + 8.0
            let r = q * x - 4.0
            return r * -0.5
        }
        return 0.0
    }

    /// Normalised sinc, `sin(πx) / (πx)`, 1 at zero.
    @inline(__always)
    static func sinc(_ t: Double) -> Double {
        if t == 0.0 { return 1.0 }
        let x = t * Double.pi
        return sin(x) / x
    }

    /// Lanczos with three lobes on the half-open interval [-3, 3) (Pillow's bounds), zero outside.
    @inline(__always)
    static func lanczos3(_ x: Double) -> Double {
        if -3.0 <= x && x < 3.0 { return sinc(x) * sinc(x / 3.0) }
        return 0.0
    }
}

/// One axis of a separable resampling: for each output index in a window, the first source
/// index, the number of taps and the fixed-point tap weights (padded to `stride`).
struct ResampleFilterBank {
    /// First source index of each output index in the window.
    var first: [Int]
    /// Number of source taps of each output index.
    var count: [Int]
    /// `window.count * stride` weights in units of 2^-22; unused slots are zero.
    var weights: [Int32]
    /// Distance between consecutive output indices in `weights`.
    var stride: Int

    /// Pillow's fixed-point precision (32 bits minus 8 for the pixel minus 2 for head-room).
    static let precisionBits = 22

    /// The same filters with one common tap count, `taps = max(count)`: each filter's window is
    /// moved left where needed so that it stays inside `sourceRange`, and its weights are placed
    /// at the matching offset with zeros around them. Sums over these taps equal the original
    /// ones exactly (the extra taps contribute `0 * pixel`); a fixed trip count keeps the inner
    /// loop free of unpredictable exits.
    func uniform() -> (first: [Int], taps: Int, weights: [Int32]) {
        let taps = count.max() ?? 0
        let available = sourceRange
        var newFirst = first
        var newWeights = [Int32](repeating: 0, count: first.count * taps)
        for s in first.indices {
            let start = max(available.lowerBound, min(first[s], available.upperBound - taps))
            newFirst[s] = start
            let shift = first[s] - start
            for t in 0..<count[s] { newWeights[s * taps + shift + t] = weights[s * stride + t] }
        }
        return (newFirst, taps, newWeights)
    }

    /// The source indices read by the window (empty for an empty window).
    var sourceRange: Range<Int> {
        var lo = Int.max, hi = Int.min
        for s in first.indices {
            lo = min(lo, first[s])
            hi = max(hi, first[s] + count[s])
        }
        return lo < hi ? lo..<hi : 0..<0
    }

    /// The filter bank of `filter` for resampling `inSize` source pixels to `outSize`, restricted
    /// to the output indices in `window`.
    init(filter: ResampleFilter, inSize: Int, outSize: Int, window: Range<Int>) {
        precondition(inSize > 0 && outSize > 0, "resize: sizes must be positive")
        // Pillow computes the box width in Float (exact for any realistic size) and divides in Double.
        let scale = Double(Float(inSize)) / Double(outSize)
        let filterScale = scale < 1.0 ? 1.0 : scale
        let support = filter.support * filterScale
        let stride = Int(support.rounded(.up)) * 2 + 1
        let inverseFilterScale = 1.0 / filterScale
        let unit = Double(1 << Self.precisionBits)

        var first = [Int](repeating: 0, count: window.count)
        var count = [Int](repeating: 0, count: window.count)
        var weights = [Int32](repeating: 0, count: window.count * stride)
        var taps = [Double](repeating: 0, count: stride)
        for (slot, i) in window.enumerated() {
            let centre = (Double(i) + 0.5) * scale
            // C's (int) conversion truncates toward zero; the clamp then handles negatives.
            var lo = Int(centre - support + 0.5)
            if lo < 0 { lo = 0 }
            var hi = Int(centre + support + 0.5)
            if hi > inSize { hi = inSize }
            let n = hi - lo
            var sum = 0.0
            for j in 0..<n {
                let d = Double(j + lo) - centre + 0.5
                let w = filter.weight(d * inverseFilterScale)
                taps[j] = w
                sum += w
            }
            if sum != 0.0 {
                for j in 0..<n { taps[j] /= sum }
            }
            for j in 0..<n {
                let scaled = taps[j] * unit
                weights[slot * stride + j] = taps[j] < 0 ? Int32(-0.5 + scaled) : Int32(0.5 + scaled)
            }
            first[slot] = lo
            count[slot] = n
        }
        self.first = first
        self.count = count
        self.weights = weights
        self.stride = stride
    }
}

/// Rounds a 2^22 fixed-point accumulator to a byte the way Pillow does (arithmetic shift, clamp).
@inline(__always)
private func clampToByte(_ acc: Int32) -> UInt8 {
    let v = acc >> Int32(ResampleFilterBank.precisionBits)
    return v < 0 ? 0 : (v > 255 ? 255 : UInt8(truncatingIfNeeded: v))
}

/// A rectangle of output pixels: columns `x..<x+width`, rows `y..<y+height`.
struct PixelWindow: Equatable {
    var x: Int
    var y: Int
    var width: Int
    var height: Int
}

extension RGBImage {
    /// Pillow `Image.resize((width, height), filter)`, bit-exact, for an RGB image.
    ///
    /// Separable and antialiased: the kernel is stretched by the downscale factor, its taps are
    /// normalised to sum to one and quantised to 22-bit fixed point, and each pass rounds and
    /// clamps to 8 bits exactly as Pillow does. The passes run in Pillow 13.0's order: vertical
    /// first when the height shrinks by more than twice as many pixels as the width, otherwise
    /// horizontal first (on only the rows the vertical pass reads). An axis whose size does not
    /// change is left unfiltered, and resizing to the current size returns an identical image.
    ///
    /// - Precondition: the image and the target size are non-empty.
    public func resized(width newWidth: Int, height newHeight: Int, filter: ResampleFilter) -> RGBImage {
        resizedWindow(width: newWidth, height: newHeight, filter: filter,
                      window: PixelWindow(x: 0, y: 0, width: newWidth, height: newHeight))
    }

    /// The pixels `window` of `resized(width:height:filter:)`, computed without producing the
    /// rest of the resized image; bit-identical to cropping the full result.
    func resizedWindow(width newWidth: Int, height newHeight: Int, filter: ResampleFilter,
                       window: PixelWindow) -> RGBImage {
        precondition(width > 0 && height > 0, "resize: the source image is empty")
        precondition(newWidth > 0 && newHeight > 0, "resize: the target size must be positive")
        precondition(window.x >= 0 && window.y >= 0 && window.width >= 0 && window.height >= 0
                     && window.x + window.width <= newWidth && window.y + window.height <= newHeight,
                     "resize: window outside the output")
        let outW = window.width, outH = window.height
        if outW == 0 || outH == 0 { return RGBImage(width: outW, height: outH, pixels: []) }
        let filterX = newWidth != width
        let filterY = newHeight != height
        if !filterX && !filterY { return copyOfWindow(window) }

        let srcStride = width * 3
        var out = [UInt8](repeating: 0, count: outW * outH * 3)
        pixels.withUnsafeBufferPointer { srcBuf in
            out.withUnsafeMutableBufferPointer { dstBuf in
                let src = srcBuf.baseAddress!, dst = dstBuf.baseAddress!
                let horizontal = filterX
                    ? ResampleFilterBank(filter: filter, inSize: width, outSize: newWidth,
                                         window: window.x..<(window.x + outW)) : nil
                let vertical = filterY
                    ? ResampleFilterBank(filter: filter, inSize: height, outSize: newHeight,
                                         window: window.y..<(window.y + outH)) : nil
                switch (horizontal, vertical) {
                case let (h?, nil):
                    resampleRows(src + window.y * srcStride, rowStride: srcStride, rows: outH,
                                 firstColumn: 0, bank: h, into: dst)
                case let (nil, v?):
                    resampleColumns(src + window.x * 3, rowStride: srcStride, firstRow: 0,
                                    rowBytes: outW * 3, bank: v, into: dst)
                case let (h?, v?):
                    // Pillow 13 filters vertically first when the height shrinks by more than
                    // twice as many pixels as the width does; otherwise horizontally first.
                    let dy = height - newHeight, dx = width - newWidth
                    if dy > 0 && dy > dx * 2 {
                        let cols = h.sourceRange
                        let tempStride = cols.count * 3
                        var temp = [UInt8](repeating: 0, count: outH * tempStride)
                        temp.withUnsafeMutableBufferPointer { t in
                            resampleColumns(src + cols.lowerBound * 3, rowStride: srcStride, firstRow: 0,
                                            rowBytes: tempStride, bank: v, into: t.baseAddress!)
                            resampleRows(UnsafePointer(t.baseAddress!), rowStride: tempStride, rows: outH,
                                         firstColumn: cols.lowerBound, bank: h, into: dst)
                        }
                    } else {
                        let rows = v.sourceRange
                        let tempStride = outW * 3
                        var temp = [UInt8](repeating: 0, count: rows.count * tempStride)
                        temp.withUnsafeMutableBufferPointer { t in
                            resampleRows(src + rows.lowerBound * srcStride, rowStride: srcStride, rows: rows.count,
                                         firstColumn: 0, bank: h, into: t.baseAddress!)
                            resampleColumns(UnsafePointer(t.baseAddress!), rowStride: tempStride,
                                            firstRow: rows.lowerBound, rowBytes: tempStride, bank: v, into: dst)
                        }
                    }
                case (nil, nil):
                    break
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }

    /// A plain copy of a rectangle of this image (which must lie inside it).
    func copyOfWindow(_ window: PixelWindow) -> RGBImage {
        croppedFillingBlack(left: window.x, top: window.y, right: window.x + window.width, bottom: window.y + window.height)
    }
}

/// Horizontal pass: filters `rows` rows of RGB pixels (`rowStride` bytes apart, starting at
/// `base`, whose first pixel is source column `firstColumn`; at least the columns
/// `bank.sourceRange` must be readable) into `bank.first.count` output pixels per row,
/// written contiguously to `dst`.
private func resampleRows(_ base: UnsafePointer<UInt8>, rowStride: Int, rows: Int, firstColumn: Int,
                          bank: ResampleFilterBank, into dst: UnsafeMutablePointer<UInt8>) {
    let outW = bank.first.count
    if outW == 0 { return }
    let (firsts, taps, weights) = bank.uniform()
    let columns = bank.sourceRange
    let half = Int64(1) << Int64(ResampleFilterBank.precisionBits - 1)
    // Red and blue share one 64-bit lane: red in the low half, blue in the high half.
    // Each channel's Pillow accumulator stays within Int32 (Pillow relies on that too, for
    // negative sums as well), so `sumR + sumB * 2^32` is computed exactly and both sums can be
    // split off again.
    let redBlue = UnsafeMutablePointer<Int64>.allocate(capacity: columns.count)
    let green = UnsafeMutablePointer<Int64>.allocate(capacity: columns.count)
    defer { redBlue.deallocate(); green.deallocate() }
    let weights64 = weights.map { Int64($0) }
    weights64.withUnsafeBufferPointer { wts in
        firsts.withUnsafeBufferPointer { firsts in
            let w = wts.baseAddress!
            for r in 0..<rows {
                var p = base + r * rowStride + (columns.lowerBound - firstColumn) * 3
                for c in 0..<columns.count {
                    redBlue[c] = Int64(p[0]) | (Int64(p[2]) << 32)
                    green[c] = Int64(p[1])
                    p += 3
                }
                let outLine = dst + r * outW * 3
                for o in 0..<outW {
                    let start = firsts[o] - columns.lowerBound
                    let rb = redBlue + start, g = green + start
                    let k = w + o * taps
                    var accRB = half | (half << 32), accG = half
                    for t in 0..<taps {
                        let c = k[t]
                        accRB &+= rb[t] &* c
                        accG &+= g[t] &* c
                    }
                    let sumR = Int32(truncatingIfNeeded: accRB)
                    let sumB = Int32(truncatingIfNeeded: (accRB &- Int64(sumR)) >> 32)
                    outLine[o * 3] = clampToByte(sumR)
                    outLine[o * 3 + 1] = clampToByte(Int32(truncatingIfNeeded: accG))
                    outLine[o * 3 + 2] = clampToByte(sumB)
                }
            }
        }
    }
}

/// Vertical pass: output row `s` combines the source rows `bank.first[s] ...` (row `i` of the
/// source lives at `base + (i - firstRow) * rowStride`), `rowBytes` bytes each, into `dst`
/// (rows `rowBytes` apart).
private func resampleColumns(_ base: UnsafePointer<UInt8>, rowStride: Int, firstRow: Int, rowBytes: Int,
                             bank: ResampleFilterBank, into dst: UnsafeMutablePointer<UInt8>) {
    let half = Int32(1) << Int32(ResampleFilterBank.precisionBits - 1)
    var acc = [Int32](repeating: 0, count: rowBytes)
    acc.withUnsafeMutableBufferPointer { accBuf in
        let a = accBuf.baseAddress!
        bank.weights.withUnsafeBufferPointer { wts in
            for s in 0..<bank.first.count {
                for i in 0..<rowBytes { a[i] = half }
                let k = wts.baseAddress! + s * bank.stride
                for t in 0..<bank.count[s] {
                    let row = base + (bank.first[s] - firstRow + t) * rowStride
                    let c = k[t]
                    for i in 0..<rowBytes { a[i] &+= Int32(row[i]) &* c }
                }
                let outRow = dst + s * rowBytes
                for i in 0..<rowBytes { outRow[i] = clampToByte(a[i]) }
            }
        }
    }
}
