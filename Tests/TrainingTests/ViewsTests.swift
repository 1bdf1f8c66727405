import Foundation
import Imaging
import XCTest
import Training

final class ViewsTests: XCTestCase {
    /// For fixed boxes, crop + Pillow-bicubic resize to 224 and the Resize(248)+CenterCrop(224)+Normalize
    /// tail are bit-identical to Pillow/torchvision (digests from tools/reference/make_view_fixtures.py).
    func testFixedBoxesMatchPillowAndTorchvision() throws {
        let fixture = try ViewFixtureFile.load()
        var checked = 0
        for source in fixture.sources {
            let image = try ViewFixtureFile.image(source)
            XCTAssertEqual(Digest.hex(image.pixels), source.rgb_sha256, "\(source.name): decoded pixels differ from Pillow's")
            for entry in source.boxes {
                let b = entry.box
                let box = CropBox(top: b.top, left: b.left, height: b.height, width: b.width)
                let crop = RandomResizedCrop.codeGlobal.resized(image, box: box)
                XCTAssertEqual(crop.width, 224)
                XCTAssertEqual(crop.height, 224)
                XCTAssertEqual(Digest.hex(crop.pixels), entry.crop.sha256, "\(source.name) \(box): crop+resize")
                let view = Preprocessing.trainingEval.apply(crop)
                XCTAssertEqual(Digest.hex(floats: view), entry.view.sha256,
                               "\(source.name) \(box): view; sums \(Digest.channelSums(view)) vs \(entry.view.sums)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 12)
    }

    /// torchvision's deterministic fallback box (all ten tries fail when the scale exceeds 1).
    func testFallbackMatchesTorchvision() throws {
        let fixture = try ViewFixtureFile.load()
        let impossible = RandomResizedCrop(scale: 5...6)
        var rng = RandomSource(seed: 1)
        for f in fixture.fallback {
            let expected = CropBox(top: f.box.top, left: f.box.left, height: f.box.height, width: f.box.width)
            XCTAssertEqual(RandomResizedCrop.fallback(width: f.width, height: f.height, ratio: impossible.ratio), expected,
                           "\(f.width)x\(f.height)")
            let drawn = impossible.draw(width: f.width, height: f.height, rng: &rng)
            XCTAssertFalse(drawn.accepted)
            XCTAssertEqual(drawn.box, expected)
        }
    }

    /// Accepted crops obey torchvision's rules: inside the image, area within scale and aspect within
    /// ratio up to the rounding of w and h; positions cover the whole range.
    func testAcceptedCropsObeyTheRules() {
        let sizes = [(640, 512), (227, 301), (224, 224), (1000, 10), (10, 1000), (1, 1), (3, 7), (50, 2000), (4000, 300)]
        for crop in [RandomResizedCrop.codeGlobal, RandomResizedCrop.codeLocal] {
            for (w0, h0) in sizes {
                var rng = RandomSource(seed: 77).derived(UInt64(w0), UInt64(h0))
                var accepted = 0
                var tops = Set<Int>(), lefts = Set<Int>()
                for _ in 0..<2000 {
                    let (box, ok) = crop.draw(width: w0, height: h0, rng: &rng)
                    XCTAssert(box.top >= 0 && box.left >= 0 && box.width > 0 && box.height > 0
                              && box.top + box.height <= h0 && box.left + box.width <= w0, "\(box) in \(w0)x\(h0)")
                    guard ok else {
                        XCTAssertEqual(box, RandomResizedCrop.fallback(width: w0, height: h0, ratio: crop.ratio))
                        continue
                    }
                    accepted += 1
                    let w = Double(box.width), h = Double(box.height), area = Double(w0 * h0)
                    // A ∈ [(w−½)(h−½), (w+½)(h+½)] and r ∈ [(w−½)/(h+½), (w+½)/(h−½)].
                    XCTAssertLessThanOrEqual((w - 0.5) * (h - 0.5), crop.scale.upperBound * area * (1 + 1e-12))
                    XCTAssertGreaterThanOrEqual((w + 0.5) * (h + 0.5), crop.scale.lowerBound * area * (1 - 1e-12))
                    XCTAssertLessThanOrEqual((w - 0.5) / (h + 0.5), crop.ratio.upperBound * (1 + 1e-12))
                    XCTAssertGreaterThanOrEqual(h > 0.5 ? (w + 0.5) / (h - 0.5) : .infinity, crop.ratio.lowerBound * (1 - 1e-12))
                    tops.insert(box.top); lefts.insert(box.left)
                }
                switch (w0, h0) {
                case (1000, 10), (10, 1000):
                    // No crop of at least 5% of the area with a ratio in [3/4, 4/3] fits: always the fallback.
                    XCTAssertEqual(accepted, 0, "\(w0)x\(h0)")
                case (640, 512), (227, 301), (224, 224):
                    // Ten rejections in a row are rare but possible (large areas with extreme ratios).
                    XCTAssertGreaterThan(accepted, 1980, "\(w0)x\(h0)")
                    XCTAssertEqual(tops.min(), 0)
                    XCTAssertEqual(lefts.min(), 0)
                    XCTAssertGreaterThan(tops.count, 50)
                default:
                    break
                }
            }
        }
        // The extreme aspects fall back to torchvision's boxes.
        var rng = RandomSource(seed: 2)
        XCTAssertEqual(RandomResizedCrop.codeGlobal.parameters(width: 1000, height: 10, rng: &rng),
                       CropBox(top: 0, left: 493, height: 10, width: 13))
        XCTAssertEqual(RandomResizedCrop.codeLocal.parameters(width: 10, height: 1000, rng: &rng),
                       CropBox(top: 493, left: 0, height: 13, width: 10))
        XCTAssertEqual(RandomResizedCrop.codeGlobal.parameters(width: 1, height: 1, rng: &rng),
                       CropBox(top: 0, left: 0, height: 1, width: 1))
    }

    /// The sampled area fraction spreads over the scale range (mean close to the uniform's mean).
    func testAreaFractionDistribution() {
        let crop = RandomResizedCrop.codeLocal
        var rng = RandomSource(seed: 4)
        var fractions: [Double] = []
        for _ in 0..<20_000 {
            let (box, ok) = crop.draw(width: 1024, height: 1024, rng: &rng)
            XCTAssert(ok)
            fractions.append(Double(box.width * box.height) / (1024 * 1024))
        }
        let m = moments(fractions)
        XCTAssertEqual(m.mean, 0.225, accuracy: 0.003)
        XCTAssertGreaterThan(m.min, 0.049)
        XCTAssertLessThan(m.max, 0.401)
    }

    func testCodeViewsAreDeterministicAndFollowTheRecipe() throws {
        let fixture = try ViewFixtureFile.load()
        let photo = try ViewFixtureFile.image(fixture.sources[0])
        let bmp = try ViewFixtureFile.image(fixture.sources[1])
        let real = photo
        let fakes = [bmp, photo.flippedHorizontally(), bmp.grayscaled(), photo.grayscaled()]
        let builder = CoDEViewBuilder(CoDEViewConfiguration(augmentations: .examples))
        let rng = RandomSource(seed: 42).derived(0, 17)

        let start = Date()
        let (k, views) = builder.makeViews(real: real, fakes: fakes, rng: rng)
        let seconds = Date().timeIntervalSince(start)
        print("8 CoDE views (640x512 real, mixed fakes): \(String(format: "%.1f", seconds * 1000)) ms")
        XCTAssertEqual(views.count, 8)
        XCTAssertEqual(k, builder.fakeIndex(fakeCount: 4, rng: rng))
        let (k2, again) = builder.makeViews(real: real, fakes: fakes, rng: rng)
        XCTAssertEqual(k2, k)
        for view in CoDEView.allCases { XCTAssertEqual(again[view], views[view], "\(view) not reproducible") }

        // Clean views: plain Resize(248) + CenterCrop(224) + Normalize of the real image / chosen fake.
        XCTAssertEqual(views[.real], Preprocessing.trainingEval.apply(real))
        XCTAssertEqual(views[.fake], Preprocessing.trainingEval.apply(fakes[k]))

        // Augmented views: the drawn subset of {hflip, grayscale, JPEG}, applied in index order.
        for (view, image) in [(CoDEView.augmentedReal, real), (.augmentedFake, fakes[k])] {
            var r = rng.derived(UInt64(1 + view.rawValue))
            let chosen = builder.configuration.augmentations.drawOperations(rng: &r)
            var expected = image
            for index in chosen { expected = builder.configuration.augmentations.operations[index].apply(expected, rng: &r) }
            XCTAssertEqual(views[view], Preprocessing.trainingEval.apply(expected), "\(view) with ops \(chosen)")
        }

        // Crop views: the box from the view's stream (after the augmentation draw), then the augmentations.
        for view in [CoDEView.globalReal, .localReal, .globalFake, .localFake] {
            var r = rng.derived(UInt64(1 + view.rawValue))
            let chosen = builder.configuration.augmentations.drawOperations(rng: &r)
            let crop = (view == .globalReal || view == .globalFake) ? RandomResizedCrop.codeGlobal : .codeLocal
            let source = view.isFake ? fakes[k] : real
            let box = crop.parameters(width: source.width, height: source.height, rng: &r)
            var expected = crop.resized(source, box: box)
            for index in chosen { expected = builder.configuration.augmentations.operations[index].apply(expected, rng: &r) }
            XCTAssertEqual(views[view], Preprocessing.trainingEval.apply(expected), "\(view) box \(box) ops \(chosen)")
        }

        // Another record gives other views.
        let (_, other) = builder.makeViews(real: real, fakes: fakes, rng: RandomSource(seed: 42).derived(0, 18))
        XCTAssertNotEqual(other[.globalReal], views[.globalReal])
    }

    func testFakeChoiceIsUniformAndBuffersAreFilled() {
        let builder = CoDEViewBuilder()
        var counts = [0, 0, 0, 0]
        for record in 0..<8000 { counts[builder.fakeIndex(fakeCount: 4, rng: RandomSource(seed: 9).derived(record))] += 1 }
        for c in counts { XCTAssertEqual(Double(c), 2000, accuracy: 200) }

        // Writing into slots of batch buffers; without double contrastive the fake crops are not written.
        let tiny = RGBImage(width: 40, height: 30, pixels: (0..<(40 * 30 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let n = CoDEViewConfiguration.code.viewFloatCount
        XCTAssertEqual(n, 3 * 224 * 224)
        var single = CoDEViewConfiguration()
        single.doubleContrastive = false
        XCTAssertEqual(single.views.count, 6)
        // Two records written into their slots of eight [2, 3, 224, 224] batch buffers (one flat array here).
        let batch = 2
        var storage = [Float](repeating: .nan, count: 8 * batch * n)
        storage.withUnsafeMutableBufferPointer { all in
            for slot in 0..<batch {
                CoDEViewBuilder(single).makeViews(real: tiny, fakes: [tiny], rng: RandomSource(seed: UInt64(slot))) { view in
                    let start = (view.rawValue * batch + slot) * n
                    return UnsafeMutableBufferPointer(rebasing: all[start..<(start + n)])
                }
            }
        }
        for slot in 0..<batch {
            for v in CoDEView.allCases {
                let start = (v.rawValue * batch + slot) * n
                let part = storage[start..<(start + n)]
                if v == .globalFake || v == .localFake {
                    XCTAssert(part.allSatisfy { $0.isNaN }, "\(v) written without double contrastive")
                } else {
                    XCTAssert(part.allSatisfy { $0.isFinite }, "\(v) not fully written")
                }
            }
        }
    }
}
