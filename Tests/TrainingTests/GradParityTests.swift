import Checkpoints
import Foundation
import Tensor
import Training
import ViT
import XCTest
import TestSupport

/// The committed gradient fixtures written by tools/reference/make_grad_fixtures.py (PyTorch autograd
/// through transformers' ViTModel and the CoDE loss).
let gradFixtures = Fixtures.path("grad")

/// One fixture folder: model, views, permutation and the expected results.
struct GradFixture {
    let folder: String
    let config: ViTConfig
    let model: VisionTransformer
    let records: Int
    let temperature: Double
    let permutation: AugmentationPermutation
    /// [8, B, C, S, S]: the first half is forward 1's input, the second half forward 2's.
    let views: [Float]
    let json: [String: Any]

    init(_ name: String) throws {
        folder = gradFixtures + "/" + name
        model = try VisionTransformer(folder: folder)
        config = model.config
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/fixture.json"))
        json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        records = try XCTUnwrap(json["records"] as? Int)
        temperature = try XCTUnwrap(json["temperature"] as? Double)
        permutation = AugmentationPermutation(real: try XCTUnwrap(json["permutation_real"] as? [Int]),
                                              fake: try XCTUnwrap(json["permutation_fake"] as? [Int]))
        let v = try Npy.read(path: folder + "/views.npy")
        XCTAssertEqual(v.shape, [8, records, config.channels, config.imageSize, config.imageSize])
        views = v.data
    }

    func expectedLoss(_ variant: String) throws -> Double {
        try XCTUnwrap((json["loss"] as? [String: Any])?[variant] as? Double)
    }

    func expectedGradients(_ file: String) throws -> ViTWeights {
        try ViTWeights(file: SafeTensorsFile(path: folder + "/" + file), config: config)
    }

    func run(_ variant: LossVariant, threads: Int = 2, microBatch: Int? = nil,
             workspace: ViTWorkspace? = ViTWorkspace()) -> ContrastiveStep.Result {
        let step = ContrastiveStep(loss: CoDELoss(temperature: temperature, variant: variant),
                                   options: ComputeOptions(threads: threads), microBatch: microBatch, workspace: workspace)
        let half = views.count / 2
        return views.withUnsafeBufferPointer { v in
            step.run(model: model, first: UnsafeBufferPointer(rebasing: v[..<half]),
                     second: UnsafeBufferPointer(rebasing: v[half...]), records: records, permutation: permutation)
        }
    }
}

/// Elementwise |ours − ref| / (1e-4·|ref| + 1e-6) per tensor under Hugging Face names (≤ 1 passes).
func toleranceRatios(_ ours: ViTWeights, _ reference: ViTWeights, config: ViTConfig) -> [(name: String, ratio: Double, maxAbs: Double)] {
    let a = ours.namedTensors(config: config, naming: .huggingFace)
    let b = reference.namedTensors(config: config, naming: .huggingFace)
    return zip(a, b).map { x, y in
        precondition(x.name == y.name)
        var worst = 0.0, maxAbs = 0.0
        for (u, v) in zip(x.tensor.data, y.tensor.data) {
            worst = max(worst, abs(Double(u) - Double(v)) / (1e-4 * abs(Double(v)) + 1e-6))
            maxAbs = max(maxAbs, abs(Double(v)))
        }
        return (x.name, worst, maxAbs)
    }
}

final class GradParityTests: XCTestCase {
    private func check(_ name: String, _ variant: LossVariant, threads: Int = 2, microBatch: Int? = nil) throws {
        let f = try GradFixture(name)
        let result = f.run(variant, threads: threads, microBatch: microBatch)
        let label = "\(name) \(variant) threads \(threads) microBatch \(microBatch.map(String.init) ?? "none")"
        let expectedLoss = try f.expectedLoss(variant.rawValue)
        XCTAssertEqual(result.loss.value, expectedLoss, accuracy: 1e-5, label)
        let expected = try f.expectedGradients("grads_\(variant.rawValue).safetensors")
        let ratios = toleranceRatios(result.gradients, expected, config: f.config)
        print("grad parity \(label): loss \(result.loss.value) vs \(expectedLoss) (Δ \(abs(result.loss.value - expectedLoss)))")
        for r in ratios {
            print(String(format: "  %@ worst |Δ|/(1e-4|ref|+1e-6) = %.3f (max |ref| %.3g)", r.name, r.ratio, r.maxAbs))
            XCTAssertLessThanOrEqual(r.ratio, 1, "\(label): \(r.name)")
        }
        if !f.config.qkvBias {
            for block in result.gradients.blocks { XCTAssertTrue(block.qkvBias.allSatisfy { $0 == 0 }) }
        }
    }

    func testTinyIntended() throws { try check("vit-grad-tiny", .intended) }
    func testTinyReleased() throws { try check("vit-grad-tiny", .released) }
    func testTinyIntendedSingleThread() throws { try check("vit-grad-tiny", .intended, threads: 1) }
    func testTinyIntendedMicroBatches() throws { try check("vit-grad-tiny", .intended, microBatch: 5) }
    func testOddIntended() throws { try check("vit-grad-odd", .intended) }
    func testOddReleased() throws { try check("vit-grad-odd", .released) }
    func testOddReleasedMicroBatchesSingleThread() throws { try check("vit-grad-odd", .released, threads: 1, microBatch: 4) }

    /// The same step run again with a shared workspace, or with none, gives the same bits.
    func testRepeatedStepsAreIdentical() throws {
        let f = try GradFixture("vit-grad-tiny")
        let workspace = ViTWorkspace()
        let first = f.run(.intended, workspace: workspace), again = f.run(.intended, workspace: workspace)
        let unpooled = f.run(.intended, workspace: nil)
        XCTAssertEqual(first.loss.value, again.loss.value)
        XCTAssertEqual(first.embeddings, unpooled.embeddings)
        for path in ViTWeights.parameterPaths(layers: f.config.layers) {
            XCTAssertEqual(first.gradients[keyPath: path], again.gradients[keyPath: path])
            XCTAssertEqual(first.gradients[keyPath: path], unpooled.gradients[keyPath: path])
        }
    }

    /// Our float32 gradients and PyTorch's float32 gradients, both against a float64 computation of the same
    /// gradient: reported, and ours must be no less accurate than PyTorch's (within a factor 2).
    func testAccuracyAgainstFloat64() throws {
        for name in ["vit-grad-tiny", "vit-grad-odd"] {
            let f = try GradFixture(name)
            let result = f.run(.intended)
            let exact = try f.expectedGradients("grads_intended_f64.safetensors")
            let torch = try f.expectedGradients("grads_intended.safetensors")
            let oursPerTensor = toleranceRatios(result.gradients, exact, config: f.config)
            let theirsPerTensor = toleranceRatios(torch, exact, config: f.config)
            let ours = oursPerTensor.map(\.ratio).max()!, theirs = theirsPerTensor.map(\.ratio).max()!
            print("\(name) vs float64: worst |Δ|/(1e-4|ref|+1e-6) ours \(ours), PyTorch float32 \(theirs)")
            for (a, b) in zip(oursPerTensor, theirsPerTensor) {
                print(String(format: "  %@ ours %.3f PyTorch %.3f", a.name, a.ratio, b.ratio))
            }
            XCTAssertLessThanOrEqual(ours, max(1, 2 * theirs), name)
        }
    }

    /// The embeddings of the step equal the fixture's (PyTorch forward) to 1e-5.
    func testEmbeddingsMatchPyTorch() throws {
        for name in ["vit-grad-tiny", "vit-grad-odd"] {
            let f = try GradFixture(name)
            let result = f.run(.intended)
            let expected = try Npy.read(path: f.folder + "/embeddings.npy")
            let diff = zip(result.embeddings, expected.data).map { abs($0 - $1) }.max()!
            print("\(name): embeddings max abs difference \(diff)")
            XCTAssertLessThan(diff, 1e-5, name)
        }
    }
}
