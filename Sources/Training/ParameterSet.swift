// A flat, named view of the trainable tensors, with timm's weight-decay grouping.

import ViT

/// One trainable tensor: its timm name, shape, and whether weight decay applies to it.
package struct ParameterSpec: Sendable, Hashable {
    /// The timm name, e.g. `blocks.3.attn.qkv.weight`.
    package var name: String
    /// The PyTorch shape.
    package var shape: [Int]
    /// Whether the optimiser's weight decay applies (timm's decay group) or not (the no-decay group).
    package var appliesWeightDecay: Bool

    package init(name: String, shape: [Int], appliesWeightDecay: Bool) {
        self.name = name; self.shape = shape; self.appliesWeightDecay = appliesWeightDecay
    }

    /// Number of elements.
    package var count: Int { shape.reduce(1, *) }
}

/// The ordered list of trainable tensors an optimiser steps.
///
/// Weight-decay groups follow timm's `param_groups_weight_decay` as `create_optimizer_v2` calls it
/// for a `VisionTransformer`: a tensor gets **no** decay when it has at most one dimension
/// (biases, LayerNorm weights), its name ends in `.bias`, or it is in the model's
/// `no_weight_decay()` set (`pos_embed`, `cls_token`); every other tensor is decayed.
package struct ParameterSet: Sendable {
    /// The tensors, in order (for a ViT: timm's `named_parameters()` order).
    package let parameters: [ParameterSpec]
    /// Where each tensor lives in `ViTWeights` (set for `vit(_:)` sets only).
    let storage: [ViTParameterStorage]?

    /// A set of named tensors, grouped by timm's rule with `noWeightDecay` as the model's exclusion list.
    package init(_ tensors: [(name: String, shape: [Int])], noWeightDecay: Set<String> = []) {
        parameters = tensors.map {
            ParameterSpec(name: $0.name, shape: $0.shape,
                          appliesWeightDecay: Self.appliesWeightDecay(name: $0.name, shape: $0.shape, noWeightDecay: noWeightDecay))
        }
        storage = nil
        precondition(Set(parameters.map(\.name)).count == parameters.count, "ParameterSet: duplicate names")
    }

    /// timm's grouping rule: decay unless `shape.count <= 1`, the name ends in `.bias`, or the name is in `noWeightDecay`.
    package static func appliesWeightDecay(name: String, shape: [Int], noWeightDecay: Set<String>) -> Bool {
        !(shape.count <= 1 || name.hasSuffix(".bias") || noWeightDecay.contains(name))
    }

    /// timm `VisionTransformer.no_weight_decay()` (its `dist_token` does not exist in ViT-Tiny).
    package static let vitNoWeightDecay: Set<String> = ["pos_embed", "cls_token", "dist_token"]

    /// The trainable tensors of a ViT with `config`: its parameter table (`ViTParameter.table(config:)`),
    /// in timm's order and naming, as `ViTWeights.namedTensors(config:naming: .timm)` lists them.
    package static func vit(_ config: ViTConfig) -> ParameterSet {
        let table = ViTParameter.table(config: config)
        let named = ParameterSet(table.map { ($0.timmName, $0.shape) }, noWeightDecay: vitNoWeightDecay)
        return ParameterSet(specs: named.parameters, storage: table.map(\.storage))
    }

    init(specs: [ParameterSpec], storage: [ViTParameterStorage]?) {
        self.parameters = specs
        self.storage = storage
    }

    /// Number of tensors.
    package var count: Int { parameters.count }
    /// Total number of scalars (5,524,416 for ViT-Tiny/16).
    package var elementCount: Int { parameters.reduce(0) { $0 + $1.count } }
    /// The index of the tensor called `name`.
    package func index(of name: String) -> Int? { parameters.firstIndex { $0.name == name } }

    /// Tensor `index` of `weights` (a copy-on-write reference to its storage; no copy is made).
    /// - Precondition: the set was made by `vit(_:)` with the weights' config.
    package func tensor(_ index: Int, of weights: ViTWeights) -> [Float] {
        guard let storage else { preconditionFailure("ParameterSet: not a ViT parameter set") }
        return weights[storage: storage[index]]
    }

    /// Calls `body` with in-place access to tensor `index` of `weights`.
    /// - Precondition: the set was made by `vit(_:)` with the weights' config; `body` keeps the count.
    package func withTensor<R>(_ index: Int, of weights: inout ViTWeights, _ body: (inout [Float]) throws -> R) rethrows -> R {
        guard let storage else { preconditionFailure("ParameterSet: not a ViT parameter set") }
        return try weights.withValues(of: storage[index], body)
    }

    /// All tensors of `weights` in set order (copy-on-write references, no copies).
    package func tensors(of weights: ViTWeights) -> [[Float]] {
        (0..<count).map { tensor($0, of: weights) }
    }
}
