// Test support for the view fixtures: paths, the views.json schema and digests (the Hub module's SHA-256).

import Foundation
import DeepfakeCore
import Imaging
import TestSupport

enum TrainingFixtures {
    /// Tests/Fixtures.
    static let root: URL = URL(fileURLWithPath: Fixtures.root)

    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
}

struct ViewDigest: Decodable {
    let sha256: String
    let sums: [Double]
}

struct ViewBoxEntry: Decodable {
    struct Box: Decodable { let top: Int, left: Int, height: Int, width: Int }
    struct JPEG: Decodable { let encoded_sha256: String, decoded: ViewDigest }
    let box: Box
    /// Pillow's JPEG re-encode at quality "40" / "100" (first two boxes of each source only).
    let jpeg: [String: JPEG]
    let crop: ViewDigest
    let view: ViewDigest
    let hflip: ViewDigest
    let hflip_view: ViewDigest
    let grayscale: ViewDigest
    let grayscale_view: ViewDigest
}

struct ViewSource: Decodable {
    let name: String
    let file: String
    let width: Int
    let height: Int
    let rgb_sha256: String
    let boxes: [ViewBoxEntry]
}

struct ViewFallback: Decodable {
    let width: Int
    let height: Int
    let box: ViewBoxEntry.Box
}

struct ViewFixtureFile: Decodable {
    let sources: [ViewSource]
    let fallback: [ViewFallback]

    static func load() throws -> ViewFixtureFile {
        let data = try Data(contentsOf: TrainingFixtures.root.appendingPathComponent("views/views.json"))
        return try JSONDecoder().decode(ViewFixtureFile.self, from: data)
    }

    /// The decoded source image: raw RGB bytes (`.rgb`) or a file decoded by the Imaging module.
    static func image(_ source: ViewSource) throws -> RGBImage {
        let path = TrainingFixtures.path(source.file)
        if source.file.hasSuffix(".rgb") {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            return RGBImage(width: source.width, height: source.height, pixels: bytes)
        }
        return try decodeImage(path: path)
    }
}

/// Digest helpers: SHA-256 of uint8 pixels, or of float32 values as little-endian bytes.
enum Digest {
    static func hex(_ bytes: [UInt8]) -> String { SHA256.hex(of: bytes) }

    static func hex(floats: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(floats.count * 4)
        for v in floats { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return hex(bytes)
    }

    /// Per-channel float64 sums of a CHW float32 tensor (for mismatch messages).
    static func channelSums(_ floats: [Float]) -> [Double] {
        let plane = floats.count / 3
        return (0..<3).map { c in floats[(c * plane)..<((c + 1) * plane)].reduce(0.0) { $0 + Double($1) } }
    }
}
