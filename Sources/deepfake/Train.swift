import ArgumentParser
import DeepfakeCore
import Foundation
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train CoDE from shards: contrastive global-local steps, per-epoch heads and validation.",
        discussion: """
            Settings come from upstream's configuration as it is: --config takes a YAML file such as \
            upstream's config-training.yaml, and upstream's train.sh flags are accepted as they are \
            (--model vit_tiny_patch16_224 --sched cosine --double_contrastive --epochs 150 --lr 0.002 \
            --opt adamw --batch-size 256 --num_transform 2 --last-crop --crop-pct 0.9 ...). Flags override the \
            file. Every key takes effect, or is accepted without effect here and named in one warning line, \
            or is refused with the reason (the table below, and docs/training.md). Shard specs are brace \
            patterns (d3-{0000..0491}.tar), .shards list files (names relative to data-dir, \
            data-dir-eval-augm, data-dir-eval-no-augm when set, else to the list file's folder) or paths.

            Each epoch: num-step contrastive steps of batch-size records (8 views each; the augmented and \
            cropped views get 0 to num-transform of upstream's 19 augly augmentations) with AdamW and \
            timm's cosine schedule, then the linear, k-NN and one-class SVM heads fitted on the \
            linear-train shards and measured on the validation shards; early stopping on the linear \
            head's clean accuracy. Before epoch 0 the untrained model is measured the same way (the \
            baseline; summary.csv's epoch -1 row; --no-initial-validation skips it). The run folder gets \
            summary.csv, config.yaml (the resolved configuration), train.log, \
            checkpoints/epoch-NNNN (atomic; last, best and the newest keep-checkpoints kept), state.json, and at the \
            end release/: config.json, model.safetensors and heads/ for `deepfake detect --model`.

            Examples:
              deepfake train --config config-training.yaml --output runs/code
              deepfake train --train-shards 'd3/elsa_v2-{0002..0491}.tar' \\
                --linear-train-shards lin.shards --val-shards val.shards \\
                --epochs 150 --batch-size 64 --output runs/code
              deepfake train --output runs/code --resume

            \(TrainingKey.helpText)
            """)

    @Option(help: "A YAML configuration file (upstream's config-training.yaml keys, or the keys below).")
    var config: String?

    @Flag(help: "Continue the run in --output from its last checkpoint, bit for bit (its config.yaml, unless --config).") var resume = false
    @Option(help: .hidden) var stopAfterEpoch: Int?
    @OptionGroup var logging: LoggingOptions

    @Argument(parsing: .allUnrecognized, help: "Settings: --key value for any key below (upstream's train.sh flags included).")
    var settings: [String] = []

    func run() throws {
        let c: TrainingConfiguration
        do {
            let resolved = try TrainingConfiguration.resolve(configFile: config, arguments: settings, resume: resume)
            c = resolved.configuration
            if let warning = TrainingConfiguration.noEffectWarning(resolved.noEffect) { printError(warning) }
        } catch {
            throw ValidationError("\(error)")
        }
        let tty = isatty(2) == 1
        var bar: ProgressBar?
        let trainer = try Trainer(configuration: c, log: { line in printError(line) }, progress: { p in
            let loss = "loss \(String(format: "%.4f", p.loss))  lr \(String(format: "%.3g", p.learningRate))"
            if tty {
                if bar == nil || p.step == 1 {
                    bar = ProgressBar(total: p.steps, label: "epoch \(p.epoch + 1)/\(p.epochs)", width: 24, enabled: true)
                }
                bar!.update(done: p.step, rate: p.imagesPerSecond, secondsLeft: p.epochSecondsLeft,
                            detail: "  \(loss)  run ETA \(ProgressBar.duration(p.runSecondsLeft)) (steps only)")
                if p.step == p.steps { bar!.finish(); bar = nil }
            } else if p.step == p.steps || p.step % 50 == 0 {
                printError("epoch \(p.epoch) step \(p.step)/\(p.steps)  \(loss)  \(String(format: "%.1f", p.imagesPerSecond)) img/s  "
                           + "ETA epoch \(ProgressBar.duration(p.epochSecondsLeft)), run \(ProgressBar.duration(p.runSecondsLeft)) (steps only)")
            }
        })
        do {
            try trainer.run(resume: resume, stopAfterEpoch: stopAfterEpoch)
        } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        if !trainer.missingShards.isEmpty {
            printError("error: trained without \(trainer.missingShards.count) missing shards (on-error: skip; listed above and in state.json)")
            throw ExitCode(1)
        }
    }
}
