import Checkpoints
import Foundation
import Training
import ViT
import XCTest

/// The committed release fixture (Tests/Fixtures/models/release-trained, checked against transformers by
/// tools/reference/make_release_fixture.py and against our loader in DetectionTests.ReleaseFolderTests) must
/// stay what the trainer writes today: a one-epoch run of the same architecture must produce the same files,
/// the same config.json keys and values, the same tensor names, shapes and dtypes, and heads of the same format.
final class ReleaseLayoutTests: XCTestCase {
    static let fixture = TrainingFixtures.path("models/release-trained")

    func testTrainerReleaseFolderHasTheFixtureLayout() throws {
        let fm = FileManager.default
        let root = NSTemporaryDirectory() + "/release-layout-\(UUID().uuidString)"
        defer { try? fm.removeItem(atPath: root) }
        try fm.createDirectory(atPath: root, withIntermediateDirectories: true)
        // Shards of smooth gradients (real) and others with a checkerboard (fake), the end-to-end test's data.
        let images = SyntheticImages()
        try images.writeShard(root + "/train.tar", records: 0..<16)
        try images.writeShard(root + "/linear.tar", records: 100..<116)
        try images.writeShard(root + "/val.tar", records: 200..<208)

        // The fixture's architecture, read from its config.json.
        let model = try ViTConfig(contentsOf: Self.fixture + "/config.json")
        var c = TrainingConfiguration()
        c.imageSize = model.imageSize; c.patchSize = model.patchSize; c.hiddenSize = model.hiddenSize
        c.layers = model.layers; c.heads = model.heads; c.mlpSize = model.intermediateSize
        c.epochs = 1; c.warmupEpochs = 1; c.batchSize = 4; c.stepsPerEpoch = 2; c.shuffleBuffer = 8
        c.trainShards = [root + "/train.tar"]; c.linearTrainShards = [root + "/linear.tar"]; c.validationShards = [root + "/val.tar"]
        c.linearRecords = nil; c.validationRecords = nil
        c.output = root + "/run"; c.threads = 2
        XCTAssertEqual(c.model, model, "the fixture's config.json is not the trainer's architecture for these sizes")
        _ = try Trainer(configuration: c).run()
        let release = root + "/run/release"

        func files(_ folder: String) throws -> [String] {
            try fm.subpathsOfDirectory(atPath: folder).filter { path in
                var isDirectory: ObjCBool = false
                return fm.fileExists(atPath: folder + "/" + path, isDirectory: &isDirectory) && !isDirectory.boolValue
            }.sorted()
        }
        XCTAssertEqual(try files(release), try files(Self.fixture).filter { $0 != "expected.json" })

        // config.json: the same keys and values.
        func json(_ path: String) throws -> NSDictionary {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! NSDictionary
        }
        let written = try json(release + "/config.json"), committed = try json(Self.fixture + "/config.json")
        XCTAssertEqual((written.allKeys as! [String]).sorted(), (committed.allKeys as! [String]).sorted())
        XCTAssertEqual(written, committed)

        // model.safetensors: the same tensor names, shapes, dtypes and metadata.
        func layout(_ path: String) throws -> (tensors: [String: String], metadata: [String: String]) {
            let file = try SafeTensorsFile(path: path)
            return (file.entries.mapValues { "\($0.dtype) \($0.shape)" }, file.metadata)
        }
        let model1 = try layout(release + "/model.safetensors"), model2 = try layout(Self.fixture + "/model.safetensors")
        XCTAssertEqual(model1.tensors.keys.sorted(), model2.tensors.keys.sorted())
        XCTAssertEqual(model1.tensors, model2.tensors)
        XCTAssertEqual(model1.metadata, model2.metadata)
        XCTAssertTrue(model1.tensors.keys.contains("pooler.dense.weight"), "ViTModel.from_pretrained would report the pooler missing")

        // heads: the same format; the number of stored vectors depends on the data.
        for kind in ["linear", "knn", "svm"] {
            let path = "/heads/\(kind).safetensors"
            let a = try SafeTensorsFile(path: release + path), b = try SafeTensorsFile(path: Self.fixture + path)
            XCTAssertEqual(a.metadata.keys.sorted(), b.metadata.keys.sorted(), kind)
            XCTAssertEqual(a.metadata.filter { $0.key != "count" }, b.metadata.filter { $0.key != "count" }, kind)
            XCTAssertEqual(a.entries.keys.sorted(), b.entries.keys.sorted(), kind)
            for (name, entry) in b.entries {
                XCTAssertEqual(a.entries[name]?.dtype, entry.dtype, "\(kind) \(name)")
                XCTAssertEqual(a.entries[name]?.shape.count, entry.shape.count, "\(kind) \(name)")
                if entry.shape.count == 2 { XCTAssertEqual(a.entries[name]?.shape.last, entry.shape.last, "\(kind) \(name)") }
            }
        }
    }
}
