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

    /// timm's `VisionTransformer` LayerNorm eps (`partial(nn.LayerNorm, eps=1e-6)`), the eps of every model
    /// CoDE trains; Hugging Face's `ViTConfig` defaults to 1e-12.
    public static let timmLayerNormEps: Float = 1e-6

    /// ViT-Tiny/16 at 224² as CoDE trains it with timm.
    public static let tiny16 = ViTConfig(hiddenSize: 192, layers: 12, heads: 3, intermediateSize: 768,
                                         patchSize: 16, imageSize: 224, layerNormEps: timmLayerNormEps)

    /// Patches per side.
    public var grid: Int { imageSize / patchSize }
    /// Tokens per image: the class token plus one per patch.
    public var tokens: Int { 1 + grid * grid }
    public var headDim: Int { hiddenSize / heads }

    /// The names a source gives the sizes, for messages: config.json's by default, the training keys' when
    /// the sizes come from a training configuration.
    public struct KeyNames: Sendable {
        public var hiddenSize = "hidden_size", layers = "num_hidden_layers", heads = "num_attention_heads"
        public var intermediateSize = "intermediate_size", patchSize = "patch_size", imageSize = "image_size"
        public var channels = "num_channels", layerNormEps = "layer_norm_eps"

        public init() {}

        /// config.json's names.
        public static let huggingFace = KeyNames()
    }

    /// The bounds `validate` enforces, far above any ViT in use (ViT-22B: hidden 6144, 48 layers, MLP 24576)
    /// and low enough that every size the model derives from them (tokens², parameters, a training
    /// forward's activations per image) fits in 64 bits.
    public static let maxHiddenSize = 1 << 14, maxLayers = 1024, maxIntermediateSize = 1 << 17
    public static let maxImageSize = 1 << 13, maxChannels = 64
    /// Patches per side (`image_size / patch_size`) at most: 65,536 patches.
    public static let maxGrid = 256
    /// The largest config.json read (Hugging Face configs are a few KB; a 1,000-class label map ~40 KB).
    public static let maxConfigBytes = 16 << 20

    /// Checks every size is within the bounds above and the numbers fit together; `source` names the config
    /// and `keys` its names for the sizes in the error.
    public func validate(source: String, keys: KeyNames = .huggingFace) throws(CheckpointError) {
        func bad(_ reason: String) -> CheckpointError { .badConfig(path: source, reason: reason) }
        for (name, value, limit) in [(keys.hiddenSize, hiddenSize, Self.maxHiddenSize), (keys.layers, layers, Self.maxLayers),
                                     (keys.heads, heads, Self.maxHiddenSize), (keys.intermediateSize, intermediateSize, Self.maxIntermediateSize),
                                     (keys.patchSize, patchSize, Self.maxImageSize), (keys.imageSize, imageSize, Self.maxImageSize),
                                     (keys.channels, channels, Self.maxChannels)] where !(1...limit).contains(value) {
            throw bad("\(name) must be from 1 to \(limit), found \(value)")
        }
        if hiddenSize % heads != 0 { throw bad("\(keys.hiddenSize) \(hiddenSize) is not divisible by \(keys.heads) \(heads)") }
        if imageSize % patchSize != 0 { throw bad("\(keys.imageSize) \(imageSize) is not divisible by \(keys.patchSize) \(patchSize)") }
        if imageSize / patchSize > Self.maxGrid {
            throw bad("\(keys.imageSize) \(imageSize) / \(keys.patchSize) \(patchSize) gives \(imageSize / patchSize) patches per side; at most \(Self.maxGrid) are supported")
        }
        if !(layerNormEps > 0 && layerNormEps.isFinite) { throw bad("\(keys.layerNormEps) must be a positive finite number, found \(layerNormEps)") }
    }

    /// Reads a Hugging Face ViT `config.json`. Every architectural key is read from the file; a missing key
    /// takes the `transformers.ViTConfig` default, as `from_pretrained` would. A key that is present must hold
    /// a value of its type (an integer literal for sizes, a number for `layer_norm_eps`, a name for
    /// `hidden_act`, true/false for `qkv_bias`): anything else, null included, is refused with the reason,
    /// never replaced by the default.
    public init(contentsOf path: String) throws(CheckpointError) {
        let data = Data(try readSmallFile(path, limit: Self.maxConfigBytes))
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw .badConfig(path: path, reason: "not valid JSON: \((error as NSError).userInfo[NSDebugDescriptionErrorKey] ?? error)")
        }
        guard let object = json as? [String: Any] else {
            throw .badConfig(path: path, reason: "not a JSON object (found \(JSONValues.describe(json)))")
        }
        func bad(_ key: String, _ expected: String, _ v: Any) -> CheckpointError {
            .badConfig(path: path, reason: "\(key) must be \(expected), found \(JSONValues.describe(v))")
        }
        if let v = object["model_type"] {
            guard let type = v as? String else { throw bad("model_type", "a string", v) }
            guard type == "vit" else { throw .badConfig(path: path, reason: "model_type is '\(type)', expected 'vit'") }
        }
        func int(_ key: String, _ fallback: Int) throws(CheckpointError) -> Int {
            guard let v = object[key] else { return fallback }
            guard let n = JSONValues.integer(v) else {
                let expected = v is String ? "an integer, not a string"
                    : JSONValues.number(v).map { $0 == $0.rounded() ? "an integer that fits in 64 bits" : "an integer" } ?? "an integer"
                throw bad(key, expected, v)
            }
            return n
        }
        var eps: Float = 1e-12
        if let v = object["layer_norm_eps"] {
            guard let d = JSONValues.number(v) else { throw bad("layer_norm_eps", "a number", v) }
            eps = Float(d)
        }
        var qkvBias = true
        if let v = object["qkv_bias"] {
            guard let b = JSONValues.boolean(v) else { throw bad("qkv_bias", "true or false", v) }
            qkvBias = b
        }
        let supported = "gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, quick_gelu"
        var act = Activation.gelu
        if let v = object["hidden_act"] {
            guard let name = v as? String else { throw bad("hidden_act", "the name of an activation (\(supported))", v) }
            guard let named = Activation(huggingFace: name) else {
                throw .badConfig(path: path, reason: "hidden_act '\(name)' is not supported (\(supported))")
            }
            act = named
        }
        self.init(
            hiddenSize: try int("hidden_size", 768), layers: try int("num_hidden_layers", 12),
            heads: try int("num_attention_heads", 12), intermediateSize: try int("intermediate_size", 3072),
            patchSize: try int("patch_size", 16), imageSize: try int("image_size", 224),
            channels: try int("num_channels", 3), layerNormEps: eps, qkvBias: qkvBias, activation: act)
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
