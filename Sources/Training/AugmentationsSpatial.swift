// CoDE's spatial augly operations (docs/upstream.md, Augmentations): upstream ops 0 (RandomBlur), 4 (RandomRotation),
// 17 (ShufflePixels) and 18 (Skew), pixel-exact against augly 1.0.0 on Pillow and NumPy (fixtures by
// tools/reference/make_augmentation_spatial_fixtures.py).

import Foundation
import Imaging

/// augly `RandomBlur` (upstream op 0): a radius drawn uniformly from `minRadius..<maxRadius`
/// (Python's `random.uniform`), then augly `blur`: Pillow `filter(GaussianBlur(radius))`, the radius
/// passed to Pillow as a 32-bit float. Upstream's range is 0.1 to 2.0 (`--blur-min/max`).
package struct RandomBlur: Augmentation {
    package var minRadius: Double
    package var maxRadius: Double

    package init(minRadius: Double = 0.1, maxRadius: Double = 2.0) {
        precondition(minRadius > 0 && minRadius <= maxRadius, "RandomBlur: need 0 < minRadius <= maxRadius")
        self.minRadius = minRadius
        self.maxRadius = maxRadius
    }

    package var name: String { "blur" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        Self.blur(image, radius: rng.uniform(minRadius, maxRadius))
    }

    /// augly `blur(image, radius)`.
    package static func blur(_ image: RGBImage, radius: Double) -> RGBImage {
        image.gaussianBlurred(radius: Float(radius))
    }
}

/// augly `RandomRotation` (upstream op 4): an angle drawn uniformly from `minDegrees..<maxDegrees`, then
/// augly `rotate`: Pillow `rotate(degrees, expand=True)` (NEAREST, black corners) and a centre crop to
/// the largest axis-aligned rectangle inside the rotated image (`rotated_rect_with_max_area`), so no
/// black corner remains (up to rounding). Upstream's range is 90 to 270 degrees.
package struct RandomRotation: Augmentation {
    package var minDegrees: Double
    package var maxDegrees: Double

    package init(minDegrees: Double = 90, maxDegrees: Double = 270) {
        precondition(minDegrees <= maxDegrees, "RandomRotation: minDegrees > maxDegrees")
        self.minDegrees = minDegrees
        self.maxDegrees = maxDegrees
    }

    package var name: String { "rotation" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        Self.rotate(image, degrees: rng.uniform(minDegrees, maxDegrees))
    }

    /// augly `rotate(image, degrees)`: the rotated image (expanded), cropped to
    /// `(⌊cx − wr/2⌋, ⌊cy − hr/2⌋, ⌊cx + wr/2⌋, ⌊cy + hr/2⌋)` (Python `int()`, towards zero) around its
    /// centre `(cx, cy) = (W′/2, H′/2)`, with `(wr, hr) = maxAreaRectangle(W, H, degrees)`.
    package static func rotate(_ image: RGBImage, degrees: Double) -> RGBImage {
        let rotated = image.rotated(degrees: degrees, expand: true)
        let cx = Double(rotated.width) / 2, cy = Double(rotated.height) / 2
        let (wr, hr) = maxAreaRectangle(width: image.width, height: image.height, degrees: degrees)
        return rotated.croppedFillingBlack(left: pythonInt(cx - wr / 2), top: pythonInt(cy - hr / 2),
                                           right: pythonInt(cx + wr / 2), bottom: pythonInt(cy + hr / 2))
    }

    /// augly `rotated_rect_with_max_area(w, h, angle)`: width and height of the largest axis-aligned
    /// rectangle inside a `w`×`h` rectangle rotated by `degrees`. When the short side is at most
    /// `2·sin·cos·long` (or the angle is within 1e-10 of 45° mod 90°), the rectangle touches both long
    /// sides: `x = short/2`, `(x/sin, x/cos)` (swapped for portrait); otherwise
    /// `((w·cos − h·sin)/cos 2a, (h·cos − w·sin)/cos 2a)` with `|sin|`, `|cos|`.
    package static func maxAreaRectangle(width w: Int, height h: Int, degrees: Double) -> (Double, Double) {
        let widthIsLonger = w >= h
        let (long, short) = widthIsLonger ? (Double(w), Double(h)) : (Double(h), Double(w))
        let radians = degrees * (Double.pi / 180.0)
        let sinA = abs(sin(radians)), cosA = abs(cos(radians))
        if short <= 2.0 * sinA * cosA * long || abs(sinA - cosA) < 1e-10 {
            let x = 0.5 * short
            return widthIsLonger ? (x / sinA, x / cosA) : (x / cosA, x / sinA)
        }
        let cos2A = cosA * cosA - sinA * sinA
        return ((Double(w) * cosA - Double(h) * sinA) / cos2A, (Double(h) * cosA - Double(w) * sinA) / cos2A)
    }
}

/// augly `Skew` with `axis=0` (upstream op 18): one of `levels` (upstream's `linspace(-1, 1, 5)`) drawn
/// uniformly, then Pillow `transform(size, AFFINE, (1, s, −s·H/2, 0, 1, 0), BILINEAR)`: row `y` shifts
/// horizontally by `s·(y + 0.5 − H/2)` source pixels, the image keeps its size, and uncovered areas are
/// black.
package struct Skew: Augmentation {
    package var levels: [Double]

    package init(levels: [Double] = [-1.0, -0.5, 0.0, 0.5, 1.0]) {
        precondition(!levels.isEmpty, "Skew: no levels")
        self.levels = levels
    }

    package var name: String { "skew" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        Self.skew(image, factor: rng.element(of: levels))
    }

    /// augly `skew(image, skew_factor: factor, axis: 0)`.
    package static func skew(_ image: RGBImage, factor s: Double) -> RGBImage {
        image.affineTransformed(width: image.width, height: image.height,
                                coefficients: (1, s, -s * Double(image.height) / 2, 0, 1, 0),
                                resampling: .bilinear)
    }
}

/// augly `ShufflePixels(factor, seed=42)` (upstream op 17): one of `factors` drawn uniformly (upstream's
/// `linspace(0, 0.35, 5)` in float32), then augly `shuffle_pixels`: NumPy's global generator is re-seeded
/// with `seed` on every call, `k = int(factor·H·W)` pixel positions are chosen without replacement
/// (`np.random.choice`) and the pixels there are permuted among themselves (`np.random.shuffle`).
/// The chosen positions and their permutation depend only on the image size (docs/upstream.md, ShufflePixels seed);
/// `factor == 0` returns the image unchanged. The draw of the level uses `rng`; the shuffle does not.
/// An image one pixel high or wide comes back reshaped as augly returns it (see `squeezedLine`).
package struct ShufflePixels: Augmentation {
    /// Upstream's levels: `torch.linspace(0, 0.35, 5)` (float32) read back as doubles.
    package static let upstreamFactors: [Double] = [0.0, 0.08749999850988388, 0.17499999701976776,
                                                   0.26249998807907104, 0.3499999940395355]

    package var factors: [Double]
    package var seed: UInt32

    package init(factors: [Double] = ShufflePixels.upstreamFactors, seed: UInt32 = 42) {
        precondition(!factors.isEmpty && factors.allSatisfy { $0 >= 0 && $0 <= 1 }, "ShufflePixels: factors must be in [0, 1]")
        self.factors = factors
        self.seed = seed
    }

    package var name: String { "shuffle_pixels" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        Self.shuffle(image, factor: rng.element(of: factors), seed: seed)
    }

    /// augly `shuffle_pixels(image, factor, seed)`.
    package static func shuffle(_ image: RGBImage, factor: Double, seed: UInt32 = 42) -> RGBImage {
        precondition(factor >= 0 && factor <= 1, "ShufflePixels: factor must be in [0, 1]")
        let count = image.width * image.height
        guard factor != 0, count > 0 else { return image }
        var numpy = NumpyRandomState(seed: seed)
        let chosen = numpy.choice(count, size: Int(factor * Double(count)), replace: false)
        var sources = chosen
        numpy.shuffle(&sources)
        var out = image.pixels
        for (target, source) in zip(chosen, sources) where target != source {
            out[target * 3] = image.pixels[source * 3]
            out[target * 3 + 1] = image.pixels[source * 3 + 1]
            out[target * 3 + 2] = image.pixels[source * 3 + 2]
        }
        guard image.width > 1 && image.height > 1 else { return Self.squeezedLine(out, pixelCount: count) }
        return RGBImage(width: image.width, height: image.height, pixels: out)
    }

    /// augly's result for a single row or column: its `np.squeeze` leaves an `N`×3 array (3 values for a
    /// single pixel), which `Image.fromarray` reads as a greyscale image 3 wide and `N` high (1 wide and 3
    /// high for one pixel), converted back to RGB: the output pixel `(c, i)` is grey with channel `c` of
    /// pixel `i`.
    static func squeezedLine(_ bytes: [UInt8], pixelCount n: Int) -> RGBImage {
        let (w, h) = n == 1 ? (1, 3) : (3, n)
        return RGBImage(width: w, height: h, pixels: bytes.flatMap { [$0, $0, $0] })
    }
}

/// Python `int(v)` for a finite double: truncation towards zero (non-finite values give 0 here).
private func pythonInt(_ v: Double) -> Int {
    v.isFinite ? Int(v.rounded(.towardZero)) : 0
}
