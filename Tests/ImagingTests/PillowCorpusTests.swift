// Pillow's own test images as a conformance suite: every file of Pillow 13.0.0's Tests/images whose
// content is one of our formats (Tests/Fixtures/pillow-corpus, written by
// tools/reference/make_pillow_corpus_fixtures.py) goes through `decodeImage(path:)` with the default
// options, the entry point `deepfake detect` uses. Where Pillow's `Image.open(p).convert("RGB")`
// succeeds we must give the same size and pixels; where it raises we must fail with an `ImageError`.
// The same holds for the TIFF variants of variants.json (every layout, compression and storage the
// script's tiffcp matrix makes). Every case where the outcomes differ in kind (we refuse what Pillow
// decodes, or decode what it refuses) must be listed with its reason in known-differences.json
// (mirrored in docs/pillow-corpus.md).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Imaging
import XCTest
import TestSupport

/// One row of expected.json.
private struct CorpusCase: Decodable {
    struct Outcome: Decodable {
        let ok: Bool?
        let width: Int?
        let height: Int?
        let mode: String?
        let rgbSHA256: String?
        let error: String?
        let how: String?

        enum CodingKeys: String, CodingKey {
            case ok, width, height, mode, error, how
            case rgbSHA256 = "rgb_sha256"
        }
    }

    let file: String
    let format: String
    let bytes: Int
    let sha256: String
    let pillow: Outcome
    /// For a file Pillow refuses for a defect outside its pixel data: Pillow's decode of the repaired file.
    let pillowAfterRepair: Outcome?
    let leftOut: String?

    enum CodingKeys: String, CodingKey {
        case file, format, bytes, sha256, pillow
        case pillowAfterRepair = "pillow_after_repair"
        case leftOut = "left_out"
    }
}

private struct CorpusTable: Decodable {
    let versions: [String: String]
    let cases: [CorpusCase]
}

/// known-differences.json: for each kind of accepted difference, a path (relative to the fixture
/// folder, e.g. `images/x.tif` or `variants/rgb8/webp-strips.tif`; `*` and `?` match as in a shell) and
/// its reason.
private struct KnownDifferences: Decodable {
    let weRefuse: [String: String]
    let weDecode: [String: String]

    enum CodingKeys: String, CodingKey {
        case weRefuse = "we_refuse_pillow_decodes"
        case weDecode = "we_decode_pillow_refuses"
    }
}

/// The files of each outcome.
private struct CorpusCounts {
    var identical: [String] = [], bothRefuse: [String] = [], mismatch: [String] = []
    var weRefuse: [String] = [], weDecode: [String] = [], leftOut: [String] = []
    /// Of `weDecode`: those checked against Pillow's decode of the repaired file.
    var checkedAfterRepair: [String] = []
}

final class PillowCorpusTests: XCTestCase {
    private static let directory = Fixtures.url("pillow-corpus")

    private func load<T: Decodable>(_ type: T.Type, _ file: String) throws -> T {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(file))
        return try JSONDecoder().decode(type, from: data)
    }

    /// Pillow 13.0.0's own test images (Tests/images of its sdist) in our formats.
    func testPillowTestImagesDecodeLikePillowOrFailCleanly() throws {
        let table = try load(CorpusTable.self, "expected.json")
        XCTAssertGreaterThan(table.cases.count, 700, "the corpus table lost cases")
        let counts = try check(table, folder: "images")
        report("Pillow \(table.versions["pillow"] ?? "?") corpus", table, counts)
    }

    /// TIFF layouts x compressions x storage x byte order, made with tiffcp (variants.json).
    func testTIFFVariantsDecodeLikePillowOrFailCleanly() throws {
        let table = try load(CorpusTable.self, "variants.json")
        XCTAssertGreaterThan(table.cases.count, 600, "the variants table lost cases")
        let counts = try check(table, folder: "variants")
        report("TIFF variants", table, counts)
    }

    /// Runs every case of `table` (files under `folder`) and fails on each disagreement that
    /// known-differences.json does not list, and on each entry there that no longer applies.
    private func check(_ table: CorpusTable, folder: String) throws -> CorpusCounts {
        let known = try load(KnownDifferences.self, "known-differences.json")
        var counts = CorpusCounts()
        for entry in table.cases {
            let key = folder + "/" + entry.file
            if entry.leftOut != nil {
                counts.leftOut.append(key)
                continue
            }
            let path = Self.directory.appendingPathComponent(key).path
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertEqual(bytes.count, entry.bytes, "\(key): not the file the table describes")
            XCTAssertEqual(SHA256ForTests.hex(bytes), entry.sha256, "\(key): not the file the table describes")
            XCTAssertEqual(sniffImageFormat(bytes)?.rawValue, entry.format, "\(key): sniffed format")

            let result: Result<RGBImage, ImageError>
            do throws(ImageError) { result = .success(try decodeImage(path: path)) } catch { result = .failure(error) }
            switch (result, entry.pillow.ok == true) {
            case (.success(let image), true):
                if same(image, entry.pillow) {
                    counts.identical.append(key)
                } else {
                    counts.mismatch.append(key)
                    XCTFail("\(key): ours \(image.width)x\(image.height) differs from Pillow's "
                        + "\(entry.pillow.width ?? 0)x\(entry.pillow.height ?? 0) (mode \(entry.pillow.mode ?? "?"))")
                }
            case (.success(let image), false):
                counts.weDecode.append(key)
                if reason(known.weDecode, key) == nil {
                    XCTFail("\(key): we decode \(image.width)x\(image.height) but Pillow refuses "
                        + "(\(entry.pillow.error ?? "")); not in known-differences.json")
                }
                if let repaired = entry.pillowAfterRepair {
                    if same(image, repaired) {
                        counts.checkedAfterRepair.append(key)
                    } else {
                        counts.mismatch.append(key)
                        XCTFail("\(key): ours differs from Pillow's decode of the repaired file (\(repaired.how ?? ""))")
                    }
                }
            case (.failure(let error), true):
                XCTAssertEqual(error.name, path, "\(key): the error must name the input")
                counts.weRefuse.append(key)
                if reason(known.weRefuse, key) == nil {
                    XCTFail("\(key): we refuse what Pillow decodes (mode \(entry.pillow.mode ?? "?")): \(error)")
                }
            case (.failure(let error), false):
                XCTAssertEqual(error.name, path, "\(key): the error must name the input")
                // Pillow's decompression-bomb refusals are our size limit's.
                var tooLarge = false
                if case .tooLarge = error { tooLarge = true }
                if entry.pillow.error?.hasPrefix("DecompressionBombError") == true, !tooLarge {
                    XCTFail("\(key): Pillow's decompression-bomb check refuses it; we say \(error)")
                }
                counts.bothRefuse.append(key)
            }
        }
        // The table of known differences stays exact: each entry of this folder still matches a difference.
        for (patterns, found, what) in [(known.weRefuse, counts.weRefuse, "refused by us"),
                                        (known.weDecode, counts.weDecode, "decoded by us but refused by Pillow")] {
            for pattern in patterns.keys.sorted() where pattern.hasPrefix(folder + "/") {
                if !found.contains(where: { matches(pattern, $0) }) {
                    XCTFail("known-differences.json: \(pattern) is listed as \(what), but no case is (remove it)")
                }
            }
        }
        return counts
    }

    private func same(_ image: RGBImage, _ outcome: CorpusCase.Outcome) -> Bool {
        image.width == outcome.width && image.height == outcome.height
            && SHA256ForTests.hex(image.pixels) == outcome.rgbSHA256
    }

    private func reason(_ table: [String: String], _ key: String) -> String? {
        table.first { matches($0.key, key) }?.value
    }

    private func matches(_ pattern: String, _ key: String) -> Bool { fnmatch(pattern, key, 0) == 0 }

    private func report(_ title: String, _ table: CorpusTable, _ counts: CorpusCounts) {
        print("""
            \(title), \(table.cases.count) cases:
              identical pixels:                 \(counts.identical.count)
              both refuse:                      \(counts.bothRefuse.count)
              mismatch:                         \(counts.mismatch.count)
              we refuse, Pillow decodes:        \(counts.weRefuse.count)
              we decode, Pillow refuses:        \(counts.weDecode.count) (\(counts.checkedAfterRepair.count) equal to Pillow's decode after repair)
              left out (not committed):         \(counts.leftOut.count)
            """)
    }
}
