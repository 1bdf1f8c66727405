import Checkpoints
import DeepfakeCore
import Foundation
import Tensor

extension ViTConfig {
    /// The Hugging Face `config.json` for this architecture (as `transformers.ViTConfig(...).to_json_file`
    /// writes it for a `ViTModel`), so `ViTModel.from_pretrained` and `VisionTransformer(folder:)` load it.
    public func huggingFaceConfigJSON() -> String {
        let act: String
        switch activation {
        case .gelu: act = "gelu"
        case .geluTanh: act = "gelu_pytorch_tanh"
        case .relu: act = "relu"
        case .quickGelu: act = "quick_gelu"
        }
        let fields: [(String, JSONValue)] = [
            ("architectures", .inlineArray([.string("ViTModel")])), ("attention_probs_dropout_prob", .number(0.0)),
            ("encoder_stride", .int(patchSize)), ("hidden_act", .string(act)), ("hidden_dropout_prob", .number(0.0)),
            ("hidden_size", .int(hiddenSize)), ("image_size", .int(imageSize)), ("initializer_range", .number(0.02)),
            ("intermediate_size", .int(intermediateSize)), ("layer_norm_eps", .float(layerNormEps)), ("model_type", .string("vit")),
            ("num_attention_heads", .int(heads)), ("num_channels", .int(channels)), ("num_hidden_layers", .int(layers)),
            ("patch_size", .int(patchSize)), ("qkv_bias", .bool(qkvBias)),
        ]
        return JSONValue.object(fields).render() + "\n"
    }

    /// Writes `config.json` and `model.safetensors` (F32, Hugging Face `ViTModel` names) into `folder`, atomically
    /// file by file: a folder `deepfake detect --model` and `transformers.ViTModel.from_pretrained` (or CoDE's
    /// `AutoModel.from_pretrained`) both load without a missing or unexpected tensor.
    ///
    /// CoDE has no pooler (upstream replaces it by `nn.Identity` and uses `last_hidden_state[:, 0]`), but
    /// `ViTModel` builds one by default; `pooler.dense` is written as zeros so that it is not reported missing and
    /// randomly initialised (its `pooler_output` is 0 by construction). `VisionTransformer(folder:)` ignores it.
    public func writeHuggingFaceFolder(_ folder: String, weights: ViTWeights) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pooler: [(name: String, tensor: Tensor)] = [
            ("pooler.dense.weight", Tensor(shape: [hiddenSize, hiddenSize], data: [Float](repeating: 0, count: hiddenSize * hiddenSize))),
            ("pooler.dense.bias", Tensor(shape: [hiddenSize], data: [Float](repeating: 0, count: hiddenSize))),
        ]
        try SafeTensorsWriter.write(weights.namedTensors(config: self, naming: .huggingFace) + pooler,
                                    to: folder + "/model.safetensors", metadata: ["format": "pt"])
        let json = Array(huggingFaceConfigJSON().utf8)
        try writeFileAtomically(folder + "/config.json") { (append) throws(CheckpointError) in try append(json) }
    }
}
