// The one table of a ViT's parameter tensors. Loading, saving, the backward's flat gradient buffer, the
// optimiser's tensor list (and so its weight-decay groups and its state file) and the initialisation all
// iterate it; none of them lists the tensors again.

import Tensor

/// Where `ViTWeights` keeps one parameter tensor: a property of the encoder, or a property of block `index`.
///
/// Two levels rather than one key path from `ViTWeights`: a key path through the `blocks` array reads the
/// block out and writes it back, which copies the tensor on every in-place change.
public enum ViTParameterStorage: Hashable, Sendable {
    case encoder(WritableKeyPath<ViTWeights, [Float]> & Sendable)
    case block(Int, WritableKeyPath<ViTBlockWeights, [Float]> & Sendable)

    /// The same place as one key path from `ViTWeights` (for reading and comparing; `ViTWeights.withValues(of:_:)`
    /// changes a tensor in place).
    public var keyPath: WritableKeyPath<ViTWeights, [Float]> {
        switch self {
        case let .encoder(path): return path
        case let .block(index, path):
            let block: WritableKeyPath<ViTWeights, ViTBlockWeights> = \.blocks[index]
            let field: WritableKeyPath<ViTBlockWeights, [Float]> = path
            return block.appending(path: field)
        }
    }
}

/// One parameter tensor of a ViT encoder: its names in both checkpoint conventions, its shape under a config,
/// and where `ViTWeights` keeps it.
public struct ViTParameter: Sendable, Hashable {
    /// timm's `VisionTransformer` name (`blocks.3.attn.qkv.weight`), also the name in `ParameterSet` and in
    /// the optimiser's state file.
    public let timmName: String
    /// transformers' `ViTModel` names: one, or three for timm's fused `attn.qkv` — `query`, `key` and `value`,
    /// whose rows stacked in that order are timm's tensor.
    public let huggingFaceNames: [String]
    /// The PyTorch shape as timm stores it (Linear weights are [out, in]).
    public let shape: [Int]
    /// Where the values live.
    public let storage: ViTParameterStorage

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// The names the tensor is stored under in `naming`; `prefix` goes before Hugging Face names (`vit.` in a
    /// `ViTForImageClassification` file).
    public func storedNames(_ naming: WeightNaming, prefix: String = "") -> [String] {
        naming == .timm ? [timmName] : huggingFaceNames.map { prefix + $0 }
    }

    /// The shape of each tensor stored in `naming`: timm's, or for Hugging Face's query/key/value parts, a
    /// third of its rows each.
    public func storedShape(_ naming: WeightNaming) -> [Int] {
        var part = shape
        if naming == .huggingFace { part[0] /= huggingFaceNames.count }
        return part
    }

    /// Block names start with this, then the block's index and a dot.
    static func blocksPrefix(_ naming: WeightNaming) -> String { naming == .timm ? "blocks." : "encoder.layer." }

    /// Every parameter tensor of a ViT with `config`, in timm's `named_parameters()` order — the order of
    /// checkpoints, of the optimiser's tensors and state file, and of the backward's flat gradient buffer:
    /// `cls_token`, `pos_embed`, `patch_embed.proj.{weight,bias}`, per block `norm1`, `attn.qkv` (its bias only
    /// when the config has q/k/v biases), `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2` (weight, then bias), and
    /// the final `norm`.
    public static func table(config c: ViTConfig) -> [ViTParameter] {
        let d = c.hiddenSize, i = c.intermediateSize
        func p(_ timm: String, _ hf: [String], _ shape: [Int], _ storage: ViTParameterStorage) -> ViTParameter {
            ViTParameter(timmName: timm, huggingFaceNames: hf, shape: shape, storage: storage)
        }
        var table = [
            p("cls_token", ["embeddings.cls_token"], [1, 1, d], .encoder(\.classToken)),
            p("pos_embed", ["embeddings.position_embeddings"], [1, c.tokens, d], .encoder(\.positionEmbedding)),
            p("patch_embed.proj.weight", ["embeddings.patch_embeddings.projection.weight"],
              [d, c.channels, c.patchSize, c.patchSize], .encoder(\.patchWeight)),
            p("patch_embed.proj.bias", ["embeddings.patch_embeddings.projection.bias"], [d], .encoder(\.patchBias)),
        ]
        for l in 0..<c.layers {
            let tm = blocksPrefix(.timm) + "\(l).", hf = blocksPrefix(.huggingFace) + "\(l)."
            func qkv(_ suffix: String) -> [String] { ["query", "key", "value"].map { hf + "attention.attention." + $0 + suffix } }
            table += [
                p(tm + "norm1.weight", [hf + "layernorm_before.weight"], [d], .block(l, \.norm1Weight)),
                p(tm + "norm1.bias", [hf + "layernorm_before.bias"], [d], .block(l, \.norm1Bias)),
                p(tm + "attn.qkv.weight", qkv(".weight"), [3 * d, d], .block(l, \.qkvWeight)),
            ]
            if c.qkvBias { table.append(p(tm + "attn.qkv.bias", qkv(".bias"), [3 * d], .block(l, \.qkvBias))) }
            table += [
                p(tm + "attn.proj.weight", [hf + "attention.output.dense.weight"], [d, d], .block(l, \.projWeight)),
                p(tm + "attn.proj.bias", [hf + "attention.output.dense.bias"], [d], .block(l, \.projBias)),
                p(tm + "norm2.weight", [hf + "layernorm_after.weight"], [d], .block(l, \.norm2Weight)),
                p(tm + "norm2.bias", [hf + "layernorm_after.bias"], [d], .block(l, \.norm2Bias)),
                p(tm + "mlp.fc1.weight", [hf + "intermediate.dense.weight"], [i, d], .block(l, \.fc1Weight)),
                p(tm + "mlp.fc1.bias", [hf + "intermediate.dense.bias"], [i], .block(l, \.fc1Bias)),
                p(tm + "mlp.fc2.weight", [hf + "output.dense.weight"], [d, i], .block(l, \.fc2Weight)),
                p(tm + "mlp.fc2.bias", [hf + "output.dense.bias"], [d], .block(l, \.fc2Bias)),
            ]
        }
        table += [
            p("norm.weight", ["layernorm.weight"], [d], .encoder(\.normWeight)),
            p("norm.bias", ["layernorm.bias"], [d], .encoder(\.normBias)),
        ]
        return table
    }
}

extension ViTWeights {
    /// The tensor kept at `storage`.
    public subscript(storage storage: ViTParameterStorage) -> [Float] {
        get {
            switch storage {
            case let .encoder(path): return self[keyPath: path]
            case let .block(index, path): return blocks[index][keyPath: path]
            }
        }
        set { withValues(of: storage) { $0 = newValue } }
    }

    /// Calls `body` with in-place access to the tensor kept at `storage` (no copy is made).
    public mutating func withValues<R>(of storage: ViTParameterStorage, _ body: (inout [Float]) throws -> R) rethrows -> R {
        switch storage {
        case let .encoder(path): return try body(&self[keyPath: path])
        case let .block(index, path): return try body(&blocks[index][keyPath: path])
        }
    }

    /// `config.layers` blocks with every tensor empty, except the q/k/v biases of a config without them: the
    /// table has no such tensor to fill, and the forward adds them as zeros.
    static func unfilled(config c: ViTConfig) -> ViTWeights {
        var block = ViTBlockWeights()
        if !c.qkvBias { block.qkvBias = [Float](repeating: 0, count: 3 * c.hiddenSize) }
        var w = ViTWeights()
        w.blocks = Array(repeating: block, count: c.layers)
        return w
    }

    /// All-zero parameters of `config`'s shapes: the starting value of a gradient accumulator.
    public static func zeros(config c: ViTConfig) -> ViTWeights {
        var w = unfilled(config: c)
        for p in ViTParameter.table(config: c) { w[storage: p.storage] = [Float](repeating: 0, count: p.count) }
        return w
    }

    /// Every tensor `ViTWeights` holds — the table's, plus the q/k/v biases that a config without them keeps as
    /// zeros — in the order the type declares them (the patch projection before the class token and the
    /// positions; the table's order otherwise), for code that treats whole weights uniformly without a config
    /// (filling, comparing).
    public static func parameterPaths(layers: Int) -> [WritableKeyPath<ViTWeights, [Float]>] {
        heldTensors(layers: layers).map(\.keyPath)
    }

    /// Where the tensors of `parameterPaths(layers:)` are kept, in the same order.
    static func heldTensors(layers: Int) -> [ViTParameterStorage] {
        // The places do not depend on the sizes; a config with q/k/v biases lists every tensor.
        let any = ViTConfig(hiddenSize: 1, layers: layers, heads: 1, intermediateSize: 1, patchSize: 1, imageSize: 1,
                            layerNormEps: 0, qkvBias: true)
        let patch: [ViTParameterStorage] = [.encoder(\.patchWeight), .encoder(\.patchBias)]
        return patch + ViTParameter.table(config: any).map(\.storage).filter { !patch.contains($0) }
    }

    /// Elementwise self += other (same config).
    public mutating func add(_ other: ViTWeights) {
        for storage in Self.heldTensors(layers: blocks.count) {
            other[storage: storage].withUnsafeBufferPointer { src in
                withValues(of: storage) { values in
                    values.withUnsafeMutableBufferPointer { dst in
                        precondition(dst.count == src.count, "parameter shapes differ")
                        addInPlace(dst.baseAddress!, src.baseAddress!, count: dst.count)
                    }
                }
            }
        }
    }

    /// self += the tensors of `flat`.
    mutating func add(flat: FlatParameters) {
        for (p, offset) in zip(flat.layout.parameters, flat.layout.starts) {
            withValues(of: p.storage) { values in
                precondition(values.count == p.count, "gradient accumulator does not have the model's shapes")
                values.withUnsafeMutableBufferPointer { addInPlace($0.baseAddress!, flat.base + offset, count: p.count) }
            }
        }
    }
}

/// The table's tensors end to end in one buffer, in table order (llm.c's flat parameter layout): the backward
/// writes every gradient into one zeroed allocation and adds it to a `ViTWeights` at the end.
struct FlatParameterLayout {
    let parameters: [ViTParameter]
    /// Where tensor `i` of `parameters` starts.
    let starts: [Int]
    /// Floats in the buffer.
    let total: Int
    private let offsets: [ViTParameterStorage: Int]

    init(config: ViTConfig) {
        parameters = ViTParameter.table(config: config)
        var starts: [Int] = [], total = 0
        for p in parameters { starts.append(total); total += p.count }
        self.starts = starts
        self.total = total
        offsets = Dictionary(uniqueKeysWithValues: zip(parameters.map(\.storage), starts))
    }

    /// Where the tensor kept at `storage` starts; nil when the config has no such tensor (q/k/v biases).
    func offset(_ storage: ViTParameterStorage) -> Int? { offsets[storage] }
}

/// A buffer laid out by a `FlatParameterLayout`.
struct FlatParameters {
    let base: UnsafeMutablePointer<Float>
    let layout: FlatParameterLayout

    /// The floats of the tensor kept at `storage`; nil when the config has no such tensor (q/k/v biases).
    func pointer(_ storage: ViTParameterStorage) -> UnsafeMutablePointer<Float>? { layout.offset(storage).map { base + $0 } }

    /// The floats of a tensor the config has.
    subscript(_ storage: ViTParameterStorage) -> UnsafeMutablePointer<Float> {
        guard let p = pointer(storage) else { preconditionFailure("no \(storage.keyPath) in this model's parameter table") }
        return p
    }
}
