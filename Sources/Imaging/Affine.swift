// Pillow's affine resampling (`Image.transform(size, AFFINE, data, resample)`) and `Image.rotate`,
// bit for bit: CoDE's augmentations 4 (augly `rotate`: NEAREST, expand) and 18 (augly `skew`:
// BILINEAR). Areas that map outside the source are black (Pillow's default fill).

import Foundation

/// The resampling filters Pillow's affine transform supports here.
public enum AffineResampling: Sendable, Hashable {
    /// Pillow `NEAREST`: the source pixel containing the mapped point (16.16 fixed point when the
    /// coordinates fit, as Pillow does).
    case nearest
    /// Pillow `BILINEAR`: a 2×2 interpolation in double precision, truncated to 8 bits.
    case bilinear
}

extension RGBImage {
    /// Pillow `image.transform((width, height), Image.AFFINE, coefficients, resample)` with the default
    /// black fill: output pixel `(x, y)` takes the source at `(a·x′ + b·y′ + c, d·x′ + e·y′ + f)` where
    /// `x′ = x + 0.5`, `y′ = y + 0.5` (pixel centres) and `coefficients = (a, b, c, d, e, f)`.
    ///
    /// - `.bilinear` (Pillow's generic transform): a point outside `[0, W) × [0, H)` is black; else, after
    ///   subtracting 0.5, `x₀ = ⌊x⌋`, `dx = x − x₀` (same for y), each channel is
    ///   `v = p(x₀) + (p(x₀+1) − p(x₀))·dx` on row `y₀` and row `y₀+1`, then `v₀ + (v₁ − v₀)·dy`,
    ///   truncated to an integer. Columns are clamped to the image; row `y₀` is clamped, and row `y₀+1`
    ///   outside the image repeats row `y₀`'s value.
    /// - `.nearest`: when `b = d = 0`, Pillow's scale path (per-column and per-row indices
    ///   `COORD(c + a/2 + a·x)`, where `COORD(v) = v < 0 ? −1 : Int(v)`); otherwise, when the four corners
    ///   map within ±32768, 16.16 fixed point: `FIX(v) = ⌊v·65536 + 0.5⌋`, start `FIX(c + a/2 + b/2)`,
    ///   steps `FIX(a)` along a row and `FIX(b)` per row (y likewise), source index `value >> 16`;
    ///   otherwise the same walk in doubles with `COORD`.
    public func affineTransformed(width outWidth: Int, height outHeight: Int,
                                  coefficients: (Double, Double, Double, Double, Double, Double),
                                  resampling: AffineResampling) -> RGBImage {
        precondition(outWidth >= 0 && outHeight >= 0, "affineTransformed: negative size")
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        guard outWidth > 0, outHeight > 0, width > 0, height > 0 else {
            return RGBImage(width: outWidth, height: outHeight, pixels: out)
        }
        let a = [coefficients.0, coefficients.1, coefficients.2, coefficients.3, coefficients.4, coefficients.5]
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                switch resampling {
                case .bilinear:
                    bilinearAffine(src, width, height, dst, outWidth, outHeight, a)
                case .nearest:
                    if a[1] == 0 && a[3] == 0 {
                        nearestScale(src, width, height, dst, outWidth, outHeight, a)
                    } else if fitsFixedPoint(a, outWidth, outHeight) {
                        nearestAffineFixed(src, width, height, dst, outWidth, outHeight, a)
                    } else {
                        nearestAffineFloat(src, width, height, dst, outWidth, outHeight, a)
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }

    /// Pillow `image.rotate(degrees, expand: expand)` with NEAREST resampling and black fill: a rotation
    /// counter-clockwise by `degrees` about the image centre.
    ///
    /// As Pillow: the angle is taken modulo 360 (Python's `%`); 0 is a copy, 180 a point reflection,
    /// 90 and 270 (with `expand`, or a square image) exact transpositions. Otherwise the inverse matrix
    /// is `(cos θ, sin θ, ·, −sin θ, cos θ, ·)` with `θ = −radians(angle)`, each entry rounded to 15
    /// decimals (Python `round(v, 15)`), centred on `(W/2, H/2)`; with `expand`, the output is
    /// `⌈max x⌉ − ⌊min x⌋` by `⌈max y⌉ − ⌊min y⌋` of the mapped corners, re-centred; then
    /// `affineTransformed(…, .nearest)`.
    public func rotated(degrees: Double, expand: Bool) -> RGBImage {
        let angle = pythonModulo(degrees, 360.0)
        if angle == 0 { return self }
        if angle == 180 { return pillowRotate180() }
        if (angle == 90 || angle == 270) && (expand || width == height) {
            return angle == 90 ? pillowRotate90() : pillowRotate270()
        }
        let w = width, h = height
        let cx = Double(w) / 2, cy = Double(h) / 2
        let theta = -(angle * (Double.pi / 180.0))
        var m = [roundedTo15Decimals(cos(theta)), roundedTo15Decimals(sin(theta)), 0.0,
                 roundedTo15Decimals(-sin(theta)), roundedTo15Decimals(cos(theta)), 0.0]
        func apply(_ x: Double, _ y: Double) -> (Double, Double) {
            (m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5])
        }
        let shift = apply(-cx - 0, -cy - 0)
        m[2] = shift.0 + cx
        m[5] = shift.1 + cy
        var outW = w, outH = h
        if expand {
            let corners = [(0.0, 0.0), (Double(w), 0.0), (Double(w), Double(h)), (0.0, Double(h))].map { apply($0.0, $0.1) }
            let xs = corners.map(\.0), ys = corners.map(\.1)
            outW = Int(xs.max()!.rounded(.up)) - Int(xs.min()!.rounded(.down))
            outH = Int(ys.max()!.rounded(.up)) - Int(ys.min()!.rounded(.down))
            let recentre = apply(Double(-(outW - w)) / 2.0, Double(-(outH - h)) / 2.0)
            m[2] = recentre.0
            m[5] = recentre.1
        }
        return affineTransformed(width: outW, height: outH, coefficients: (m[0], m[1], m[2], m[3], m[4], m[5]),
                                 resampling: .nearest)
    }

    /// Pillow `crop((left, top, right, bottom))`, which may reach outside the image: those pixels are
    /// black. A box with `right < left` or `bottom < top` gives an empty side.
    public func croppedFillingBlack(left: Int, top: Int, right: Int, bottom: Int) -> RGBImage {
        let w = max(0, right - left), h = max(0, bottom - top)
        var out = [UInt8](repeating: 0, count: w * h * 3)
        let x0 = max(left, 0), x1 = min(left + w, width)  // the columns inside the image
        if x0 < x1 {
            pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for y in max(top, 0)..<max(max(top, 0), min(top + h, height)) {
                        let from = src.baseAddress! + (y * width + x0) * 3
                        (dst.baseAddress! + ((y - top) * w + (x0 - left)) * 3).update(from: from, count: (x1 - x0) * 3)
                    }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// Pillow `transpose(ROTATE_180)`: pixel (x, y) comes from (W−1−x, H−1−y).
    fileprivate func pillowRotate180() -> RGBImage {
        remapped(width: width, height: height) { x, y in (width - 1 - x, height - 1 - y) }
    }

    /// Pillow `transpose(ROTATE_90)` (counter-clockwise): source `(x, y)` goes to row `W−1−x`, column `y`.
    fileprivate func pillowRotate90() -> RGBImage {
        remapped(width: height, height: width) { x, y in (width - 1 - y, x) }
    }

    /// Pillow `transpose(ROTATE_270)` (clockwise): source `(x, y)` goes to row `x`, column `H−1−y`.
    fileprivate func pillowRotate270() -> RGBImage {
        remapped(width: height, height: width) { x, y in (y, height - 1 - x) }
    }
}

/// Python's float `%`: the remainder with the divisor's sign.
fileprivate func pythonModulo(_ x: Double, _ m: Double) -> Double {
    var r = fmod(x, m)
    if r != 0 {
        if (m < 0) != (r < 0) { r += m }
    } else {
        r = m < 0 ? -0.0 : 0.0
    }
    return r
}

/// Python `round(v, 15)`: `v` correctly rounded to 15 decimal places (half to even on the exact binary
/// value, as glibc's `printf`), read back to the nearest double.
fileprivate func roundedTo15Decimals(_ v: Double) -> Double {
    guard v.isFinite else { return v }
    return Double(String(format: "%.15f", v)) ?? v
}

/// Pillow's `COORD`: −1 for negative values, else truncation.
@inline(__always) private func coord(_ v: Double) -> Int { v < 0 ? -1 : Int(v) }

/// Pillow's `FLOOR`.
@inline(__always) private func pillowFloor(_ v: Double) -> Int { v < 0 ? Int(v.rounded(.down)) : Int(v) }

@inline(__always) private func copyPixel(_ src: UnsafeBufferPointer<UInt8>, _ s: Int,
                                         _ dst: UnsafeMutableBufferPointer<UInt8>, _ d: Int) {
    dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
}

/// Pillow's `check_fixed` on the four output corners.
private func fitsFixedPoint(_ a: [Double], _ w: Int, _ h: Int) -> Bool {
    func ok(_ x: Int, _ y: Int) -> Bool {
        let fx = Double(x), fy = Double(y)
        return abs(fx * a[0] + fy * a[1] + a[2]) < 32768.0 && abs(fx * a[3] + fy * a[4] + a[5]) < 32768.0
    }
    return ok(0, 0) && ok(w, h) && ok(0, h) && ok(w, 0)
}

/// Pillow `affine_fixed` (NEAREST, 16.16 fixed point, 32-bit wrapping arithmetic).
private func nearestAffineFixed(_ src: UnsafeBufferPointer<UInt8>, _ sw: Int, _ sh: Int,
                                _ dst: UnsafeMutableBufferPointer<UInt8>, _ ow: Int, _ oh: Int, _ a: [Double]) {
    func fix(_ v: Double) -> Int32 { Int32(truncatingIfNeeded: pillowFloor(v * 65536.0 + 0.5)) }
    let a0 = fix(a[0]), a1 = fix(a[1]), a3 = fix(a[3]), a4 = fix(a[4])
    var a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5)
    var a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5)
    for y in 0..<oh {
        var xx = a2, yy = a5
        for x in 0..<ow {
            let xin = Int(xx >> 16)
            if xin >= 0 && xin < sw {
                let yin = Int(yy >> 16)
                if yin >= 0 && yin < sh { copyPixel(src, (yin * sw + xin) * 3, dst, (y * ow + x) * 3) }
            }
            xx = xx &+ a0
            yy = yy &+ a3
        }
        a2 = a2 &+ a1
        a5 = a5 &+ a4
    }
}

/// Pillow `ImagingTransformAffine`'s floating-point NEAREST walk (coordinates beyond the fixed-point range).
private func nearestAffineFloat(_ src: UnsafeBufferPointer<UInt8>, _ sw: Int, _ sh: Int,
                                _ dst: UnsafeMutableBufferPointer<UInt8>, _ ow: Int, _ oh: Int, _ a: [Double]) {
    var xo = a[2] + a[1] * 0.5 + a[0] * 0.5
    var yo = a[5] + a[4] * 0.5 + a[3] * 0.5
    for y in 0..<oh {
        var xx = xo, yy = yo
        for x in 0..<ow {
            let xin = coord(xx)
            if xin >= 0 && xin < sw {
                let yin = coord(yy)
                if yin >= 0 && yin < sh { copyPixel(src, (yin * sw + xin) * 3, dst, (y * ow + x) * 3) }
            }
            xx += a[0]
            yy += a[3]
        }
        xo += a[1]
        yo += a[4]
    }
}

/// Pillow `ImagingScaleAffine` (NEAREST, no rotation or shear). Like Pillow, a column between the first
/// and last valid ones whose own index is invalid reads source column 0.
private func nearestScale(_ src: UnsafeBufferPointer<UInt8>, _ sw: Int, _ sh: Int,
                          _ dst: UnsafeMutableBufferPointer<UInt8>, _ ow: Int, _ oh: Int, _ a: [Double]) {
    var xintab = [Int](repeating: 0, count: ow)
    var xo = a[2] + a[0] * 0.5
    var yo = a[5] + a[4] * 0.5
    var xmin = ow, xmax = 0
    for x in 0..<ow {
        let xin = coord(xo)
        if xin >= 0 && xin < sw {
            xmax = x + 1
            if x < xmin { xmin = x }
            xintab[x] = xin
        }
        xo += a[0]
    }
    for y in 0..<oh {
        let yi = coord(yo)
        if yi >= 0 && yi < sh && xmin < xmax {
            for x in xmin..<xmax { copyPixel(src, (yi * sw + xintab[x]) * 3, dst, (y * ow + x) * 3) }
        }
        yo += a[4]
    }
}

/// Pillow's generic transform with `affine_transform` and `bilinear_filter32RGB`.
private func bilinearAffine(_ src: UnsafeBufferPointer<UInt8>, _ sw: Int, _ sh: Int,
                            _ dst: UnsafeMutableBufferPointer<UInt8>, _ ow: Int, _ oh: Int, _ a: [Double]) {
    let a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5]
    let width = Double(sw), height = Double(sh)
    for y in 0..<oh {
        let yc = Double(y) + 0.5
        for x in 0..<ow {
            let xc = Double(x) + 0.5
            var xin = a0 * xc + a1 * yc + a2
            var yin = a3 * xc + a4 * yc + a5
            guard xin >= 0, xin < width, yin >= 0, yin < height else { continue }
            xin -= 0.5
            yin -= 0.5
            let ix = pillowFloor(xin), iy = pillowFloor(yin)
            let dx = xin - Double(ix), dy = yin - Double(iy)
            let row0 = min(max(iy, 0), sh - 1)
            let hasRow1 = iy + 1 >= 0 && iy + 1 < sh
            let c0 = min(max(ix, 0), sw - 1) * 3, c1 = min(max(ix + 1, 0), sw - 1) * 3
            let d = (y * ow + x) * 3
            for b in 0..<3 {
                let p = row0 * sw * 3 + b
                var v1 = Double(src[p + c0]) + Double(Int(src[p + c1]) - Int(src[p + c0])) * dx
                let v2: Double
                if hasRow1 {
                    let q = (iy + 1) * sw * 3 + b
                    v2 = Double(src[q + c0]) + Double(Int(src[q + c1]) - Int(src[q + c0])) * dx
                } else {
                    v2 = v1
                }
                v1 = v1 + (v2 - v1) * dy
                dst[d + b] = UInt8(v1)
            }
        }
    }
}
