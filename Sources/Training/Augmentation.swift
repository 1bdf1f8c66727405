// CoDE's training augmentations (upstream `MassiveTransform`, docs/upstream.md, Augmentations): up to `num_transform`
// distinct operations drawn from upstream's list of 19 and applied in list order. Each operation
// reproduces augly 1.0.0 / Pillow / torchvision byte for byte (AugmentationsColor, AugmentationsGeometry,
// AugmentationsSpatial and the three here: horizontal flip, grayscale, JPEG re-encode).

import Imaging

/// One image augmentation: an RGB image in, an RGB image out, with its random parameters (if any)
/// drawn from `rng`.
package protocol Augmentation: Sendable {
    /// A short name for logs and reports.
    var name: String { get }
    /// Applies the augmentation, drawing any random parameters from `rng`.
    func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage
}

/// Left-right mirror (augly `hflip` = Pillow `transpose(FLIP_LEFT_RIGHT)`); no random parameters.
package struct HorizontalFlip: Augmentation {
    package init() {}
    package var name: String { "hflip" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        image.flippedHorizontally()
    }
}

/// augly `grayscale(mode="luminosity")`: Pillow's `convert("L")` then back to RGB (the luma in all
/// three channels); no random parameters.
///
/// Pillow's RGB→L is the ITU-R 601-2 luma in 16-bit fixed point:
/// `L = (19595·R + 38470·G + 7471·B + 2¹⁵) >> 16` (the weights are 0.299, 0.587, 0.114 scaled by
/// 2¹⁶ and sum to 2¹⁶, so the result is the weighted sum rounded half up).
package struct Grayscale: Augmentation {
    package init() {}
    package var name: String { "grayscale" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        image.grayscaled()
    }
}

/// augly `encoding_quality` (upstream op 7, `EncodingQuality`): a JPEG encode with Pillow's default
/// settings at a quality drawn uniformly from `qualities` (Python's `random.choice`), then decoded back
/// to RGB. Upstream's levels are `linspace(40, 100, 5)` = 40, 55, 70, 85, 100.
///
/// Uses the Imaging module's `encodeJPEG` (libjpeg-turbo with Pillow's settings) and decoder; should
/// either fail (which a valid non-empty image does not), the image is returned unchanged.
package struct JPEGReencode: Augmentation {
    /// The quality levels, one drawn per application.
    package var qualities: [Int]

    /// A re-encode at one of `qualities` (upstream's levels by default).
    package init(qualities: [Int] = [40, 55, 70, 85, 100]) {
        precondition(!qualities.isEmpty, "JPEGReencode: no quality levels")
        self.qualities = qualities
    }

    package var name: String { "jpeg_quality" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        let quality = rng.element(of: qualities)
        return Self.reencode(image, quality: quality) ?? image
    }

    /// Pillow `Image.open(BytesIO(save(image, "JPEG", quality=quality))).convert("RGB")`; `nil` if the
    /// encoder or decoder fails.
    package static func reencode(_ image: RGBImage, quality: Int) -> RGBImage? {
        guard let bytes = try? encodeJPEG(image, quality: quality) else { return nil }
        return try? decodeImage(bytes, name: "jpeg re-encode q\(quality)")
    }
}

extension RGBImage {
    /// The image mirrored left to right (Pillow `transpose(Image.FLIP_LEFT_RIGHT)`).
    package func flippedHorizontally() -> RGBImage {
        remapped(width: width, height: height) { x, y in (width - 1 - x, y) }
    }

    /// Pillow's `convert("L").convert("RGB")`: each pixel replaced by its luma
    /// `(19595·R + 38470·G + 7471·B + 32768) >> 16` in all three channels.
    package func grayscaled() -> RGBImage {
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var i = 0
                while i < src.count {
                    let r: UInt32 = 19595 &* UInt32(src[i])
                    let g: UInt32 = 38470 &* UInt32(src[i + 1])
                    let b: UInt32 = 7471 &* UInt32(src[i + 2])
                    let l = UInt8(truncatingIfNeeded: (r &+ g &+ b &+ 32768) >> 16)
                    dst[i] = l; dst[i + 1] = l; dst[i + 2] = l
                    i += 3
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// Pillow `crop((left, top, left + width, top + height))` for a box inside the image.
    ///
    /// - Precondition: the box lies inside the image.
    package func cropped(_ box: CropBox) -> RGBImage {
        precondition(box.top >= 0 && box.left >= 0 && box.height >= 0 && box.width >= 0
                     && box.top + box.height <= height && box.left + box.width <= width,
                     "crop box \(box) outside a \(width)x\(height) image")
        return croppedFillingBlack(left: box.left, top: box.top, right: box.left + box.width, bottom: box.top + box.height)
    }
}

/// Upstream's `MassiveTransform` augmentation choice (docs/upstream.md, Augmentations): per call, `n` is drawn uniformly
/// from `0...maxOperations`, then `n` distinct operation indices are drawn without replacement
/// (Python's `random.sample`) and applied in ascending index order. Both draws happen even when the
/// view is not augmented (upstream draws them before checking `transform`), which keeps the random
/// streams of augmented and clean views alike.
///
/// With fewer operations than `n` in the list, all of them are candidates (`min(n, count)` are drawn).
/// `MassiveTransform.upstream()` is CoDE's; `MassiveTransform()` has no operations (no augmentation).
package struct MassiveTransform: Sendable {
    /// The operations, in upstream's index order.
    package var operations: [any Augmentation]
    /// Upstream's `--num_transform` (2 in CoDE's training script): the largest `n`.
    package var maxOperations: Int

    /// A transform over `operations` applying at most `maxOperations` of them per call.
    package init(operations: [any Augmentation] = [], maxOperations: Int = 2) {
        precondition(maxOperations >= 0, "MassiveTransform: maxOperations must be non-negative")
        self.operations = operations
        self.maxOperations = maxOperations
    }

    /// Three of the operations (flip, grayscale, JPEG): a small list for tests and examples.
    package static let examples = MassiveTransform(operations: [HorizontalFlip(), Grayscale(), JPEGReencode()], maxOperations: 2)

    /// Upstream's 19 operations in index order, each with upstream's range or levels (docs/upstream.md, Augmentations):
    /// 0 blur, 1 brightness, 2 aspect ratio, 3 pixelization, 4 rotation, 5 contrast, 6 saturation,
    /// 7 JPEG quality, 8 grayscale, 9 horizontal flip, 10 opacity, 11 overlay stripes, 12 pad, 13 resize,
    /// 14 random crop, 15 scale, 16 sharpen, 17 shuffle pixels, 18 skew.
    package static var upstreamOperations: [any Augmentation] {
        [RandomBlur(), RandomBrightness(), RandomAspectRatio(), RandomPixelization(), RandomRotation(),
         Contrast(), Saturation(), JPEGReencode(), Grayscale(), HorizontalFlip(), Opacity(), OverlayStripes(),
         Pad(), Resize(), RandomCrop(), Scale(), Sharpen(), ShufflePixels(), Skew()]
    }

    /// CoDE's training augmentations: upstream's 19 operations, at most `maxOperations` per view
    /// (upstream's `--num_transform`; CoDE's training script uses 2).
    package static func upstream(maxOperations: Int = 2) -> MassiveTransform {
        MassiveTransform(operations: upstreamOperations, maxOperations: maxOperations)
    }

    /// Draws `n` and the operation indices (sorted ascending).
    package func drawOperations(rng: inout RandomSource) -> [Int] {
        let n = rng.int(in: 0...maxOperations)
        return rng.sample(min(n, operations.count), of: operations.count).sorted()
    }

    /// Draws the operations and, when `transform` is true, applies them in order.
    package func apply(_ image: RGBImage, transform: Bool, rng: inout RandomSource) -> RGBImage {
        let chosen = drawOperations(rng: &rng)
        guard transform else { return image }
        return apply(chosen, to: image, rng: &rng)
    }

    /// Applies the operations at `chosen` in order. An operation that would leave an empty image (a rotation
    /// of a picture a few pixels wide can: its max-area rectangle rounds to nothing, where upstream's next
    /// Pillow call would raise) is skipped, its random draws still consumed, so a tiny input cannot stop a
    /// training run.
    package func apply(_ chosen: [Int], to image: RGBImage, rng: inout RandomSource) -> RGBImage {
        var out = image
        for index in chosen {
            let next = operations[index].apply(out, rng: &rng)
            if next.width > 0 && next.height > 0 || out.width == 0 || out.height == 0 { out = next }
        }
        return out
    }
}
