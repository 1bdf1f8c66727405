// Upstream MassiveTransform's size-changing operations (docs/upstream.md, Augmentations): augly 1.0.0's
// `RandomAspectRatio` (op 2), `RandomPixelization` (op 3), `Pad` (op 12), `Resize` (op 13) and
// `Scale` (op 15), and torchvision's `RandomCrop(size, pad_if_needed=True)` (op 14). Each matches
// Pillow / torchvision pixel for pixel for a given parameter (Imaging's `resized(width:height:filter:)`
// is Pillow's resampler, `padded` its constant padding); only the parameter draws use this project's
// `RandomSource` instead of Python's and torch's generators.
//
// Continuous parameters are drawn as augly does, `min + (max - min) · U[0, 1)`; discrete levels are
// upstream's `torch.linspace(min, max, 5)` values (float32, widened to Double as `.item()` does, or
// truncated with `int()` where upstream does), one drawn uniformly per call like `random.sample(levels, 1)`.
//
// Degenerate sizes: where Pillow would refuse a zero-sized target (a 1-pixel-wide image pixelated
// or scaled down, say), these operations use 1 instead; upstream's training images are never that small.

import Imaging

/// The five float32 levels of `torch.linspace(lo, hi, 5)` as `.item()` returns them. For the
/// ranges used here torch's values are the float32 nearest to the decimal literals.
private func float32Levels(_ values: [Float]) -> [Double] { values.map { Double($0) } }

/// augly `RandomAspectRatio` (upstream op 2): `ratio ~ U(minRatio, maxRatio)`, then
/// `change_aspect_ratio(ratio)`: `new_w = int(sqrt(ratio · w · h))`, `new_h = int(w · h / new_w)`,
/// Pillow's default BICUBIC resize. Upstream's range is 0.75...2.0.
package struct RandomAspectRatio: Augmentation {
    /// The range of the width/height ratio drawn per call.
    package var minRatio: Double
    package var maxRatio: Double

    /// Ratios drawn from `minRatio..<maxRatio` (upstream's `--ratio_min/--ratio_max` by default).
    package init(minRatio: Double = 0.75, maxRatio: Double = 2.0) {
        precondition(minRatio > 0 && minRatio <= maxRatio, "RandomAspectRatio: need 0 < min <= max")
        self.minRatio = minRatio
        self.maxRatio = maxRatio
    }

    package var name: String { "aspect_ratio" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        Self.changeAspectRatio(image, ratio: rng.uniform(minRatio, maxRatio))
    }

    /// augly's target size for `ratio`: about the same area with width/height ≈ `ratio`
    /// (`int(sqrt(ratio · area))` and `int(area / new_w)` in double precision, each at least 1).
    package static func targetSize(width: Int, height: Int, ratio: Double) -> (width: Int, height: Int) {
        let area = width * height
        let newWidth = max(1, Int((ratio * Double(area)).squareRoot()))
        let newHeight = max(1, Int(Double(area) / Double(newWidth)))
        return (newWidth, newHeight)
    }

    /// augly `change_aspect_ratio(image, ratio)`: a BICUBIC resize to `targetSize`.
    package static func changeAspectRatio(_ image: RGBImage, ratio: Double) -> RGBImage {
        let size = targetSize(width: image.width, height: image.height, ratio: ratio)
        return image.resized(width: size.width, height: size.height, filter: .bicubic)
    }
}

/// augly `RandomPixelization` (upstream op 3): `ratio ~ U(minRatio, maxRatio)`, then
/// `pixelization(ratio)`: a BICUBIC resize to `(int(w · ratio), int(h · ratio))` and back to `(w, h)`.
/// Upstream's range is 0.3...1.0.
package struct RandomPixelization: Augmentation {
    /// The range of the down-sampling ratio drawn per call.
    package var minRatio: Double
    package var maxRatio: Double

    /// Ratios drawn from `minRatio..<maxRatio` (upstream's `--pix_min/--pix_max` by default).
    package init(minRatio: Double = 0.3, maxRatio: Double = 1.0) {
        precondition(minRatio > 0 && minRatio <= maxRatio, "RandomPixelization: need 0 < min <= max")
        self.minRatio = minRatio
        self.maxRatio = maxRatio
    }

    package var name: String { "pixelization" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        Self.pixelize(image, ratio: rng.uniform(minRatio, maxRatio))
    }

    /// augly `pixelization(image, ratio)`: down to `(int(w · ratio), int(h · ratio))` (each at least
    /// 1) and back up to the original size, both with BICUBIC.
    package static func pixelize(_ image: RGBImage, ratio: Double) -> RGBImage {
        let smallWidth = max(1, Int(Double(image.width) * ratio))
        let smallHeight = max(1, Int(Double(image.height) * ratio))
        return image.resized(width: smallWidth, height: smallHeight, filter: .bicubic)
            .resized(width: image.width, height: image.height, filter: .bicubic)
    }
}

/// augly `Pad(w_factor=f, h_factor=f)` (upstream op 12) at a level drawn from `factors`:
/// `int(f · W)` black columns on the left and on the right, `int(f · H)` black rows at the top and
/// at the bottom. Upstream's levels are `linspace(0.01, 0.25, 5)` in float32.
package struct Pad: Augmentation {
    /// The padding factors, one drawn per call.
    package var factors: [Double]

    /// Upstream's levels: float32 0.01, 0.07, 0.13, 0.19, 0.25 (so 0.13 is 0.12999999523…, and
    /// `int(0.13 · 100)` is 12, as upstream computes it).
    package static let upstreamFactors = float32Levels([0.01, 0.07, 0.13, 0.19, 0.25])

    /// Padding at one of `factors` (upstream's levels by default).
    package init(factors: [Double] = Pad.upstreamFactors) {
        precondition(!factors.isEmpty && factors.allSatisfy { $0 >= 0 }, "Pad: need non-negative factors")
        self.factors = factors
    }

    package var name: String { "pad" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        Self.pad(image, factor: rng.element(of: factors))
    }

    /// augly `pad(image, w_factor=factor, h_factor=factor)` with its default black colour.
    package static func pad(_ image: RGBImage, factor: Double) -> RGBImage {
        let dx = Int(factor * Double(image.width)), dy = Int(factor * Double(image.height))
        return image.padded(left: dx, top: dy, right: dx, bottom: dy)
    }
}

/// augly `Resize(width=s, height=s, resample=BICUBIC)` (upstream op 13) at a side `s` drawn from
/// `sizes`: a square BICUBIC resize, aspect ratio not kept. Upstream's sides are
/// `int(linspace(64, 512, 5))` = 64, 176, 288, 400, 512.
package struct Resize: Augmentation {
    /// The square sides, one drawn per call.
    package var sizes: [Int]

    /// A square resize to one of `sizes` (upstream's levels by default).
    package init(sizes: [Int] = [64, 176, 288, 400, 512]) {
        precondition(!sizes.isEmpty && sizes.allSatisfy { $0 > 0 }, "Resize: need positive sizes")
        self.sizes = sizes
    }

    package var name: String { "resize" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        let side = rng.element(of: sizes)
        return image.resized(width: side, height: side, filter: .bicubic)
    }
}

/// torchvision `RandomCrop(size, pad_if_needed=True)` (upstream op 14) at a size drawn from
/// `sizes`: an image narrower than `size` gets `size − W` black columns on **both** sides (torchvision
/// passes the two-element padding `[size − W, 0]`, i.e. left = right = size − W), one shorter than
/// `size` gets `size − H` black rows at the top and at the bottom; then a `size × size` crop at a
/// uniform position (top drawn first, then left, like `RandomCrop.get_params`; no draw when the
/// padded image is already `size × size`). Upstream's sizes are `int(linspace(64, 512, 5))`.
package struct RandomCrop: Augmentation {
    /// The crop sides, one drawn per call.
    package var sizes: [Int]

    /// A random square crop of one of `sizes` (upstream's levels by default).
    package init(sizes: [Int] = [64, 176, 288, 400, 512]) {
        precondition(!sizes.isEmpty && sizes.allSatisfy { $0 > 0 }, "RandomCrop: need positive sizes")
        self.sizes = sizes
    }

    package var name: String { "random_crop" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        let size = rng.element(of: sizes)
        let padded = Self.padIfNeeded(image, size: size)
        if padded.width == size && padded.height == size { return padded }
        let top = rng.int(in: 0...(padded.height - size))
        let left = rng.int(in: 0...(padded.width - size))
        return padded.cropped(CropBox(top: top, left: left, height: size, width: size))
    }

    /// torchvision's `pad_if_needed` step: `size − W` black columns left and right when `W < size`,
    /// `size − H` black rows top and bottom when `H < size`; the image itself otherwise.
    package static func padIfNeeded(_ image: RGBImage, size: Int) -> RGBImage {
        let dx = image.width < size ? size - image.width : 0
        let dy = image.height < size ? size - image.height : 0
        if dx == 0 && dy == 0 { return image }
        return image.padded(left: dx, top: dy, right: dx, bottom: dy)
    }

    /// The crop for a given position: `padIfNeeded` then the `size × size` box at (`top`, `left`).
    ///
    /// - Precondition: the box lies inside the padded image.
    package static func crop(_ image: RGBImage, size: Int, top: Int, left: Int) -> RGBImage {
        padIfNeeded(image, size: size).cropped(CropBox(top: top, left: left, height: size, width: size))
    }
}

/// augly `Scale(factor)` (upstream op 15) at a factor drawn from `factors`: a resize to
/// `(int(W · f), int(H · f))` with LANCZOS when `f < 1` and BILINEAR otherwise (augly's default
/// interpolation). Upstream's factors are `linspace(0.5, 1.5, 5)` = 0.5, 0.75, 1, 1.25, 1.5.
package struct Scale: Augmentation {
    /// The scale factors, one drawn per call.
    package var factors: [Double]

    /// Scaling by one of `factors` (upstream's levels by default).
    package init(factors: [Double] = [0.5, 0.75, 1.0, 1.25, 1.5]) {
        precondition(!factors.isEmpty && factors.allSatisfy { $0 > 0 }, "Scale: need positive factors")
        self.factors = factors
    }

    package var name: String { "scale" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        Self.scale(image, factor: rng.element(of: factors))
    }

    /// augly `scale(image, factor)`: `(int(W · factor), int(H · factor))` (each at least 1), LANCZOS
    /// below 1, BILINEAR from 1 up (factor 1 leaves the image unchanged).
    package static func scale(_ image: RGBImage, factor: Double) -> RGBImage {
        let w = max(1, Int(Double(image.width) * factor)), h = max(1, Int(Double(image.height) * factor))
        return image.resized(width: w, height: h, filter: factor < 1 ? .lanczos : .bilinear)
    }
}
