// CoDE's colour and overlay augmentations (docs/upstream.md, Augmentations: upstream ops 1, 5, 6, 10, 11, 16):
// augly 1.0.0's brightness, contrast, saturation, opacity, overlay_stripes and sharpen, with upstream's
// parameter ranges and levels as defaults. The pixel work is in the Imaging module (Enhance.swift).

import Imaging

/// Upstream's discrete parameter levels: `torch.linspace(start, end, steps)` in float32, each passed on
/// as a Python float (`item.item()`), i.e. the float32 value widened to double.
package enum AugmentationLevels {
    /// torch's CPU `linspace` for float32: `step = (end − start) / (steps − 1)` in float, the first
    /// `steps / 2` values `start + step · i`, the others `end − step · (steps − 1 − i)` (each product and
    /// sum rounded to float), widened to `Double`.
    ///
    /// - Precondition: `steps >= 1`.
    package static func linspace(_ start: Double, _ end: Double, steps: Int = 5) -> [Double] {
        precondition(steps >= 1, "linspace: steps must be positive")
        let s = Float(start), e = Float(end)
        if steps == 1 { return [Double(s)] }
        let step = (e - s) / Float(steps - 1)
        let halfway = steps / 2
        return (0..<steps).map { i in
            let product: Float
            if i < halfway {
                product = step * Float(i)
                return Double(s + product)
            }
            product = step * Float(steps - 1 - i)
            return Double(e - product)
        }
    }
}

/// Upstream op 1, augly `RandomBrightness(min_factor, max_factor)`: a factor drawn uniformly from
/// `minFactor..<maxFactor` (Python's `random.uniform`), then Pillow `ImageEnhance.Brightness`.
package struct RandomBrightness: Augmentation {
    /// The factor range (upstream: 0.5 to 2.0).
    package var minFactor: Double
    package var maxFactor: Double

    package init(minFactor: Double = 0.5, maxFactor: Double = 2.0) {
        precondition(minFactor.isFinite && maxFactor.isFinite && minFactor <= maxFactor,
                     "RandomBrightness: invalid factor range")
        self.minFactor = minFactor
        self.maxFactor = maxFactor
    }

    package var name: String { "brightness" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        image.brightnessAdjusted(rng.uniform(minFactor, maxFactor))
    }
}

/// Upstream op 5, augly `Contrast(factor)` with the factor drawn from upstream's levels
/// (`linspace(0.5, 1.5, 5)` = 0.5, 0.75, 1, 1.25, 1.5): Pillow `ImageEnhance.Contrast`.
package struct Contrast: Augmentation {
    /// The factors, one drawn per application (Python's `random.choice`).
    package var factors: [Double]

    package init(factors: [Double] = AugmentationLevels.linspace(0.5, 1.5)) {
        precondition(!factors.isEmpty, "Contrast: no factors")
        self.factors = factors
    }

    package var name: String { "contrast" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        image.contrastAdjusted(rng.element(of: factors))
    }
}

/// Upstream op 6, augly `Saturation(factor)` with the factor drawn from upstream's levels
/// (`linspace(0.5, 1.5, 5)`): Pillow `ImageEnhance.Color`.
package struct Saturation: Augmentation {
    /// The factors, one drawn per application.
    package var factors: [Double]

    package init(factors: [Double] = AugmentationLevels.linspace(0.5, 1.5)) {
        precondition(!factors.isEmpty, "Saturation: no factors")
        self.factors = factors
    }

    package var name: String { "saturation" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        image.colorAdjusted(rng.element(of: factors))
    }
}

/// Upstream op 10, augly `Opacity(level)` with the level drawn from upstream's levels
/// (`linspace(0.2, 1.0, 5)` in float32: 0.2, 0.4, 0.6, 0.8, 1): the image composited over white with
/// alpha `uint8(255 · level)` (51, 102, 153, 204, 255), the alpha then dropped.
package struct Opacity: Augmentation {
    /// The levels, one drawn per application; each in 0...1.
    package var levels: [Double]

    package init(levels: [Double] = AugmentationLevels.linspace(0.2, 1.0)) {
        precondition(!levels.isEmpty && levels.allSatisfy { $0 >= 0 && $0 <= 1 }, "Opacity: levels must lie in 0...1")
        self.levels = levels
    }

    package var name: String { "opacity" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        image.blendedTowardWhite(opacity: rng.element(of: levels))
    }
}

/// Upstream op 11, augly `OverlayStripes(line_width)` with the width drawn from upstream's levels
/// (`linspace(0.05, 0.35, 5)` in float32) and augly's other defaults: white, horizontal, density 0.5,
/// solid, opaque.
package struct OverlayStripes: Augmentation {
    /// The line widths, one drawn per application; each in 0...1.
    package var lineWidths: [Double]

    package init(lineWidths: [Double] = AugmentationLevels.linspace(0.05, 0.35)) {
        precondition(!lineWidths.isEmpty && lineWidths.allSatisfy { $0 >= 0 && $0 <= 1 },
                     "OverlayStripes: line widths must lie in 0...1")
        self.lineWidths = lineWidths
    }

    package var name: String { "overlay_stripes" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        image.overlayingStripes(lineWidth: rng.element(of: lineWidths))
    }
}

/// Upstream op 16, augly `Sharpen(factor)` with the factor drawn from upstream's levels
/// (`linspace(1.2, 2.0, 5)` in float32): Pillow `ImageEnhance.Sharpness`.
package struct Sharpen: Augmentation {
    /// The factors, one drawn per application.
    package var factors: [Double]

    package init(factors: [Double] = AugmentationLevels.linspace(1.2, 2.0)) {
        precondition(!factors.isEmpty, "Sharpen: no factors")
        self.factors = factors
    }

    package var name: String { "sharpen" }

    package func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
        image.sharpnessAdjusted(rng.element(of: factors))
    }
}
