import Foundation
import WebDataset
import Yams

/// What a configuration key does here.
package enum TrainingKeyEffect: Sendable, Equatable {
    /// It sets the configuration; a value this implementation cannot honour is refused with the reason.
    case applies
    /// It is accepted with any value and changes nothing here, for the reason given. The keys of this kind that
    /// a run reads are named together in one warning line.
    case noEffect(reason: String)
}

/// The kind of value a key takes (decoding and help).
package enum TrainingKeyType: String, Sendable {
    case integer = "integer"
    case number = "number"
    case flag = "true/false"
    case text = "text"
    case folder = "folder or null"
    case specs = "shard specs"
    case range = "[low, high]"
    case numbers = "list of numbers"
    case names = "list of names"
    case any = "any value"
}

/// The name of a key in a YAML mapping (any spelling).
package struct TrainingKeyName: CodingKey, Sendable {
    package let stringValue: String
    package var intValue: Int? { nil }
    package init(stringValue: String) { self.stringValue = stringValue }
    package init?(intValue: Int) { nil }
}

/// One configuration key: the one place that says its name, upstream's other spellings, its type, its default,
/// what it does and whether the run folder's `config.yaml` records it. The YAML reader, the command line, the
/// written `config.yaml` and `deepfake train --help` all go through `TrainingKey.all`.
package struct TrainingKey: Sendable {
    /// The name `config.yaml` and the help use (dashes).
    package let name: String
    /// Other accepted names, upstream's among them. Names compare with `_` read as `-`, case aside.
    package let aliases: [String]
    package let type: TrainingKeyType
    /// One line for people.
    package let doc: String
    package let effect: TrainingKeyEffect
    /// Sets the key's value, decoded from YAML, on a configuration; throws `TrainingKeyProblem` for a refused value.
    let apply: @Sendable (inout TrainingConfiguration, TrainingKeyValue) throws -> Void
    /// Writes the key's value into `config.yaml`; nil for keys that are not recorded.
    let write: (@Sendable (TrainingConfiguration, inout KeyedEncodingContainer<TrainingKeyName>) throws -> Void)?
    /// The value in a configuration, as text (the help's defaults); nil when the key holds no value.
    let show: (@Sendable (TrainingConfiguration) -> String)?

    /// Whether `config.yaml` records the key.
    package var isWritten: Bool { write != nil }

    /// The default value as text, or what the key accepts; nil for keys without effect.
    package var defaultText: String? { show?(TrainingConfiguration()) }

    /// A name as compared: `_` read as `-`, lower case.
    static func normalized(_ name: String) -> String { name.replacingOccurrences(of: "_", with: "-").lowercased() }

    /// The key spelled `name` (its name or an alias, `-`/`_` alike), nil for an unknown name.
    package static func named(_ name: String) -> TrainingKey? { index[normalized(name)] }

    private static let index: [String: TrainingKey] = {
        var map: [String: TrainingKey] = [:]
        for key in all { for name in [key.name] + key.aliases { map[normalized(name)] = key } }
        return map
    }()
}

/// A key's value in the YAML being decoded.
struct TrainingKeyValue {
    let container: KeyedDecodingContainer<TrainingKeyName>
    let key: TrainingKeyName

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try container.decode(type, forKey: key) }
    var isNull: Bool { (try? container.decodeNil(forKey: key)) ?? false }
    /// The value as its text when it is one scalar.
    var text: String? { try? container.decode(String.self, forKey: key) }
}

/// A refused or malformed value of a key, before it is placed in a file or on the command line.
struct TrainingKeyProblem: Error {
    let key: String
    let message: String
}

/// A number written the way Swift prints it (`0.002`, `2e-05`): shortest text that reads back to the same value.
struct PlainNumber: YAMLEncodable {
    let value: Double
    func box() -> Node { Node(value.description, Tag(.float)) }
    func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(value) }
}

extension TrainingKey {
    typealias Path<T> = WritableKeyPath<TrainingConfiguration, T> & Sendable

    /// A key that stores its decoded value at `path`; `check` names why a value is refused (nil: accepted).
    private static func stored<T: Sendable>(
        _ name: String, _ aliases: [String], _ type: TrainingKeyType, _ path: Path<T>, _ doc: String,
        decode: @escaping @Sendable (TrainingKeyValue) throws -> T, encode: @escaping @Sendable (T) -> any Encodable,
        show: @escaping @Sendable (T) -> String, check: @escaping @Sendable (T) -> String? = { _ in nil }
    ) -> TrainingKey {
        TrainingKey(name: name, aliases: aliases, type: type, doc: doc, effect: .applies, apply: { c, v in
            let value = try decode(v)
            if let reason = check(value) { throw TrainingKeyProblem(key: v.key.stringValue, message: "\(show(value)) is refused: \(reason)") }
            c[keyPath: path] = value
        }, write: { c, container in
            try container.encode(encode(c[keyPath: path]), forKey: TrainingKeyName(stringValue: name))
        }, show: { show($0[keyPath: path]) })
    }

    static func integer<T: FixedWidthInteger & Codable & Sendable>(_ name: String, also aliases: [String] = [], _ path: Path<T>, _ doc: String) -> TrainingKey {
        stored(name, aliases, .integer, path, doc, decode: { try $0.decode(T.self) }, encode: { $0 }, show: { "\($0)" })
    }

    static func number(_ name: String, also aliases: [String] = [], _ path: Path<Double>, _ doc: String,
                       check: @escaping @Sendable (Double) -> String? = { _ in nil }) -> TrainingKey {
        stored(name, aliases, .number, path, doc, decode: { try $0.decode(Double.self) }, encode: { PlainNumber(value: $0) },
               show: { "\($0)" }, check: check)
    }

    static func flag(_ name: String, also aliases: [String] = [], _ path: Path<Bool>, _ doc: String) -> TrainingKey {
        stored(name, aliases, .flag, path, doc, decode: { try $0.decode(Bool.self) }, encode: { $0 }, show: { "\($0)" })
    }

    static func text(_ name: String, also aliases: [String] = [], _ path: Path<String>, _ doc: String) -> TrainingKey {
        stored(name, aliases, .text, path, doc, decode: { try $0.decode(String.self) }, encode: { $0 }, show: { $0 })
    }

    /// A folder or nothing (`null`).
    static func folder(_ name: String, also aliases: [String] = [], _ path: Path<String?>, _ doc: String) -> TrainingKey {
        stored(name, aliases, .folder, path, doc, decode: { $0.isNull ? nil : try $0.decode(String.self) }, encode: { $0 },
               show: { $0 ?? "null" })
    }

    /// Shard specs: one, or a list.
    static func specs(_ name: String, also aliases: [String] = [], _ path: Path<[String]>, _ doc: String) -> TrainingKey {
        stored(name, aliases, .specs, path, doc, decode: { v in
            if v.isNull { return [] }
            if let one = try? v.decode(String.self) { return [one] }
            return try v.decode([String].self)
        }, encode: { $0 }, show: { $0.isEmpty ? "none" : $0.joined(separator: ", ") })
    }

    static func range(_ name: String, also aliases: [String] = [], _ path: Path<ClosedRange<Double>>, _ doc: String) -> TrainingKey {
        stored(name, aliases, .range, path, doc, decode: { v in
            let pair = try v.decode([Double].self)
            guard pair.count == 2, pair[0] <= pair[1] else {
                throw TrainingKeyProblem(key: v.key.stringValue, message: "takes two numbers, low then high, found \(pair)")
            }
            return pair[0]...pair[1]
        }, encode: { [PlainNumber(value: $0.lowerBound), PlainNumber(value: $0.upperBound)] },
        show: { "[\($0.lowerBound), \($0.upperBound)]" })
    }

    /// A record count, or all records (`null`, or a negative number).
    static func records(_ name: String, also aliases: [String] = [], _ path: Path<Int?>, _ doc: String) -> TrainingKey {
        stored(name, aliases, .integer, path, doc, decode: { v in
            if v.isNull { return nil }
            let n = try v.decode(Int.self)
            return n < 0 ? nil : n
        }, encode: { $0 }, show: { $0.map { "\($0)" } ?? "all" })
    }

    /// A number, or none (`null`, or `none` as older runs wrote it).
    static func optionalNumber(_ name: String, also aliases: [String] = [], _ path: Path<Double?>, _ doc: String) -> TrainingKey {
        stored(name, aliases, .number, path, doc, decode: { v in
            if v.isNull || v.text?.lowercased() == "none" { return nil }
            return try v.decode(Double.self)
        }, encode: { $0.map { PlainNumber(value: $0) } }, show: { $0.map { "\($0)" } ?? "none" })
    }

    /// A key that this implementation fixes: the values it accepts are what it does; others are refused.
    static func fixed<T: Decodable & Equatable & Sendable>(
        _ name: String, also aliases: [String] = [], _ type: TrainingKeyType, accepts: [T], _ doc: String, refusal: String,
        same: @escaping @Sendable (T, T) -> Bool = { $0 == $1 }
    ) -> TrainingKey {
        let shown = accepts.map { "\($0)" }.joined(separator: " or ")
        return TrainingKey(name: name, aliases: aliases, type: type, doc: doc, effect: .applies, apply: { _, v in
            let value = try v.decode(T.self)
            guard accepts.contains(where: { same($0, value) }) else {
                throw TrainingKeyProblem(key: v.key.stringValue, message: "\(value) is refused: \(refusal)")
            }
        }, write: nil, show: { _ in "only \(shown)" })
    }

    /// A text key fixed to some values, compared without regard to case.
    static func fixedText(_ name: String, also aliases: [String] = [], accepts: [String], _ doc: String, refusal: String) -> TrainingKey {
        fixed(name, also: aliases, .text, accepts: accepts, doc, refusal: refusal, same: { $0.lowercased() == $1.lowercased() })
    }

    /// Keys accepted with any value and no effect here, for one reason; `aliases` gives some of them other names.
    static func none(_ names: [String], aliases: [String: [String]] = [:], _ reason: String) -> [TrainingKey] {
        names.map { name in
            TrainingKey(name: name, aliases: aliases[name] ?? [], type: .any, doc: reason, effect: .noEffect(reason: reason),
                        apply: { _, _ in }, write: nil, show: nil)
        }
    }

    /// Every key, in the order `config.yaml` and the help list them.
    package static let all: [TrainingKey] = [
        // Model.
        fixedText("model", accepts: ["vit_tiny_patch16_224", "vit-tiny-patch16-224"],
                  "The backbone: ViT-Tiny/16 (timm's name); the size keys below change its sizes.",
                  refusal: "only ViT-Tiny/16 (vit_tiny_patch16_224) is implemented; image-size, patch-size, hidden-size, layers, heads and mlp-size change its sizes"),
        integer("image-size", also: ["img-size"], \.imageSize, "Input side in pixels."),
        TrainingKey(name: "input-size", aliases: [], type: .numbers, doc: "Upstream's [channels, height, width]: sets image-size.",
                    effect: .applies, apply: { c, v in
                        let size = try (try? v.decode(Int.self)).map { [3, $0, $0] } ?? v.decode([Int].self)
                        guard size.count == 3, size[0] == 3, size[1] == size[2], size[1] > 0 else {
                            throw TrainingKeyProblem(key: v.key.stringValue, message: "\(size) is refused: only [3, N, N] (RGB, square) is supported")
                        }
                        c.imageSize = size[1]
                    }, write: nil, show: { "[3, \($0.imageSize), \($0.imageSize)]" }),
        integer("patch-size", \.patchSize, "Patch side in pixels."),
        integer("hidden-size", also: ["embed-dim"], \.hiddenSize, "Embedding width."),
        integer("layers", also: ["depth"], \.layers, "Transformer blocks."),
        integer("heads", also: ["num-heads"], \.heads, "Attention heads."),
        integer("mlp-size", \.mlpSize, "MLP width."),
        fixed("pretrained", .flag, accepts: [false], "Start from pretrained weights.",
              refusal: "training starts from timm's random initialisation (upstream's pretrained branch does not run)"),
        fixed("mean", .numbers, accepts: [[0.485, 0.456, 0.406]], "Normalisation mean.",
              refusal: "the normalisation is ImageNet's, what the released model expects"),
        fixed("std", .numbers, accepts: [[0.229, 0.224, 0.225]], "Normalisation standard deviation.",
              refusal: "the normalisation is ImageNet's, what the released model expects"),
        number("crop-pct", \.cropPercent, "Final view: Resize(floor(image-size / crop-pct)) then CenterCrop(image-size).",
               check: { $0 > 0 && $0 <= 1 ? nil : "crop-pct must be in (0, 1]" }),
        fixed("last-crop", .flag, accepts: [true], "Finish each view with the crop-pct resize and centre crop.",
              refusal: "views always end with Resize(image-size / crop-pct) + CenterCrop (upstream's --last-crop)"),
        fixed("random-crop", .flag, accepts: [false], "Finish each view with a random crop.",
              refusal: "views always end with Resize(image-size / crop-pct) + CenterCrop (upstream's --last-crop)"),
        // Optimisation.
        integer("epochs", \.epochs, "Epochs at most."),
        integer("warmup-epochs", \.warmupEpochs, "Epochs of linear warm-up from warmup-lr."),
        number("lr", \.learningRate, "Peak learning rate."),
        number("warmup-lr", \.warmupLR, "Learning rate of epoch 0."),
        number("min-lr", \.minLR, "Learning rate the cosine decays to."),
        number("weight-decay", \.weightDecay, "AdamW weight decay (not on biases, norms, position embedding, CLS)."),
        fixedText("opt", accepts: ["adamw"], "The optimiser.",
                  refusal: "the optimiser is AdamW with timm's parameter groups; others are not implemented"),
        fixedText("sched", accepts: ["cosine"], "The learning-rate schedule.",
                  refusal: "the schedule is timm's cosine with warm-up, stepped per epoch; others are not implemented"),
        integer("batch-size", also: ["b"], \.batchSize, "Records per step (each gives 8 views)."),
        integer("num-step", also: ["steps-per-epoch", "steps"], \.stepsPerEpoch, "Optimiser steps per epoch."),
        integer("grad-accum-steps", also: ["gradient-accumulation"], \.gradientAccumulation, "Micro-batches accumulated per optimiser step."),
        optionalNumber("clip-grad", \.clipGradient, "Clip the gradients' global norm to this value (null: no clipping)."),
        number("infonce-loss-temperature", also: ["temperature"], \.temperature, "InfoNCE temperature."),
        stored("loss", [], .text, \.loss, "intended (L_real + L_fake) or released (upstream's executed 2·L_real).", decode: { v in
            let name = try v.decode(String.self)
            guard let loss = LossVariant(rawValue: name) else {
                throw TrainingKeyProblem(key: v.key.stringValue, message: "\(name) is refused: loss must be intended or released")
            }
            return loss
        }, encode: { $0.rawValue }, show: { $0.rawValue }),
        fixed("double-contrastive", .flag, accepts: [true], "Contrast the fake images' global and local crops too.",
              refusal: "the fake images' global and local crops are always part of the objective"),
        range("global-crops-scale", \.globalCropScale, "Area range of the global crops."),
        range("local-crops-scale", \.localCropScale, "Area range of the local crops."),
        integer("seed", \.seed, "Seed of everything random."),
        integer("num-transform", \.numTransform, "At most this many of the 19 augmentations per augmented view."),
        flag("data-augmentation", \.dataAugmentation, "Augment the augmented and cropped views."),
        TrainingKey(name: "no-data-augmentation", aliases: [], type: .flag, doc: "Upstream's inverse of data-augmentation.",
                    effect: .applies, apply: { c, v in c.dataAugmentation = !(try v.decode(Bool.self)) },
                    write: nil, show: { "\(!$0.dataAugmentation)" }),
        // Data.
        folder("data-dir", \.dataDir, "Folder the names in the train-shards and linear-train-shards list files are relative to (null: each list file's folder)."),
        folder("data-dir-eval-augm", \.dataDirEvalAugm, "Folder the names in the val-shards-augm list files are relative to (null: each list file's folder)."),
        folder("data-dir-eval-no-augm", \.dataDirEvalNoAugm, "Folder the names in the val-shards-no-augm list files are relative to (null: each list file's folder)."),
        specs("train-shards", \.trainShards, "Contrastive training shards (resampled)."),
        specs("linear-train-shards", \.linearTrainShards, "Shards the heads are fitted on each epoch."),
        specs("val-shards-no-augm", also: ["validation-shards", "val-shards"], \.validationShards, "Clean validation shards (model selection)."),
        specs("val-shards-augm", also: ["validation-transformed-shards", "val-shards-transformed"], \.validationTransformedShards,
              "Transformed validation shards (reported)."),
        records("data-len-linear", \.linearRecords, "Records read from the head-fitting shards (null: all)."),
        records("data-len-eval", \.validationRecords, "Records read from each validation set (null: all)."),
        integer("shuffle-buffer", \.shuffleBuffer, "Shuffle buffer of the training records."),
        stored("on-error", [], .text, \.onError,
               "A shard the data keys name that is missing when the run starts: stop (the run does not start) or skip "
               + "(train on the rest, warn, record it in state.json, exit with status 1 at the end).", decode: { v in
            switch try v.decode(String.self).lowercased() {
            case "stop": return .stop
            case "skip": return .skip
            case let other: throw TrainingKeyProblem(key: v.key.stringValue, message: "\(other) is refused: on-error must be stop or skip")
            }
        }, encode: { $0 == .stop ? "stop" : "skip" }, show: { $0 == .stop ? "stop" : "skip" }),
        fixedText("dataset", accepts: ["elsa_v2_train_dino"], "How training records become views.",
                  refusal: "training records are D3 records made into CoDE's 8 views (upstream's elsa_v2_train_dino)"),
        fixedText("dataset-eval", accepts: ["elsa_v2_all"], "How head-fitting and validation records are read.",
                  refusal: "head-fitting and validation records give their real and every generated image (upstream's elsa_v2_all)"),
        // Selection and outputs.
        flag("initial-validation", \.initialValidation, "Validate the untrained model before epoch 0."),
        fixed("classifier", .names, accepts: [["linear", "knn", "svm"]], "The heads fitted each epoch.",
              refusal: "the linear, k-NN and one-class SVM heads are always fitted", same: { Set($0) == Set($1) }),
        fixedText("eval-metric", accepts: ["accuracy"], "Model-selection metric.",
                  refusal: "model selection and early stopping use the linear head's clean accuracy"),
        flag("early-stopping", \.earlyStopping, "Stop when the selection metric stops improving."),
        integer("patience-epochs", \.patienceEpochs, "Epochs without improvement before stopping."),
        integer("keep-checkpoints", also: ["checkpoint-hist"], \.keepCheckpoints, "Newest epoch checkpoints kept (besides last and best)."),
        text("output", \.output, "Run folder."),
        TrainingKey(name: "threads", aliases: [], type: .integer, doc: "Worker threads (default: all cores; state.json records it for --resume).",
                    effect: .applies, apply: { c, v in c.threads = v.isNull ? nil : try v.decode(Int.self) },
                    write: nil, show: { $0.threads.map { "\($0)" } ?? "all cores" }),
    ]
    + none(["cineca"], "selects upstream's cluster file paths; paths come from the data keys here")
    + none(["amp", "amp-dtype", "amp-impl"], "training computes in float32 here")
    + none(["workers", "workers-validate"], aliases: ["workers": ["j"]], "decoding and views run on --threads threads")
    + none(["validation-batch-size"], aliases: ["validation-batch-size": ["vb"]], "head fitting and validation read data-len-linear and data-len-eval records whatever the batch")
    + none(["no-prefetcher", "pin-mem"], "PyTorch data-loader settings")
    + none(["log-interval"], "progress shows every step on a terminal, every 50 steps in a log")
    + none(["log-wandb", "wandb-logging", "wandb-project-name", "wandb-entity", "wandb-name", "wandb-id", "wandb-group", "wandb-notes"],
           "no Weights & Biases logging here (train.log and summary.csv)")
    + none(["plot-freq"], "no t-SNE plots are drawn during training")
    + none(["multiple-evaluations"], "no per-generator heads are fitted during training (deepfake evaluate reports per pair)")
    + none(["experiment"], "the run folder is --output itself")
    + none(["local-rank", "dist-bn"], "distributed-training settings; training here is one process")
    + none(["momentum"], "not used by AdamW")
    + none(["sup-contrastive-loss", "contrastive-loss", "dino-crop", "distance", "local-local", "global-global", "margin",
            "head-out", "n-crops", "dino-head", "dino-temp", "real-centering-loss", "triplet-loss", "bce-loss", "data-generator"],
           "parsed but never read by upstream's training")
}
