import Checkpoints
import Tensor

/// The parameters of one transformer block, in PyTorch layouts (Linear weights are [out, in]).
public struct ViTBlockWeights: Sendable {
    public var norm1Weight: [Float] = [], norm1Bias: [Float] = []
    /// Query, key and value projections stacked: [3·D, D] (rows q, then k, then v).
    public var qkvWeight: [Float] = []
    /// [3·D]; zeros when the config has no qkv bias.
    public var qkvBias: [Float] = []
    public var projWeight: [Float] = [], projBias: [Float] = []
    public var norm2Weight: [Float] = [], norm2Bias: [Float] = []
    public var fc1Weight: [Float] = [], fc1Bias: [Float] = []
    public var fc2Weight: [Float] = [], fc2Bias: [Float] = []

    public init(norm1Weight: [Float], norm1Bias: [Float], qkvWeight: [Float], qkvBias: [Float],
                projWeight: [Float], projBias: [Float], norm2Weight: [Float], norm2Bias: [Float],
                fc1Weight: [Float], fc1Bias: [Float], fc2Weight: [Float], fc2Bias: [Float]) {
        self.norm1Weight = norm1Weight; self.norm1Bias = norm1Bias; self.qkvWeight = qkvWeight; self.qkvBias = qkvBias
        self.projWeight = projWeight; self.projBias = projBias; self.norm2Weight = norm2Weight; self.norm2Bias = norm2Bias
        self.fc1Weight = fc1Weight; self.fc1Bias = fc1Bias; self.fc2Weight = fc2Weight; self.fc2Bias = fc2Bias
    }

    /// Every tensor empty, for filling from the parameter table.
    init() {}
}

/// All parameters of a ViT encoder. `ViTParameter.table(config:)` lists them with their names and shapes.
public struct ViTWeights: Sendable {
    /// Patch-embedding convolution flattened to [D, C·P·P] (columns c, ky, kx).
    public var patchWeight: [Float] = [], patchBias: [Float] = []
    public var classToken: [Float] = []
    /// [T, D], class-token position first.
    public var positionEmbedding: [Float] = []
    public var blocks: [ViTBlockWeights] = []
    public var normWeight: [Float] = [], normBias: [Float] = []

    public init(patchWeight: [Float], patchBias: [Float], classToken: [Float], positionEmbedding: [Float],
                blocks: [ViTBlockWeights], normWeight: [Float], normBias: [Float]) {
        self.patchWeight = patchWeight; self.patchBias = patchBias; self.classToken = classToken
        self.positionEmbedding = positionEmbedding; self.blocks = blocks; self.normWeight = normWeight; self.normBias = normBias
    }

    /// No block and every tensor empty, for filling from the parameter table.
    init() {}
}

/// The checkpoint naming conventions we read and write.
public enum WeightNaming: String, Sendable {
    /// transformers `ViTModel` (`embeddings.cls_token`, `encoder.layer.N.attention.attention.query.weight`, ...).
    case huggingFace
    /// timm `VisionTransformer` (`cls_token`, `blocks.N.attn.qkv.weight`, ...).
    case timm
}

extension ViTWeights {
    /// Reads the parameters from a safetensors file in either naming convention (detected from the names;
    /// a `vit.` prefix as in `ViTForImageClassification` is accepted). Every parameter must be present with
    /// exactly the shape the config implies, and no other tensor may be present, except a Hugging Face pooler
    /// or classifier, which CoDE does not use. Before anything is read, the config's sizes are compared with
    /// the tensors present (`configSource` names the config in that error).
    public init(file: SafeTensorsFile, config: ViTConfig, configSource: String = "the config") throws(CheckpointError) {
        let table = ViTParameter.table(config: config)
        let names = Set(file.entries.keys)
        let classToken = table.first { $0.storage == .encoder(\.classToken) }!
        let naming: WeightNaming
        var prefix = ""
        if names.contains(classToken.huggingFaceNames[0]) {
            naming = .huggingFace
        } else if names.contains(Self.classifierPrefix + classToken.huggingFaceNames[0]) {
            naming = .huggingFace; prefix = Self.classifierPrefix
        } else if names.contains(classToken.timmName) {
            naming = .timm
        } else {
            throw .missingTensor(path: file.path, tensor: "\(classToken.huggingFaceNames[0]) (Hugging Face) or \(classToken.timmName) (timm)")
        }
        try Self.checkSizes(config, table: table, against: file, naming: naming, prefix: prefix, configSource: configSource)
        var weights = Self.unfilled(config: config)
        var used = Set<String>()
        for p in table {
            let partShape = p.storedShape(naming)
            var joined: [Float] = []
            for name in p.storedNames(naming, prefix: prefix) {
                guard let entry = file.entries[name] else { throw .missingTensor(path: file.path, tensor: name) }
                guard entry.shape == partShape else {
                    throw .shapeMismatch(path: file.path, tensor: name, expected: partShape, found: entry.shape)
                }
                joined += try file.tensor(name).data
                used.insert(name)
            }
            weights[storage: p.storage] = joined
        }
        let ignorable = ["pooler.", "classifier.", Self.classifierPrefix + "pooler.", Self.classifierPrefix + "classifier."]
        for name in names.subtracting(used).sorted() where !ignorable.contains(where: { name.hasPrefix($0) }) {
            throw .unexpectedTensor(path: file.path, tensor: name)
        }
        self = weights
    }

    /// What `ViTForImageClassification` puts before the `ViTModel` names.
    static let classifierPrefix = "vit."

    /// Compares the config's sizes with the tensors in `file`: the number of blocks present, and the sizes
    /// the class token, the patch projection, the position embeddings and the first MLP show. A tensor that is
    /// absent or of another rank is left to the per-tensor checks.
    static func checkSizes(_ c: ViTConfig, table: [ViTParameter], against file: SafeTensorsFile, naming: WeightNaming,
                           prefix: String, configSource: String) throws(CheckpointError) {
        func mismatch(_ reason: String) -> CheckpointError { .configMismatch(config: configSource, weights: file.path, reason: reason) }
        let blockPrefix = (naming == .timm ? "" : prefix) + ViTParameter.blocksPrefix(naming)
        var blocks = Set<Int>()
        for name in file.entries.keys where name.hasPrefix(blockPrefix) {
            if let index = Int(name.dropFirst(blockPrefix.count).prefix { $0 != "." }), index >= 0 { blocks.insert(index) }
        }
        let held = blocks.max().map { $0 + 1 } ?? 0
        if held != c.layers {
            throw mismatch("num_hidden_layers is \(c.layers), the weights hold \(held) blocks (\(blockPrefix)0 to \(blockPrefix)\(max(held - 1, 0)))")
        }
        /// The stored name of the tensor at `storage` (one that has a single name), nil when the table has none.
        func name(_ storage: ViTParameterStorage) -> String? {
            table.first { $0.storage == storage }?.storedNames(naming, prefix: prefix).first
        }
        let checks: [(key: String, value: Int, tensor: String?, rank: Int, axis: Int)] = [
            ("hidden_size", c.hiddenSize, name(.encoder(\.classToken)), 3, 2),
            ("num_channels", c.channels, name(.encoder(\.patchWeight)), 4, 1),
            ("patch_size", c.patchSize, name(.encoder(\.patchWeight)), 4, 2),
            ("intermediate_size", c.intermediateSize, name(.block(0, \.fc1Weight)), 2, 0),
        ]
        for check in checks {
            guard let tensor = check.tensor, let shape = file.entries[tensor]?.shape, shape.count == check.rank else { continue }
            if shape[check.axis] != check.value {
                throw mismatch("\(check.key) is \(check.value), tensor '\(tensor)' of shape \(shape) says \(shape[check.axis])")
            }
        }
        if let position = name(.encoder(\.positionEmbedding)), let shape = file.entries[position]?.shape, shape.count == 3, shape[1] != c.tokens {
            throw mismatch("image_size \(c.imageSize) with patch_size \(c.patchSize) gives \(c.tokens) tokens, tensor '\(position)' of shape \(shape) holds \(shape[1])")
        }
    }

    /// The parameters as named tensors in `naming`, in the table's order, e.g. for `SafeTensorsWriter`.
    public func namedTensors(config c: ViTConfig, naming: WeightNaming) -> [(name: String, tensor: Tensor)] {
        var out: [(name: String, tensor: Tensor)] = []
        for p in ViTParameter.table(config: c) {
            let values = self[storage: p.storage], names = p.storedNames(naming), shape = p.storedShape(naming)
            if names.count == 1 {
                out.append((names[0], Tensor(shape: shape, data: values)))
            } else {
                let n = values.count / names.count
                for (k, name) in names.enumerated() {
                    out.append((name, Tensor(shape: shape, data: Array(values[(k * n)..<((k + 1) * n)]))))
                }
            }
        }
        return out
    }
}
