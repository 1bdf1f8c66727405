import Foundation
import Imaging
import XCTest
import Training

/// The spatial augly operations (upstream ops 0, 4, 17, 18) against augly 1.0.0 on Pillow 13 / NumPy
/// (Tests/Fixtures/augment/spatial, from tools/reference/make_augmentation_spatial_fixtures.py): every
/// case byte for byte, and the NumPy legacy generator against NumPy's own draws.
final class AugmentationSpatialTests: XCTestCase {
    struct Manifest: Decodable {
        struct Input: Decodable { let name: String, file: String, width: Int, height: Int, sha256: String }
        struct Case: Decodable {
            let op: String, input: String, param: Double, file: String?, width: Int, height: Int, sha256: String
        }
        enum Seed: Decodable {
            case int(UInt32), array([UInt32])
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let v = try? c.decode(UInt32.self) { self = .int(v) } else { self = .array(try c.decode([UInt32].self)) }
            }
        }
        struct NumpyDraws: Decodable {
            let seed: Seed
            let raw32: [UInt32]
            let random_sample_bits: [UInt64]
            let randint_0_1000: [Int64]
            let randint_m5_17: [Int64]
            let randint_0_2pow33: [Int64]
            let permutation_10: [Int]
            let permutation_1000_head: [Int]
            let choice_1000_37_noreplace: [Int]
            let choice_50_12_replace: [Int]
            let shuffle_rows_10x3: [Int]
            let after_raw32: [UInt32]
        }
        let inputs: [Input]
        let cases: [Case]
        let numpy: [NumpyDraws]
    }

    static let folder = TrainingFixtures.root.appendingPathComponent("augment/spatial")

    static func load() throws -> (Manifest, [String: RGBImage]) {
        let data = try Data(contentsOf: folder.appendingPathComponent("manifest.json"))
        let manifest = try JSONDecoder().decode(Manifest.self, from: data)
        var images = [String: RGBImage]()
        for input in manifest.inputs {
            let image = try decodeImage(path: folder.appendingPathComponent(input.file).path)
            XCTAssertEqual(Digest.hex(image.pixels), input.sha256, "input \(input.name)")
            images[input.name] = image
        }
        return (manifest, images)
    }

    /// Compares `actual` with the case's stored PNG and SHA-256; returns whether they are identical.
    @discardableResult
    func check(_ actual: RGBImage, _ c: Manifest.Case, file: StaticString = #filePath, line: UInt = #line) throws -> Bool {
        let label = "\(c.op) \(c.input) \(c.param)"
        guard actual.width == c.width, actual.height == c.height else {
            XCTFail("\(label): size \(actual.width)x\(actual.height), expected \(c.width)x\(c.height)", file: file, line: line)
            return false
        }
        if Digest.hex(actual.pixels) == c.sha256 { return true }
        var detail = ""
        if let name = c.file {
            let expected = try decodeImage(path: Self.folder.appendingPathComponent(name).path)
            let diffs = zip(actual.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }
            let first = diffs.firstIndex { $0 != 0 }.map { "pixel (\(($0 / 3) % c.width), \($0 / 3 / c.width)) channel \($0 % 3)" } ?? "-"
            detail = ": \(diffs.filter { $0 != 0 }.count) bytes differ, max \(diffs.max() ?? 0), first at \(first)"
        }
        XCTFail("\(label): pixels differ from augly/Pillow\(detail)", file: file, line: line)
        return false
    }

    func runCases(_ op: String, expectedCount: Int, _ transform: (RGBImage, Double) -> RGBImage) throws {
        let (manifest, images) = try Self.load()
        let cases = manifest.cases.filter { $0.op == op }
        XCTAssertEqual(cases.count, expectedCount, "\(op) cases")
        var exact = 0
        for c in cases {
            let image = try XCTUnwrap(images[c.input])
            if try check(transform(image, c.param), c) { exact += 1 }
        }
        XCTAssertEqual(exact, cases.count, "\(op): \(exact) of \(cases.count) cases byte-exact")
    }

    func testBlurMatchesPillow() throws {
        try runCases("blur", expectedCount: 102) { RandomBlur.blur($0, radius: $1) }
    }

    func testRotationMatchesAugly() throws {
        try runCases("rotate", expectedCount: 116) { RandomRotation.rotate($0, degrees: $1) }
    }

    func testSkewMatchesAugly() throws {
        try runCases("skew", expectedCount: 35) { Skew.skew($0, factor: $1) }
    }

    func testShufflePixelsMatchesAugly() throws {
        try runCases("shuffle", expectedCount: 35) { ShufflePixels.shuffle($0, factor: $1) }
    }

    func testNumpyRandomStateMatchesNumpy() throws {
        let (manifest, _) = try Self.load()
        XCTAssertEqual(manifest.numpy.count, 6)
        for draws in manifest.numpy {
            var rs: NumpyRandomState
            switch draws.seed {
            case .int(let s): rs = NumpyRandomState(seed: s)
            case .array(let a): rs = NumpyRandomState(seedArray: a)
            }
            let label = "\(draws.seed)"
            XCTAssertEqual(draws.raw32.map { _ in rs.nextUInt32() }, draws.raw32, "\(label) raw32")
            XCTAssertEqual(draws.random_sample_bits.map { _ in rs.randomSample().bitPattern }, draws.random_sample_bits, "\(label) random_sample")
            XCTAssertEqual(draws.randint_0_1000.map { _ in rs.randint(0, 1000) }, draws.randint_0_1000, "\(label) randint")
            XCTAssertEqual(draws.randint_m5_17.map { _ in rs.randint(-5, 17) }, draws.randint_m5_17, "\(label) randint(-5, 17)")
            XCTAssertEqual(draws.randint_0_2pow33.map { _ in rs.randint(0, (1 << 33) + 5) }, draws.randint_0_2pow33, "\(label) randint 64-bit")
            XCTAssertEqual(rs.permutation(10), draws.permutation_10, "\(label) permutation(10)")
            XCTAssertEqual(Array(rs.permutation(1000).prefix(50)), draws.permutation_1000_head, "\(label) permutation(1000)")
            XCTAssertEqual(rs.choice(1000, size: 37, replace: false), draws.choice_1000_37_noreplace, "\(label) choice no replace")
            XCTAssertEqual(rs.choice(50, size: 12), draws.choice_50_12_replace, "\(label) choice")
            var rows = Array(0..<10)
            rs.shuffle(&rows)
            XCTAssertEqual(rows, draws.shuffle_rows_10x3, "\(label) shuffle")
            XCTAssertEqual(draws.after_raw32.map { _ in rs.nextUInt32() }, draws.after_raw32, "\(label) state after")
        }
    }

    /// The reference Mersenne Twister's published check value: the 10000th output for seed 5489 is
    /// 4123659995 (C++ `std::mt19937`).
    func testMersenneTwisterReferenceValue() {
        var rs = NumpyRandomState(seed: 5489)
        for _ in 0..<9999 { _ = rs.nextUInt32() }
        XCTAssertEqual(rs.nextUInt32(), 4_123_659_995)
    }

    /// The structs draw their parameter from `rng` exactly as the static functions are called.
    func testAugmentationStructsDrawUpstreamParameters() throws {
        let (_, images) = try Self.load()
        let image = try XCTUnwrap(images["37x23"])
        var rng = RandomSource(seed: 9)
        for _ in 0..<20 {
            var probe = rng
            let radius = probe.uniform(0.1, 2.0)
            XCTAssert((0.1..<2.0).contains(radius))
            XCTAssertEqual(RandomBlur().apply(image, rng: &rng), RandomBlur.blur(image, radius: radius))
            XCTAssertEqual(rng, probe)

            let degrees = probe.uniform(90, 270)
            XCTAssertEqual(RandomRotation().apply(image, rng: &rng), RandomRotation.rotate(image, degrees: degrees))
            XCTAssertEqual(rng, probe)

            let s = probe.element(of: Skew().levels)
            XCTAssertEqual(Skew().apply(image, rng: &rng), Skew.skew(image, factor: s))
            XCTAssertEqual(rng, probe)

            let f = probe.element(of: ShufflePixels.upstreamFactors)
            XCTAssertEqual(ShufflePixels().apply(image, rng: &rng), ShufflePixels.shuffle(image, factor: f))
            XCTAssertEqual(rng, probe)
        }
        XCTAssertEqual(Skew().levels, [-1, -0.5, 0, 0.5, 1])
        XCTAssertEqual(ShufflePixels.upstreamFactors.map { Double(Float($0)) }, ShufflePixels.upstreamFactors)
    }

    /// Shuffling only moves pixels; factor 0 and skew 0 are identities; rotating by 180° twice is one.
    func testInvariants() throws {
        let (_, images) = try Self.load()
        let image = try XCTUnwrap(images["64x48"])
        func pixelList(_ im: RGBImage) -> [[UInt8]] {
            stride(from: 0, to: im.pixels.count, by: 3).map { Array(im.pixels[$0..<($0 + 3)]) }
        }
        let shuffled = ShufflePixels.shuffle(image, factor: 0.35)
        XCTAssertEqual(pixelList(shuffled).sorted { $0.lexicographicallyPrecedes($1) },
                       pixelList(image).sorted { $0.lexicographicallyPrecedes($1) })
        XCTAssertNotEqual(shuffled, image)
        XCTAssertEqual(ShufflePixels.shuffle(image, factor: 0), image)
        XCTAssertEqual(Skew.skew(image, factor: 0), image)
        XCTAssertEqual(image.rotated(degrees: 180, expand: true).rotated(degrees: -180, expand: false), image)
        XCTAssertEqual(image.rotated(degrees: 90, expand: true).rotated(degrees: 270, expand: true), image)
        XCTAssertEqual(image.rotated(degrees: 720, expand: true), image)
        XCTAssertEqual(image.gaussianBlurred(radius: 0), image)
        let empty = RGBImage(width: 0, height: 0, pixels: [])
        XCTAssertEqual(RandomBlur.blur(empty, radius: 1), empty)
        XCTAssertEqual(Skew.skew(empty, factor: 1), empty)
        XCTAssertEqual(ShufflePixels.shuffle(empty, factor: 0.35), empty)
    }
}
