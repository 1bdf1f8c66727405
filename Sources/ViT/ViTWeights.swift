import Checkpoints
import Tensor

/// The parameters of one transformer block, in PyTorch layouts (Linear weights are [out, in]).
public struct ViTBlockWeights: Sendable {
    public var norm1Weight: [Float], norm1Bias: [Float]
    /// Query, key and value projections stacked: [3·D, D] (rows q, then k, then v).
    public var qkvWeight: [Float]
    /// [3·D]; zeros when the config has no qkv bias.
    public var qkvBias: [Float]
    public var projWeight: [Float], projBias: [Float]
    public var norm2Weight: [Float], norm2Bias: [Float]
    public var fc1Weight: [Float], fc1Bias: [Float]
    public var fc2Weight: [Float], fc2Bias: [Float]

    public init(norm1Weight: [Float], norm1Bias: [Float], qkvWeight: [Float], qkvBias: [Float],
                projWeight: [Float], projBias: [Float], norm2Weight: [Float], norm2Bias: [Float],
                fc1Weight: [Float], fc1Bias: [Float], fc2Weight: [Float], fc2Bias: [Float]) {
        self.norm1Weight = norm1Weight; self.norm1Bias = norm1Bias; self.qkvWeight = qkvWeight; self.qkvBias = qkvBias
        self.projWeight = projWeight; self.projBias = projBias; self.norm2Weight = norm2Weight; self.norm2Bias = norm2Bias
        self.fc1Weight = fc1Weight; self.fc1Bias = fc1Bias; self.fc2Weight = fc2Weight; self.fc2Bias = fc2Bias
    }
}

/// All parameters of a ViT encoder.
public struct ViTWeights: Sendable {
    /// Patch-embedding convolution flattened to [D, C·P·P] (columns c, ky, kx).
    public var patchWeight: [Float], patchBias: [Float]
    public var classToken: [Float]
    /// [T, D], class-token position first.
    public var positionEmbedding: [Float]
    public var blocks: [ViTBlockWeights]
    public var normWeight: [Float], normBias: [Float]

    public init(patchWeight: [Float], patchBias: [Float], classToken: [Float], positionEmbedding: [Float],
                blocks: [ViTBlockWeights], normWeight: [Float], normBias: [Float]) {
        self.patchWeight = patchWeight; self.patchBias = patchBias; self.classToken = classToken
        self.positionEmbedding = positionEmbedding; self.blocks = blocks; self.normWeight = normWeight; self.normBias = normBias
    }
}

/// The checkpoint naming conventions we read and write.
public enum WeightNaming: String, Sendable {
    /// transformers `ViTModel` (`embeddings.cls_token`, `encoder.layer.N.attention.attention.query.weight`, ...).
    case huggingFace
    /// timm `VisionTransformer` (`cls_token`, `blocks.N.attn.qkv.weight`, ...).
    case timm
}

/// One logical parameter and where each naming convention keeps it.
/// Hugging Face splits the attention input projection into three tensors that are stacked along dim 0.
struct ParameterName {
    let hf: [String]
    let timm: String
    /// Shape of the whole (stacked) parameter as stored by timm.
    let shape: [Int]
}

/// The single table of parameter names and shapes for both conventions.
func parameterTable(_ c: ViTConfig) -> [ParameterName] {
    let d = c.hiddenSize, i = c.intermediateSize
    var table: [ParameterName] = [
        .init(hf: ["embeddings.cls_token"], timm: "cls_token", shape: [1, 1, d]),
        .init(hf: ["embeddings.position_embeddings"], timm: "pos_embed", shape: [1, c.tokens, d]),
        .init(hf: ["embeddings.patch_embeddings.projection.weight"], timm: "patch_embed.proj.weight",
              shape: [d, c.channels, c.patchSize, c.patchSize]),
        .init(hf: ["embeddings.patch_embeddings.projection.bias"], timm: "patch_embed.proj.bias", shape: [d]),
    ]
    for l in 0..<c.layers {
        let hf = "encoder.layer.\(l).", tm = "blocks.\(l)."
        let att = hf + "attention.attention."
        table += [
            .init(hf: [hf + "layernorm_before.weight"], timm: tm + "norm1.weight", shape: [d]),
            .init(hf: [hf + "layernorm_before.bias"], timm: tm + "norm1.bias", shape: [d]),
            .init(hf: [att + "query.weight", att + "key.weight", att + "value.weight"], timm: tm + "attn.qkv.weight", shape: [3 * d, d]),
        ]
        if c.qkvBias {
            table.append(.init(hf: [att + "query.bias", att + "key.bias", att + "value.bias"], timm: tm + "attn.qkv.bias", shape: [3 * d]))
        }
        table += [
            .init(hf: [hf + "attention.output.dense.weight"], timm: tm + "attn.proj.weight", shape: [d, d]),
            .init(hf: [hf + "attention.output.dense.bias"], timm: tm + "attn.proj.bias", shape: [d]),
            .init(hf: [hf + "layernorm_after.weight"], timm: tm + "norm2.weight", shape: [d]),
            .init(hf: [hf + "layernorm_after.bias"], timm: tm + "norm2.bias", shape: [d]),
            .init(hf: [hf + "intermediate.dense.weight"], timm: tm + "mlp.fc1.weight", shape: [i, d]),
            .init(hf: [hf + "intermediate.dense.bias"], timm: tm + "mlp.fc1.bias", shape: [i]),
            .init(hf: [hf + "output.dense.weight"], timm: tm + "mlp.fc2.weight", shape: [d, i]),
            .init(hf: [hf + "output.dense.bias"], timm: tm + "mlp.fc2.bias", shape: [d]),
        ]
    }
    table += [
        .init(hf: ["layernorm.weight"], timm: "norm.weight", shape: [d]),
        .init(hf: ["layernorm.bias"], timm: "norm.bias", shape: [d]),
    ]
    return table
}

extension ViTWeights {
    /// Reads the parameters from a safetensors file in either naming convention (detected from the names;
    /// a `vit.` prefix as in `ViTForImageClassification` is accepted). Every parameter must be present with
    /// exactly the shape the config implies, and no other tensor may be present, except a Hugging Face pooler
    /// or classifier, which CoDE does not use. Before anything is read, the config's sizes are compared with
    /// the tensors present (`configSource` names the config in that error).
    public init(file: SafeTensorsFile, config: ViTConfig, configSource: String = "the config") throws(CheckpointError) {
        let names = Set(file.entries.keys)
        let naming: WeightNaming
        var prefix = ""
        if names.contains("embeddings.cls_token") {
            naming = .huggingFace
        } else if names.contains("vit.embeddings.cls_token") {
            naming = .huggingFace; prefix = "vit."
        } else if names.contains("cls_token") {
            naming = .timm
        } else {
            throw .missingTensor(path: file.path, tensor: "embeddings.cls_token (Hugging Face) or cls_token (timm)")
        }
        try Self.checkSizes(config, against: file, naming: naming, prefix: prefix, configSource: configSource)
        var values: [String: [Float]] = [:]
        var used = Set<String>()
        for p in parameterTable(config) {
            let stored = naming == .timm ? [p.timm] : p.hf.map { prefix + $0 }
            var partShape = p.shape
            partShape[0] /= stored.count
            var joined: [Float] = []
            for name in stored {
                guard let entry = file.entries[name] else { throw .missingTensor(path: file.path, tensor: name) }
                guard entry.shape == partShape else {
                    throw .shapeMismatch(path: file.path, tensor: name, expected: partShape, found: entry.shape)
                }
                joined += try file.tensor(name).data
                used.insert(name)
            }
            values[p.timm] = joined
        }
        let ignorable = ["pooler.", "classifier.", "vit.pooler.", "vit.classifier."]
        for name in names.subtracting(used).sorted() where !ignorable.contains(where: { name.hasPrefix($0) }) {
            throw .unexpectedTensor(path: file.path, tensor: name)
        }
        try self.init(timmValues: values, config: config)
    }

    /// Compares the config's sizes with the tensors in `file`: the number of blocks present, and the sizes
    /// the class token, the patch projection, the position embeddings and the first MLP show. A tensor that is
    /// absent or of another rank is left to the per-tensor checks.
    static func checkSizes(_ c: ViTConfig, against file: SafeTensorsFile, naming: WeightNaming, prefix: String,
                           configSource: String) throws(CheckpointError) {
        func mismatch(_ reason: String) -> CheckpointError { .configMismatch(config: configSource, weights: file.path, reason: reason) }
        let blockPrefix = naming == .timm ? "blocks." : prefix + "encoder.layer."
        var blocks = Set<Int>()
        for name in file.entries.keys where name.hasPrefix(blockPrefix) {
            if let index = Int(name.dropFirst(blockPrefix.count).prefix { $0 != "." }), index >= 0 { blocks.insert(index) }
        }
        let held = blocks.max().map { $0 + 1 } ?? 0
        if held != c.layers {
            throw mismatch("num_hidden_layers is \(c.layers), the weights hold \(held) blocks (\(blockPrefix)0 to \(blockPrefix)\(max(held - 1, 0)))")
        }
        func name(hf: String, timm: String) -> String { naming == .timm ? timm : prefix + hf }
        let checks: [(key: String, value: Int, tensor: String, rank: Int, axis: Int)] = [
            ("hidden_size", c.hiddenSize, name(hf: "embeddings.cls_token", timm: "cls_token"), 3, 2),
            ("num_channels", c.channels, name(hf: "embeddings.patch_embeddings.projection.weight", timm: "patch_embed.proj.weight"), 4, 1),
            ("patch_size", c.patchSize, name(hf: "embeddings.patch_embeddings.projection.weight", timm: "patch_embed.proj.weight"), 4, 2),
            ("intermediate_size", c.intermediateSize, name(hf: "encoder.layer.0.intermediate.dense.weight", timm: "blocks.0.mlp.fc1.weight"), 2, 0),
        ]
        for check in checks {
            guard let shape = file.entries[check.tensor]?.shape, shape.count == check.rank else { continue }
            if shape[check.axis] != check.value {
                throw mismatch("\(check.key) is \(check.value), tensor '\(check.tensor)' of shape \(shape) says \(shape[check.axis])")
            }
        }
        let position = name(hf: "embeddings.position_embeddings", timm: "pos_embed")
        if let shape = file.entries[position]?.shape, shape.count == 3, shape[1] != c.tokens {
            throw mismatch("image_size \(c.imageSize) with patch_size \(c.patchSize) gives \(c.tokens) tokens, tensor '\(position)' of shape \(shape) holds \(shape[1])")
        }
    }

    /// Builds the weights from a map of timm names to values (shapes already checked).
    init(timmValues v: [String: [Float]], config c: ViTConfig) throws(CheckpointError) {
        func get(_ n: String) -> [Float] { v[n]! }
        patchWeight = get("patch_embed.proj.weight"); patchBias = get("patch_embed.proj.bias")
        classToken = get("cls_token"); positionEmbedding = get("pos_embed")
        blocks = (0..<c.layers).map { l in
            let t = "blocks.\(l)."
            return ViTBlockWeights(
                norm1Weight: get(t + "norm1.weight"), norm1Bias: get(t + "norm1.bias"),
                qkvWeight: get(t + "attn.qkv.weight"),
                qkvBias: v[t + "attn.qkv.bias"] ?? [Float](repeating: 0, count: 3 * c.hiddenSize),
                projWeight: get(t + "attn.proj.weight"), projBias: get(t + "attn.proj.bias"),
                norm2Weight: get(t + "norm2.weight"), norm2Bias: get(t + "norm2.bias"),
                fc1Weight: get(t + "mlp.fc1.weight"), fc1Bias: get(t + "mlp.fc1.bias"),
                fc2Weight: get(t + "mlp.fc2.weight"), fc2Bias: get(t + "mlp.fc2.bias"))
        }
        normWeight = get("norm.weight"); normBias = get("norm.bias")
    }

    /// The parameters as named tensors in `naming`, e.g. for `SafeTensorsWriter`.
    public func namedTensors(config c: ViTConfig, naming: WeightNaming) -> [(name: String, tensor: Tensor)] {
        var byTimm: [String: [Float]] = [
            "patch_embed.proj.weight": patchWeight, "patch_embed.proj.bias": patchBias,
            "cls_token": classToken, "pos_embed": positionEmbedding, "norm.weight": normWeight, "norm.bias": normBias,
        ]
        for (l, b) in blocks.enumerated() {
            let t = "blocks.\(l)."
            byTimm[t + "norm1.weight"] = b.norm1Weight; byTimm[t + "norm1.bias"] = b.norm1Bias
            byTimm[t + "attn.qkv.weight"] = b.qkvWeight; byTimm[t + "attn.qkv.bias"] = b.qkvBias
            byTimm[t + "attn.proj.weight"] = b.projWeight; byTimm[t + "attn.proj.bias"] = b.projBias
            byTimm[t + "norm2.weight"] = b.norm2Weight; byTimm[t + "norm2.bias"] = b.norm2Bias
            byTimm[t + "mlp.fc1.weight"] = b.fc1Weight; byTimm[t + "mlp.fc1.bias"] = b.fc1Bias
            byTimm[t + "mlp.fc2.weight"] = b.fc2Weight; byTimm[t + "mlp.fc2.bias"] = b.fc2Bias
        }
        var out: [(name: String, tensor: Tensor)] = []
        for p in parameterTable(c) {
            let all = byTimm[p.timm]!
            if naming == .timm {
                out.append((p.timm, Tensor(shape: p.shape, data: all)))
            } else {
                var partShape = p.shape
                partShape[0] /= p.hf.count
                let n = all.count / p.hf.count
                for (k, name) in p.hf.enumerated() {
                    out.append((name, Tensor(shape: partShape, data: Array(all[(k * n)..<((k + 1) * n)]))))
                }
            }
        }
        return out
    }
}
