// Seeded initialisation of a ViT trained from scratch, with timm's default scheme.

import Foundation
import ViT

/// timm's initialisation of `VisionTransformer(weight_init='')` (docs/upstream.md, Initialisation), from `RandomSource`.
///
/// | tensor | distribution |
/// |---|---|
/// | `pos_embed` | `trunc_normal_(std=0.02)`: N(0, 0.02²) truncated to **[−2, 2] absolute** (timm/torch bounds are values, not multiples of σ, so at σ = 0.02 the truncation is at ±100σ and never bites) |
/// | `cls_token` | N(0, (1e-6)²) |
/// | every Linear weight (`qkv`, `proj`, `fc1`, `fc2`) | `trunc_normal_(std=0.02)`, bounds [−2, 2] |
/// | every Linear bias | 0 |
/// | LayerNorm weight / bias | 1 / 0 |
/// | patch-embed Conv2d weight | PyTorch's default `kaiming_uniform_(a=√5)`: U(−b, b), `b = √3 · √(2/(1+a²)) / √fan_in = 1/√fan_in`, fan_in = C·P·P |
/// | patch-embed Conv2d bias | PyTorch's default U(−1/√fan_in, 1/√fan_in) |
///
/// The distributions match timm's; the values do not (our generator, not torch's). Each tensor is
/// drawn from its own child stream, `rng.derived(index)` with `index` its position in
/// `ParameterSet.vit(config)`, so the result depends only on the seed.
package enum ViTInitialization {
    /// Standard deviation of timm's truncated-normal inits.
    package static let truncatedNormalStd = 0.02
    /// timm's `trunc_normal_` default bounds (absolute values).
    package static let truncatedNormalBounds = (-2.0)...2.0
    /// Standard deviation of the class token.
    package static let classTokenStd = 1e-6

    /// The uniform bound of PyTorch's `kaiming_uniform_(w, a=√5)` for a layer with `fanIn` inputs,
    /// computed as torch does: `gain = √(2/(1+a²))`, `std = gain/√fan_in`, `bound = √3 · std`.
    package static func kaimingUniformBound(fanIn: Int) -> Double {
        let a = 5.0.squareRoot()
        let gain = (2.0 / (1 + a * a)).squareRoot()
        let std = gain / Double(fanIn).squareRoot()
        return 3.0.squareRoot() * std
    }

    /// PyTorch's default Conv2d/Linear bias bound, `1/√fan_in`.
    package static func defaultBiasBound(fanIn: Int) -> Double {
        fanIn > 0 ? 1 / Double(fanIn).squareRoot() : 0
    }

    /// New weights for `config`, initialised as timm does for training from scratch.
    package static func timm(config: ViTConfig, rng: RandomSource) -> ViTWeights {
        let set = ParameterSet.vit(config)
        let fanIn = config.channels * config.patchSize * config.patchSize
        var tensors: [[Float]] = []
        for (index, spec) in set.parameters.enumerated() {
            var r = rng.derived(index)
            var values = [Float](repeating: 0, count: spec.count)
            let name = spec.name
            values.withUnsafeMutableBufferPointer { b in
                if name == "pos_embed" || isLinearWeight(name) {
                    r.fillTruncatedNormal(b, mean: 0, std: truncatedNormalStd,
                                          lower: truncatedNormalBounds.lowerBound, upper: truncatedNormalBounds.upperBound)
                } else if name == "cls_token" {
                    r.fillNormal(b, mean: 0, std: classTokenStd)
                } else if name == "patch_embed.proj.weight" {
                    let bound = kaimingUniformBound(fanIn: fanIn)
                    r.fillUniform(b, -bound, bound)
                } else if name == "patch_embed.proj.bias" {
                    let bound = defaultBiasBound(fanIn: fanIn)
                    r.fillUniform(b, -bound, bound)
                } else if isLayerNormWeight(name) {
                    b.update(repeating: 1)
                }
                // Linear biases and LayerNorm biases stay 0.
            }
            tensors.append(values)
        }
        return weights(from: tensors, parameters: set, config: config)
    }

    /// Whether `name` is a Linear layer's weight in timm's ViT.
    package static func isLinearWeight(_ name: String) -> Bool {
        name.hasSuffix("attn.qkv.weight") || name.hasSuffix("attn.proj.weight")
            || name.hasSuffix("mlp.fc1.weight") || name.hasSuffix("mlp.fc2.weight")
    }

    /// Whether `name` is a LayerNorm's weight in timm's ViT.
    package static func isLayerNormWeight(_ name: String) -> Bool {
        name == "norm.weight" || name.hasSuffix(".norm1.weight") || name.hasSuffix(".norm2.weight")
    }

    /// Assembles `ViTWeights` from tensors in `parameters` order (a `vit(config)` set); a missing
    /// qkv bias (config without one) becomes zeros.
    package static func weights(from tensors: [[Float]], parameters set: ParameterSet, config: ViTConfig) -> ViTWeights {
        precondition(tensors.count == set.count, "weights(from:): expected \(set.count) tensors")
        var w = ViTWeights.zeros(config: config)
        for i in 0..<set.count {
            precondition(tensors[i].count == set.parameters[i].count,
                         "weights(from:): \(set.parameters[i].name) needs \(set.parameters[i].count) values")
            set.withTensor(i, of: &w) { $0 = tensors[i] }
        }
        return w
    }
}
