// The training views of a CoDE record (docs/upstream.md, Training views): torchvision `RandomResizedCrop` with its exact
// sampling rules (our random stream, not torch's), upstream's `MassiveTransform` augmentation
// choice, and the `Resize(248) + CenterCrop(224) + Normalize` tail, written straight into the
// caller's float buffers.

import Foundation
import Imaging

/// A crop rectangle in torchvision's `(i, j, h, w)` terms: `top` row, `left` column, `height`, `width`.
package struct CropBox: Sendable, Hashable, CustomStringConvertible {
    package var top: Int
    package var left: Int
    package var height: Int
    package var width: Int

    package init(top: Int, left: Int, height: Int, width: Int) {
        self.top = top; self.left = left; self.height = height; self.width = width
    }

    package var description: String { "(top \(top), left \(left), \(width)x\(height))" }
}

/// torchvision `RandomResizedCrop(size, scale, ratio, interpolation=BICUBIC)` on a PIL image.
///
/// Sampling (`RandomResizedCrop.get_params`), up to `maxAttempts` = 10 tries:
/// * target area `A = W·H · U(scale)`, aspect ratio `r = exp(U(log ratio.lower, log ratio.upper))`;
/// * `w = round(√(A·r))`, `h = round(√(A/r))` (Python's round: half to even);
/// * accepted when `0 < w ≤ W` and `0 < h ≤ H`; then `top = randint(0, H − h + 1)`,
///   `left = randint(0, W − w + 1)` (upper bounds exclusive).
/// Fallback after 10 rejections: a centred crop of the whole image clamped to the ratio range
/// (`W/H < ratio.lower` → `w = W, h = round(W / ratio.lower)`; `W/H > ratio.upper` →
/// `h = H, w = round(H · ratio.upper)`; otherwise the whole image), at `((H − h) // 2, (W − w) // 2)`.
///
/// The crop is then resized to `size`×`size` with Pillow's bicubic filter (torchvision's
/// `resized_crop` crops the PIL image, then `resize`s it). Only the rules match torchvision: the
/// random numbers come from `RandomSource`.
package struct RandomResizedCrop: Sendable, Equatable {
    /// Output side (224 in CoDE).
    package var size: Int
    /// Fraction of the image area to crop, `scale.lowerBound ... scale.upperBound`.
    package var scale: ClosedRange<Double>
    /// Width/height aspect-ratio range (3/4 ... 4/3 in CoDE).
    package var ratio: ClosedRange<Double>

    /// Number of sampling attempts before the centred fallback (torchvision: 10).
    package static let maxAttempts = 10

    package init(size: Int = 224, scale: ClosedRange<Double>, ratio: ClosedRange<Double> = (3.0 / 4.0)...(4.0 / 3.0)) {
        precondition(size > 0, "RandomResizedCrop: size must be positive")
        precondition(scale.lowerBound >= 0 && ratio.lowerBound > 0, "RandomResizedCrop: bad scale or ratio")
        self.size = size; self.scale = scale; self.ratio = ratio
    }

    /// CoDE's global crop: scale (0.4, 1.0).
    package static let codeGlobal = RandomResizedCrop(scale: 0.4...1.0)
    /// CoDE's local crop: scale (0.05, 0.4).
    package static let codeLocal = RandomResizedCrop(scale: 0.05...0.4)

    /// Draws a crop box for a `width`×`height` image by torchvision's rules (see the type's documentation).
    ///
    /// - Precondition: `width > 0`, `height > 0`.
    package func parameters(width: Int, height: Int, rng: inout RandomSource) -> CropBox {
        draw(width: width, height: height, rng: &rng).box
    }

    /// `parameters(width:height:rng:)`, also telling whether a try was accepted (`false`: the fallback).
    package func draw(width: Int, height: Int, rng: inout RandomSource) -> (box: CropBox, accepted: Bool) {
        precondition(width > 0 && height > 0, "RandomResizedCrop on an empty image")
        let area = Double(width * height)
        let logLower = log(ratio.lowerBound), logUpper = log(ratio.upperBound)
        for _ in 0..<Self.maxAttempts {
            let targetArea = area * rng.uniform(scale.lowerBound, scale.upperBound)
            let aspect = exp(rng.uniform(logLower, logUpper))
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0 && w <= width && h > 0 && h <= height {
                let top = rng.int(in: 0..<(height - h + 1))
                let left = rng.int(in: 0..<(width - w + 1))
                return (CropBox(top: top, left: left, height: h, width: w), true)
            }
        }
        return (Self.fallback(width: width, height: height, ratio: ratio), false)
    }

    /// torchvision's fallback: the centred crop with the image's own ratio clamped to `ratio`.
    package static func fallback(width: Int, height: Int, ratio: ClosedRange<Double>) -> CropBox {
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < ratio.lowerBound {
            h = Int((Double(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inRatio > ratio.upperBound {
            w = Int((Double(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        return CropBox(top: (height - h) / 2, left: (width - w) / 2, height: h, width: w)
    }

    /// Crops `box` out of `image` and resizes it to `size`×`size` with Pillow's bicubic filter
    /// (Pillow `image.crop(box).resize((size, size), BICUBIC)`, bit-exact).
    package func resized(_ image: RGBImage, box: CropBox) -> RGBImage {
        image.cropped(box).resizedBicubic(width: size, height: size)
    }

    /// Draws a box and returns the resized crop.
    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        resized(image, box: parameters(width: image.width, height: image.height, rng: &rng))
    }
}

/// The eight views of a CoDE training record, in the order of upstream's processor output and of
/// the tensors `real, fake, aug_real, aug_fake, g_R, l_R, g_F, l_F` in `engine.py`.
package enum CoDEView: Int, CaseIterable, Sendable {
    /// The real image, not augmented (`real_image`).
    case real
    /// The chosen fake, not augmented (`fake`).
    case fake
    /// The real image, augmented (`augmented_real`).
    case augmentedReal
    /// The chosen fake, augmented (`augmented_fake`).
    case augmentedFake
    /// Global random-resized crop of the real image, then augmented (`dino_image_real_global`).
    case globalReal
    /// Local random-resized crop of the real image, then augmented (`dino_image_real_local`).
    case localReal
    /// Global crop of the chosen fake, then augmented (`dino_image_fake_global`).
    case globalFake
    /// Local crop of the chosen fake, then augmented (`dino_image_fake_local`).
    case localFake

    /// Whether the view comes from the fake image.
    package var isFake: Bool { self == .fake || self == .augmentedFake || self == .globalFake || self == .localFake }

    /// The random-resized crop this view starts with, if any.
    func crop(_ c: CoDEViewConfiguration) -> RandomResizedCrop? {
        switch self {
        case .globalReal, .globalFake: return c.globalCrop
        case .localReal, .localFake: return c.localCrop
        default: return nil
        }
    }

    /// Whether upstream passes `transform=use_transform` (true) or `transform=False` for this view.
    var isAugmented: Bool { self != .real && self != .fake }
}

/// What the view builder does; the defaults are CoDE's training settings.
package struct CoDEViewConfiguration: Sendable {
    /// Global crop, `RandomResizedCrop(224, scale=(0.4, 1.0), ratio=(3/4, 4/3), BICUBIC)`.
    package var globalCrop: RandomResizedCrop
    /// Local crop, `RandomResizedCrop(224, scale=(0.05, 0.4), ratio=(3/4, 4/3), BICUBIC)`.
    package var localCrop: RandomResizedCrop
    /// The augmentation choice (upstream's 19 operations, at most 2 per view, by default).
    package var augmentations: MassiveTransform
    /// Upstream's `use_transform` (true in training; `--no-data-augmentation` turns it off).
    package var useTransform: Bool
    /// Upstream's `--double_contrastive` (on in CoDE's script): also build the fake's global/local crops.
    /// When off, `globalFake` and `localFake` are not written.
    package var doubleContrastive: Bool
    /// The final geometry and normalisation (`Resize(248, BICUBIC) + CenterCrop(224)`).
    package var preprocessing: Preprocessing
    /// `Normalize` statistics (ImageNet).
    package var normalization: Normalization

    package init(globalCrop: RandomResizedCrop = .codeGlobal, localCrop: RandomResizedCrop = .codeLocal,
                augmentations: MassiveTransform = .upstream(), useTransform: Bool = true,
                doubleContrastive: Bool = true, preprocessing: Preprocessing = .trainingEval,
                normalization: Normalization = .imageNet) {
        self.globalCrop = globalCrop; self.localCrop = localCrop; self.augmentations = augmentations
        self.useTransform = useTransform; self.doubleContrastive = doubleContrastive
        self.preprocessing = preprocessing; self.normalization = normalization
    }

    /// CoDE's training configuration.
    package static let code = CoDEViewConfiguration()

    /// Floats per view: `3 · crop · crop` (150,528 for CoDE).
    package var viewFloatCount: Int { preprocessing.outputCount }

    /// The views this configuration produces, in `CoDEView` order.
    package var views: [CoDEView] {
        doubleContrastive ? CoDEView.allCases : CoDEView.allCases.filter { $0 != .globalFake && $0 != .localFake }
    }
}

/// Builds the views of CoDE training records (docs/upstream.md, Training views; upstream `ElsaV2_trainDino`).
///
/// Randomness: everything is drawn from child streams of the record's `RandomSource`:
/// `rng.derived(0)` picks the fake, and view `v` uses `rng.derived(1 + v.rawValue)` for its
/// augmentation count and indices, its crop box and the augmentations' own parameters, in that
/// order (upstream's order inside `MassiveTransform.forward`). The views are therefore independent
/// of each other and of the order or thread they are built in. Give each record its own stream,
/// e.g. `RandomSource(seed: seed).derived(UInt64(epoch), UInt64(recordIndex))`.
package struct CoDEViewBuilder: Sendable {
    package var configuration: CoDEViewConfiguration

    package init(_ configuration: CoDEViewConfiguration = .code) {
        self.configuration = configuration
    }

    /// Upstream's `random.sample(range(4), 1)[0]`: the index of the fake used for this record.
    package func fakeIndex(fakeCount: Int, rng: RandomSource) -> Int {
        var r = rng.derived(0)
        return r.int(below: fakeCount)
    }

    /// One view of `image` (the real image for real views, the chosen fake for fake views) into `into`
    /// (`configuration.viewFloatCount` floats, CHW), drawing from `rng` (the view's own stream).
    ///
    /// Steps: draw the augmentation count and indices; for global/local views, random-resized crop
    /// to 224×224 (Pillow bicubic); if the view is augmented and `useTransform`, apply the chosen
    /// augmentations in order; then `Resize(248, BICUBIC) + CenterCrop(224) + ToTensor + Normalize`.
    package func writeView(_ view: CoDEView, of image: RGBImage, rng: inout RandomSource,
                          into: UnsafeMutableBufferPointer<Float>) {
        let c = configuration
        let chosen = c.augmentations.drawOperations(rng: &rng)
        var current = image
        if let crop = view.crop(c) { current = crop.apply(current, rng: &rng) }
        if view.isAugmented && c.useTransform {
            current = c.augmentations.apply(chosen, to: current, rng: &rng)
        }
        c.preprocessing.apply(current, normalization: c.normalization, into: into)
    }

    /// Builds the record's views: picks one fake uniformly (`fakeIndex`), then writes each view of
    /// `configuration.views` into `destination(view)` (`viewFloatCount` floats each, CHW), e.g. the
    /// record's slot of a `[B, 3, 224, 224]` batch buffer per view. Returns the fake's index.
    ///
    /// - Precondition: `fakes` is non-empty; every image is non-empty.
    @discardableResult
    package func makeViews(real: RGBImage, fakes: [RGBImage], rng: RandomSource,
                          into destination: (CoDEView) -> UnsafeMutableBufferPointer<Float>) -> Int {
        precondition(!fakes.isEmpty, "CoDE views need at least one fake image")
        let k = fakeIndex(fakeCount: fakes.count, rng: rng)
        for view in configuration.views {
            var viewRNG = rng.derived(UInt64(1 + view.rawValue))
            writeView(view, of: view.isFake ? fakes[k] : real, rng: &viewRNG, into: destination(view))
        }
        return k
    }

    /// `makeViews(real:fakes:rng:into:)` returning the views as arrays, in `configuration.views` order.
    package func makeViews(real: RGBImage, fakes: [RGBImage], rng: RandomSource) -> (fakeIndex: Int, views: [CoDEView: [Float]]) {
        let n = configuration.viewFloatCount
        var storage = [Float](repeating: 0, count: n * CoDEView.allCases.count)
        let k = storage.withUnsafeMutableBufferPointer { all in
            makeViews(real: real, fakes: fakes, rng: rng) { view in
                UnsafeMutableBufferPointer(rebasing: all[(view.rawValue * n)..<((view.rawValue + 1) * n)])
            }
        }
        var out: [CoDEView: [Float]] = [:]
        for view in configuration.views {
            out[view] = Array(storage[(view.rawValue * n)..<((view.rawValue + 1) * n)])
        }
        return (k, out)
    }
}
