import Detection
import Foundation
import Heads
import Tensor
import ViT
import XCTest

/// The release folder `deepfake train` wrote (Tests/Fixtures/models/release-trained, a tiny model: image 32,
/// patch 8, hidden 32), against what transformers and scikit-learn make of the same folder
/// (tools/reference/make_release_fixture.py: `ViTModel.from_pretrained(folder)` loads it with no missing or
/// unexpected tensor; CenterCrop(32) + ImageNet normalisation; CLS after the final LayerNorm).
final class ReleaseFolderTests: XCTestCase {
    static let folder = fixtures + "/models/release-trained"

    struct Expected: Decodable {
        struct Verdict: Decodable { let fake: Bool; let probability: Double?; let decision: Double? }
        struct Image: Decodable { let embedding: [Double]; let linear: Verdict; let knn: Verdict; let svm: Verdict }
        let images: [String: Image]
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json")))
    }

    /// What `deepfake detect --model FOLDER` loads: the same `loadModel` call, the same embedder options.
    static func load() throws -> LoadedModel {
        try loadModel(folder, heads: [.linear, .knn, .svm], environment: ["HF_HUB_OFFLINE": "1"])
    }

    func testEmbeddingsMatchTransformers() throws {
        let ref = try Self.expected()
        XCTAssertGreaterThanOrEqual(ref.images.count, 8)
        let model = try Self.load()
        // The model is not 224: detect's preprocessing must follow config.json's image_size (CenterCrop(32)).
        XCTAssertEqual(model.backbone.config.imageSize, 32)
        XCTAssertEqual(model.backbone.config.hiddenSize, 32)
        let names = ref.images.keys.sorted()
        let embedder = Embedder(model: model.backbone, options: EmbedderOptions(batchSize: 4, compute: ComputeOptions(threads: 2)))
        let reference = ref.images.mapValues { $0.embedding.map(Float.init) }
        let worst = assertEmbeddings(embedder, folder: images, names: names, reference: reference, tolerance: 1e-4)
        print("release folder vs transformers over \(names.count) images: max abs embedding difference \(worst)")
    }

    /// The heads in heads/*.safetensors load and predict what scikit-learn predicts: exactly on transformers'
    /// embeddings, and within the usual tolerances on our own embeddings (through the Detector, as detect runs).
    func testHeadsLoadAndPredictLikeScikitLearn() throws {
        let ref = try Self.expected()
        let model = try Self.load()
        XCTAssertEqual(model.heads.map(\.kind), [.linear, .knn, .svm])
        let names = ref.images.keys.sorted()
        let magnitudes = names.map { abs(ref.images[$0]!.svm.decision!) }.sorted()
        let median = magnitudes[magnitudes.count / 2]

        // 1. On the reference embeddings: the head arithmetic alone.
        for name in names {
            let image = ref.images[name]!
            let x = image.embedding.map(Float.init)
            let outputs = model.heads.map { $0.head.predict(x) }
            XCTAssertEqual(outputs[0].isFake, image.linear.fake, name)
            XCTAssertEqual(outputs[0].score, image.linear.probability!, accuracy: 1e-9, name)
            XCTAssertEqual(outputs[0].decision!, image.linear.decision!, accuracy: 1e-9, name)
            XCTAssertEqual(outputs[1].isFake, image.knn.fake, name)
            XCTAssertEqual(outputs[1].score, image.knn.probability!, name)
            XCTAssertEqual(outputs[2].isFake, image.svm.fake, name)
            XCTAssertLessThanOrEqual(abs(outputs[2].decision! - image.svm.decision!) / max(abs(image.svm.decision!), median), 1e-9, name)
        }

        // 2. End to end: decode, preprocess, our forward pass, every head.
        let detector = Detector(embedder: Embedder(model: model.backbone, options: EmbedderOptions(batchSize: 4, compute: ComputeOptions(threads: 2))),
                                heads: model.heads)
        var worstP = 0.0, worstSVM = 0.0, seen = 0
        detector.run(names.map { InputItem(path: images + "/" + $0, error: nil) }) { result in
            let name = String(result.path.dropFirst(images.count + 1))
            guard case let .success(outputs) = result.outputs else { return XCTFail("\(name): \(result.outputs)") }
            let image = ref.images[name]!
            XCTAssertEqual(outputs.map(\.isFake), [image.linear.fake, image.knn.fake, image.svm.fake], name)
            worstP = max(worstP, abs(outputs[0].score - image.linear.probability!))
            XCTAssertEqual(outputs[0].score, image.linear.probability!, accuracy: 1e-5, name)
            XCTAssertEqual(outputs[1].score, image.knn.probability!, name)
            let relative = abs(outputs[2].decision! - image.svm.decision!) / max(abs(image.svm.decision!), median)
            worstSVM = max(worstSVM, relative)
            XCTAssertLessThanOrEqual(relative, 1e-4, name)
            seen += 1
        }
        XCTAssertEqual(seen, names.count)
        print("release heads over \(seen) images: labels agree; max |p - p_sklearn| \(worstP), max relative svm decision error \(worstSVM)")
    }

    /// `deepfake detect --model FOLDER` itself, one run per head: status 0 and scikit-learn's labels.
    func testDetectCommandLoadsTheReleaseFolder() throws {
        let ref = try Self.expected()
        let names = ref.images.keys.sorted()
        for head in ["linear", "knn", "svm"] {
            let (status, stdout, stderr) = try runDeepfake(["detect", "--model", Self.folder, "--head", head, "--format", "jsonl"]
                                                           + names.map { images + "/" + $0 })
            XCTAssertEqual(status, 0, stderr)
            var labels: [String: String] = [:]
            for line in stdout.split(separator: "\n") {
                let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                labels[String((row["path"] as! String).dropFirst(images.count + 1))] = row["label"] as? String
            }
            XCTAssertEqual(labels.count, names.count, head)
            for name in names {
                let image = ref.images[name]!
                let fake = head == "linear" ? image.linear.fake : head == "knn" ? image.knn.fake : image.svm.fake
                XCTAssertEqual(labels[name], fake ? "fake" : "real", "\(head): \(name)")
            }
        }
    }
}
