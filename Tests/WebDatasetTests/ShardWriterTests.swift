import Foundation
import Imaging
import TestSupport
import WebDataset
import XCTest

final class ShardWriterTests: XCTestCase {
    func testPatternFormatting() throws {
        XCTAssertEqual(try ShardWriter.format("out/d3-%06d.tar", 7), "out/d3-000007.tar")
        XCTAssertEqual(try ShardWriter.format("s%d.tar", 12), "s12.tar")
        XCTAssertEqual(try ShardWriter.format("s%4d.tar", 12), "s  12.tar")
        XCTAssertEqual(try ShardWriter.format("100%%-%03d", 5), "100%-005")
        for bad in ["plain.tar", "%d-%d.tar", "%s.tar", "x%"] {
            XCTAssertThrowsError(try ShardWriter.format(bad, 1), bad)
        }
    }

    /// webdataset's rule: a new shard once the current one has reached maxCount samples or maxSize payload bytes.
    func testRotationLikeWebDataset() throws {
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        let samples = (0..<7).map { testSample($0, size: 1000) }   // payload 3111 bytes each
        let byCount = try ShardWriter(pattern: folder + "/count-%06d.tar", options: ShardWriterOptions(maxCount: 3))
        for sample in samples { try byCount.write(sample) }
        let countShards = try byCount.close()
        XCTAssertEqual(countShards.map { ($0 as NSString).lastPathComponent },
                       ["count-000000.tar", "count-000001.tar", "count-000002.tar"])
        XCTAssertEqual(countShards.map { readSamples(try! Array(Data(contentsOf: URL(fileURLWithPath: $0)))).samples.count },
                       [3, 3, 1])

        // maxSize 7000: the shard has reached it after 3 samples (9333 bytes: webdataset overshoots by one sample).
        let bySize = try ShardWriter(pattern: folder + "/size-%d.tar",
                                     options: ShardWriterOptions(maxSize: 7000, startShard: 5))
        for sample in samples { try bySize.write(sample) }
        let sizeShards = try bySize.close()
        XCTAssertEqual(sizeShards.map { ($0 as NSString).lastPathComponent }, ["size-5.tar", "size-6.tar", "size-7.tar"])
        let counts = sizeShards.map { readSamples(try! Array(Data(contentsOf: URL(fileURLWithPath: $0)))).samples.count }
        XCTAssertEqual(counts, [3, 3, 1])

        // The stricter rule keeps each shard at or under maxSize (here two samples per shard).
        let strict = try ShardWriter(pattern: folder + "/strict-%02d.tar",
                                     options: ShardWriterOptions(maxSize: 7000, rotateBeforeExceedingSize: true))
        for sample in samples { try strict.write(sample) }
        let strictShards = try strict.close()
        XCTAssertEqual(strictShards.map { readSamples(try! Array(Data(contentsOf: URL(fileURLWithPath: $0)))).samples.count },
                       [2, 2, 2, 1])
        XCTAssertEqual(strict.totalSamples, 7)

        // Reading all shards back in order gives the samples in order.
        var keys: [String] = []
        for shard in countShards {
            for result in TarShardSource().samples(of: shard) { keys.append(try result.get().key) }
        }
        XCTAssertEqual(keys, samples.map(\.key))

        // No sample: one empty (valid) shard, as webdataset leaves.
        let empty = try ShardWriter(pattern: folder + "/empty-%d.tar")
        let emptyShards = try empty.close()
        XCTAssertEqual(emptyShards.count, 1)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: emptyShards[0])).count, 10240)
        XCTAssertThrowsError(try empty.write(samples[0]))
    }

    func testReencodingImages() throws {
        let folder = try temporaryFolder(self, prefix: "wds-tests")
        let width = 33, height = 21
        let source = RGBImage(width: width, height: height, pixels: formulaImagePixels(width: width, height: height))
        let png = try encodePNG(source)
        let jpegQ50 = try encodeJPEG(source, quality: 50)
        let sample = Sample(key: "img/0001", shard: "src.tar", fields: [("a.png", png), ("b.jpg", png),
                                                                      ("c.jpeg", jpegQ50), ("d.txt", Array("t".utf8))])
        let writer = try ShardWriter(pattern: folder + "/re-%03d.tar",
                                     options: ShardWriterOptions(images: .reencode(jpegQuality: 100)))
        try writer.write(sample)
        let shard = try writer.close()[0]
        let read = try XCTUnwrap(Array(TarShardSource().samples(of: shard)).first?.get())
        XCTAssertEqual(read.fields.map(\.name), ["a.png", "b.jpg", "c.jpeg", "d.txt"])
        XCTAssertEqual(try decodeImage(read[field: "a.png"]!, name: "a"), source)          // PNG stays lossless
        XCTAssertEqual(sniffImageFormat(read[field: "b.jpg"]!), .jpeg)                    // PNG bytes became JPEG
        XCTAssertEqual(read[field: "b.jpg"], try encodeJPEG(source, quality: 100))
        let requantized = try decodeImage(jpegQ50, name: "q50")
        XCTAssertEqual(read[field: "c.jpeg"], try encodeJPEG(requantized, quality: 100))
        XCTAssertEqual(read[field: "d.txt"], Array("t".utf8))

        let broken = try ShardWriter(pattern: folder + "/broken-%d.tar",
                                     options: ShardWriterOptions(images: .reencode(jpegQuality: 90)))
        XCTAssertThrowsError(try broken.write(Sample(key: "k", shard: "in.tar", fields: [("jpg", [1, 2, 3])]))) { error in
            XCTAssertTrue((error as! WebDatasetError).reason.contains("in.tar#k.jpg"), "\(error)")
        }
    }
}
