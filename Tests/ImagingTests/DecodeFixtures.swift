// Loader for Tests/Fixtures/images (written by tools/reference/make_image_fixtures.py with
// Pillow 13 / torchvision; the manifest records what `Image.open(p).convert("RGB")` gives).

import Foundation
import Imaging
import TestSupport

/// Digest of a float32 CHW tensor computed by torchvision from the Pillow RGB image.
struct DecodeTensorDigest: Decodable, Sendable {
    let shape: [Int]
    let sha256: String
    let channelMeans: [Double]

    enum CodingKeys: String, CodingKey {
        case shape, sha256
        case channelMeans = "channel_means"
    }
}

/// One good image of the fixture folder.
struct DecodeFixtureImage: Decodable, Sendable {
    let file: String
    let format: String
    let pillowMode: String
    let width: Int
    let height: Int
    let rgbSHA256: String
    let rgbChannelSums: [Int]
    let note: String
    let pillowIdenticalExpected: Bool
    /// CenterCrop(224) -> ToTensor -> Normalize.
    let centerCrop224: DecodeTensorDigest
    /// Resize(248, bicubic) -> CenterCrop(224) -> ToTensor -> Normalize.
    let resize248CenterCrop224: DecodeTensorDigest

    enum CodingKeys: String, CodingKey {
        case file, format, width, height, note
        case pillowMode = "pillow_mode"
        case rgbSHA256 = "rgb_sha256"
        case rgbChannelSums = "rgb_channel_sums"
        case pillowIdenticalExpected = "pillow_identical_expected"
        case centerCrop224 = "center_crop_224"
        case resize248CenterCrop224 = "resize_248_bicubic_center_crop_224"
    }
}

/// One input that must fail, with the failure kind (see `failureKind(_:)`).
struct DecodeFixtureBad: Decodable, Sendable {
    let file: String
    let failure: String
}

struct DecodeManifest: Decodable, Sendable {
    let versions: [String: String]
    let images: [DecodeFixtureImage]
    let bad: [DecodeFixtureBad]
}

enum DecodeFixtures {
    static let directory: URL = Fixtures.url("images")

    /// Loaded once per test process.
    static let manifest: Result<DecodeManifest, any Error> = Result {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return try JSONDecoder().decode(DecodeManifest.self, from: data)
    }

    static func path(_ file: String) -> String { directory.appendingPathComponent(file).path }

    static func bytes(_ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(file)))
    }
}

/// The manifest's name for the kind of an error.
func failureKind(_ error: ImageError) -> String {
    switch error {
    case .unreadable: return "unreadable"
    case .empty: return "empty"
    case .unrecognizedFormat: return "unrecognized"
    case .tooLarge: return "too_large"
    case .truncated: return "truncated"
    case .corrupt: return "corrupt"
    case .unsupported: return "unsupported"
    case .outOfMemory: return "out_of_memory"
    case .overMemoryBudget: return "over_memory_budget"
    }
}
