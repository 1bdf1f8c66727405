// Bit-exact re-implementations of Pillow's ImageEnhance classes (Brightness, Contrast, Color, Sharpness)
// and of the two pixel-mixing augmentations of augly 1.0.0 that CoDE trains with (opacity, overlay_stripes),
// for 8-bit RGB images. Written from the behaviour of Pillow's C code (libImaging Blend.c, Filter.c,
// Paste.c) and augly's functions; checked against Pillow 13.0.0 (and 10.0.1, identical) by the tests.
//
// Every ImageEnhance class computes `Image.blend(degenerate, image, factor)`:
// * `factor` reaches C as a `float` (the Python float rounded to single precision);
// * factor 0 returns the degenerate image, 1 the image itself;
// * 0 < factor < 1 ("interpolation"): `out = (uint8)(d + factor * (p - d))`, where `p - d` is an integer,
//   the product and the sum are rounded to `float` one after the other and the result is truncated;
// * otherwise ("extrapolation", factor < 0 or > 1): the same single-precision value, 0 if it is <= 0,
//   255 if it is >= 255, else truncated.
// The degenerate images: Brightness, black; Contrast, a flat grey at the rounded mean of the image's
// `convert("L")` histogram; Color, `convert("L").convert("RGB")`; Sharpness, the SMOOTH 3×3 filter.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension RGBImage {
    // MARK: ImageEnhance

    /// Pillow `ImageEnhance.Brightness(image).enhance(factor)` (augly `brightness`): a blend between a
    /// black image and this one, i.e. every sample becomes `(uint8)(float(factor) · p)`, clamped to
    /// 0...255 when `factor > 1`.
    ///
    /// - Precondition: `factor` is finite.
    public func brightnessAdjusted(_ factor: Double) -> RGBImage {
        precondition(factor.isFinite, "brightness: the factor must be finite")
        let alpha = Float(factor)
        let table = (0..<256).map { Self.blendSample(0, UInt8($0), alpha) }
        return mapped(through: table)
    }

    /// Pillow `ImageEnhance.Contrast(image).enhance(factor)` (augly `contrast`): a blend between a flat
    /// grey image and this one. The grey level is `grayLevelMean` (the mean of the image's Pillow
    /// `convert("L")` values, rounded half up), the same in all three channels.
    ///
    /// - Precondition: `factor` is finite.
    public func contrastAdjusted(_ factor: Double) -> RGBImage {
        precondition(factor.isFinite, "contrast: the factor must be finite")
        if pixels.isEmpty { return self }
        let alpha = Float(factor)
        let mean = UInt8(truncatingIfNeeded: grayLevelMean)
        let table = (0..<256).map { Self.blendSample(mean, UInt8($0), alpha) }
        return mapped(through: table)
    }

    /// Pillow `ImageEnhance.Color(image).enhance(factor)` (augly `saturation`): a blend between the
    /// image's greyscale version (`convert("L").convert("RGB")`, the luma
    /// `(19595·R + 38470·G + 7471·B + 2¹⁵) >> 16` in all three channels) and the image.
    ///
    /// - Precondition: `factor` is finite.
    public func colorAdjusted(_ factor: Double) -> RGBImage {
        precondition(factor.isFinite, "color: the factor must be finite")
        let alpha = Float(factor)
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var i = 0
                while i < src.count {
                    let l = Self.luma(src[i], src[i + 1], src[i + 2])
                    dst[i] = Self.blendSample(l, src[i], alpha)
                    dst[i + 1] = Self.blendSample(l, src[i + 1], alpha)
                    dst[i + 2] = Self.blendSample(l, src[i + 2], alpha)
                    i += 3
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// Pillow `ImageEnhance.Sharpness(image).enhance(factor)` (augly `sharpen`): a blend between
    /// `smoothFiltered()` (Pillow's SMOOTH filter) and the image; factors above 1 sharpen. Images narrower or
    /// lower than 3 pixels are returned unchanged (the filter copies them).
    ///
    /// - Precondition: `factor` is finite.
    public func sharpnessAdjusted(_ factor: Double) -> RGBImage {
        precondition(factor.isFinite, "sharpness: the factor must be finite")
        let alpha = Float(factor)
        let degenerate = smoothFiltered()
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            degenerate.pixels.withUnsafeBufferPointer { deg in
                out.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<src.count { dst[i] = Self.blendSample(deg[i], src[i], alpha) }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// The mean of the image's Pillow `convert("L")` values rounded half up, as `ImageEnhance.Contrast`
    /// computes it (`int(ImageStat.Stat(l).mean[0] + 0.5)`: the sum of the histogram divided by the pixel
    /// count in double precision); 0 for an empty image.
    public var grayLevelMean: Int {
        let count = width * height
        if count == 0 { return 0 }
        var sum = 0
        pixels.withUnsafeBufferPointer { src in
            var i = 0
            while i < src.count {
                sum += Int(Self.luma(src[i], src[i + 1], src[i + 2]))
                i += 3
            }
        }
        return Int(Double(sum) / Double(count) + 0.5)
    }

    /// Pillow `image.filter(ImageFilter.SMOOTH)`: the 3×3 kernel (1 1 1 / 1 5 1 / 1 1 1) / 13 applied to
    /// each channel in single precision, as libImaging's `ImagingFilter3x3` does it: the weights are
    /// `1/13` and `5/13` rounded to `float`, the sum starts at 0.5 (rounding) and adds the three row sums
    /// (row below, own row, row above; each `(left·k + centre·k) + right·k`), then is clamped to 0...255
    /// and truncated. The outermost rows and columns are copied unchanged, and so is an image narrower or
    /// lower than 3 pixels.
    public func smoothFiltered() -> RGBImage {
        if width < 3 || height < 3 { return self }
        let k1: Float = 1 / 13, k5: Float = 5 / 13
        var out = pixels
        let stride = width * 3
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 1..<(height - 1) {
                    let above = (y - 1) * stride, row = y * stride, below = (y + 1) * stride
                    for i in 3..<(stride - 3) {
                        var ss: Float = 0.5
                        ss += (Float(src[below + i - 3]) * k1 + Float(src[below + i]) * k1) + Float(src[below + i + 3]) * k1
                        ss += (Float(src[row + i - 3]) * k1 + Float(src[row + i]) * k5) + Float(src[row + i + 3]) * k1
                        ss += (Float(src[above + i - 3]) * k1 + Float(src[above + i]) * k1) + Float(src[above + i + 3]) * k1
                        dst[row + i] = ss <= 0 ? 0 : (ss >= 255 ? 255 : UInt8(ss))
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    // MARK: augly opacity / overlay_stripes

    /// augly 1.0.0 `opacity(image, level)` for an RGB image: the image gets an alpha of
    /// `m = uint8(255 · level)` (computed in double, truncated) and is composited over opaque-less white,
    /// then the alpha is dropped. That is Pillow's masked paste, per sample:
    /// `t = 255·(255 − m) + p·m + 128`, `out = ((t >> 8) + t) >> 8` (the division by 255 rounded).
    /// Level 1 leaves the image unchanged, level 0 makes it white.
    ///
    /// - Precondition: `0 <= opacity <= 1` (augly asserts it).
    public func blendedTowardWhite(opacity level: Double) -> RGBImage {
        precondition(level >= 0 && level <= 1, "opacity: the level must lie in 0...1")
        let mask = UInt8(255.0 * level)
        let table = (0..<256).map { Self.pasteSample(255, UInt8($0), mask: mask) }
        return mapped(through: table)
    }

    /// augly 1.0.0 `overlay_stripes(image, line_width, line_color, line_angle=0, line_density,
    /// line_type="solid", line_opacity)`: horizontal stripes of `color` over the image.
    ///
    /// The rows covered are `stripeRows(width:height:lineWidth:lineDensity:)`; they are pasted with the
    /// mask `m = uint8(opacity · 255)` (truncated), so with the default opacity 1 they become exactly
    /// `color`; otherwise each sample is Pillow's rounded blend `(p·(255 − m) + c·m) / 255` (see
    /// `blendedTowardWhite(opacity:)`). Only angle 0 (augly's default, CoDE's setting) is implemented.
    ///
    /// - Precondition: `0 <= lineWidth <= 1`, `0 <= lineDensity < 1`, `0 <= opacity <= 1`.
    public func overlayingStripes(lineWidth: Double, lineDensity: Double = 0.5,
                                  color: (red: UInt8, green: UInt8, blue: UInt8) = (255, 255, 255),
                                  opacity: Double = 1.0) -> RGBImage {
        precondition(lineWidth >= 0 && lineWidth <= 1, "overlay_stripes: the line width must lie in 0...1")
        precondition(lineDensity >= 0 && lineDensity < 1, "overlay_stripes: the line density must lie in 0..<1")
        precondition(opacity >= 0 && opacity <= 1, "overlay_stripes: the opacity must lie in 0...1")
        if pixels.isEmpty { return self }
        let rows = Self.stripeRows(width: width, height: height, lineWidth: lineWidth, lineDensity: lineDensity)
        let mask = UInt8(1.0 * opacity * 255)
        let colour = [color.red, color.green, color.blue]
        let tables = colour.map { c in (0..<256).map { Self.pasteSample(UInt8($0), c, mask: mask) } }
        var out = pixels
        let stride = width * 3
        for y in 0..<height where rows[y] {
            for x in 0..<width {
                let i = y * stride + x * 3
                out[i] = tables[0][Int(out[i])]
                out[i + 1] = tables[1][Int(out[i + 1])]
                out[i + 2] = tables[2][Int(out[i + 2])]
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// The rows augly 1.0.0's `compute_stripe_mask(width, height, lineWidth, 0, lineDensity)` marks
    /// (at angle 0 the mask is the same along each row): with the stripe period
    /// `d = (1 − lineDensity) · min(width, height)` and the centred row coordinate `v = y − height / 2`,
    /// row `y` is a stripe row when `(cos(2π · (1/d) · v) + 1) / 2 > (cos(π · lineWidth) + 1) / 2`,
    /// evaluated in double precision in that order (so the stripes are centred on the middle row, and
    /// repeat every `d` rows). The cosine is the C library's, as Python's `math.cos` and (on the
    /// reference machine, checked) NumPy's `np.cos` compute it; a row whose two sides agree to the last
    /// bit is not a stripe row.
    ///
    /// - Precondition: `width > 0`, `height > 0`, `lineDensity < 1`.
    public static func stripeRows(width: Int, height: Int, lineWidth: Double, lineDensity: Double) -> [Bool] {
        precondition(width > 0 && height > 0, "stripe mask: empty image")
        precondition(lineDensity < 1, "stripe mask: the line density must be below 1")
        let distance = (1 - lineDensity) * Double(min(width, height))
        let period = 1.0 / distance            // augly: cos(angle) / distance with angle 0
        let coefficient = 2 * Double.pi * period
        let threshold = (cos(Double.pi * lineWidth) + 1) / 2
        let half = Double(height) / 2
        return (0..<height).map { y in (cos(coefficient * (Double(y) - half)) + 1) / 2 > threshold }
    }

    // MARK: Helpers

    /// One sample of Pillow's `ImagingBlend(degenerate, image, alpha)` (see the file comment).
    @inline(__always)
    fileprivate static func blendSample(_ d: UInt8, _ p: UInt8, _ alpha: Float) -> UInt8 {
        if alpha == 0 { return d }
        if alpha == 1 { return p }
        let delta = Float(Int(p) - Int(d))
        let product = alpha * delta
        let value = Float(d) + product
        if alpha >= 0 && alpha <= 1 { return UInt8(value) }
        if value <= 0 { return 0 }
        if value >= 255 { return 255 }
        return UInt8(value)
    }

    /// One sample of Pillow's paste through an "L" mask: `BLEND(m, out, in)` =
    /// `DIV255(out·(255 − m) + in·m)` with `DIV255(a) = (((a + 128) >> 8) + a + 128) >> 8`.
    @inline(__always)
    fileprivate static func pasteSample(_ under: UInt8, _ over: UInt8, mask m: UInt8) -> UInt8 {
        let t = UInt32(under) * (255 - UInt32(m)) + UInt32(over) * UInt32(m) + 128
        return UInt8(truncatingIfNeeded: ((t >> 8) + t) >> 8)
    }

    /// Pillow's RGB→L luma: `(19595·R + 38470·G + 7471·B + 2¹⁵) >> 16`.
    @inline(__always)
    fileprivate static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        UInt8(truncatingIfNeeded: (19595 * UInt32(r) + 38470 * UInt32(g) + 7471 * UInt32(b) + 32768) >> 16)
    }

    /// Every sample replaced by `table[sample]`.
    fileprivate func mapped(through table: [UInt8]) -> RGBImage {
        var out = [UInt8](repeating: 0, count: pixels.count)
        table.withUnsafeBufferPointer { t in
            pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<src.count { dst[i] = t[Int(src[i])] }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}
