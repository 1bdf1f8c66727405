import Foundation
import Checkpoints
import Tensor

/// The architecture of a Vision Transformer encoder, as a Hugging Face `config.json` describes it.
public struct ViTConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var patchSize: Int
    public var imageSize: Int
    public var channels: Int
    public var layerNormEps: Float
    /// Whether the query/key/value projections have biases.
    public var qkvBias: Bool
    public var activation: Activation

    public init(hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int, patchSize: Int, imageSize: Int,
                channels: Int = 3, layerNormEps: Float, qkvBias: Bool = true, activation: Activation = .gelu) {
        self.hiddenSize = hiddenSize; self.layers = layers; self.heads = heads
        self.intermediateSize = intermediateSize; self.patchSize = patchSize; self.imageSize = imageSize
        self.channels = channels; self.layerNormEps = layerNormEps; self.qkvBias = qkvBias; self.activation = activation
    }

    /// ViT-Tiny/16 at 224² as CoDE trains it with timm (LayerNorm eps 1e-6).
    public static let tiny16 = ViTConfig(hiddenSize: 192, layers: 12, heads: 3, intermediateSize: 768,
                                         patchSize: 16, imageSize: 224, layerNormEps: 1e-6)

    /// Patches per side.
    public var grid: Int { imageSize / patchSize }
    /// Tokens per image: the class token plus one per patch.
    public var tokens: Int { 1 + grid * grid }
    public var headDim: Int { hiddenSize / heads }

    /// Checks the numbers fit together; `source` names the config in the error.
    public func validate(source: String) throws(CheckpointError) {
        func bad(_ reason: String) -> CheckpointError { .badConfig(path: source, reason: reason) }
        for (name, value) in [("hidden_size", hiddenSize), ("num_hidden_layers", layers), ("num_attention_heads", heads),
                              ("intermediate_size", intermediateSize), ("patch_size", patchSize),
                              ("image_size", imageSize), ("num_channels", channels)] where value <= 0 {
            throw bad("\(name) must be positive, found \(value)")
        }
        if hiddenSize % heads != 0 { throw bad("hidden_size \(hiddenSize) is not divisible by num_attention_heads \(heads)") }
        if imageSize % patchSize != 0 { throw bad("image_size \(imageSize) is not divisible by patch_size \(patchSize)") }
        if !(layerNormEps > 0) { throw bad("layer_norm_eps must be positive, found \(layerNormEps)") }
    }

    /// Reads a Hugging Face ViT `config.json`. Every architectural key is read from the file; a missing key
    /// takes the `transformers.ViTConfig` default, as `from_pretrained` would.
    public init(contentsOf path: String) throws(CheckpointError) {
        guard let data = FileManager.default.contents(atPath: path) else { throw .io(path: path, reason: "cannot read file") }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw .badConfig(path: path, reason: "not a JSON object")
        }
        if let type = object["model_type"] as? String, type != "vit" {
            throw .badConfig(path: path, reason: "model_type is '\(type)', expected 'vit'")
        }
        func int(_ key: String, _ fallback: Int) throws(CheckpointError) -> Int {
            guard let v = object[key] else { return fallback }
            guard let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded() else {
                throw .badConfig(path: path, reason: "\(key) must be an integer, found \(v)")
            }
            return n.intValue
        }
        let actName = (object["hidden_act"] as? String) ?? "gelu"
        guard let act = Activation(huggingFace: actName) else {
            throw .badConfig(path: path, reason: "hidden_act '\(actName)' is not supported (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, quick_gelu)")
        }
        self.init(
            hiddenSize: try int("hidden_size", 768), layers: try int("num_hidden_layers", 12),
            heads: try int("num_attention_heads", 12), intermediateSize: try int("intermediate_size", 3072),
            patchSize: try int("patch_size", 16), imageSize: try int("image_size", 224),
            channels: try int("num_channels", 3),
            layerNormEps: Float((object["layer_norm_eps"] as? NSNumber)?.doubleValue ?? 1e-12),
            qkvBias: (object["qkv_bias"] as? Bool) ?? true, activation: act)
        try validate(source: path)
    }
}

extension ViTConfig {
    /// Every image's token rows go through the products in these fixed pieces (two halves), whatever the batch
    /// and thread count. BLAS may round a row differently in the last bits depending on how many rows a call
    /// has and where the row falls in it (oneDNN's AVX2 kernels do), so an image's rows must always meet the
    /// same calls: then an image's embedding never depends on its neighbours in the batch or on the threads.
    /// Two pieces let two cores share one image; measured on AVX2, cutting each product in two costs ~1–2%.
    public var tokenPieces: [Range<Int>] { [0 ..< tokens / 2, tokens / 2 ..< tokens] }

    /// The patch rows (token rows less the class token) of the token piece `tokens`.
    func patchRows(ofTokens tokens: Range<Int>) -> Range<Int> {
        max(tokens.lowerBound, 1) - 1 ..< max(tokens.upperBound, 1) - 1
    }
}
