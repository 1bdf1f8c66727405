import Foundation
import Imaging
import XCTest
import TestSupport

/// The JPEG and PNG encoders against Pillow (fixtures from tools/reference/make_webdataset_fixtures.py:
/// Pillow's own encodes of a formula image, and what Pillow decoded from ours).
final class EncodeTests: XCTestCase {
    static let fixtures = Fixtures.url("webdataset/encode")

    /// tools/reference/make_webdataset_fixtures.py `formula_image`.
    static func formulaImage(width: Int, height: Int, salt: Int = 0) -> RGBImage {
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                pixels += [UInt8((x * 255) / max(1, width - 1)), UInt8((y * 255) / max(1, height - 1)),
                           UInt8((x * y * 7 + x * 13 + salt * 31) % 256)]
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    private func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func testPNGIsLossless() throws {
        for (width, height) in [(1, 1), (61, 47), (256, 3), (3, 200)] {
            let image = Self.formulaImage(width: width, height: height, salt: width)
            for level in [nil, 0, 9] {
                let png = try encodePNG(image, compressionLevel: level)
                XCTAssertEqual(sniffImageFormat(png), .png)
                XCTAssertEqual(try decodeImage(png, name: "png"), image)
            }
        }
    }

    /// At quality 100 our JPEG decodes like Pillow's own encode of the same pixels (bit for bit when the two
    /// libjpeg-turbo builds agree, which they do here); at 75 too.
    func testJPEGMatchesPillow() throws {
        let record = try json("pillow.json")
        let image = Self.formulaImage(width: record["width"] as! Int, height: record["height"] as! Int)
        XCTAssertEqual(SHA256ForTests.hex(image.pixels), record["source_sha256"] as? String)
        for quality in [100, 75] {
            let ours = try encodeJPEG(image, quality: quality)
            let pillow = try Array(Data(contentsOf: Self.fixtures.appendingPathComponent("pillow_q\(quality).jpg")))
            let decodedOurs = try decodeImage(ours, name: "ours")
            let decodedPillow = try decodeImage(pillow, name: "pillow")
            XCTAssertEqual(SHA256ForTests.hex(decodedPillow.pixels),
                           (record["pillow_q\(quality)"] as? [String: Any])?["decoded_sha256"] as? String)
            let maxDifference = zip(decodedOurs.pixels, decodedPillow.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertLessThanOrEqual(maxDifference, 2, "quality \(quality)")
            XCTAssertEqual(ours, pillow, "quality \(quality): bytes differ from Pillow's encoder")
            // Structure: baseline SOF0, JFIF APP0, 4:2:0 (luma sampling factor 0x22).
            XCTAssertEqual(Array(ours.prefix(4)), [0xFF, 0xD8, 0xFF, 0xE0])
            let sof = try XCTUnwrap((0..<(ours.count - 1)).first { ours[$0] == 0xFF && ours[$0 + 1] == 0xC0 })
            XCTAssertEqual(ours[sof + 11], 0x22)
        }
        // Quality 100 quantizes with all ones.
        let q100 = try encodeJPEG(image, quality: 100)
        let dqt = try XCTUnwrap((0..<(q100.count - 1)).first { q100[$0] == 0xFF && q100[$0 + 1] == 0xDB })
        XCTAssertTrue(q100[(dqt + 5)..<(dqt + 5 + 64)].allSatisfy { $0 == 1 })
    }

    /// What Pillow decoded from the encodes committed by the WebDataset fixture test (encode/swift_*).
    func testPillowDecodesOurFiles() throws {
        let readbackURL = Self.fixtures.deletingLastPathComponent().appendingPathComponent("swift_written/readback.json")
        let data = try Data(contentsOf: readbackURL)
        let readback = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let images = try XCTUnwrap(readback["images"] as? [String: [String: Any]])
        for (name, entry) in images {
            let bytes = try Array(Data(contentsOf: Self.fixtures.appendingPathComponent(name)))
            let decoded = try decodeImage(bytes, name: name)
            XCTAssertEqual(SHA256ForTests.hex(decoded.pixels), entry["decoded_sha256"] as? String, name)
        }
        XCTAssertEqual(images["swift.png"]?["equals_source"] as? Bool, true)
    }

    func testEncoderErrors() throws {
        let empty = RGBImage(width: 0, height: 0, pixels: [])
        XCTAssertThrowsError(try encodeJPEG(empty, quality: 90))
        XCTAssertThrowsError(try encodePNG(empty))
        XCTAssertThrowsError(try encodeJPEG(RGBImage(width: 70_000, height: 1, pixels: [UInt8](repeating: 0, count: 210_000))))
        // Quality is clamped, not refused.
        XCTAssertNoThrow(try encodeJPEG(Self.formulaImage(width: 8, height: 8), quality: 0))
        XCTAssertNoThrow(try encodeJPEG(Self.formulaImage(width: 8, height: 8), quality: 1000))
    }
}
