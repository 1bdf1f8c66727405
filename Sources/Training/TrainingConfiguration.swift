import Foundation
import ViT
import WebDataset

/// Everything a training run needs; defaults are upstream's effective values
/// (docs/upstream.md, Launch and arguments). `TrainingKey.all` names every
/// configuration key (docs/training.md has the table); `TrainingConfiguration+YAML.swift` reads and writes them.
package struct TrainingConfiguration: Sendable, Equatable {
    // Model (ViT-Tiny/16 by default, timm's LayerNorm eps).
    package var imageSize = 224, patchSize = 16, hiddenSize = 192, layers = 12, heads = 3, mlpSize = 768
    /// The views' final Resize(floor(imageSize / cropPercent)) + CenterCrop(imageSize) (upstream's `--crop-pct`).
    package var cropPercent = Self.upstreamCropPercent
    /// Upstream's `crop_pct` (timm's default for ViT): Resize(248) + CenterCrop(224) keeps the centre 90% of a view.
    package static let upstreamCropPercent = 0.9
    // Optimisation.
    package var epochs = 150, warmupEpochs = 5
    package var learningRate = 0.002, warmupLR = 1e-6, minLR = 0.0, weightDecay = 2e-5
    package var batchSize = 256, stepsPerEpoch = 1700, gradientAccumulation = 1
    package var clipGradient: Double? = nil
    package var temperature = 0.1
    package var loss: LossVariant = .intended
    package var globalCropScale = 0.4...1.0, localCropScale = 0.05...0.4
    /// Upstream's `--num_transform` (2 in CoDE's training script): at most this many augmentations per view.
    package var numTransform = 2
    /// Upstream's `use_transform`; `--no-data-augmentation` turns the augmentations off.
    package var dataAugmentation = true
    package var seed: UInt64 = 42
    // Data: shard specs (brace patterns, .shards list files, paths).
    /// Folders the names in `.shards` list files are joined to (upstream's `data_dir`, `data_dir_eval_augm`,
    /// `data_dir_eval_no_augm`): training and head fitting, transformed and clean validation. nil: each list
    /// file's own folder.
    package var dataDir: String? = nil, dataDirEvalAugm: String? = nil, dataDirEvalNoAugm: String? = nil
    package var trainShards: [String] = []
    package var linearTrainShards: [String] = []
    package var validationShards: [String] = []
    package var validationTransformedShards: [String] = []
    /// Records read from the head-fitting and validation shards each epoch (nil: all).
    package var linearRecords: Int? = 9600, validationRecords: Int? = 4800
    package var shuffleBuffer = 1000
    /// A shard named by the data keys that does not exist or cannot be opened when the run starts: `.stop` ends
    /// the run before any step; `.skip` trains without it, warns, records it in state.json and ends with status 1.
    package var onError: ErrorPolicy = .stop
    // Selection and outputs.
    /// Fit the heads on the untrained model and validate it before epoch 0 (summary.csv's epoch −1 row).
    package var initialValidation = true
    package var earlyStopping = true, patienceEpochs = 6
    package var keepCheckpoints = 10
    package var output = "runs/training_code"
    package var threads: Int? = nil

    package init() {}

    /// The backbone architecture: the sizes from the keys above; timm's LayerNorm eps, and `ViTConfig`'s
    /// defaults (3 channels, GELU, q/k/v biases) for what no key sets.
    package var model: ViTConfig {
        ViTConfig(hiddenSize: hiddenSize, layers: layers, heads: heads, intermediateSize: mlpSize, patchSize: patchSize,
                  imageSize: imageSize, layerNormEps: ViTConfig.timmLayerNormEps)
    }

    /// The training keys' names for the model sizes, for `ViTConfig.validate`'s messages.
    static let modelKeys: ViTConfig.KeyNames = {
        var k = ViTConfig.KeyNames()
        k.hiddenSize = "hidden-size"; k.layers = "layers"; k.heads = "heads"; k.intermediateSize = "mlp-size"
        k.patchSize = "patch-size"; k.imageSize = "image-size"
        return k
    }()

    /// Checks every value is usable and the values fit together: the model sizes within `ViTConfig`'s
    /// bounds, positive counts, finite rates, and a peak memory (`memoryEstimate`) within `physicalMemory`
    /// (this machine's by default). Each error names the key.
    package func validate(physicalMemory: UInt64 = ProcessInfo.processInfo.physicalMemory) throws {
        do { try model.validate(source: "training configuration", keys: Self.modelKeys) } catch {
            guard case let .badConfig(_, reason) = error else { throw error }
            throw TrainingError.configuration(reason)
        }
        if numTransform < 0 { throw TrainingError.configuration("num-transform must be ≥ 0, found \(numTransform)") }
        if !(cropPercent > 0 && cropPercent <= 1) { throw TrainingError.configuration("crop-pct must be in (0, 1], found \(cropPercent)") }
        if Double(imageSize) / cropPercent > Double(ViTConfig.maxImageSize) {
            throw TrainingError.configuration("crop-pct \(cropPercent) resizes image-size \(imageSize) views to more than \(ViTConfig.maxImageSize) pixels; raise crop-pct")
        }
        if epochs < 1 || stepsPerEpoch < 1 || batchSize < 2 || gradientAccumulation < 1 {
            throw TrainingError.configuration("epochs and steps per epoch must be ≥ 1, batch size ≥ 2 (negatives need another record), accumulation ≥ 1")
        }
        for (key, value) in [("warmup-epochs", warmupEpochs), ("keep-checkpoints", keepCheckpoints), ("patience-epochs", patienceEpochs)] where value < 0 {
            throw TrainingError.configuration("\(key) must be ≥ 0, found \(value)")
        }
        if shuffleBuffer < 1 { throw TrainingError.configuration("shuffle-buffer must be ≥ 1, found \(shuffleBuffer)") }
        for (key, value) in [("data-len-linear", linearRecords), ("data-len-eval", validationRecords)] {
            if let value, value < 1 { throw TrainingError.configuration("\(key) must be ≥ 1 (or null for all records), found \(value)") }
        }
        if let threads, !(1...1024).contains(threads) { throw TrainingError.configuration("threads must be from 1 to 1024, found \(threads)") }
        for (key, value) in [("lr", learningRate), ("warmup-lr", warmupLR), ("min-lr", minLR), ("weight-decay", weightDecay)]
        where !(value.isFinite && value >= 0) {
            throw TrainingError.configuration("\(key) must be a finite number ≥ 0, found \(value)")
        }
        if !(temperature.isFinite && temperature > 0) { throw TrainingError.configuration("infonce-loss-temperature must be a finite number > 0, found \(temperature)") }
        if let clip = clipGradient, !(clip.isFinite && clip > 0) { throw TrainingError.configuration("clip-grad must be a finite number > 0 (or null), found \(clip)") }
        for (key, range) in [("global-crops-scale", globalCropScale), ("local-crops-scale", localCropScale)]
        where !(range.lowerBound >= 0 && range.upperBound.isFinite) {
            throw TrainingError.configuration("\(key) must be two finite numbers, 0 ≤ low ≤ high, found [\(range.lowerBound), \(range.upperBound)]")
        }
        if trainShards.isEmpty { throw TrainingError.configuration("no training shards (train-shards)") }
        if linearTrainShards.isEmpty || validationShards.isEmpty {
            throw TrainingError.configuration("head fitting and validation need linear-train-shards and val-shards-no-augm")
        }
        try checkMemory(physicalMemory: physicalMemory)
    }

    /// The shard sets of a run, each with the folder its list files' names are relative to.
    package enum ShardSet: Sendable, CaseIterable {
        case train, linearTrain, validation, validationTransformed
    }

    /// The shard names of `set`: its specs resolved, the names in `.shards` list files joined to the set's
    /// data folder (`data-dir` for training and head fitting, `data-dir-eval-no-augm` / `data-dir-eval-augm`
    /// for validation, as upstream's loader does), or to the list file's own folder when none is set.
    package func shardNames(_ set: ShardSet) throws -> [String] {
        try shardEntries(set).map(\.name)
    }

    /// `shardNames(set)` with where each name comes from (list file and line, or pattern).
    package func shardEntries(_ set: ShardSet) throws -> [ShardEntry] {
        let (specs, root): ([String], String?)
        switch set {
        case .train: (specs, root) = (trainShards, dataDir)
        case .linearTrain: (specs, root) = (linearTrainShards, dataDir)
        case .validation: (specs, root) = (validationShards, dataDirEvalNoAugm)
        case .validationTransformed: (specs, root) = (validationTransformedShards, dataDirEvalAugm)
        }
        return try specs.flatMap { spec throws in try ShardSpec.resolveEntries(spec, root: root) }
    }
}

/// A training problem, by kind, with a message for people.
package enum TrainingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A configuration file, key or value that cannot be used (`file:line: key: message`, `--key: message`).
    case configuration(String)
    /// The configuration would need more memory than the machine has.
    case memory(String)
    /// The run's folder cannot be used: a corrupt or unreadable state.json, another run in it, a checkpoint with
    /// other model sizes, a log or summary that cannot be opened.
    case runFolder(String)
    /// The training data: shards that cannot be read, none left in a set, no samples, too few that decode.
    case data(String)

    package var description: String {
        switch self {
        case let .configuration(message), let .memory(message), let .runFolder(message), let .data(message): return message
        }
    }
}
