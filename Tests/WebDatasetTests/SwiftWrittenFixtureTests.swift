import Foundation
import Imaging
import TestSupport
import WebDataset
import XCTest

/// The Swift → Python direction: shards written by ShardWriter (and images by the encoders) are committed under
/// Tests/Fixtures/webdataset/{swift_written,encode}; tools/reference/make_webdataset_fixtures.py reads them with
/// webdataset, tarfile and Pillow and writes swift_written/readback.json. With WDS_WRITE_FIXTURES=1 this test
/// (re)writes the committed files; otherwise it checks that the writer still produces them byte for byte and that
/// Python's readback matches what was written.
final class SwiftWrittenFixtureTests: XCTestCase {
    static let encodeSize = (width: 61, height: 47)

    /// Three samples of every field kind; keys with dots in folders.
    static func samples() throws -> [Sample] {
        var out: [Sample] = []
        for index in 0..<3 {
            let image = RGBImage(width: 20 + index, height: 12,
                                 pixels: formulaImagePixels(width: 20 + index, height: 12, salt: index))
            let floats: [Float] = (0..<6).map { Float($0) * 0.5 - Float(index) }
            out.append(Sample(key: "swift.v1/part.\(index % 2)/sample_\(String(format: "%04d", index))", shard: "", fields: [
                ("jpg", try encodeJPEG(image, quality: 100)),
                ("png", try encodePNG(image)),
                ("txt", Array("swift caption \(index): ünïcødé".utf8)),
                ("json", Array("{\"index\": \(index), \"ok\": true}".utf8)),
                ("cls", Array(String(index % 2).utf8)),
                ("npy", npyBytes(floats, shape: [2, 3])),
                ("seg.mask.png", try encodePNG(RGBImage(width: 4, height: 4, pixels: formulaImagePixels(width: 4, height: 4)))),
            ]))
        }
        return out
    }

    static func npyBytes(_ values: [Float], shape: [Int]) -> [UInt8] {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", "))), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { out += $0 } }
        return out
    }

    static func encodeOutputs() throws -> [(String, [UInt8])] {
        let size = encodeSize
        let source = RGBImage(width: size.width, height: size.height,
                              pixels: formulaImagePixels(width: size.width, height: size.height))
        return [("swift_q100.jpg", try encodeJPEG(source, quality: 100)),
                ("swift_q75.jpg", try encodeJPEG(source, quality: 75)),
                ("swift.png", try encodePNG(source))]
    }

    func testSwiftWrittenShardsAndReadback() throws {
        let regenerate = ProcessInfo.processInfo.environment["WDS_WRITE_FIXTURES"] == "1"
        let committed = wdsFixtures.appendingPathComponent("swift_written").path
        let folder = regenerate ? committed : try temporaryFolder(self, prefix: "wds-tests")
        if regenerate {
            try? FileManager.default.removeItem(atPath: committed)
            try FileManager.default.createDirectory(atPath: committed, withIntermediateDirectories: true)
        }
        let samples = try Self.samples()
        let writer = try ShardWriter(pattern: folder + "/swift-%06d.tar",
                                     options: ShardWriterOptions(maxCount: 2, tar: TarWriterOptions(mtime: 1_700_000_000)))
        for sample in samples { try writer.write(sample) }
        let shards = try writer.close()
        XCTAssertEqual(shards.count, 2)
        let encoded = try Self.encodeOutputs()
        if regenerate {
            for (name, bytes) in encoded {
                _ = FileManager.default.createFile(atPath: wdsFixtures.appendingPathComponent("encode/" + name).path,
                                               contents: Data(bytes))
            }
            print("wrote \(shards) and encode/swift_*; now run tools/reference/make_webdataset_fixtures.py --readback")
            return
        }
        // Deterministic: the committed files are what the writer and the encoders produce now.
        for shard in shards {
            let name = (shard as NSString).lastPathComponent
            let now = try Data(contentsOf: URL(fileURLWithPath: shard))
            let then = try Data(contentsOf: URL(fileURLWithPath: committed + "/" + name))
            XCTAssertEqual(now, then, "\(name) differs from the committed shard; regenerate the fixtures")
        }
        for (name, bytes) in encoded {
            let then = try Data(contentsOf: wdsFixtures.appendingPathComponent("encode/" + name))
            XCTAssertEqual(Data(bytes), then, name)
        }

        // What Python (webdataset 1.0.2, tarfile, Pillow) read from the committed shards.
        let readback = try loadJSON("swift_written/readback.json")
        let pythonShards = try XCTUnwrap(readback["shards"] as? [[String: Any]])
        XCTAssertEqual(pythonShards.map { $0["file"] as! String }, ["swift-000000.tar", "swift-000001.tar"])
        var pythonSamples: [[String: Any]] = []
        var pixels: [String: [String: Any]] = [:]
        for shard in pythonShards {
            pythonSamples += try XCTUnwrap(shard["samples"] as? [[String: Any]])
            pixels.merge(try XCTUnwrap(shard["pixels"] as? [String: [String: Any]])) { a, _ in a }
            for member in try XCTUnwrap(shard["members"] as? [[String: Any]]) {
                XCTAssertEqual(member["mode"] as? Int, 0o444)
                XCTAssertEqual(member["uname"] as? String, "bigdata")
                XCTAssertEqual(member["mtime"] as? Int, 1_700_000_000)
            }
        }
        XCTAssertEqual(pythonSamples.count, samples.count)
        for (sample, python) in zip(samples, pythonSamples) {
            XCTAssertEqual(python["key"] as? String, sample.key)
            let sorted = sample.fields.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            let fields = try XCTUnwrap(python["fields"] as? [[String: Any]])
            XCTAssertEqual(fields.map { $0["name"] as! String }, sorted.map(\.name))
            XCTAssertEqual(fields.map { $0["sha256"] as! String }, sorted.map { sha256Hex($0.bytes) })
            // Pillow's pixels equal ours: PNG losslessly, JPEG through two bit-exact decoders.
            for field in sample.fields where field.name.hasSuffix("png") || field.name.hasSuffix("jpg") {
                let decoded = try decodeImage(field.bytes, name: field.name)
                let entry = try XCTUnwrap(pixels["\(sample.key).\(field.name)"], field.name)
                XCTAssertEqual(entry["sha256"] as? String, sha256Hex(decoded.pixels), "\(sample.key).\(field.name)")
                XCTAssertEqual(entry["shape"] as? [Int], [decoded.height, decoded.width, 3])
            }
        }
        let images = try XCTUnwrap(readback["images"] as? [String: [String: Any]])
        XCTAssertEqual(images["swift.png"]?["equals_source"] as? Bool, true)
        for name in ["swift_q100.jpg", "swift_q75.jpg"] {
            let entry = try XCTUnwrap(images[name])
            let bytes = try XCTUnwrap(encoded.first { $0.0 == name }?.1)
            XCTAssertEqual(entry["sha256"] as? String, sha256Hex(bytes))
            XCTAssertEqual(entry["decoded_sha256"] as? String, sha256Hex(try decodeImage(bytes, name: name).pixels))
            XCTAssertLessThanOrEqual(try XCTUnwrap(entry["max_abs_diff_vs_pillow_encode"] as? Int), 2, name)
        }
    }
}
