import ArgumentParser
import Foundation
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train CoDE from shards: contrastive global-local steps, per-epoch heads and validation.",
        discussion: """
            The configuration is upstream's: --config takes a YAML file of `key: value` lines with \
            config-training.yaml / train.py names (lr, epochs, warmup-epochs, batch-size, num-step, \
            train-shards, linear-train-shards, val-shards-no-augm, val-shards-augm, ...); flags override it. \
            Shard specs are brace patterns (d3-{0000..0491}.tar), .shards list files or paths.

            Each epoch: --steps contrastive steps of --batch-size records (8 views each; the augmented and \
            cropped views get 0 to --num-transform of upstream's 19 augly augmentations) with AdamW and \
            timm's cosine schedule, then the linear, k-NN and one-class SVM heads fitted on the \
            linear-train shards and measured on the validation shards; early stopping on the linear \
            head's clean accuracy. Before epoch 0 the untrained model is measured the same way (the \
            baseline; summary.csv's epoch -1 row; --no-initial-validation skips it). The run folder gets \
            summary.csv, config.yaml, train.log, \
            checkpoints/epoch-NNNN (atomic; last, best and the newest --keep kept), state.json, and at the \
            end release/: config.json, model.safetensors and heads/ for `deepfake detect --model`.

            Examples:
              deepfake train --config config-training.yaml --output runs/code
              deepfake train --train-shards 'd3/elsa_v2-{0002..0491}.tar' --linear-train-shards lin.shards \\
                --val-shards val.shards --epochs 150 --batch-size 64 --output runs/code
              deepfake train --output runs/code --resume
            """)

    @Option(help: "A YAML file with upstream's configuration keys.")
    var config: String?

    @Option(help: "Run folder.") var output: String?
    @Option(help: "Epochs.") var epochs: Int?
    @Option(help: "Warm-up epochs.") var warmupEpochs: Int?
    @Option(help: "Peak learning rate.") var lr: Double?
    @Option(help: "Records per step (each gives 8 views).") var batchSize: Int?
    @Option(help: "Steps per epoch (upstream's --num-step).") var steps: Int?
    @Option(help: "Micro-batches accumulated per optimiser step.") var gradientAccumulation: Int?
    @Option(help: "Clip the gradients' global norm to this value.") var clipGrad: Double?
    @Option(help: "InfoNCE temperature.") var temperature: Double?
    @Option(help: "Loss: intended (L_real + L_fake) or released (upstream's executed 2·L_real).") var loss: String?
    @Option(help: "Training shard specs (repeatable).") var trainShards: [String] = []
    @Option(help: "Head-fitting shard specs (repeatable).") var linearTrainShards: [String] = []
    @Option(help: "Clean validation shard specs (repeatable).") var valShards: [String] = []
    @Option(help: "Transformed validation shard specs (repeatable).") var valShardsTransformed: [String] = []
    @Option(help: "Model size: image size (the patch, width, depth, heads and MLP keys are in the YAML).") var imageSize: Int?
    @Option(help: "Seed.") var seed: Int?
    @Option(help: "Worker threads (default: all cores).") var threads: Int?
    @Option(help: "At most this many of the 19 augmentations per view (upstream's --num_transform; default 2).") var numTransform: Int?
    @Flag(inversion: .prefixedNo, help: "Augment the augmented and cropped views (default: on; upstream's --no-data-augmentation).") var dataAugmentation: Bool?
    @Flag(inversion: .prefixedNo, help: "Validate the untrained model before epoch 0 (default: on).") var initialValidation: Bool?
    @Flag(help: "Continue the run in --output from its last checkpoint, bit for bit.") var resume = false
    @Option(help: .hidden) var stopAfterEpoch: Int?

    func run() throws {
        var c = TrainingConfiguration()
        do {
            // --resume without --config continues with the run's own resolved configuration.
            let file = config ?? (resume ? output.map { $0 + "/config.yaml" } : nil)
            if let file {
                for key in try c.apply(yamlFile: file) { printError("note: \(file): key '\(key)' is not used by this implementation") }
            }
            func set(_ key: String, _ value: [String]?) throws { if let value { _ = try c.set(key, value) } }
            try set("output", output.map { [$0] })
            try set("epochs", epochs.map { ["\($0)"] })
            try set("warmup-epochs", warmupEpochs.map { ["\($0)"] })
            try set("lr", lr.map { ["\($0)"] })
            try set("batch-size", batchSize.map { ["\($0)"] })
            try set("num-step", steps.map { ["\($0)"] })
            try set("grad-accum-steps", gradientAccumulation.map { ["\($0)"] })
            try set("clip-grad", clipGrad.map { ["\($0)"] })
            try set("temperature", temperature.map { ["\($0)"] })
            try set("loss", loss.map { [$0] })
            try set("train-shards", trainShards.isEmpty ? nil : trainShards)
            try set("linear-train-shards", linearTrainShards.isEmpty ? nil : linearTrainShards)
            try set("val-shards-no-augm", valShards.isEmpty ? nil : valShards)
            try set("val-shards-augm", valShardsTransformed.isEmpty ? nil : valShardsTransformed)
            try set("image-size", imageSize.map { ["\($0)"] })
            try set("seed", seed.map { ["\($0)"] })
            try set("threads", threads.map { ["\($0)"] })
            try set("num-transform", numTransform.map { ["\($0)"] })
            try set("data-augmentation", dataAugmentation.map { ["\($0)"] })
            try set("initial-validation", initialValidation.map { ["\($0)"] })
            try c.validate()
        } catch {
            throw ValidationError("\(error)")
        }
        let tty = isatty(2) == 1
        let trainer = try Trainer(configuration: c, log: { line in printError(line) }, progress: { p in
            let stats = "loss \(String(format: "%.4f", p.loss))  lr \(String(format: "%.3g", p.learningRate))  "
                + "\(String(format: "%.1f", p.imagesPerSecond)) img/s  ETA epoch \(duration(p.epochSecondsLeft)), "
                + "run \(duration(p.runSecondsLeft)) (steps only)"
            let width = 24, filled = width * p.step / max(1, p.steps)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let text = tty ? "epoch \(p.epoch + 1)/\(p.epochs) \(bar) \(p.step)/\(p.steps)  " + stats
                           : "epoch \(p.epoch) step \(p.step)/\(p.steps)  " + stats
            if tty {
                FileHandle.standardError.write(("\r\u{1B}[K" + text + (p.step == p.steps ? "\n" : "")).data(using: .utf8)!)
            } else if p.step == p.steps || p.step % 50 == 0 {
                printError(text)
            }
        })
        do {
            try trainer.run(resume: resume, stopAfterEpoch: stopAfterEpoch)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
    }
}

/// `1h02m`, `3m05s` or `42s`.
func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%dh%02dm", s / 3600, s % 3600 / 60) }
    if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return "\(s)s"
}
