import Foundation
import ViT

/// Everything a training run needs; defaults are upstream's effective values (docs/upstream.md, Launch and arguments).
public struct TrainingConfiguration: Sendable, Equatable {
    // Model (ViT-Tiny/16 by default, timm's LayerNorm eps).
    public var imageSize = 224, patchSize = 16, hiddenSize = 192, layers = 12, heads = 3, mlpSize = 768
    // Optimisation.
    public var epochs = 150, warmupEpochs = 5
    public var learningRate = 0.002, warmupLR = 1e-6, minLR = 0.0, weightDecay = 2e-5
    public var batchSize = 256, stepsPerEpoch = 1700, gradientAccumulation = 1
    public var clipGradient: Double? = nil
    public var temperature = 0.1
    public var loss: LossVariant = .intended
    public var globalCropScale = 0.4...1.0, localCropScale = 0.05...0.4
    /// Upstream's `--num_transform` (2 in CoDE's training script): at most this many augmentations per view.
    public var numTransform = 2
    /// Upstream's `use_transform`; `--no-data-augmentation` turns the augmentations off.
    public var dataAugmentation = true
    public var seed: UInt64 = 42
    // Data: shard specs (brace patterns, .shards list files, paths).
    public var trainShards: [String] = []
    public var linearTrainShards: [String] = []
    public var validationShards: [String] = []
    public var validationTransformedShards: [String] = []
    /// Records read from the head-fitting and validation shards each epoch (nil: all).
    public var linearRecords: Int? = 9600, validationRecords: Int? = 4800
    public var shuffleBuffer = 1000
    // Selection and outputs.
    /// Fit the heads on the untrained model and validate it before epoch 0 (summary.csv's epoch −1 row).
    public var initialValidation = true
    public var earlyStopping = true, patienceEpochs = 6
    public var keepCheckpoints = 10
    public var output = "runs/training_code"
    public var threads: Int? = nil

    public init() {}

    /// The backbone architecture.
    public var model: ViTConfig {
        ViTConfig(hiddenSize: hiddenSize, layers: layers, heads: heads, intermediateSize: mlpSize, patchSize: patchSize,
                  imageSize: imageSize, layerNormEps: 1e-6)
    }

    /// Reads a flat YAML file of `key: value` lines (lists as `[a, b]` or as `- item` lines under the key);
    /// keys are upstream's (`config-training.yaml` / `train.py` names, dashes or underscores). Unknown keys are
    /// reported in `ignored`, not silently dropped.
    public mutating func apply(yamlFile path: String) throws -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TrainingError("\(path): cannot read the configuration file")
        }
        var ignored: [String] = []
        for (key, value, line) in try parseFlatYAML(text, file: path) {
            do {
                if try !set(key, value) { ignored.append(key) }
            } catch let error as TrainingError {
                throw TrainingError("\(path):\(line): \(error.description)")
            }
        }
        return ignored
    }

    /// Sets one option by its upstream name; false for a name this implementation does not use.
    public mutating func set(_ rawKey: String, _ value: [String]) throws -> Bool {
        let key = rawKey.replacingOccurrences(of: "_", with: "-").lowercased()
        func one() throws -> String {
            guard value.count == 1 else { throw TrainingError("\(rawKey) takes one value") }
            return value[0]
        }
        func int() throws -> Int {
            guard let v = Int(try one()) else { throw TrainingError("\(rawKey) must be an integer, found \(value)") }
            return v
        }
        func double() throws -> Double {
            guard let v = Double(try one()) else { throw TrainingError("\(rawKey) must be a number, found \(value)") }
            return v
        }
        func bool() throws -> Bool {
            switch try one().lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: throw TrainingError("\(rawKey) must be true or false")
            }
        }
        func range() throws -> ClosedRange<Double> {
            let v = value.compactMap(Double.init)
            guard v.count == 2, v[0] <= v[1] else { throw TrainingError("\(rawKey) takes two numbers, low and high") }
            return v[0]...v[1]
        }
        switch key {
        case "model":
            let name = try one()
            guard name == "vit-tiny-patch16-224" || name == "vit_tiny_patch16_224".replacingOccurrences(of: "_", with: "-") else {
                throw TrainingError("model \(name): only vit_tiny_patch16_224 (or the explicit size keys) is supported")
            }
        case "image-size", "input-size": imageSize = value.count == 3 ? Int(value[2]) ?? imageSize : try int()
        case "patch-size": patchSize = try int()
        case "hidden-size", "embed-dim": hiddenSize = try int()
        case "layers", "depth": layers = try int()
        case "heads", "num-heads": heads = try int()
        case "mlp-size": mlpSize = try int()
        case "epochs": epochs = try int()
        case "warmup-epochs": warmupEpochs = try int()
        case "lr": learningRate = try double()
        case "warmup-lr": warmupLR = try double()
        case "min-lr": minLR = try double()
        case "weight-decay": weightDecay = try double()
        case "batch-size", "b": batchSize = try int()
        case "num-step", "steps-per-epoch": stepsPerEpoch = try int()
        case "grad-accum-steps", "gradient-accumulation": gradientAccumulation = try int()
        case "clip-grad": clipGradient = try one().lowercased() == "none" ? nil : try double()
        case "infonce-loss-temperature", "temperature": temperature = try double()
        case "loss":
            guard let v = LossVariant(rawValue: try one()) else { throw TrainingError("loss must be intended or released") }
            loss = v
        case "global-crops-scale": globalCropScale = try range()
        case "local-crops-scale": localCropScale = try range()
        case "seed": seed = UInt64(try int())
        case "num-transform": numTransform = try int()
        case "data-augmentation": dataAugmentation = try bool()
        case "no-data-augmentation": dataAugmentation = try !bool()
        case "train-shards": trainShards = value
        case "linear-train-shards": linearTrainShards = value
        case "val-shards-no-augm", "validation-shards": validationShards = value
        case "val-shards-augm", "validation-transformed-shards": validationTransformedShards = value
        case "data-len-linear": linearRecords = try int() < 0 ? nil : try int()
        case "data-len-eval": validationRecords = try int() < 0 ? nil : try int()
        case "shuffle-buffer": shuffleBuffer = try int()
        case "initial-validation": initialValidation = try bool()
        case "early-stopping": earlyStopping = try bool()
        case "patience-epochs": patienceEpochs = try int()
        case "checkpoint-hist", "keep-checkpoints": keepCheckpoints = try int()
        case "output": output = try one()
        case "threads", "workers": threads = try int()
        default: return false
        }
        return true
    }

    /// Checks the values fit together.
    public func validate() throws {
        try model.validate(source: "training configuration")
        if numTransform < 0 { throw TrainingError("num-transform must be ≥ 0") }
        if epochs < 1 || stepsPerEpoch < 1 || batchSize < 2 || gradientAccumulation < 1 {
            throw TrainingError("epochs and steps per epoch must be ≥ 1, batch size ≥ 2 (negatives need another record), accumulation ≥ 1")
        }
        if trainShards.isEmpty { throw TrainingError("no training shards (train-shards)") }
        if linearTrainShards.isEmpty || validationShards.isEmpty {
            throw TrainingError("head fitting and validation need linear-train-shards and val-shards-no-augm")
        }
    }

    /// The resolved configuration as `key: value` lines (re-readable with `apply(yamlFile:)`).
    public var yaml: String {
        func list(_ v: [String]) -> String { "[" + v.joined(separator: ", ") + "]" }
        let lines: [(String, String)] = [
            ("image-size", "\(imageSize)"), ("patch-size", "\(patchSize)"), ("hidden-size", "\(hiddenSize)"),
            ("layers", "\(layers)"), ("heads", "\(heads)"), ("mlp-size", "\(mlpSize)"), ("epochs", "\(epochs)"),
            ("warmup-epochs", "\(warmupEpochs)"), ("lr", "\(learningRate)"), ("warmup-lr", "\(warmupLR)"),
            ("min-lr", "\(minLR)"), ("weight-decay", "\(weightDecay)"), ("batch-size", "\(batchSize)"),
            ("num-step", "\(stepsPerEpoch)"), ("grad-accum-steps", "\(gradientAccumulation)"),
            ("clip-grad", clipGradient.map { "\($0)" } ?? "none"), ("infonce-loss-temperature", "\(temperature)"),
            ("loss", loss.rawValue), ("global-crops-scale", "[\(globalCropScale.lowerBound), \(globalCropScale.upperBound)]"),
            ("local-crops-scale", "[\(localCropScale.lowerBound), \(localCropScale.upperBound)]"), ("seed", "\(seed)"),
            ("num-transform", "\(numTransform)"), ("data-augmentation", "\(dataAugmentation)"),
            ("train-shards", list(trainShards)), ("linear-train-shards", list(linearTrainShards)),
            ("val-shards-no-augm", list(validationShards)), ("val-shards-augm", list(validationTransformedShards)),
            ("data-len-linear", "\(linearRecords ?? -1)"), ("data-len-eval", "\(validationRecords ?? -1)"),
            ("shuffle-buffer", "\(shuffleBuffer)"), ("initial-validation", "\(initialValidation)"),
            ("early-stopping", "\(earlyStopping)"),
            ("patience-epochs", "\(patienceEpochs)"), ("keep-checkpoints", "\(keepCheckpoints)"), ("output", output),
        ]
        return lines.map { "\($0.0): \($0.1)" }.joined(separator: "\n") + "\n"
    }
}

/// A training problem, with a message for people.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `key: value`, `key: [a, b]` and `key:` followed by `- item` lines; `#` comments; quotes stripped.
func parseFlatYAML(_ text: String, file: String) throws -> [(key: String, value: [String], line: Int)] {
    var out: [(key: String, value: [String], line: Int)] = []
    func unquote(_ s: Substring) -> String {
        var t = s.trimmingCharacters(in: .whitespaces)
        if t.count >= 2, let f = t.first, f == "\"" || f == "'", t.last == f { t = String(t.dropFirst().dropLast()) }
        return t
    }
    for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        var line = Substring(raw)
        if let hash = line.firstIndex(of: "#"), line[..<hash].filter({ $0 == "\"" || $0 == "'" }).count % 2 == 0 {
            line = line[..<hash]
        }
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || trimmed == "---" { continue }
        if trimmed.hasPrefix("- ") || trimmed == "-" {
            guard !out.isEmpty else { throw TrainingError("\(file):\(n + 1): a list item without a key above it") }
            out[out.count - 1].value.append(unquote(trimmed.dropFirst(1)))
            continue
        }
        guard let colon = trimmed.firstIndex(of: ":") else { throw TrainingError("\(file):\(n + 1): expected 'key: value'") }
        let key = trimmed[..<colon].trimmingCharacters(in: .whitespaces)
        let rest = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        var values: [String] = []
        if rest.hasPrefix("[") && rest.hasSuffix("]") {
            values = rest.dropFirst().dropLast().split(separator: ",").map(unquote).filter { !$0.isEmpty }
        } else if !rest.isEmpty {
            values = [unquote(Substring(rest))]
        }
        out.append((key, values, n + 1))
    }
    return out
}
