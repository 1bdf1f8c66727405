// torchvision CenterCrop / ToTensor / Normalize and the two CoDE pipelines against the fixtures.

import Imaging
import XCTest

final class PreprocessCenterCropTests: XCTestCase {
    func testCenterCrop224MatchesTorchvision() throws {
        let fx = try PreprocessFixtures.shared.get()
        for (entry, image) in fx.images {
            assertMatches(image.centerCropped(size: 224), entry.centerCrop224, "\(entry.name) CenterCrop(224)")
            assertMatches(image.centerCropped(width: 224, height: 224), entry.centerCrop224,
                          "\(entry.name) CenterCrop((224, 224))")
        }
    }

    /// A `size`×`size` window of `image` whose top-left corner is at source `(left, top)`
    /// (negative: zero padding), built with plain loops independent of the code under test.
    private func window(_ image: RGBImage, left: Int, top: Int, size: Int = 224) -> RGBImage {
        var out = [UInt8](repeating: 0, count: size * size * 3)
        for r in 0..<size {
            for c in 0..<size {
                let sy = top + r, sx = left + c
                guard sy >= 0, sy < image.height, sx >= 0, sx < image.width else { continue }
                for ch in 0..<3 { out[(r * size + c) * 3 + ch] = image.pixels[(sy * image.width + sx) * 3 + ch] }
            }
        }
        return RGBImage(width: size, height: size, pixels: out)
    }

    /// Checks, purely against the fixture, that torchvision's crop of `name` starts at source
    /// `(left, top)` and not one pixel off in either direction.
    private func assertReferenceOffset(_ name: String, left: Int, top: Int,
                                       file: StaticString = #filePath, line: UInt = #line) throws {
        let fx = try PreprocessFixtures.shared.get()
        let (entry, image) = try fx.image(name)
        let expected = entry.centerCrop224.sha256
        XCTAssertEqual(SHA256ForTests.hex(window(image, left: left, top: top).pixels), expected,
                       "\(name): reference crop is not at (\(left), \(top))", file: file, line: line)
        for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
            XCTAssertNotEqual(SHA256ForTests.hex(window(image, left: left + dx, top: top + dy).pixels), expected,
                              "\(name): offset test is not discriminating", file: file, line: line)
        }
    }

    /// Python's round-half-to-even: an excess of 1 pixel starts at 0, an excess of 3 at 2.
    func testRoundingOfOddExcess() throws {
        try assertReferenceOffset("photo_225x225", left: 0, top: 0)
        try assertReferenceOffset("noise_225x225", left: 0, top: 0)
        try assertReferenceOffset("photo_227x227", left: 2, top: 2)
        try assertReferenceOffset("noise_227x227", left: 2, top: 2)
        try assertReferenceOffset("photo_225x227", left: 0, top: 2)
        try assertReferenceOffset("photo_227x225", left: 2, top: 0)
        try assertReferenceOffset("photo_226x226", left: 1, top: 1)
        try assertReferenceOffset("photo_231x229", left: 4, top: 2)   // 3.5 -> 4, 2.5 -> 2
        try assertReferenceOffset("photo_249x249", left: 12, top: 12) // 12.5 -> 12
    }

    /// Zero padding of images smaller than the crop: `(224 - n) // 2` before, the rest after.
    func testPaddingOfSmallImages() throws {
        try assertReferenceOffset("photo_150x100", left: -37, top: -62)
        try assertReferenceOffset("photo_199x260", left: -12, top: 18)   // pads 12 left, 13 right
        try assertReferenceOffset("photo_224x180", left: 0, top: -22)
        try assertReferenceOffset("photo_300x200", left: 38, top: -12)
        try assertReferenceOffset("photo_100x60", left: -62, top: -82)
        try assertReferenceOffset("photo_1x300", left: -111, top: 38)    // pads 111 left, 112 right
        try assertReferenceOffset("photo_300x1", left: 38, top: -111)
    }

    /// Our crop agrees with the offsets established above (the same cases, through our API).
    func testCropOffsetsThroughAPI() throws {
        let fx = try PreprocessFixtures.shared.get()
        let (_, i225) = try fx.image("noise_225x225")
        XCTAssertEqual(i225.centerCropped(size: 224), window(i225, left: 0, top: 0))
        let (_, i227) = try fx.image("noise_227x227")
        XCTAssertEqual(i227.centerCropped(size: 224), window(i227, left: 2, top: 2))
        // Non-square crops: width and height are independent.
        let (_, p) = try fx.image("photo_333x201")
        let c = p.centerCropped(width: 100, height: 50)
        XCTAssertEqual(c.width, 100)
        XCTAssertEqual(c.height, 50)
        for r in 0..<50 {
            for col in 0..<100 {
                for ch in 0..<3 {
                    // left = round(233 / 2) = 116 (116.5 -> 116), top = round(151 / 2) = 76 (75.5 -> 76)
                    XCTAssertEqual(c.pixels[(r * 100 + col) * 3 + ch], p.pixels[((76 + r) * 333 + 116 + col) * 3 + ch])
                }
            }
        }
    }
}

final class PreprocessPipelineTests: XCTestCase {
    /// `CenterCrop(224) + ToTensor + Normalize(ImageNet)` (the released inference protocol).
    func testInferenceMatchesTorchvision() throws {
        let fx = try PreprocessFixtures.shared.get()
        for (entry, image) in fx.images {
            assertMatches(Preprocessing.inference.apply(image), entry.inference, "\(entry.name) inference")
        }
    }

    /// `Resize(248, BICUBIC) + CenterCrop(224) + ToTensor + Normalize(ImageNet)`.
    func testTrainingEvalMatchesTorchvision() throws {
        let fx = try PreprocessFixtures.shared.get()
        for (entry, image) in fx.images {
            assertMatches(Preprocessing.trainingEval.apply(image), entry.trainEval, "\(entry.name) train/eval")
        }
    }

    /// The pipelines composed from the public building blocks give the same tensors.
    func testComposedBuildingBlocksMatchTorchvision() throws {
        let fx = try PreprocessFixtures.shared.get()
        for (entry, image) in fx.images {
            assertMatches(normalizedCHW(image.centerCropped(size: 224)), entry.inference,
                          "\(entry.name) normalizedCHW(centerCropped)")
            if entry.width * entry.height <= 640 * 512 {
                let resized = image.resizedShorterSide(to: 248)
                assertMatches(normalizedCHW(resized.centerCropped(size: 224), .imageNet), entry.trainEval,
                              "\(entry.name) normalizedCHW(centerCropped(resizedShorterSide))")
            }
        }
    }

    /// ToTensor + Normalize alone: a 224×224 image's inference tensor is its full normalisation.
    func testNormalizedCHWOfFullImage() throws {
        let fx = try PreprocessFixtures.shared.get()
        let (entry, image) = try fx.image("photo_224x224")
        assertMatches(normalizedCHW(image), entry.inference, "photo_224x224 normalizedCHW")
    }

    /// The `into:` variants write exactly the same values into a slot of a larger buffer and
    /// leave the rest untouched.
    func testIntoBufferVariants() throws {
        let fx = try PreprocessFixtures.shared.get()
        let (entry, image) = try fx.image("photo_640x480")
        let n = 3 * 224 * 224
        for (pipeline, expected) in [(Preprocessing.inference, entry.inference), (.trainingEval, entry.trainEval)] {
            var batch = [Float](repeating: .nan, count: 3 * n)
            batch.withUnsafeMutableBufferPointer { b in
                pipeline.apply(image, normalization: .imageNet, into: UnsafeMutableBufferPointer(rebasing: b[n..<(2 * n)]))
            }
            assertMatches(Array(batch[n..<(2 * n)]), expected, "\(pipeline) into:")
            XCTAssertTrue(batch[0..<n].allSatisfy { $0.isNaN })
            XCTAssertTrue(batch[(2 * n)...].allSatisfy { $0.isNaN })
        }
        let (small, smallImage) = try fx.image("photo_224x224")
        var buffer = [Float](repeating: .nan, count: n)
        buffer.withUnsafeMutableBufferPointer { normalizedCHW(smallImage, .imageNet, into: $0) }
        assertMatches(buffer, small.inference, "normalizedCHW into:")
    }

    /// Padded pixels normalise like black pixels: `(0 - mean) / std` per channel.
    func testPaddingValue() throws {
        let fx = try PreprocessFixtures.shared.get()
        let (_, image) = try fx.image("photo_2x2")
        let t = Preprocessing.inference.apply(image)
        let black = normalizedCHW(RGBImage(width: 1, height: 1, pixels: [0, 0, 0]))
        XCTAssertEqual(t[0], black[0])
        XCTAssertEqual(t[224 * 224], black[1])
        XCTAssertEqual(t[2 * 224 * 224 + 224 * 224 - 1], black[2])
        XCTAssertEqual(Preprocessing.inference.outputCount, t.count)
    }

    func testPipelineConstants() {
        XCTAssertEqual(Preprocessing.inference, .centerCrop(size: 224))
        XCTAssertEqual(Preprocessing.trainingEval, .resizeThenCenterCrop(resize: 248, crop: 224))
        XCTAssertEqual(Normalization.imageNet.mean.0, Float(0.485 as Double))
        XCTAssertEqual(Normalization.imageNet.std.2, Float(0.225 as Double))
    }
}
