import Checkpoints
import Foundation
import Tensor
import ViT
import XCTest
import Training

/// One case of Tests/Fixtures/optim (tools/reference/make_optim_fixtures.py).
struct OptimCase: Decodable {
    struct TensorInfo: Decodable { let name: String, shape: [Int], weight_decay: Bool }
    let tensors: [TensorInfo]
    let no_weight_decay: [String]
    let betas: [Double]
    let eps: Double
    let weight_decay: Double
    let lrs: [Double]
    let steps: Int
    let missing_grads: [String: [String]]
    let final_step_counts: [Int]
    let accumulation: Int
    let clip_max_norm: [Double]?
    let clip_total_norms: [Double]

    static func folder(_ name: String) -> String { TrainingFixtures.path("optim/\(name)") }

    static func load(_ name: String) throws -> OptimCase {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder(name) + "/case.json"))
        return try JSONDecoder().decode(OptimCase.self, from: data)
    }

    var parameterSet: ParameterSet {
        ParameterSet(tensors.map { ($0.name, $0.shape) }, noWeightDecay: Set(no_weight_decay))
    }

    var configuration: AdamWConfiguration {
        AdamWConfiguration(beta1: betas[0], beta2: betas[1], eps: eps, weightDecay: weight_decay)
    }

    /// A concatenated vector split into tensors.
    func split(_ flat: [Float]) -> [[Float]] {
        var out: [[Float]] = []
        var offset = 0
        for t in tensors {
            let n = t.shape.reduce(1, *)
            out.append(Array(flat[offset..<(offset + n)]))
            offset += n
        }
        precondition(offset == flat.count)
        return out
    }

    func read(_ caseName: String, _ file: String) throws -> [[Float]] {
        split(try Npy.read(path: OptimCase.folder(caseName) + "/" + file).data)
    }
}

/// Deviation of `actual` from `reference` under the acceptance criterion |Δ| ≤ rtol·|ref| + floor:
/// `worst` is the largest |Δ| / (rtol·|ref| + floor) (≤ 1 passes); also the largest |Δ| and the
/// largest |Δ|/|ref| over |ref| ≥ 1e-3, and how many values are bit-identical.
struct Deviation: CustomStringConvertible {
    let rtol: Double
    let floor: Double
    var worst = 0.0
    var worstAbs = 0.0
    var worstRel = 0.0
    var at = ""
    var exact = 0
    var total = 0

    init(rtol: Double, floor: Double) { self.rtol = rtol; self.floor = floor }

    mutating func add(_ actual: [[Float]], _ reference: [[Float]], label: String) {
        for (t, (a, r)) in zip(actual, reference).enumerated() {
            for i in a.indices {
                let ref = Double(r[i])
                let d = abs(Double(a[i]) - ref)
                total += 1
                if a[i].bitPattern == r[i].bitPattern { exact += 1 }
                worstAbs = max(worstAbs, d)
                if abs(ref) >= 1e-3 { worstRel = max(worstRel, d / abs(ref)) }
                let score = d / (rtol * abs(ref) + floor)
                if score > worst { worst = score; at = "\(label) tensor \(t)[\(i)]: \(a[i]) vs \(r[i])" }
            }
        }
    }

    var description: String {
        String(format: "max |Δ|/(%.0e·|ref| + %.0e) = %.3g, max |Δ| = %.3g, max |Δ|/|ref| (|ref| ≥ 1e-3) = %.3g, bit-identical %d/%d",
               rtol, floor, worst, worstAbs, worstRel, exact, total) + (at.isEmpty ? "" : "; worst at " + at)
    }
}

final class OptimizerTests: XCTestCase {
    /// Acceptance criterion: |Δ| ≤ 1e-5·|ref| + 1e-8 (the floor is a few float32 ulps at the
    /// parameters' magnitude, for values that an update drove near zero).
    static let relative = 1e-5
    static let floor = 1e-8

    func runCase(_ name: String) throws -> Deviation {
        let c = try OptimCase.load(name)
        let set = c.parameterSet
        for (spec, info) in zip(set.parameters, c.tensors) {
            XCTAssertEqual(spec.appliesWeightDecay, info.weight_decay, "\(name): group of \(spec.name)")
        }
        var opt = AdamW(parameters: set, configuration: c.configuration)
        var params = try c.read(name, "init.npy")
        var dev = Deviation(rtol: Self.relative, floor: Self.floor)
        var accumulator = GradientAccumulator(parameters: set, microBatches: c.accumulation)
        for s in 0..<c.steps {
            var grads: [[Float]]
            if c.accumulation > 1 {
                accumulator.reset()
                for i in 0..<c.accumulation {
                    XCTAssertFalse(accumulator.isComplete)
                    accumulator.add(try c.read(name, "grads_step\(s)_micro\(i).npy"))
                }
                XCTAssertTrue(accumulator.isComplete)
                grads = accumulator.gradients
            } else {
                grads = try c.read(name, "grads_step\(s).npy")
            }
            if let maxNorms = c.clip_max_norm {
                let total = GradientClipping.clip(&grads, maxNorm: maxNorms[s])
                XCTAssertEqual(Double(total), c.clip_total_norms[s], accuracy: 1e-6 * c.clip_total_norms[s], "\(name) step \(s): total norm")
            }
            if c.clip_max_norm != nil || c.accumulation > 1 {
                let used = try c.read(name, "used_grads_step\(s).npy")
                var g = Deviation(rtol: 1e-6, floor: 1e-12)
                g.add(grads, used, label: "grads step \(s)")
                XCTAssertLessThanOrEqual(g.worst, 1, "\(name) step \(s): gradients \(g)")
            }
            let missing = Set(c.missing_grads[String(s)] ?? [])
            let optional: [[Float]?] = zip(set.parameters, grads).map { missing.contains($0.name) ? nil : $1 }
            opt.step(&params, gradients: optional, learningRate: c.lrs[s])
            dev.add(params, try c.read(name, "params_step\(s).npy"), label: "step \(s)")
        }
        XCTAssertEqual(opt.steps, c.final_step_counts, "\(name): step counts")
        var moments = Deviation(rtol: 1e-5, floor: 1e-12)
        moments.add(opt.firstMoments, try c.read(name, "exp_avg_final.npy"), label: "exp_avg")
        moments.add(opt.secondMoments, try c.read(name, "exp_avg_sq_final.npy"), label: "exp_avg_sq")
        print("optim fixture \(name): parameters \(dev); moments \(moments)")
        XCTAssertLessThanOrEqual(dev.worst, 1, "\(name): \(dev)")
        XCTAssertLessThanOrEqual(moments.worst, 1, "\(name): \(moments)")
        return dev
    }

    func testAdamWMatchesTorch() throws { _ = try runCase("adamw_basic") }
    func testAdamWWithCoDEHyperParametersMatchesTorch() throws { _ = try runCase("adamw_code") }
    func testClippingMatchesTorch() throws { _ = try runCase("clip") }
    func testAccumulationMatchesTorch() throws { _ = try runCase("accum") }

    /// The ViT parameter set: timm names and shapes in `namedTensors` order, 5,524,416 scalars, and
    /// timm's two groups (the 49 matrices decay; biases, LayerNorms, pos_embed and cls_token do not).
    func testViTParameterSet() {
        let config = ViTConfig.tiny16
        let set = ParameterSet.vit(config)
        let weights = ViTInitialization.timm(config: config, rng: RandomSource(seed: 1))
        let named = weights.namedTensors(config: config, naming: .timm)
        XCTAssertEqual(set.parameters.map(\.name), named.map(\.name))
        XCTAssertEqual(set.parameters.map(\.shape), named.map(\.tensor.shape))
        for i in 0..<set.count { XCTAssertEqual(set.tensor(i, of: weights), named[i].tensor.data, set.parameters[i].name) }
        XCTAssertEqual(set.elementCount, 5_524_416)
        let decayed = set.parameters.filter(\.appliesWeightDecay).map(\.name)
        XCTAssertEqual(decayed.count, 1 + 4 * 12)
        XCTAssert(decayed.contains("patch_embed.proj.weight"))
        XCTAssert(decayed.allSatisfy { $0.hasSuffix(".weight") && !$0.contains("norm") })
        for name in ["pos_embed", "cls_token", "norm.weight", "blocks.0.norm1.weight", "blocks.3.attn.qkv.bias"] {
            XCTAssertEqual(set.parameters[set.index(of: name)!].appliesWeightDecay, false, name)
        }
        var noBias = config
        noBias.qkvBias = false
        XCTAssertNil(ParameterSet.vit(noBias).index(of: "blocks.0.attn.qkv.bias"))
        XCTAssertEqual(ParameterSet.vit(noBias).parameters.map(\.name),
                       ViTInitialization.timm(config: noBias, rng: RandomSource(seed: 1)).namedTensors(config: noBias, naming: .timm).map(\.name))
    }

    /// Stepping `ViTWeights` directly equals stepping the flat arrays; accumulation and clipping work on
    /// `ViTWeights`-shaped gradients too.
    func testViTWeightsStepEqualsFlatStep() {
        let config = ViTConfig(hiddenSize: 16, layers: 2, heads: 2, intermediateSize: 32, patchSize: 8, imageSize: 32,
                               layerNormEps: 1e-6)
        let set = ParameterSet.vit(config)
        var weights = ViTInitialization.timm(config: config, rng: RandomSource(seed: 3))
        var flat = set.tensors(of: weights)
        var gradRNG = RandomSource(seed: 4)
        var viaWeights = AdamW(parameters: set), viaFlat = AdamW(parameters: set)
        for step in 0..<3 {
            let grads: [[Float]] = set.parameters.map { spec in
                var g = [Float](repeating: 0, count: spec.count)
                g.withUnsafeMutableBufferPointer { gradRNG.fillNormal($0, mean: 0, std: 0.1) }
                return g
            }
            var gradWeights = ViTInitialization.weights(from: grads, parameters: set, config: config)
            var flatGrads = grads
            let n1 = GradientClipping.clip(&gradWeights, parameters: set, maxNorm: 1.0)
            let n2 = GradientClipping.clip(&flatGrads, maxNorm: 1.0)
            XCTAssertEqual(n1, n2)
            XCTAssertEqual(set.tensors(of: gradWeights), flatGrads)
            var acc = GradientAccumulator(parameters: set, microBatches: 1)
            acc.add(gradWeights, parameters: set)
            XCTAssertEqual(acc.gradients, flatGrads)
            let lr = CosineSchedule.code.learningRate(epoch: step + 4)
            viaWeights.step(&weights, gradients: gradWeights, learningRate: lr)
            viaFlat.step(&flat, gradients: flatGrads, learningRate: lr)
        }
        XCTAssertEqual(set.tensors(of: weights), flat)
        XCTAssertEqual(viaWeights.firstMoments, viaFlat.firstMoments)
        var viaArrays = AdamW(parameters: set)
        var w2 = ViTInitialization.timm(config: config, rng: RandomSource(seed: 3))
        viaArrays.step(&w2, gradients: set.parameters.map { [Float](repeating: 0.5, count: $0.count) }, learningRate: 0.01)
        XCTAssertEqual(viaArrays.steps, [Int](repeating: 1, count: set.count))
    }

    /// Saving after k steps and resuming in a fresh optimiser continues bit-exactly.
    func testStateSaveLoadResumesBitExactly() throws {
        let c = try OptimCase.load("adamw_basic")
        let set = c.parameterSet
        let init0 = try c.read("adamw_basic", "init.npy")
        let grads = try (0..<c.steps).map { try c.read("adamw_basic", "grads_step\($0).npy") }
        var straight = AdamW(parameters: set, configuration: c.configuration)
        var p1 = init0
        for s in 0..<c.steps { straight.step(&p1, gradients: grads[s].map { Optional($0) }, learningRate: c.lrs[s]) }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("adamw-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("optimizer.safetensors").path
        var first = AdamW(parameters: set, configuration: c.configuration)
        var p2 = init0
        for s in 0..<3 { first.step(&p2, gradients: grads[s].map { Optional($0) }, learningRate: c.lrs[s]) }
        try first.saveState(to: path, metadata: ["epoch": "3"])
        var resumed = AdamW(parameters: set, configuration: c.configuration)
        let meta = try resumed.loadState(from: path)
        XCTAssertEqual(meta["epoch"], "3")
        XCTAssertEqual(meta["format"], AdamW.stateFormat)
        XCTAssertEqual(resumed.steps, first.steps)
        XCTAssertEqual(resumed.firstMoments, first.firstMoments)
        XCTAssertEqual(resumed.secondMoments, first.secondMoments)
        for s in 3..<c.steps { resumed.step(&p2, gradients: grads[s].map { Optional($0) }, learningRate: c.lrs[s]) }
        XCTAssertEqual(p2.map { $0.map(\.bitPattern) }, p1.map { $0.map(\.bitPattern) })
        XCTAssertEqual(resumed.secondMoments, straight.secondMoments)

        // A state for another parameter set is refused, and so is a file that is not a state file.
        var other = AdamW(parameters: ParameterSet([("w", [2, 2])]))
        XCTAssertThrowsError(try other.loadState(from: path))
        let weightsPath = dir.appendingPathComponent("w.safetensors").path
        try SafeTensorsWriter.write([("w", Tensor(shape: [2, 2], data: [1, 2, 3, 4]))], to: weightsPath)
        XCTAssertThrowsError(try other.loadState(from: weightsPath))
        XCTAssertEqual(other.steps, [0])
        var bigger = AdamW(parameters: ParameterSet([("w", [2, 2])]))
        let smallPath = dir.appendingPathComponent("small.safetensors").path
        try bigger.saveState(to: smallPath)
        var mismatched = AdamW(parameters: ParameterSet([("w", [4])]))
        XCTAssertThrowsError(try mismatched.loadState(from: smallPath))
        XCTAssertNoThrow(try bigger.loadState(from: smallPath))
    }

    /// Clipping edge cases: zero gradients stay zero; a norm below the maximum leaves values unchanged.
    func testClippingEdgeCases() {
        var zeros: [[Float]] = [[0, 0], [0]]
        XCTAssertEqual(GradientClipping.clip(&zeros, maxNorm: 1), 0)
        XCTAssertEqual(zeros, [[0, 0], [0]])
        var small: [[Float]] = [[0.3, 0.4]]
        XCTAssertEqual(GradientClipping.clip(&small, maxNorm: 1), 0.5, accuracy: 1e-7)
        XCTAssertEqual(small, [[0.3, 0.4]])
        var big: [[Float]] = [[3, 4], [0]]
        XCTAssertEqual(GradientClipping.clip(&big, maxNorm: 1), 5)
        XCTAssertEqual(Double(big[0][0]), 0.6, accuracy: 1e-6)
        XCTAssertEqual(Double(big[0][1]), 0.8, accuracy: 1e-6)
    }

    /// The AdamW step over all of ViT-Tiny takes a few tens of milliseconds.
    func testViTTinyStepCost() {
        let config = ViTConfig.tiny16
        let set = ParameterSet.vit(config)
        var weights = ViTInitialization.timm(config: config, rng: RandomSource(seed: 5))
        let grads = ViTInitialization.timm(config: config, rng: RandomSource(seed: 6))
        var opt = AdamW(parameters: set)
        let start = Date()
        for epoch in 0..<3 { opt.step(&weights, gradients: grads, learningRate: CosineSchedule.code.learningRate(epoch: epoch)) }
        let ms = Date().timeIntervalSince(start) * 1000 / 3
        print(String(format: "AdamW step over ViT-Tiny (5.5M parameters): %.1f ms", ms))
        XCTAssert(set.tensors(of: weights).allSatisfy { $0.allSatisfy(\.isFinite) })
    }
}
