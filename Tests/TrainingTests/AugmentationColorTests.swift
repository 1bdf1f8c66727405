// The colour / overlay augmentations (upstream ops 1, 5, 6, 10, 11, 16) against Pillow 13 + augly 1.0.0:
// Tests/Fixtures/augment/color/manifest.json, written by tools/reference/make_augmentation_color_fixtures.py.

import Foundation
import Imaging
import XCTest
import Training

private struct ColorManifest: Decodable {
    struct Crop: Decodable { let top: Int, left: Int, height: Int, width: Int }
    struct Source: Decodable {
        let name: String
        let file: String
        let width: Int
        let height: Int
        let sha256: String
        let gray_mean: Int
        let crop: Crop?
    }
    struct Case: Decodable {
        let source: String
        let op: String
        let param: Double
        let density: Double?
        let opacity: Double?
        let sha256: String
        let sums: [Int]
    }
    struct StripeSize: Decodable {
        let width: Int
        let height: Int
        let runs: [[Int]]
    }
    struct StripeMasks: Decodable {
        let line_widths: [Double]
        let sizes: [StripeSize]
    }
    struct PillowCheck: Decodable {
        let other_Pillow: String
        let cases: Int
    }
    let levels: [String: [Double]]
    let sources: [Source]
    let cases: [Case]
    let stripe_masks: StripeMasks

    static func load() throws -> ColorManifest {
        let data = try Data(contentsOf: TrainingFixtures.root.appendingPathComponent("augment/color/manifest.json"))
        return try JSONDecoder().decode(ColorManifest.self, from: data)
    }

    /// The source image: a raw RGB file, or a crop of the committed 640×512 photo.
    static func image(_ source: Source) throws -> RGBImage {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TrainingFixtures.path(source.file))))
        guard let crop = source.crop else {
            return RGBImage(width: source.width, height: source.height, pixels: bytes)
        }
        let full = RGBImage(width: 640, height: 512, pixels: bytes)
        return full.cropped(CropBox(top: crop.top, left: crop.left, height: crop.height, width: crop.width))
    }
}

private func channelSums(_ image: RGBImage) -> [Int] {
    var sums = [0, 0, 0]
    for (i, v) in image.pixels.enumerated() { sums[i % 3] += Int(v) }
    return sums
}

/// Runs of `true` rows as `[start, end, start, end, ...]`.
private func runs(_ rows: [Bool]) -> [Int] {
    var out = [Int](), y = 0
    while y < rows.count {
        if rows[y] {
            let start = y
            while y < rows.count && rows[y] { y += 1 }
            out += [start, y]
        } else {
            y += 1
        }
    }
    return out
}

final class AugmentationColorTests: XCTestCase {
    /// The default levels are torch's float32 linspace values, exactly as upstream passes them.
    func testDefaultLevelsMatchTorchLinspace() throws {
        let manifest = try ColorManifest.load()
        XCTAssertEqual(Contrast().factors, manifest.levels["contrast"])
        XCTAssertEqual(Saturation().factors, manifest.levels["saturation"])
        XCTAssertEqual(Sharpen().factors, manifest.levels["sharpen"])
        XCTAssertEqual(Opacity().levels, manifest.levels["opacity"])
        XCTAssertEqual(OverlayStripes().lineWidths, manifest.levels["overlay_stripes"])
        // 1.4 and 1.8 are not the nearest floats: torch's start + step·i rounds the ties to even.
        XCTAssertEqual(Sharpen().factors, [1.2000000476837158, 1.4000000953674316, 1.600000023841858, 1.7999999523162842, 2.0])
        XCTAssertEqual(AugmentationLevels.linspace(40, 100), [40, 55, 70, 85, 100])
        XCTAssertEqual(AugmentationLevels.linspace(3, 7, steps: 1), [3])
        let b = RandomBrightness()
        XCTAssertEqual(b.minFactor, 0.5)
        XCTAssertEqual(b.maxFactor, 2.0)
    }

    /// Every fixture case (each op at every upstream level plus edge values, on generated images, a
    /// 224×224 photo crop and tiny crops) is byte-identical to Pillow's / augly's output.
    func testEveryCaseMatchesPillow() throws {
        let manifest = try ColorManifest.load()
        var images = [String: RGBImage]()
        for source in manifest.sources {
            let image = try ColorManifest.image(source)
            XCTAssertEqual(Digest.hex(image.pixels), source.sha256, "\(source.name): source bytes")
            XCTAssertEqual(image.grayLevelMean, source.gray_mean, "\(source.name): Contrast's grey level")
            images[source.name] = image
        }
        var checked = [String: Int](), failed = [String: Int]()
        for c in manifest.cases {
            let image = try XCTUnwrap(images[c.source])
            let out: RGBImage
            switch c.op {
            case "brightness": out = image.brightnessAdjusted(c.param)
            case "contrast": out = image.contrastAdjusted(c.param)
            case "saturation": out = image.colorAdjusted(c.param)
            case "sharpen": out = image.sharpnessAdjusted(c.param)
            case "opacity": out = image.blendedTowardWhite(opacity: c.param)
            case "overlay_stripes":
                out = image.overlayingStripes(lineWidth: c.param, lineDensity: c.density ?? 0.5, opacity: c.opacity ?? 1)
            default:
                XCTFail("unknown op \(c.op)"); continue
            }
            XCTAssertEqual(out.width, image.width)
            XCTAssertEqual(out.height, image.height)
            checked[c.op, default: 0] += 1
            if Digest.hex(out.pixels) != c.sha256 {
                failed[c.op, default: 0] += 1
                XCTFail("\(c.source) \(c.op)(\(c.param), density \(c.density ?? 0.5), opacity \(c.opacity ?? 1)): "
                        + "sums \(channelSums(out)), Pillow \(c.sums)")
            }
        }
        XCTAssertEqual(checked.values.reduce(0, +), manifest.cases.count)
        XCTAssertEqual(Set(checked.keys), ["brightness", "contrast", "saturation", "sharpen", "opacity", "overlay_stripes"])
        print("AugmentationColor parity: checked \(checked.sorted { $0.key < $1.key }), failed \(failed)")
    }

    /// augly's stripe mask for every square size 1…256, some rectangles, every stripe level and 0, 0.5, 1.
    func testStripeMasksMatchAugly() throws {
        let masks = try ColorManifest.load().stripe_masks
        var checked = 0
        for size in masks.sizes {
            XCTAssertEqual(size.runs.count, masks.line_widths.count)
            for (w, expected) in zip(masks.line_widths, size.runs) {
                let rows = RGBImage.stripeRows(width: size.width, height: size.height, lineWidth: w, lineDensity: 0.5)
                XCTAssertEqual(runs(rows), expected, "\(size.width)x\(size.height) line width \(w)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 2000)
    }

    /// Hand-computed samples of the blend, paste and filter rules.
    func testSmallExamples() {
        let img = RGBImage(width: 3, height: 1, pixels: [0, 100, 255, 7, 128, 200, 1, 2, 3])
        // Brightness: (uint8)(f·p), clamped above 1.
        XCTAssertEqual(img.brightnessAdjusted(2).pixels, [0, 200, 255, 14, 255, 255, 2, 4, 6])
        XCTAssertEqual(img.brightnessAdjusted(0.5).pixels, [0, 50, 127, 3, 64, 100, 0, 1, 1])
        XCTAssertEqual(img.brightnessAdjusted(1), img)
        XCTAssertEqual(img.brightnessAdjusted(0).pixels, [UInt8](repeating: 0, count: 9))
        // Contrast 0: a flat grey at the rounded mean luma.
        let mean = UInt8(img.grayLevelMean)
        XCTAssertEqual(img.contrastAdjusted(0).pixels, [UInt8](repeating: mean, count: 9))
        // Color 0: the greyscale image; Color 1: the image.
        let grey = img.colorAdjusted(0)
        XCTAssertEqual(grey.pixels[0], grey.pixels[1])
        XCTAssertEqual(img.colorAdjusted(1), img)
        // Opacity: 255·(255−m) + p·m, divided by 255 with rounding; level 1 keeps the image, 0 is white.
        XCTAssertEqual(img.blendedTowardWhite(opacity: 1), img)
        XCTAssertEqual(img.blendedTowardWhite(opacity: 0).pixels, [UInt8](repeating: 255, count: 9))
        // m = 127: (255·128 + 0·127 + 128) → 128.
        XCTAssertEqual(img.blendedTowardWhite(opacity: 0.5).pixels[0], 128)
        // Sharpness of an image less than 3 pixels high: unchanged (the filter copies it).
        XCTAssertEqual(img.sharpnessAdjusted(2), img)
        // SMOOTH on a 3×3 image changes only the centre pixel; a flat image stays flat.
        let flat = RGBImage(width: 3, height: 3, pixels: [UInt8](repeating: 77, count: 27))
        XCTAssertEqual(flat.smoothFiltered(), flat)
        XCTAssertEqual(flat.sharpnessAdjusted(1.7), flat)
        var spike = flat
        spike.pixels[12] = 207   // centre red: (8·77 + 5·207) / 13 = 127.0 → float rounding, +0.5, truncated
        XCTAssertEqual(spike.smoothFiltered().pixels[12], 127)
        XCTAssertEqual(spike.smoothFiltered().pixels[13], 77)
        // Stripes at full opacity: whole rows of the colour, other rows untouched.
        let square = RGBImage(width: 8, height: 8, pixels: (0..<192).map { UInt8($0) })
        let striped = square.overlayingStripes(lineWidth: 0.35, color: (255, 0, 9))
        let rows = RGBImage.stripeRows(width: 8, height: 8, lineWidth: 0.35, lineDensity: 0.5)
        XCTAssertTrue(rows.contains(true) && rows.contains(false))
        for y in 0..<8 {
            let row = Array(striped.pixels[(y * 24)..<(y * 24 + 24)])
            XCTAssertEqual(row, rows[y] ? [UInt8]((0..<8).flatMap { _ in [255, 0, 9] as [UInt8] })
                                        : Array(square.pixels[(y * 24)..<(y * 24 + 24)]))
        }
        let empty = RGBImage(width: 0, height: 0, pixels: [])
        XCTAssertEqual(empty.contrastAdjusted(0.5), empty)
        XCTAssertEqual(empty.overlayingStripes(lineWidth: 0.2), empty)
        XCTAssertEqual(empty.sharpnessAdjusted(2), empty)
    }

    /// The structs draw their parameter from the RNG (uniform range or one of the levels) and apply
    /// the matching image function; every level is reachable.
    func testAugmentationsDrawTheirParameters() throws {
        let manifest = try ColorManifest.load()
        let source = try XCTUnwrap(manifest.sources.first { $0.name == "gen_37x23" })
        let image = try ColorManifest.image(source)

        var rng = RandomSource(seed: 11)
        var lo = Double.infinity, hi = -Double.infinity
        for _ in 0..<400 {
            var copy = rng
            let f = copy.uniform(0.5, 2.0)
            lo = min(lo, f); hi = max(hi, f)
            XCTAssertEqual(RandomBrightness().apply(image, rng: &rng), image.brightnessAdjusted(f))
            XCTAssertEqual(rng, copy)
        }
        XCTAssertLessThan(lo, 0.52)
        XCTAssertGreaterThan(hi, 1.98)

        func check<A: Augmentation>(_ op: A, _ levels: [Double], _ f: (Double) -> RGBImage) {
            var rng = RandomSource(seed: 5)
            var seen = Set<Double>()
            for _ in 0..<60 {
                var copy = rng
                let level = copy.element(of: levels)
                seen.insert(level)
                XCTAssertEqual(op.apply(image, rng: &rng), f(level), "\(op.name) at \(level)")
                XCTAssertEqual(rng, copy)
            }
            XCTAssertEqual(seen, Set(levels), op.name)
        }
        check(Contrast(), Contrast().factors) { image.contrastAdjusted($0) }
        check(Saturation(), Saturation().factors) { image.colorAdjusted($0) }
        check(Sharpen(), Sharpen().factors) { image.sharpnessAdjusted($0) }
        check(Opacity(), Opacity().levels) { image.blendedTowardWhite(opacity: $0) }
        check(OverlayStripes(), OverlayStripes().lineWidths) { image.overlayingStripes(lineWidth: $0) }
        XCTAssertEqual(Set([RandomBrightness().name, Contrast().name, Saturation().name, Sharpen().name,
                            Opacity().name, OverlayStripes().name]).count, 6)
    }
}
