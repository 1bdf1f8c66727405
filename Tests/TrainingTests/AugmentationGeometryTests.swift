import Foundation
import Imaging
import XCTest
import Training

/// Tests/Fixtures/augment/geometry/manifest.json (tools/reference/make_augmentation_geometry_fixtures.py).
private struct GeometryManifest: Decodable {
    struct Input: Decodable {
        let name: String, file: String, width: Int, height: Int, sha256: String
    }
    struct Output: Decodable {
        let width: Int, height: Int, sha256: String, sums: [Int]
    }
    struct Case: Decodable {
        let op: String
        let input: String
        let param: String
        let output: Output
        let filter: String?
        let target: [Int]?
        let value: Double?
        let intermediate: [Int]?
        let padded: [Int]?
        let top: Int?
        let left: Int?
    }
    struct Levels: Decodable {
        let pad: [Double], resize: [Double], random_crop: [Double], scale: [Double]
    }
    let inputs: [Input]
    let cases: [Case]
    let levels: Levels

    static func load() throws -> GeometryManifest {
        let url = TrainingFixtures.root.appendingPathComponent("augment/geometry/manifest.json")
        return try JSONDecoder().decode(GeometryManifest.self, from: Data(contentsOf: url))
    }

    func images() throws -> [String: RGBImage] {
        var out: [String: RGBImage] = [:]
        for input in inputs {
            let image = try decodeImage(path: TrainingFixtures.path("augment/geometry/\(input.file)"))
            XCTAssertEqual(Digest.hex(image.pixels), input.sha256, "input \(input.name)")
            out[input.name] = image
        }
        return out
    }
}

final class AugmentationGeometryTests: XCTestCase {
    /// Checks `image` against a fixture output; on a mismatch reports the size and channel sums.
    private func check(_ image: RGBImage, _ c: GeometryManifest.Case, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        let label = "\(c.op) \(c.input) \(c.param)"
        guard image.width == c.output.width && image.height == c.output.height else {
            XCTFail("\(label): size \(image.width)x\(image.height), expected \(c.output.width)x\(c.output.height)",
                    file: file, line: line)
            return false
        }
        if Digest.hex(image.pixels) == c.output.sha256 { return true }
        var sums = [0, 0, 0]
        for (i, v) in image.pixels.enumerated() { sums[i % 3] += Int(v) }
        XCTFail("\(label): pixels differ (sums \(sums), expected \(c.output.sums))", file: file, line: line)
        return false
    }

    private func run(op: String, expected: Int, _ body: (RGBImage, GeometryManifest.Case) -> RGBImage) throws {
        let manifest = try GeometryManifest.load()
        let images = try manifest.images()
        var checked = 0, exact = 0
        for c in manifest.cases where c.op == op {
            let image = try XCTUnwrap(images[c.input])
            if check(body(image, c), c) { exact += 1 }
            checked += 1
        }
        XCTAssertEqual(checked, expected, "\(op): number of fixture cases")
        XCTAssertEqual(exact, checked, "\(op): \(exact) of \(checked) cases exact")
    }

    /// Pillow's resize with BILINEAR, BICUBIC and LANCZOS: up, down, mixed, one axis, identity and the
    /// shapes where Pillow 13 filters vertically first.
    func testResampleMatchesPillow() throws {
        try run(op: "resample", expected: 108) { image, c in
            let filter = ResampleFilter(rawValue: c.filter!)!
            let target = c.target!
            return image.resized(width: target[0], height: target[1], filter: filter)
        }
    }

    /// The bicubic public API is the generic resampler with `.bicubic`.
    func testResizedBicubicIsGenericBicubic() throws {
        let manifest = try GeometryManifest.load()
        let images = try manifest.images()
        for c in manifest.cases where c.op == "resample" && c.filter == "bicubic" {
            let image = images[c.input]!, t = c.target!
            XCTAssertEqual(image.resizedBicubic(width: t[0], height: t[1]),
                           image.resized(width: t[0], height: t[1], filter: .bicubic))
        }
    }

    /// augly `change_aspect_ratio` (op 2) at fixed ratios and draws from upstream's range.
    func testAspectRatioMatchesAugly() throws {
        try run(op: "aspect_ratio", expected: 28) { image, c in
            RandomAspectRatio.changeAspectRatio(image, ratio: c.value!)
        }
    }

    /// augly `pixelization` (op 3).
    func testPixelizationMatchesAugly() throws {
        try run(op: "pixelization", expected: 28) { image, c in
            let r = c.value!
            XCTAssertEqual([Int(Double(image.width) * r), Int(Double(image.height) * r)], c.intermediate!)
            return RandomPixelization.pixelize(image, ratio: r)
        }
    }

    /// augly `pad` (op 12) at every upstream level.
    func testPadMatchesAugly() throws {
        let manifest = try GeometryManifest.load()
        XCTAssertEqual(Pad.upstreamFactors, manifest.levels.pad)
        XCTAssertEqual(Pad().factors, manifest.levels.pad)
        try run(op: "pad", expected: 20) { image, c in
            var rng = RandomSource(seed: 1)
            let viaStruct = Pad(factors: [c.value!]).apply(image, rng: &rng)
            let direct = Pad.pad(image, factor: c.value!)
            XCTAssertEqual(viaStruct, direct)
            return direct
        }
    }

    /// augly `resize(width=s, height=s, resample=BICUBIC)` (op 13) at every upstream level.
    func testResizeMatchesAugly() throws {
        let manifest = try GeometryManifest.load()
        XCTAssertEqual(Resize().sizes, manifest.levels.resize.map { Int($0) })
        try run(op: "resize", expected: 20) { image, c in
            var rng = RandomSource(seed: 2)
            return Resize(sizes: [Int(c.value!)]).apply(image, rng: &rng)
        }
    }

    /// torchvision `RandomCrop(size, pad_if_needed=True)` (op 14): the padding (both sides by
    /// `size − W`) and the crop at given offsets, including those torch drew for seeds 0...2.
    func testRandomCropMatchesTorchvision() throws {
        let manifest = try GeometryManifest.load()
        XCTAssertEqual(RandomCrop().sizes, manifest.levels.random_crop.map { Int($0) })
        try run(op: "random_crop", expected: 119) { image, c in
            let size = Int(c.value!)
            let padded = RandomCrop.padIfNeeded(image, size: size)
            XCTAssertEqual([padded.width, padded.height], c.padded!, "\(c.input) \(size): padded size")
            return RandomCrop.crop(image, size: size, top: c.top!, left: c.left!)
        }
    }

    /// augly `scale` (op 15): LANCZOS below 1, BILINEAR from 1 up, at every upstream level.
    func testScaleMatchesAugly() throws {
        let manifest = try GeometryManifest.load()
        XCTAssertEqual(Scale().factors, manifest.levels.scale)
        try run(op: "scale", expected: 20) { image, c in
            var rng = RandomSource(seed: 3)
            return Scale(factors: [c.value!]).apply(image, rng: &rng)
        }
    }

    /// The random draws: continuous parameters inside their range, levels uniform over the list,
    /// crop positions covering every offset, and the structs agreeing with their static forms.
    func testDraws() {
        let image = RGBImage(width: 7, height: 5, pixels: (0..<105).map { UInt8($0) })
        var rng = RandomSource(seed: 11)
        var seenSizes = Set<[Int]>()
        for _ in 0..<200 {
            let out = RandomAspectRatio().apply(image, rng: &rng)
            seenSizes.insert([out.width, out.height])
            // 35 pixels at ratio 0.75...2: width 5...8.
            XCTAssert((5...8).contains(out.width), "aspect width \(out.width)")
        }
        XCTAssertGreaterThan(seenSizes.count, 2)

        // The pixelization ratio is drawn once: replaying the stream reproduces it.
        var a = RandomSource(seed: 5), b = RandomSource(seed: 5)
        let pix = RandomPixelization().apply(image, rng: &a)
        XCTAssertEqual(pix, RandomPixelization.pixelize(image, ratio: b.uniform(0.3, 1.0)))
        XCTAssertEqual(a, b)
        XCTAssertEqual(pix.width, 7)
        XCTAssertEqual(pix.height, 5)

        // RandomCrop: 3×3 crops of the 7×5 image take every position; a size-5 crop of a 7×5
        // image pads nothing and moves only horizontally.
        let crop = RandomCrop(sizes: [3])
        var positions = Set<[Int]>()
        for _ in 0..<400 {
            let out = crop.apply(image, rng: &rng)
            XCTAssertEqual([out.width, out.height], [3, 3])
            // Recover the position from the first pixel (value = (y·7 + x)·3).
            let p = Int(out.pixels[0]) / 3
            positions.insert([p / 7, p % 7])
        }
        XCTAssertEqual(positions.count, 3 * 5)
        // Padded exactly to the size: no draw at all.
        var c1 = RandomSource(seed: 9), c2 = RandomSource(seed: 9)
        let square = RGBImage(width: 4, height: 4, pixels: [UInt8](repeating: 7, count: 48))
        XCTAssertEqual(RandomCrop(sizes: [4]).apply(square, rng: &c1), square)
        _ = c2.int(below: 1)
        XCTAssertEqual(c1, c2)
        // Larger than the image on one axis: padded both sides by size - H.
        let tall = RandomCrop.padIfNeeded(image, size: 6)
        XCTAssertEqual([tall.width, tall.height], [7, 7])
        XCTAssertEqual(Array(tall.pixels[0..<21]), [UInt8](repeating: 0, count: 21))

        // Levels are drawn uniformly.
        var seen = Set<Int>()
        for _ in 0..<200 { seen.insert(Scale().apply(image, rng: &rng).width) }
        XCTAssertEqual(seen, [3, 5, 7, 8, 10])   // int(7 · f) for f = 0.5, 0.75, 1, 1.25, 1.5
    }

    /// Padding and resizing helpers on small images, and the filters' basic properties.
    func testSmallImages() {
        let img = RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(img.padded(left: 1, top: 1, right: 0, bottom: 0).pixels,
                       [0, 0, 0, 0, 0, 0, 0, 0, 0,
                        0, 0, 0, 1, 2, 3, 4, 5, 6])
        XCTAssertEqual(img.padded(left: 0, top: 0, right: 1, bottom: 0, fill: (9, 8, 7)).pixels,
                       [1, 2, 3, 4, 5, 6, 9, 8, 7])
        XCTAssertEqual(img.padded(left: 0, top: 0, right: 0, bottom: 0), img)
        // A flat image stays flat under every filter and size (the taps sum to one).
        let flat = RGBImage(width: 9, height: 5, pixels: [UInt8](repeating: 200, count: 135))
        for filter in ResampleFilter.allCases {
            for (w, h) in [(3, 2), (20, 11), (9, 1), (1, 5), (9, 5)] {
                let out = flat.resized(width: w, height: h, filter: filter)
                XCTAssertEqual(out.pixels, [UInt8](repeating: 200, count: w * h * 3), "\(filter) \(w)x\(h)")
            }
        }
        XCTAssertEqual(Scale.scale(img, factor: 0.25).width, 1)   // int(0.5) = 0 → 1
    }
}
