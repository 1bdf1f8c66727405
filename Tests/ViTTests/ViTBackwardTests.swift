import Checkpoints
import Foundation
import Tensor
import ViT
import DeepfakeCore
import XCTest

/// Test data from DeepfakeCore's SplitMix64 (the project's specified generator).
extension SplitMix64 {
    /// Roughly normal: a sum of three uniforms, scaled to unit variance.
    mutating func normal(_ std: Float) -> Float {
        let u = (0..<3).map { _ in Float.random(in: -1...1, using: &self) }.reduce(0, +)
        return u * std
    }
}

/// Random parameters for `config` with every tensor non-trivial: Linear weights N(0, 1.5/√fan_in), biases
/// N(0, .1), LayerNorm weight 1 + N(0, .2), positions N(0, .3), class token N(0, .5).
func randomWeights(_ c: ViTConfig, seed: UInt64) -> ViTWeights {
    var rng = SplitMix64(seed: seed)
    var w = ViTWeights.zeros(config: c)
    let d = c.hiddenSize, i = c.intermediateSize
    func fill(_ a: inout [Float], _ f: (inout SplitMix64) -> Float) { for k in a.indices { a[k] = f(&rng) } }
    fill(&w.patchWeight) { $0.normal(1.5 / Float(c.channels * c.patchSize * c.patchSize).squareRoot()) }
    fill(&w.patchBias) { $0.normal(0.1) }
    fill(&w.classToken) { $0.normal(0.5) }
    fill(&w.positionEmbedding) { $0.normal(0.3) }
    for l in 0..<c.layers {
        fill(&w.blocks[l].norm1Weight) { 1 + $0.normal(0.2) }; fill(&w.blocks[l].norm1Bias) { $0.normal(0.1) }
        fill(&w.blocks[l].qkvWeight) { $0.normal(1.5 / Float(d).squareRoot()) }
        if c.qkvBias { fill(&w.blocks[l].qkvBias) { $0.normal(0.1) } }
        fill(&w.blocks[l].projWeight) { $0.normal(1.5 / Float(d).squareRoot()) }; fill(&w.blocks[l].projBias) { $0.normal(0.1) }
        fill(&w.blocks[l].norm2Weight) { 1 + $0.normal(0.2) }; fill(&w.blocks[l].norm2Bias) { $0.normal(0.1) }
        fill(&w.blocks[l].fc1Weight) { $0.normal(1.5 / Float(d).squareRoot()) }; fill(&w.blocks[l].fc1Bias) { $0.normal(0.1) }
        fill(&w.blocks[l].fc2Weight) { $0.normal(1.5 / Float(i).squareRoot()) }; fill(&w.blocks[l].fc2Bias) { $0.normal(0.1) }
    }
    fill(&w.normWeight) { 1 + $0.normal(0.2) }; fill(&w.normBias) { $0.normal(0.1) }
    return w
}

/// A readable name for each entry of `ViTWeights.parameterPaths`.
func parameterKinds(layers: Int) -> [String] {
    var names = ["patch.weight", "patch.bias", "cls_token", "pos_embed"]
    for l in 0..<layers {
        names += ["norm1.weight", "norm1.bias", "qkv.weight", "qkv.bias", "proj.weight", "proj.bias", "norm2.weight",
                  "norm2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"].map { "blocks.\(l).\($0)" }
    }
    return names + ["norm.weight", "norm.bias"]
}

final class ViTBackwardTests: XCTestCase {
    /// Image 16, patch 8 (4 patches + CLS), hidden 16, 2 heads, MLP 24, 2 blocks.
    private func tinyConfig(_ act: Activation, qkvBias: Bool = true) -> ViTConfig {
        ViTConfig(hiddenSize: 16, layers: 2, heads: 2, intermediateSize: 24, patchSize: 8, imageSize: 16,
                  layerNormEps: 1e-5, qkvBias: qkvBias, activation: act)
    }

    private func randomPixels(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in rng.normal(1) }
    }

    // MARK: the training forward is the inference forward

    /// The training forward runs its products in one BLAS call per image, as the inference forward does when
    /// it gives whole images to threads (batch a multiple of the thread count), so the class token of
    /// `lastHiddenState` is the training embedding bit for bit. (`embed` computes only the class-token row in
    /// the last block and a team splits an image's rows: BLAS calls of other row counts, which oneDNN may
    /// round differently in the last bits; ViTThreadingTests bounds that.)
    private func checkTrainingForwardEqualsInference(_ model: VisionTransformer, batch: Int, threads: Int) {
        let input = formulaInput(count: batch * model.inputCount)
        let options = ComputeOptions(threads: threads)
        let (all, training) = input.withUnsafeBufferPointer {
            (model.lastHiddenState(pixels: $0, batch: batch, options: options),
             model.trainingForward(pixels: $0, batch: batch, options: options).embedding)
        }
        let d = model.config.hiddenSize, t = model.config.tokens
        let inference = (0..<batch).flatMap { b in all.data[(b * t * d)..<(b * t * d + d)] }
        XCTAssertEqual(training.shape, [batch, d])
        XCTAssertEqual(training.data, inference, "training forward differs from inference: max \(maxAbsDifference(training.data, inference))")
    }

    func testTrainingForwardEqualsInferenceBitForBit() throws {
        for name in ["vit-small-f32", "vit-odd", "vit-small-gelu-tanh"] {
            let model = try VisionTransformer(folder: modelFixtures + "/" + name)
            for threads in [1, 2] { checkTrainingForwardEqualsInference(model, batch: 4, threads: threads) }
        }
    }

    // MARK: finite differences

    /// Central differences of J(θ) = Σ c ⊙ embed(θ) (J summed in Double) against `backward` with
    /// dJ/d(embedding) = c, for 4 random coordinates of every parameter tensor.
    ///
    /// The forward is Float, so J carries rounding noise of ~1e-7·Σ|c·z| ≈ 3e-6 here; with ε = 3e-3 that is
    /// ~5e-4 in the quotient, while the truncation error ε²·J‴/6 stays below ~1e-5. Hence the default
    /// tolerance |fd − analytic| ≤ 2e-3·|analytic| + 1.5e-3 (the gradients here are O(0.1–5)).
    /// ReLU is not smooth: a step of ε can move one of the pre-activations across 0, which bends the
    /// difference quotient by up to half that unit's contribution. The ReLU check uses one image (240
    /// pre-activations, less noise: ~1e-6 in J), ε = 1e-3 and 1e-2·|analytic| + 3e-3, and skips a coordinate
    /// when its two one-sided quotients disagree by more than that (a kink lies within ε); at most half may
    /// be skipped.
    private func finiteDifferenceCheck(_ config: ViTConfig, seed: UInt64, batch: Int = 3, eps: Float = 3e-3,
                                       relative: Double = 2e-3, absolute: Double = 1.5e-3,
                                       file: StaticString = #filePath, line: UInt = #line) {
        let d = config.hiddenSize
        let weights = randomWeights(config, seed: seed)
        let model = VisionTransformer(config: config, weights: weights)
        let pixels = randomPixels(batch * model.inputCount, seed: seed + 1)
        var rng = SplitMix64(seed: seed + 2)
        let c = (0..<(batch * d)).map { _ in rng.normal(1) }
        let options = ComputeOptions(threads: 2)
        var grads = ViTWeights.zeros(config: config)
        pixels.withUnsafeBufferPointer { px in
            let pass = model.trainingForward(pixels: px, batch: batch, options: options)
            c.withUnsafeBufferPointer { model.backward(pass.activations, embeddingGradient: $0, into: &grads, options: options) }
        }
        func objective(_ w: ViTWeights) -> Double {
            let m = VisionTransformer(config: config, weights: w)
            let z = pixels.withUnsafeBufferPointer { m.embed(pixels: $0, batch: batch, options: options) }
            return zip(z.data, c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var worstRatio = 0.0, worstName = "", checked = 0, skipped = 0
        let kinds = parameterKinds(layers: config.layers)
        for (path, kind) in zip(ViTWeights.parameterPaths(layers: config.layers), kinds) {
            if kind.hasSuffix("qkv.bias") && !config.qkvBias { continue }
            let count = weights[keyPath: path].count
            for _ in 0..<4 {
                let k = Int(rng.next(upperBound: UInt64(count)))
                var plus = weights, minus = weights
                plus[keyPath: path][k] += eps
                minus[keyPath: path][k] -= eps
                // the actual perturbation after rounding to Float
                let step = Double(plus[keyPath: path][k]) - Double(minus[keyPath: path][k])
                let (up, down) = (objective(plus), objective(minus))
                let fd = (up - down) / step
                let analytic = Double(grads[keyPath: path][k])
                let tolerance = relative * abs(analytic) + absolute
                if config.activation == .relu {
                    let center = objective(weights)
                    let right = (up - center) / (Double(plus[keyPath: path][k]) - Double(weights[keyPath: path][k]))
                    let left = (center - down) / (Double(weights[keyPath: path][k]) - Double(minus[keyPath: path][k]))
                    checked += 1
                    if abs(right - left) > tolerance { skipped += 1; continue }
                }
                let ratio = abs(fd - analytic) / tolerance
                if ratio > worstRatio { worstRatio = ratio; worstName = "\(kind)[\(k)]: fd \(fd) analytic \(analytic)" }
                XCTAssertLessThanOrEqual(ratio, 1, "\(config.activation) \(kind)[\(k)]: fd \(fd) analytic \(analytic)", file: file, line: line)
            }
        }
        XCTAssertLessThanOrEqual(2 * skipped, checked, "\(config.activation): too many coordinates next to a kink", file: file, line: line)
        print("finite differences \(config.activation) qkvBias \(config.qkvBias) ε \(eps): worst |fd−an|/(\(relative)·|an|+\(absolute)) = \(worstRatio) at \(worstName)"
              + (config.activation == .relu ? "; \(skipped) of \(checked) coordinates skipped next to a kink" : ""))
    }

    func testFiniteDifferencesGELU() { finiteDifferenceCheck(tinyConfig(.gelu), seed: 11) }
    func testFiniteDifferencesTanhGELUWithoutQKVBias() { finiteDifferenceCheck(tinyConfig(.geluTanh, qkvBias: false), seed: 12) }
    func testFiniteDifferencesQuickGELU() { finiteDifferenceCheck(tinyConfig(.quickGelu), seed: 13) }
    func testFiniteDifferencesReLU() { finiteDifferenceCheck(tinyConfig(.relu), seed: 14, batch: 1, eps: 1e-3, relative: 1e-2, absolute: 3e-3) }

    // MARK: determinism and accumulation

    func testBackwardIsDeterministicAndAccumulates() {
        let config = tinyConfig(.gelu)
        let model = VisionTransformer(config: config, weights: randomWeights(config, seed: 21))
        let batch = 5
        let pixels = randomPixels(batch * model.inputCount, seed: 22)
        let dEmb = randomPixels(batch * config.hiddenSize, seed: 23)
        for threads in [1, 2] {
            let options = ComputeOptions(threads: threads)
            func gradients(times: Int) -> ViTWeights {
                var g = ViTWeights.zeros(config: config)
                pixels.withUnsafeBufferPointer { px in
                    let pass = model.trainingForward(pixels: px, batch: batch, options: options)
                    for _ in 0..<times {
                        dEmb.withUnsafeBufferPointer { model.backward(pass.activations, embeddingGradient: $0, into: &g, options: options) }
                    }
                }
                return g
            }
            let once = gradients(times: 1), again = gradients(times: 1), twice = gradients(times: 2)
            for path in ViTWeights.parameterPaths(layers: config.layers) {
                XCTAssertEqual(once[keyPath: path], again[keyPath: path], "threads \(threads): not deterministic")
                XCTAssertEqual(once[keyPath: path].map { 2 * $0 }, twice[keyPath: path], "threads \(threads): does not accumulate")
            }
        }
    }

    /// Buffers reused from a workspace give the same bits as fresh ones, even after a pass on other inputs
    /// left different values in them, and the workspace stops growing after the first pass.
    func testWorkspaceReuseGivesIdenticalGradients() {
        let config = tinyConfig(.gelu)
        let model = VisionTransformer(config: config, weights: randomWeights(config, seed: 31))
        let batch = 4
        let a = randomPixels(batch * model.inputCount, seed: 32), b = randomPixels(batch * model.inputCount, seed: 33)
        let dEmb = randomPixels(batch * config.hiddenSize, seed: 34)
        let options = ComputeOptions(threads: 2)
        func run(_ pixels: [Float], _ workspace: ViTWorkspace?) -> (Tensor, ViTWeights) {
            var g = ViTWeights.zeros(config: config)
            let pass = pixels.withUnsafeBufferPointer { model.trainingForward(pixels: $0, batch: batch, options: options, workspace: workspace) }
            dEmb.withUnsafeBufferPointer { model.backward(pass.activations, embeddingGradient: $0, into: &g, options: options, workspace: workspace) }
            return (pass.embedding, g)
        }
        let (reference, fresh) = run(a, nil)
        let workspace = ViTWorkspace()
        _ = run(a, workspace)
        let held = workspace.byteCount
        _ = run(b, workspace)
        let (embedding, reused) = run(a, workspace)
        XCTAssertEqual(embedding, reference)
        for path in ViTWeights.parameterPaths(layers: config.layers) { XCTAssertEqual(reused[keyPath: path], fresh[keyPath: path]) }
        XCTAssertEqual(workspace.byteCount, held, "the workspace grew on reuse")
        workspace.clear()
        XCTAssertEqual(workspace.byteCount, 0)
    }

    func testActivationCacheSizeFormula() {
        // ViT-Tiny/16: B·(N·C·P² + L·(T·(6D + I + 4) + H·T²) + D + 2) floats
        let perImage = 196 * 768 + 12 * (197 * (6 * 192 + 768 + 4) + 3 * 197 * 197) + 192 + 2
        XCTAssertEqual(ViTActivations.floatCount(config: .tiny16, batch: 1), perImage)
        XCTAssertEqual(ViTActivations.floatCount(config: .tiny16, batch: 128), 128 * perImage)
        print("ViT-Tiny activation cache: \(Double(ViTActivations.byteCount(config: .tiny16, batch: 1)) / 1e6) MB per image")
    }
}

/// The activation derivatives against central differences of the activation formulas in Double.
final class ActivationBackwardTests: XCTestCase {
    private func reference(_ act: Activation, _ x: Double) -> Double {
        switch act {
        case .gelu: return 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
        case .geluTanh: return 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
        case .relu: return max(0, x)
        case .quickGelu: return x / (1 + exp(-1.702 * x))
        }
    }

    func testDerivativesMatchCentralDifferences() {
        KernelISA.forEachSupported { _ in checkDerivatives() }
    }

    private func checkDerivatives() {
        let xs = (0..<2003).map { Float(-8 + 16 * Double($0) / 2002) }
        for act in Activation.allCases {
            var g = [Float](repeating: 1, count: xs.count)
            xs.withUnsafeBufferPointer { x in g.withUnsafeMutableBufferPointer { act.backward(input: x.baseAddress!, gradient: $0.baseAddress!, count: $0.count) } }
            var worst = 0.0
            for (x, d) in zip(xs, g) {
                let h = 1e-6, xd = Double(x)
                if act == .relu && abs(xd) < 1e-3 { continue }
                let ref = (reference(act, xd + h) - reference(act, xd - h)) / (2 * h)
                worst = max(worst, abs(Double(d) - ref))
            }
            print("activation derivative \(act) (\(KernelISA.current.name)): worst abs error \(worst)")
            XCTAssertLessThan(worst, 2e-6, "\(act) (\(KernelISA.current.name))")
        }
    }

    func testReLUDerivativeAtZeroIsZero() {
        var g: [Float] = [1, 1, 1]
        let x: [Float] = [-1, 0, 1]
        x.withUnsafeBufferPointer { xb in g.withUnsafeMutableBufferPointer { Activation.relu.backward(input: xb.baseAddress!, gradient: $0.baseAddress!, count: 3) } }
        XCTAssertEqual(g, [0, 0, 1])
    }
}
