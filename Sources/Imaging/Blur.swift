// Pillow's Gaussian blur (`ImageFilter.GaussianBlur(radius)`), bit for bit: CoDE's augmentation 0
// (augly `blur`). Pillow approximates the Gaussian by three passes of an "extended" box filter (a box
// of fractional width, after Gwosdek et al., SSVM 2011) in each direction, in 8.24 fixed point with
// the result rounded back to 8 bits after every pass.

extension RGBImage {
    /// Pillow `image.filter(ImageFilter.GaussianBlur(radius))` for an RGB image (`radius` is the
    /// standard deviation, in pixels, in both directions; Pillow reads it as a 32-bit float).
    ///
    /// How Pillow computes it:
    /// 1. The box radius for `passes = 3`: with `σ² = radius²/3` (float), `L = √(12σ² + 1)`, integer
    ///    part `l = ⌊(L − 1)/2⌋` and fractional part `a = (2l + 1)(l(l + 1) − 3σ²) / (6(σ² − (l + 1)²))`,
    ///    all in single precision except the square root and floor (double), as Pillow's C code.
    /// 2. One box pass of radius `r = l + a` along a line: the window `x − ⌊r⌋ … x + ⌊r⌋` with weight
    ///    `ww = ⌊2²⁴ / (2r + 1)⌋` (float division, truncated) per pixel, plus the two pixels just outside
    ///    it with weight `fw = (2²⁴ − (2⌊r⌋ + 1)·ww) / 2` (integer); positions past the ends repeat the
    ///    end pixels. The sum (32-bit) is rounded: `(sum + 2²³) >> 24`.
    /// 3. Three horizontal passes over every row, then three vertical passes over every column, each
    ///    pass reading the 8-bit result of the previous one.
    ///
    /// `radius <= 0` returns the image unchanged (Pillow copies it for a radius of 0).
    public func gaussianBlurred(radius: Float) -> RGBImage {
        guard radius > 0, width > 0, height > 0 else { return self }
        let boxRadius = Self.gaussianBoxRadius(sigma: radius, passes: 3)
        return boxBlurred(radius: boxRadius, passes: 3)
    }

    /// Pillow's `_gaussian_blur_radius`: the extended-box radius whose `passes`-fold repetition has the
    /// variance of a Gaussian of standard deviation `sigma` (float arithmetic as in Pillow's C code).
    public static func gaussianBoxRadius(sigma: Float, passes: Int) -> Float {
        let sigma2: Float = sigma * sigma / Float(passes)
        let boxLength = Float((12.0 * Double(sigma2) + 1.0).squareRoot())
        let l = Float(((Double(boxLength) - 1.0) / 2.0).rounded(.down))
        var a: Float = (2 * l + 1) * (l * (l + 1) - 3 * sigma2)
        a /= 6 * (sigma2 - (l + 1) * (l + 1))
        return l + a
    }

    /// Pillow `ImagingBoxBlur(radius, radius, passes)` (`ImageFilter.BoxBlur` for one pass):
    /// `passes` horizontal extended-box passes, then `passes` vertical ones; `radius == 0` is a copy.
    public func boxBlurred(radius: Float, passes: Int) -> RGBImage {
        precondition(radius >= 0 && passes >= 1, "boxBlurred: radius must be >= 0 and passes >= 1")
        guard radius != 0, width > 0, height > 0 else { return self }
        var out = pixels
        let w = width, h = height
        out.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            var line = [UInt32](repeating: 0, count: max(w, h))
            line.withUnsafeMutableBufferPointer { scratch in
                for _ in 0..<passes {
                    for y in 0..<h {
                        for c in 0..<3 {
                            boxBlurLine(base + y * w * 3 + c, count: w, step: 3, radius: radius, scratch: scratch)
                        }
                    }
                }
                for _ in 0..<passes {
                    for x in 0..<w {
                        for c in 0..<3 {
                            boxBlurLine(base + x * 3 + c, count: h, step: w * 3, radius: radius, scratch: scratch)
                        }
                    }
                }
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}

/// One extended-box pass over `count` samples `step` bytes apart, in place (Pillow's
/// `ImagingLineBoxBlur8/32`, written as a clamped sliding window; same integer arithmetic).
private func boxBlurLine(_ line: UnsafeMutablePointer<UInt8>, count n: Int, step: Int, radius floatRadius: Float,
                         scratch: UnsafeMutableBufferPointer<UInt32>) {
    let r = Int(floatRadius)
    let ww = UInt32(Float(1 << 24) / (floatRadius * 2 + 1))
    let fw = (UInt32(1 << 24) &- UInt32(r * 2 + 1) &* ww) / 2
    for i in 0..<n { scratch[i] = UInt32(line[i * step]) }
    let last = n - 1
    @inline(__always) func at(_ i: Int) -> UInt32 { scratch[i < 0 ? 0 : (i > last ? last : i)] }
    var acc: UInt32 = 0
    for k in -r...r { acc &+= at(k) }
    for x in 0..<n {
        let bulk = acc &* ww &+ (at(x - r - 1) &+ at(x + r + 1)) &* fw
        line[x * step] = UInt8(truncatingIfNeeded: (bulk &+ (1 << 23)) >> 24)
        acc = acc &+ at(x + r + 1) &- at(x - r)
    }
}
