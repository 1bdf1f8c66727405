// A flat, named view of the trainable tensors, with timm's weight-decay grouping.

import ViT

/// One trainable tensor: its timm name, shape, and whether weight decay applies to it.
public struct ParameterSpec: Sendable, Hashable {
    /// The timm name, e.g. `blocks.3.attn.qkv.weight`.
    public var name: String
    /// The PyTorch shape.
    public var shape: [Int]
    /// Whether the optimiser's weight decay applies (timm's decay group) or not (the no-decay group).
    public var appliesWeightDecay: Bool

    public init(name: String, shape: [Int], appliesWeightDecay: Bool) {
        self.name = name; self.shape = shape; self.appliesWeightDecay = appliesWeightDecay
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
}

/// The ordered list of trainable tensors an optimiser steps.
///
/// Weight-decay groups follow timm's `param_groups_weight_decay` as `create_optimizer_v2` calls it
/// for a `VisionTransformer`: a tensor gets **no** decay when it has at most one dimension
/// (biases, LayerNorm weights), its name ends in `.bias`, or it is in the model's
/// `no_weight_decay()` set (`pos_embed`, `cls_token`); every other tensor is decayed.
public struct ParameterSet: Sendable {
    /// The tensors, in order (for a ViT: timm's `named_parameters()` order).
    public let parameters: [ParameterSpec]
    /// Where each tensor lives in `ViTWeights` (set for `vit(_:)` sets only).
    let slots: [ViTParameterSlot]?

    /// A set of named tensors, grouped by timm's rule with `noWeightDecay` as the model's exclusion list.
    public init(_ tensors: [(name: String, shape: [Int])], noWeightDecay: Set<String> = []) {
        parameters = tensors.map {
            ParameterSpec(name: $0.name, shape: $0.shape,
                          appliesWeightDecay: Self.appliesWeightDecay(name: $0.name, shape: $0.shape, noWeightDecay: noWeightDecay))
        }
        slots = nil
        precondition(Set(parameters.map(\.name)).count == parameters.count, "ParameterSet: duplicate names")
    }

    /// timm's grouping rule: decay unless `shape.count <= 1`, the name ends in `.bias`, or the name is in `noWeightDecay`.
    public static func appliesWeightDecay(name: String, shape: [Int], noWeightDecay: Set<String>) -> Bool {
        !(shape.count <= 1 || name.hasSuffix(".bias") || noWeightDecay.contains(name))
    }

    /// timm `VisionTransformer.no_weight_decay()` (its `dist_token` does not exist in ViT-Tiny).
    public static let vitNoWeightDecay: Set<String> = ["pos_embed", "cls_token", "dist_token"]

    /// The trainable tensors of a ViT with `config`, in timm's order and naming (the order and shapes
    /// of `ViTWeights.namedTensors(config:naming: .timm)`): `cls_token`, `pos_embed`,
    /// `patch_embed.proj.{weight,bias}`, then per block `norm1`, `attn.qkv` (bias only when the config
    /// has one), `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`, and the final `norm`.
    public static func vit(_ config: ViTConfig) -> ParameterSet {
        let d = config.hiddenSize, m = config.intermediateSize
        var list: [(String, [Int], ViTParameterSlot)] = [
            ("cls_token", [1, 1, d], .classToken),
            ("pos_embed", [1, config.tokens, d], .positionEmbedding),
            ("patch_embed.proj.weight", [d, config.channels, config.patchSize, config.patchSize], .patchWeight),
            ("patch_embed.proj.bias", [d], .patchBias),
        ]
        for l in 0..<config.layers {
            let p = "blocks.\(l)."
            list += [
                (p + "norm1.weight", [d], .block(l, .norm1Weight)),
                (p + "norm1.bias", [d], .block(l, .norm1Bias)),
                (p + "attn.qkv.weight", [3 * d, d], .block(l, .qkvWeight)),
            ]
            if config.qkvBias { list.append((p + "attn.qkv.bias", [3 * d], .block(l, .qkvBias))) }
            list += [
                (p + "attn.proj.weight", [d, d], .block(l, .projWeight)),
                (p + "attn.proj.bias", [d], .block(l, .projBias)),
                (p + "norm2.weight", [d], .block(l, .norm2Weight)),
                (p + "norm2.bias", [d], .block(l, .norm2Bias)),
                (p + "mlp.fc1.weight", [m, d], .block(l, .fc1Weight)),
                (p + "mlp.fc1.bias", [m], .block(l, .fc1Bias)),
                (p + "mlp.fc2.weight", [d, m], .block(l, .fc2Weight)),
                (p + "mlp.fc2.bias", [d], .block(l, .fc2Bias)),
            ]
        }
        list += [("norm.weight", [d], .normWeight), ("norm.bias", [d], .normBias)]
        return ParameterSet(specs: list.map {
            ParameterSpec(name: $0.0, shape: $0.1,
                          appliesWeightDecay: appliesWeightDecay(name: $0.0, shape: $0.1, noWeightDecay: vitNoWeightDecay))
        }, slots: list.map(\.2))
    }

    init(specs: [ParameterSpec], slots: [ViTParameterSlot]?) {
        self.parameters = specs
        self.slots = slots
    }

    /// Number of tensors.
    public var count: Int { parameters.count }
    /// Total number of scalars (5,524,416 for ViT-Tiny/16).
    public var elementCount: Int { parameters.reduce(0) { $0 + $1.count } }
    /// The index of the tensor called `name`.
    public func index(of name: String) -> Int? { parameters.firstIndex { $0.name == name } }

    /// Whether this set was made by `vit(_:)` and can address `ViTWeights`.
    public var addressesViTWeights: Bool { slots != nil }

    /// Tensor `index` of `weights` (a copy-on-write reference to its storage; no copy is made).
    /// - Precondition: the set was made by `vit(_:)` with the weights' config.
    public func tensor(_ index: Int, of weights: ViTWeights) -> [Float] {
        guard let slots else { preconditionFailure("ParameterSet: not a ViT parameter set") }
        return slots[index].read(weights)
    }

    /// Calls `body` with in-place access to tensor `index` of `weights`.
    /// - Precondition: the set was made by `vit(_:)` with the weights' config; `body` keeps the count.
    public func withTensor<R>(_ index: Int, of weights: inout ViTWeights, _ body: (inout [Float]) throws -> R) rethrows -> R {
        guard let slots else { preconditionFailure("ParameterSet: not a ViT parameter set") }
        return try slots[index].modify(&weights, body)
    }

    /// All tensors of `weights` in set order (copy-on-write references, no copies).
    public func tensors(of weights: ViTWeights) -> [[Float]] {
        (0..<count).map { tensor($0, of: weights) }
    }
}

/// Where one trainable tensor lives in `ViTWeights`.
enum ViTParameterSlot: Sendable, Hashable {
    enum BlockField: Sendable, Hashable {
        case norm1Weight, norm1Bias, qkvWeight, qkvBias, projWeight, projBias
        case norm2Weight, norm2Bias, fc1Weight, fc1Bias, fc2Weight, fc2Bias
    }
    case classToken, positionEmbedding, patchWeight, patchBias, normWeight, normBias
    case block(Int, BlockField)

    func read(_ w: ViTWeights) -> [Float] {
        switch self {
        case .classToken: return w.classToken
        case .positionEmbedding: return w.positionEmbedding
        case .patchWeight: return w.patchWeight
        case .patchBias: return w.patchBias
        case .normWeight: return w.normWeight
        case .normBias: return w.normBias
        case let .block(l, f):
            let b = w.blocks[l]
            switch f {
            case .norm1Weight: return b.norm1Weight
            case .norm1Bias: return b.norm1Bias
            case .qkvWeight: return b.qkvWeight
            case .qkvBias: return b.qkvBias
            case .projWeight: return b.projWeight
            case .projBias: return b.projBias
            case .norm2Weight: return b.norm2Weight
            case .norm2Bias: return b.norm2Bias
            case .fc1Weight: return b.fc1Weight
            case .fc1Bias: return b.fc1Bias
            case .fc2Weight: return b.fc2Weight
            case .fc2Bias: return b.fc2Bias
            }
        }
    }

    func modify<R>(_ w: inout ViTWeights, _ body: (inout [Float]) throws -> R) rethrows -> R {
        switch self {
        case .classToken: return try body(&w.classToken)
        case .positionEmbedding: return try body(&w.positionEmbedding)
        case .patchWeight: return try body(&w.patchWeight)
        case .patchBias: return try body(&w.patchBias)
        case .normWeight: return try body(&w.normWeight)
        case .normBias: return try body(&w.normBias)
        case let .block(l, f):
            switch f {
            case .norm1Weight: return try body(&w.blocks[l].norm1Weight)
            case .norm1Bias: return try body(&w.blocks[l].norm1Bias)
            case .qkvWeight: return try body(&w.blocks[l].qkvWeight)
            case .qkvBias: return try body(&w.blocks[l].qkvBias)
            case .projWeight: return try body(&w.blocks[l].projWeight)
            case .projBias: return try body(&w.blocks[l].projBias)
            case .norm2Weight: return try body(&w.blocks[l].norm2Weight)
            case .norm2Bias: return try body(&w.blocks[l].norm2Bias)
            case .fc1Weight: return try body(&w.blocks[l].fc1Weight)
            case .fc1Bias: return try body(&w.blocks[l].fc1Bias)
            case .fc2Weight: return try body(&w.blocks[l].fc2Weight)
            case .fc2Bias: return try body(&w.blocks[l].fc2Bias)
            }
        }
    }
}
