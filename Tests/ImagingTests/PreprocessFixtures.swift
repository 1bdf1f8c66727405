// Loader for Tests/Fixtures/preprocess (written by tools/reference/make_preprocess_fixtures.py
// with Pillow / torchvision; see that script for the exact reference calls).

import Foundation
import Imaging
import XCTest
import TestSupport

/// One uint8 image output of the reference (resize, centre crop) or an input image.
struct FixtureImageDigest: Decodable, Sendable {
    let width: Int
    let height: Int
    let sha256: String
    let sums: [Int]
    /// Only in `shorter_side` entries: the `Resize(size)` argument.
    let size: Int?
}

/// One float32 CHW tensor output of the reference.
struct FixtureTensorDigest: Decodable, Sendable {
    let shape: [Int]
    let sha256: String
    let sums: [Double]
}

/// One test image and the reference outputs computed from it.
struct FixtureImage: Decodable, Sendable {
    let name: String
    let source: String
    /// `[x, y, w, h]` rectangle of the source raster.
    let crop: [Int]
    /// Whether the cut-out rectangle is transposed (width and height swap).
    let transpose: Bool
    let width: Int
    let height: Int
    let sha256: String
    let sums: [Int]
    let resize: [FixtureImageDigest]
    let shorterSide: [FixtureImageDigest]
    let centerCrop224: FixtureImageDigest
    let inference: FixtureTensorDigest
    let trainEval: FixtureTensorDigest

    enum CodingKeys: String, CodingKey {
        case name, source, crop, transpose, width, height, sha256, sums, resize, inference
        case shorterSide = "shorter_side"
        case centerCrop224 = "center_crop_224"
        case trainEval = "train_eval"
    }
}

struct FixtureSource: Decodable, Sendable {
    let file: String
    let width: Int
    let height: Int
    let sha256: String
}

struct PreprocessManifest: Decodable, Sendable {
    let versions: [String: String]
    let sources: [String: FixtureSource]
    let images: [FixtureImage]
}

/// The decoded manifest plus every test image, built from the raw source rasters.
struct PreprocessFixtures: Sendable {
    let manifest: PreprocessManifest
    /// Test images by name, in manifest order.
    let images: [(FixtureImage, RGBImage)]

    static let directory: URL = Fixtures.url("preprocess")

    /// Loaded once per test process.
    static let shared: Result<PreprocessFixtures, any Error> = Result { try PreprocessFixtures.load() }

    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    static func load() throws -> PreprocessFixtures {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        let manifest = try JSONDecoder().decode(PreprocessManifest.self, from: data)
        var rasters: [String: RGBImage] = [:]
        for (name, source) in manifest.sources {
            let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent(source.file)))
            guard bytes.count == source.width * source.height * 3 else {
                throw LoadError(description: "\(source.file): \(bytes.count) bytes for \(source.width)x\(source.height)")
            }
            guard SHA256ForTests.hex(bytes) == source.sha256 else {
                throw LoadError(description: "\(source.file): SHA-256 differs from the manifest")
            }
            rasters[name] = RGBImage(width: source.width, height: source.height, pixels: bytes)
        }
        var images: [(FixtureImage, RGBImage)] = []
        for entry in manifest.images {
            guard let raster = rasters[entry.source] else {
                throw LoadError(description: "\(entry.name): unknown source \(entry.source)")
            }
            let image = cutOut(raster, x: entry.crop[0], y: entry.crop[1], width: entry.crop[2],
                               height: entry.crop[3], transpose: entry.transpose)
            guard image.width == entry.width, image.height == entry.height,
                  SHA256ForTests.hex(image.pixels) == entry.sha256 else {
                throw LoadError(description: "\(entry.name): the cut-out image does not match the manifest")
            }
            images.append((entry, image))
        }
        return PreprocessFixtures(manifest: manifest, images: images)
    }

    /// `src[y:y+h, x:x+w]`, optionally transposed — written out plainly, independent of the
    /// code under test.
    static func cutOut(_ src: RGBImage, x: Int, y: Int, width w: Int, height h: Int, transpose: Bool) -> RGBImage {
        let outW = transpose ? h : w, outH = transpose ? w : h
        var out = [UInt8](repeating: 0, count: outW * outH * 3)
        for r in 0..<outH {
            for c in 0..<outW {
                let (sr, sc) = transpose ? (c, r) : (r, c)
                for ch in 0..<3 {
                    out[(r * outW + c) * 3 + ch] = src.pixels[((y + sr) * src.width + x + sc) * 3 + ch]
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }

    /// The fixture image called `name`.
    func image(_ name: String) throws -> (FixtureImage, RGBImage) {
        guard let found = images.first(where: { $0.0.name == name }) else {
            throw LoadError(description: "no fixture image \(name)")
        }
        return found
    }
}

/// Per-channel sums of an RGB image (for mismatch reports).
func channelSums(_ image: RGBImage) -> [Int] {
    var sums = [0, 0, 0]
    for (i, v) in image.pixels.enumerated() { sums[i % 3] += Int(v) }
    return sums
}

/// Per-channel sums of a CHW tensor (for mismatch reports).
func channelSums(_ chw: [Float]) -> [Double] {
    let plane = chw.count / 3
    return (0..<3).map { c in chw[(c * plane)..<((c + 1) * plane)].reduce(0.0) { $0 + Double($1) } }
}

/// Asserts that `image` is bit-identical to the reference described by `expected`.
func assertMatches(_ image: RGBImage, _ expected: FixtureImageDigest, _ what: @autoclosure () -> String,
                   file: StaticString = #filePath, line: UInt = #line) {
    guard image.width == expected.width, image.height == expected.height else {
        XCTFail("\(what()): size \(image.width)x\(image.height), reference \(expected.width)x\(expected.height)",
                file: file, line: line)
        return
    }
    let digest = SHA256ForTests.hex(image.pixels)
    if digest != expected.sha256 {
        XCTFail("\(what()): SHA-256 differs from the reference; per-channel sums ours \(channelSums(image)) "
                + "vs reference \(expected.sums)", file: file, line: line)
    }
}

/// Asserts that a CHW float tensor is bit-identical to the reference described by `expected`.
func assertMatches(_ tensor: [Float], _ expected: FixtureTensorDigest, _ what: @autoclosure () -> String,
                   file: StaticString = #filePath, line: UInt = #line) {
    let count = expected.shape.reduce(1, *)
    guard tensor.count == count else {
        XCTFail("\(what()): \(tensor.count) floats, reference shape \(expected.shape)", file: file, line: line)
        return
    }
    let digest = SHA256ForTests.hex(tensor)
    if digest != expected.sha256 {
        XCTFail("\(what()): SHA-256 differs from the reference; per-channel sums ours \(channelSums(tensor)) "
                + "vs reference \(expected.sums)", file: file, line: line)
    }
}
