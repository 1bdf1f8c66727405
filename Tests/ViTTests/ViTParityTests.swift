import Checkpoints
import Tensor
import ViT
import XCTest
import TestSupport

/// The folder of committed model fixtures written by tools/reference/make_model_fixtures.py
/// (transformers `ViTModel` outputs on deterministic inputs).
let modelFixtures = Fixtures.path("models")

/// The fixture input formula (see each fixture.json): v = (i·2654435761) mod 2001, x = Float(v)/1000 − 1.
func formulaInput(count: Int) -> [Float] {
    (0..<count).map { i in Float((Int64(i) &* 2_654_435_761) % 2001) / 1000 - 1 }
}

func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

final class ViTParityTests: XCTestCase {
    private func check(_ name: String, expected file: String = "expected.npy", batch: Int = 2, threads: Int = 2,
                       clsOnly: Bool = false, tolerance: Float = 1e-4) throws {
        let folder = modelFixtures + "/" + name
        let model = try VisionTransformer(folder: folder)
        let expected = try Npy.read(path: folder + "/" + file)
        let input = formulaInput(count: batch * model.inputCount)
        let output = input.withUnsafeBufferPointer {
            clsOnly ? model.embed(pixels: $0, batch: batch, options: .init(threads: threads))
                    : model.lastHiddenState(pixels: $0, batch: batch, options: .init(threads: threads))
        }
        XCTAssertEqual(output.shape, expected.shape, name)
        let diff = maxAbsDifference(output.data, expected.data)
        print("parity \(name) \(file) batch \(batch): max abs difference \(diff)")
        XCTAssertLessThanOrEqual(diff, tolerance, "\(name): max abs difference \(diff)")
    }

    func testSmallF32AllTokens() throws { try check("vit-small-f32") }
    func testSmallF32SingleThread() throws { try check("vit-small-f32", threads: 1) }
    func testSmallBF16() throws { try check("vit-small-bf16") }
    func testSmallTimmNames() throws { try check("vit-small-timm") }
    func testOddConfigWithoutQKVBias() throws { try check("vit-odd") }
    func testTanhGELU() throws { try check("vit-small-gelu-tanh") }
    func testTinyFullSizeF16Embedding() throws { try check("vit-tiny-random", expected: "expected_cls.npy", clsOnly: true) }
    func testTinyFullSizeAllTokens() throws { try check("vit-tiny-random", expected: "expected.npy") }
    func testTinyBatchOne() throws { try check("vit-tiny-random", expected: "expected_cls_b1.npy", batch: 1, clsOnly: true) }

    /// The C kernels run under every instruction set this CPU supports (AVX-512, AVX2+FMA, baseline), so a
    /// machine without AVX-512 still gets PyTorch's embeddings.
    func testEveryKernelInstructionSetMatchesPyTorch() throws {
        try KernelISA.forEachSupported { isa in
            XCTAssertEqual(KernelISA.current, isa)
            try check("vit-tiny-random", expected: "expected.npy")
            try check("vit-small-gelu-tanh")
        }
    }

    func testConfigIsReadFromFile() throws {
        let c = try ViTConfig(contentsOf: modelFixtures + "/vit-odd/config.json")
        XCTAssertEqual(c.hiddenSize, 48); XCTAssertEqual(c.layers, 3); XCTAssertEqual(c.heads, 4)
        XCTAssertEqual(c.intermediateSize, 96); XCTAssertEqual(c.patchSize, 8); XCTAssertEqual(c.imageSize, 64)
        XCTAssertEqual(c.layerNormEps, 1e-5); XCTAssertFalse(c.qkvBias); XCTAssertEqual(c.activation, .gelu)
    }
}

final class ViTLoadingErrorTests: XCTestCase {
    private func loadError(_ name: String) -> CheckpointError? {
        do {
            _ = try VisionTransformer(folder: modelFixtures + "/broken/" + name)
            return nil
        } catch { return error }
    }

    func testMissingTensorIsNamed() {
        let e = loadError("missing-tensor")
        XCTAssertEqual(e, .missingTensor(path: modelFixtures + "/broken/missing-tensor/model.safetensors",
                                         tensor: "encoder.layer.1.output.dense.bias"))
    }

    func testWrongShapeNamesTensorAndBothShapes() {
        let e = loadError("wrong-shape")
        XCTAssertEqual(e, .shapeMismatch(path: modelFixtures + "/broken/wrong-shape/model.safetensors",
                                         tensor: "encoder.layer.0.intermediate.dense.weight", expected: [128, 64], found: [128, 63]))
        XCTAssertTrue(e?.description.contains("[128, 63]") == true && e?.description.contains("[128, 64]") == true)
    }

    func testUnexpectedTensorIsNamed() {
        let e = loadError("unexpected-tensor")
        XCTAssertEqual(e, .unexpectedTensor(path: modelFixtures + "/broken/unexpected-tensor/model.safetensors", tensor: "foo.bar"))
    }

    func testIndivisibleHeadsIsAConfigError() {
        guard case .badConfig(_, let reason)? = loadError("bad-config") else { return XCTFail("expected badConfig") }
        XCTAssertTrue(reason.contains("num_attention_heads"), reason)
    }
}
