import Imaging
import XCTest
import Training

final class AugmentationTests: XCTestCase {
    /// Flip and grayscale of the 224×224 crops equal Pillow's, and so do the normalised views after them.
    func testFlipAndGrayscaleMatchPillow() throws {
        let fixture = try ViewFixtureFile.load()
        var rng = RandomSource(seed: 0)
        for source in fixture.sources {
            let image = try ViewFixtureFile.image(source)
            for entry in source.boxes {
                let b = entry.box
                let crop = RandomResizedCrop.codeGlobal.resized(image, box: CropBox(top: b.top, left: b.left, height: b.height, width: b.width))
                let flipped = HorizontalFlip().apply(crop, rng: &rng)
                XCTAssertEqual(Digest.hex(flipped.pixels), entry.hflip.sha256, "\(source.name) \(b): hflip")
                XCTAssertEqual(Digest.hex(floats: Preprocessing.trainingEval.apply(flipped)), entry.hflip_view.sha256)
                let gray = Grayscale().apply(crop, rng: &rng)
                XCTAssertEqual(Digest.hex(gray.pixels), entry.grayscale.sha256, "\(source.name) \(b): grayscale")
                XCTAssertEqual(Digest.hex(floats: Preprocessing.trainingEval.apply(gray)), entry.grayscale_view.sha256)
            }
        }
    }

    /// augly's encoding_quality: Pillow's JPEG encode (same bytes) and decode at qualities 40 and 100.
    func testJPEGReencodeMatchesPillow() throws {
        let fixture = try ViewFixtureFile.load()
        var checked = 0
        for source in fixture.sources {
            let image = try ViewFixtureFile.image(source)
            for entry in source.boxes where !entry.jpeg.isEmpty {
                let b = entry.box
                let crop = RandomResizedCrop.codeGlobal.resized(image, box: CropBox(top: b.top, left: b.left, height: b.height, width: b.width))
                for (q, expected) in entry.jpeg {
                    let quality = Int(q)!
                    let bytes = try encodeJPEG(crop, quality: quality)
                    XCTAssertEqual(Digest.hex(bytes), expected.encoded_sha256, "\(source.name) \(b) q\(q): encoded bytes")
                    let decoded = try XCTUnwrap(JPEGReencode.reencode(crop, quality: quality))
                    XCTAssertEqual(Digest.hex(decoded.pixels), expected.decoded.sha256, "\(source.name) \(b) q\(q): decoded pixels")
                    var rng = RandomSource(seed: 0)
                    XCTAssertEqual(JPEGReencode(qualities: [quality]).apply(crop, rng: &rng), decoded)
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 8)
        // The level is drawn uniformly from the list.
        var rng = RandomSource(seed: 3)
        var seen = Set<Int>()
        for _ in 0..<100 { seen.insert(rng.element(of: JPEGReencode().qualities)) }
        XCTAssertEqual(seen, [40, 55, 70, 85, 100])
    }

    func testSmallImages() {
        let img = RGBImage(width: 3, height: 2, pixels: [
            255, 0, 0, 0, 255, 0, 0, 0, 255,
            255, 255, 255, 0, 0, 0, 10, 200, 30,
        ])
        XCTAssertEqual(img.flippedHorizontally().pixels, [
            0, 0, 255, 0, 255, 0, 255, 0, 0,
            10, 200, 30, 0, 0, 0, 255, 255, 255,
        ])
        XCTAssertEqual(img.flippedHorizontally().flippedHorizontally(), img)
        // 0.299·255 = 76.245 → 76; 0.587·255 = 149.685 → 150; 0.114·255 = 29.07 → 29;
        // 0.299·10 + 0.587·200 + 0.114·30 = 123.81 → 124.
        XCTAssertEqual(img.grayscaled().pixels, [
            76, 76, 76, 150, 150, 150, 29, 29, 29,
            255, 255, 255, 0, 0, 0, 124, 124, 124,
        ])
        XCTAssertEqual(img.cropped(CropBox(top: 1, left: 1, height: 1, width: 2)).pixels, [0, 0, 0, 10, 200, 30])
        let empty = RGBImage(width: 0, height: 0, pixels: [])
        XCTAssertEqual(empty.flippedHorizontally(), empty)
    }

    /// n is uniform over 0...maxOperations, the ops are distinct and sorted, and nothing is applied
    /// when `transform` is false.
    func testMassiveTransformDraws() {
        struct Tag: Augmentation {
            let value: UInt8
            var name: String { "tag\(value)" }
            func apply(_ image: RGBImage, rng: inout RandomSource) -> RGBImage {
                RGBImage(width: image.width + 1, height: 1, pixels: image.pixels + [value, value, value])
            }
        }
        let ops = (0..<19).map { Tag(value: UInt8($0)) as any Augmentation }
        let transform = MassiveTransform(operations: ops, maxOperations: 2)
        var rng = RandomSource(seed: 12)
        var sizes = [0, 0, 0]
        var perOp = [Int](repeating: 0, count: 19)
        let trials = 30_000
        for _ in 0..<trials {
            let chosen = transform.drawOperations(rng: &rng)
            XCTAssertEqual(chosen, chosen.sorted())
            XCTAssertEqual(Set(chosen).count, chosen.count)
            sizes[chosen.count] += 1
            for c in chosen { perOp[c] += 1 }
        }
        for s in sizes { XCTAssertEqual(Double(s), Double(trials) / 3, accuracy: 400) }
        let expectedPerOp = Double(trials) * 1.0 / 19   // E[n] = 1
        for c in perOp { XCTAssertEqual(Double(c), expectedPerOp, accuracy: 6 * expectedPerOp.squareRoot()) }

        // Applied in ascending order; the draw is consumed even when not transforming.
        let start = RGBImage(width: 0, height: 1, pixels: [])
        var a = RandomSource(seed: 5), b = RandomSource(seed: 5)
        for _ in 0..<50 {
            let chosen = transform.drawOperations(rng: &b)
            let out = transform.apply(start, transform: true, rng: &a)
            XCTAssertEqual(out.pixels, chosen.flatMap { [UInt8($0), UInt8($0), UInt8($0)] })
            XCTAssertEqual(a, b)
            XCTAssertEqual(transform.apply(start, transform: false, rng: &a), start)
            _ = transform.drawOperations(rng: &b)
            XCTAssertEqual(a, b)
        }

        // An empty list (the default) leaves images unchanged; fewer ops than n use them all at most.
        var r = RandomSource(seed: 1)
        let img = RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(MassiveTransform().apply(img, transform: true, rng: &r), img)
        let one = MassiveTransform(operations: [HorizontalFlip()], maxOperations: 2)
        for _ in 0..<20 { XCTAssertLessThanOrEqual(one.drawOperations(rng: &r).count, 1) }
    }

    /// Upstream's list (docs/upstream.md, Augmentations): 19 operations in its index order.
    func testUpstreamListHasTheNineteenOperationsInOrder() {
        XCTAssertEqual(MassiveTransform.upstream().operations.map(\.name), [
            "blur", "brightness", "aspect_ratio", "pixelization", "rotation", "contrast", "saturation", "jpeg_quality",
            "grayscale", "hflip", "opacity", "overlay_stripes", "pad", "resize", "random_crop", "scale", "sharpen",
            "shuffle_pixels", "skew",
        ])
        XCTAssertEqual(MassiveTransform.upstream().maxOperations, 2)
        XCTAssertEqual(MassiveTransform.upstream(maxOperations: 1).maxOperations, 1)
    }

    /// Every operation, alone and through the full view pipeline, on images from 1×1 up: no crash, and every
    /// view comes out at the crop size with finite values (a rotation can leave an empty image, which the view
    /// pipeline must survive as it survives any other size).
    func testEveryOperationAndTheViewPipelineHandleAnyImageSize() {
        let sizes = [(1, 1), (2, 3), (9, 1), (37, 23), (300, 200)]
        let images = sizes.map { w, h in RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }) }
        var rng = RandomSource(seed: 3)
        for op in MassiveTransform.upstream().operations {
            for image in images {
                for _ in 0..<3 {
                    let out = op.apply(image, rng: &rng)
                    XCTAssertEqual(out.pixels.count, out.width * out.height * 3, "\(op.name) on \(image.width)x\(image.height)")
                }
            }
        }
        var configuration = CoDEViewConfiguration()
        configuration.augmentations = .upstream(maxOperations: 19)  // every operation in every augmented view
        let builder = CoDEViewBuilder(configuration)
        for (i, image) in images.enumerated() {
            for record in 0..<4 {
                let (_, views) = builder.makeViews(real: image, fakes: [images[(i + 1) % images.count]],
                                                   rng: RandomSource(seed: 8).derived(UInt64(i), UInt64(record)))
                for (view, values) in views {
                    XCTAssertEqual(values.count, configuration.viewFloatCount, "\(view)")
                    XCTAssertTrue(values.allSatisfy(\.isFinite), "\(view) of a \(image.width)x\(image.height) image")
                }
            }
        }
    }
}
