// AdamW as `torch.optim.AdamW` computes it on CPU (the single-tensor path; the foreach path is the
// same arithmetic), gradient clipping by global norm as `torch.nn.utils.clip_grad_norm_`, gradient
// accumulation as timm's training loop does it, and bit-exact optimiser state files.

import Checkpoints
import Foundation
import Tensor
import ViT

/// AdamW hyper-parameters other than the learning rate (which comes from the schedule each step).
package struct AdamWConfiguration: Sendable, Equatable {
    /// β₁, the first-moment decay (0.9).
    package var beta1: Double
    /// β₂, the second-moment decay (0.999).
    package var beta2: Double
    /// ε added to the bias-corrected root second moment (1e-8).
    package var eps: Double
    /// Decoupled weight decay of the decay group (2e-5 in CoDE); the no-decay group uses 0.
    package var weightDecay: Double

    package init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 2e-5) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }

    /// CoDE's settings (timm `create_optimizer_v2(opt="adamw", weight_decay=2e-5)`, torch defaults otherwise).
    package static let code = AdamWConfiguration()
}

/// `torch.optim.AdamW` (amsgrad off, not maximising) over a `ParameterSet`, with timm's two groups:
/// weight decay `configuration.weightDecay` for tensors with `appliesWeightDecay`, 0 for the others.
///
/// Per tensor and step, in float32 with the scalars computed in double as torch does:
/// ```
/// step += 1
/// if wd != 0:  p ← p · (1 − lr·wd)                       (decoupled decay, before the Adam update)
/// m ← m + (1 − β₁)·(g − m)                               (torch's lerp, fused multiply-add)
/// v ← v·β₂ + ((1 − β₂)·g)·g                              (torch's addcmul, fused multiply-add)
/// p ← p + (−lr / (1 − β₁^step)) · m / (√v / √(1 − β₂^step) + ε)
/// ```
/// The multiply-adds are fused where torch's AVX kernels fuse them, which makes most results
/// bit-identical to torch on CPU; torch's vectorised `sqrt` is not always correctly rounded, so some
/// values differ in the last bit.
/// Each tensor keeps its own step count (torch's `state['step']`); tensors without a gradient in a
/// step are skipped, as torch skips parameters whose `.grad` is `None`. Moments start at zero.
package struct AdamW: Sendable {
    /// The tensors stepped, in order; moments and step counts are indexed the same way.
    package let parameters: ParameterSet
    /// β₁, β₂, ε and the weight decay.
    package var configuration: AdamWConfiguration
    /// `exp_avg` per tensor.
    package internal(set) var firstMoments: [[Float]]
    /// `exp_avg_sq` per tensor.
    package internal(set) var secondMoments: [[Float]]
    /// `step` per tensor: the number of updates it has received.
    package internal(set) var steps: [Int]

    /// A fresh optimiser: zero moments, zero steps.
    package init(parameters: ParameterSet, configuration: AdamWConfiguration = .code) {
        self.parameters = parameters
        self.configuration = configuration
        firstMoments = parameters.parameters.map { [Float](repeating: 0, count: $0.count) }
        secondMoments = firstMoments
        steps = [Int](repeating: 0, count: parameters.count)
    }

    /// The weight decay of tensor `index`'s group.
    package func weightDecay(of index: Int) -> Double {
        parameters.parameters[index].appliesWeightDecay ? configuration.weightDecay : 0
    }

    /// One AdamW update of tensor `index` in place, from its gradient, at learning rate `learningRate`.
    ///
    /// - Precondition: both buffers hold exactly the tensor's element count.
    package mutating func update(_ index: Int, parameter: UnsafeMutableBufferPointer<Float>,
                                gradient: UnsafeBufferPointer<Float>, learningRate lr: Double) {
        let n = parameters.parameters[index].count
        precondition(parameter.count == n && gradient.count == n,
                     "AdamW: tensor \(parameters.parameters[index].name) has \(n) elements, got \(parameter.count) values and \(gradient.count) gradients")
        steps[index] += 1
        let step = Double(steps[index])
        let c = configuration
        let wd = weightDecay(of: index)
        let decay = Float(1 - lr * wd)
        let lerpWeight = Float(1 - c.beta1)
        let beta2 = Float(c.beta2)
        let oneMinusBeta2 = Float(1 - c.beta2)
        let biasCorrection1 = 1 - pow(c.beta1, step)
        let biasCorrection2 = 1 - pow(c.beta2, step)
        let stepSize = lr / biasCorrection1
        let negStep = Float(-stepSize)
        let bc2Sqrt = Float(pow(biasCorrection2, 0.5))
        let eps = Float(c.eps)
        firstMoments[index].withUnsafeMutableBufferPointer { m in
            secondMoments[index].withUnsafeMutableBufferPointer { v in
                for i in 0..<n {
                    var p = parameter[i]
                    if wd != 0 { p = p * decay }
                    let g = gradient[i]
                    // torch's lerp with a small weight: m + w·(g − m) (its vector kernel fuses the multiply-add).
                    let mi = m[i].addingProduct(lerpWeight, g - m[i])
                    // torch's addcmul: v·β₂ + ((1 − β₂)·g)·g, the last multiply-add fused as its vector kernel does.
                    let vi = (v[i] * beta2).addingProduct(oneMinusBeta2 * g, g)
                    m[i] = mi
                    v[i] = vi
                    let denom = vi.squareRoot() / bc2Sqrt + eps
                    parameter[i] = p + (negStep * mi) / denom
                }
            }
        }
    }

    /// One step over tensors given as arrays in set order. `gradients[i] == nil` skips tensor `i`.
    package mutating func step(_ tensors: inout [[Float]], gradients: [[Float]?], learningRate: Double) {
        precondition(tensors.count == parameters.count && gradients.count == parameters.count,
                     "AdamW.step: expected \(parameters.count) tensors and gradients")
        for i in 0..<parameters.count {
            guard let g = gradients[i] else { continue }
            g.withUnsafeBufferPointer { gb in
                tensors[i].withUnsafeMutableBufferPointer { pb in update(i, parameter: pb, gradient: gb, learningRate: learningRate) }
            }
        }
    }

    /// One step of every tensor of `weights`, with gradients in the same layout (`ViTWeights`-shaped).
    /// - Precondition: the optimiser's set was made by `ParameterSet.vit(_:)` for these weights' config.
    package mutating func step(_ weights: inout ViTWeights, gradients: ViTWeights, learningRate: Double) {
        let set = parameters
        for i in 0..<set.count {
            let g = set.tensor(i, of: gradients)
            g.withUnsafeBufferPointer { gb in
                set.withTensor(i, of: &weights) { p in
                    p.withUnsafeMutableBufferPointer { pb in update(i, parameter: pb, gradient: gb, learningRate: learningRate) }
                }
            }
        }
    }

    /// One step of every tensor of `weights`, with gradients as arrays in set order.
    package mutating func step(_ weights: inout ViTWeights, gradients: [[Float]], learningRate: Double) {
        let set = parameters
        precondition(gradients.count == set.count, "AdamW.step: expected \(set.count) gradients")
        for i in 0..<set.count {
            gradients[i].withUnsafeBufferPointer { gb in
                set.withTensor(i, of: &weights) { p in
                    p.withUnsafeMutableBufferPointer { pb in update(i, parameter: pb, gradient: gb, learningRate: learningRate) }
                }
            }
        }
    }

    // MARK: State files

    /// The format tag written into state files.
    package static let stateFormat = "deepfake-adamw-v1"

    /// Writes the optimiser state as safetensors: `exp_avg.<name>` and `exp_avg_sq.<name>` (F32, the
    /// tensor's shape) and `step.<name>` (F64 scalar) for every tensor, plus metadata (format,
    /// hyper-parameters) and `extra`. Reloading with `loadState(from:)` restores the state bit for bit.
    package func saveState(to path: String, metadata extra: [String: String] = [:]) throws(CheckpointError) {
        var floats: [(name: String, tensor: Tensor)] = []
        var doubles: [(name: String, shape: [Int], data: [Double])] = []
        for (i, spec) in parameters.parameters.enumerated() {
            floats.append(("exp_avg." + spec.name, Tensor(shape: spec.shape, data: firstMoments[i])))
            floats.append(("exp_avg_sq." + spec.name, Tensor(shape: spec.shape, data: secondMoments[i])))
            doubles.append(("step." + spec.name, [], [Double(steps[i])]))
        }
        var metadata = extra
        metadata["format"] = Self.stateFormat
        metadata["beta1"] = "\(configuration.beta1)"
        metadata["beta2"] = "\(configuration.beta2)"
        metadata["eps"] = "\(configuration.eps)"
        metadata["weight_decay"] = "\(configuration.weightDecay)"
        try SafeTensorsWriter.write(doubles: doubles, floats: floats, floatDType: .f32, to: path, metadata: metadata)
    }

    /// Restores moments and step counts written by `saveState(to:)`. Every tensor of the set must be
    /// present with its shape; the hyper-parameters stay those of this optimiser. Returns the file's metadata.
    @discardableResult
    package mutating func loadState(from path: String) throws(CheckpointError) -> [String: String] {
        let file = try SafeTensorsFile(path: path)
        guard file.metadata["format"] == Self.stateFormat else {
            throw .malformed(path: path, reason: "not an AdamW state file (format \(file.metadata["format"] ?? "missing"))")
        }
        var m = firstMoments, v = secondMoments, s = steps
        var known = Set<String>()
        for (i, spec) in parameters.parameters.enumerated() {
            for (prefix, isFirst) in [("exp_avg.", true), ("exp_avg_sq.", false)] {
                let name = prefix + spec.name
                known.insert(name)
                guard let entry = file.entries[name] else { throw .missingTensor(path: path, tensor: name) }
                guard entry.shape == spec.shape, entry.dtype == "F32" else {
                    throw .shapeMismatch(path: path, tensor: name, expected: spec.shape, found: entry.shape)
                }
                let data = try file.tensor(name).data
                if isFirst { m[i] = data } else { v[i] = data }
            }
            let stepName = "step." + spec.name
            known.insert(stepName)
            let values = try file.tensorDoubles(stepName)
            guard values.count == 1, let count = Int(exactly: values[0]), count >= 0 else {
                throw .malformed(path: path, reason: "\(stepName) is not a non-negative integer scalar")
            }
            s[i] = count
        }
        if let extra = file.entries.keys.sorted().first(where: { !known.contains($0) }) {
            throw .unexpectedTensor(path: path, tensor: extra)
        }
        firstMoments = m; secondMoments = v; steps = s
        return file.metadata
    }
}

/// Gradient clipping by global norm, as `torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=2)`.
package enum GradientClipping {
    /// The global L2 norm: each tensor's norm (accumulated in double, rounded to float as torch's
    /// per-tensor float32 norms), then the L2 norm of those norms, as a Float.
    package static func globalNorm(_ gradients: [[Float]]) -> Float {
        var total = 0.0
        for g in gradients {
            var s = 0.0
            g.withUnsafeBufferPointer { b in for x in b { s += Double(x) * Double(x) } }
            let norm = Double(Float(s.squareRoot()))
            total += norm * norm
        }
        return Float(total.squareRoot())
    }

    /// torch's clip coefficient for a total norm: `min(max_norm · (1 / (total + 1e-6)), 1)` in float32
    /// (`max_norm / tensor` is evaluated by torch as `tensor.reciprocal() * max_norm`).
    package static func coefficient(totalNorm: Float, maxNorm: Double) -> Float {
        let shifted = totalNorm + Float(1e-6)
        return min((1 / shifted) * Float(maxNorm), 1)
    }

    /// Scales `gradients` in place so that their global norm is at most `maxNorm` (all tensors are
    /// multiplied by the coefficient, which is 1 when the norm is already small enough, as torch
    /// does). Returns the total norm before clipping, as torch does.
    @discardableResult
    package static func clip(_ gradients: inout [[Float]], maxNorm: Double) -> Float {
        let total = globalNorm(gradients)
        let coef = coefficient(totalNorm: total, maxNorm: maxNorm)
        for i in gradients.indices {
            gradients[i].withUnsafeMutableBufferPointer { b in for j in b.indices { b[j] *= coef } }
        }
        return total
    }

    /// `clip(_:maxNorm:)` for `ViTWeights`-shaped gradients, over the tensors of `parameters`.
    @discardableResult
    package static func clip(_ gradients: inout ViTWeights, parameters: ParameterSet, maxNorm: Double) -> Float {
        let total = globalNorm(parameters.tensors(of: gradients))
        let coef = coefficient(totalNorm: total, maxNorm: maxNorm)
        for i in 0..<parameters.count {
            parameters.withTensor(i, of: &gradients) { g in
                g.withUnsafeMutableBufferPointer { b in for j in b.indices { b[j] *= coef } }
            }
        }
        return total
    }
}

/// Gradient accumulation over `microBatches` micro-batches, as timm's training loop does it (the
/// loss divided by the number of accumulation steps before each backward, gradients summed in
/// `.grad`): the accumulated gradient is `Σᵢ gᵢ · (1/k)`, each term scaled in float32 and added in
/// order. Step the optimiser when `isComplete`, then `reset()`.
package struct GradientAccumulator: Sendable {
    /// k, the number of micro-batches per optimiser step.
    package let microBatches: Int
    /// The accumulated (already averaged) gradients, in parameter-set order.
    package private(set) var gradients: [[Float]]
    /// Micro-batches added since the last reset.
    package private(set) var added: Int

    /// Zero gradients shaped like `parameters`.
    package init(parameters: ParameterSet, microBatches: Int) {
        precondition(microBatches >= 1, "GradientAccumulator: microBatches must be at least 1")
        self.microBatches = microBatches
        gradients = parameters.parameters.map { [Float](repeating: 0, count: $0.count) }
        added = 0
    }

    /// Whether `microBatches` micro-batches have been added.
    package var isComplete: Bool { added >= microBatches }

    /// The per-micro-batch scale, `Float(1/k)`.
    package var scale: Float { Float(1.0 / Double(microBatches)) }

    /// Adds one micro-batch's gradients (arrays in set order): `sum += g · (1/k)`.
    package mutating func add(_ micro: [[Float]]) {
        precondition(micro.count == gradients.count, "GradientAccumulator: expected \(gradients.count) gradients")
        for i in gradients.indices { add(i, micro[i]) }
        added += 1
    }

    /// Adds one micro-batch's `ViTWeights`-shaped gradients; `parameters` must be the set this was made with.
    package mutating func add(_ micro: ViTWeights, parameters: ParameterSet) {
        precondition(parameters.count == gradients.count, "GradientAccumulator: parameter set mismatch")
        for i in gradients.indices { add(i, parameters.tensor(i, of: micro)) }
        added += 1
    }

    private mutating func add(_ i: Int, _ g: [Float]) {
        precondition(g.count == gradients[i].count, "GradientAccumulator: tensor \(i) has \(gradients[i].count) elements, got \(g.count)")
        let s = scale
        let first = added == 0
        g.withUnsafeBufferPointer { src in
            gradients[i].withUnsafeMutableBufferPointer { dst in
                if first {
                    for j in dst.indices { dst[j] = src[j] * s }
                } else {
                    for j in dst.indices { dst[j] += src[j] * s }
                }
            }
        }
    }

    /// Zeroes the sums (`optimizer.zero_grad()`).
    package mutating func reset() {
        for i in gradients.indices {
            gradients[i].withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
        added = 0
    }
}
