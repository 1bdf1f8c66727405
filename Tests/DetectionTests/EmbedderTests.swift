import Detection
import Foundation
import Tensor
import ViT
import XCTest
import TestSupport

let fixtures = Fixtures.root
let tinyModel = fixtures + "/models/vit-tiny-random"
let images = fixtures + "/images"

/// Reference embeddings written by tools/reference/make_model_fixtures.py: Pillow decode + torchvision
/// CenterCrop(224)/ToTensor/Normalize + transformers ViTModel, for every fixture image.
func referenceEmbeddings() throws -> [String: [Float]] {
    let data = try Data(contentsOf: URL(fileURLWithPath: tinyModel + "/image_embeddings.json"))
    let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    let embeddings = object["embeddings"] as! [String: [NSNumber]]
    return embeddings.mapValues { $0.map(\.floatValue) }
}

final class EmbedderParityTests: XCTestCase {
    /// End to end: file → decode → center crop → normalize → ViT-Tiny, against PyTorch on every fixture image
    /// (every format and mode; sizes below, at and above 224).
    func testEveryFixtureImageMatchesTransformers() throws {
        let reference = try referenceEmbeddings()
        XCTAssertGreaterThan(reference.count, 100)
        let files = reference.keys.sorted()
        let embedder = Embedder(model: try VisionTransformer(folder: tinyModel),
                                options: EmbedderOptions(batchSize: 16, compute: ComputeOptions(threads: 2)))
        let worst = assertEmbeddings(embedder, folder: images, names: files, reference: reference, tolerance: 1e-4)
        print("end-to-end parity over \(files.count) images: max abs difference \(worst)")
    }
}

final class EmbedderRobustnessTests: XCTestCase {
    /// Bad files fail in place with a message naming them; the good ones around them still embed.
    func testBadInputsFailInPlaceAndTheRestRun() throws {
        let embedder = Embedder(model: try VisionTransformer(folder: fixtures + "/models/vit-small-f32"),
                                options: EmbedderOptions(batchSize: 4, compute: ComputeOptions(threads: 2)))
        let bad = try FileManager.default.contentsOfDirectory(atPath: images + "/bad").sorted().map { images + "/bad/" + $0 }
        XCTAssertGreaterThanOrEqual(bad.count, 4)
        let good = [images + "/" + (try referenceEmbeddings().keys.sorted().first!)]
        var inputs = expandInputs(good + bad + ["/nonexistent/file.jpg"] + good)
        inputs.insert(InputItem(path: "gone.png", error: "no such file or directory"), at: 1)
        var results: [EmbeddingResult] = []
        embedder.run(inputs) { results.append($0) }
        XCTAssertEqual(results.map(\.path), inputs.map(\.path))
        for (i, r) in results.enumerated() {
            let shouldFail = i != 0 && i != results.count - 1
            switch r.embedding {
            case .success: XCTAssertFalse(shouldFail, "\(r.path) should have failed")
            case let .failure(f):
                XCTAssertTrue(shouldFail, "\(r.path): \(f)")
                let name = (r.path as NSString).lastPathComponent
                XCTAssertTrue(f.description.contains(name), "message '\(f)' does not name \(name)")
            }
        }
        if case let .success(a) = results.first!.embedding, case let .success(b) = results.last!.embedding {
            XCTAssertEqual(a, b, "the same image embeds identically whatever its batch")
        }
    }

    func testDirectoriesAreWalkedForImageExtensionsInAnyCase() throws {
        let tmp = NSTemporaryDirectory() + "/inputs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let fm = FileManager.default
        try fm.createDirectory(atPath: tmp + "/sub/.hidden", withIntermediateDirectories: true)
        for name in ["b.JPG", "a.png", "sub/c.WebP", "sub/d.tiff", "notes.txt", "sub/.hidden/e.png", ".f.jpg", "sub/g.Gif", "h.bmp"] {
            XCTAssertTrue(fm.createFile(atPath: tmp + "/" + name, contents: Data([0])))
        }
        let found = expandInputs([tmp]).map { String($0.path.dropFirst(tmp.count + 1)) }
        XCTAssertEqual(found, ["a.png", "b.JPG", "h.bmp", "sub/c.WebP", "sub/d.tiff", "sub/g.Gif"])
        let explicit = expandInputs([tmp + "/notes.txt", tmp + "/missing.jpg"])
        XCTAssertNil(explicit[0].error, "a file named explicitly is taken whatever its extension")
        XCTAssertNotNil(explicit[1].error)
    }
}

/// Embeds `names` (files in `folder`) and asserts each embedding is within `tolerance` (max abs) of
/// `reference[name]` and that every file gave exactly one result; returns the largest difference.
@discardableResult
func assertEmbeddings(_ embedder: Embedder, folder: String, names: [String], reference: [String: [Float]], tolerance: Float,
                      file: StaticString = #filePath, line: UInt = #line) -> Float {
    var worst: Float = 0, seen = 0
    embedder.run(names.map { InputItem(path: folder + "/" + $0, error: nil) }) { result in
        let name = String(result.path.dropFirst(folder.count + 1))
        seen += 1
        switch result.embedding {
        case let .success(values):
            guard let expected = reference[name], expected.count == values.count else {
                return XCTFail("\(name): no reference of \(values.count) values", file: file, line: line)
            }
            let diff = zip(values, expected).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
            worst = max(worst, diff)
            XCTAssertLessThanOrEqual(diff, tolerance, name, file: file, line: line)
        case let .failure(failure):
            XCTFail("\(name): \(failure)", file: file, line: line)
        }
    }
    XCTAssertEqual(seen, names.count, file: file, line: line)
    return worst
}
