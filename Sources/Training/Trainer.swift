import Checkpoints
import D3
import DeepfakeCore
import Foundation
import Heads
import Imaging
import Tensor
import ViT
import WebDataset

/// What one epoch produced, or (epoch −1) what the untrained model measures before epoch 0.
package struct EpochSummary: Sendable {
    /// The epoch, from 0; `initialEpoch` (−1) for the untrained model's validation.
    package var epoch: Int
    /// The epoch's learning rate and mean contrastive loss (nil for the untrained model: no step was taken).
    package var learningRate: Double?
    package var trainLoss: Double?
    /// Per head: accuracy on the clean and the transformed validation records (nil when not run).
    package var cleanAccuracy: [HeadKind: Double]
    package var transformedAccuracy: [HeadKind: Double]
    /// The model-selection metric: the linear head's accuracy on the clean validation set.
    package var selectionMetric: Double { cleanAccuracy[.linear] ?? cleanAccuracy.values.first ?? 0 }
    /// The `epoch` of the untrained model's row (summary.csv and `Trainer.run`'s result).
    package static let initialEpoch = -1
    /// Whether this is the untrained model's validation rather than an epoch's.
    package var isInitial: Bool { epoch == Self.initialEpoch }

    package init(epoch: Int, learningRate: Double?, trainLoss: Double?, cleanAccuracy: [HeadKind: Double],
                 transformedAccuracy: [HeadKind: Double]) {
        self.epoch = epoch; self.learningRate = learningRate; self.trainLoss = trainLoss
        self.cleanAccuracy = cleanAccuracy; self.transformedAccuracy = transformedAccuracy
    }
}

/// Progress of the contrastive steps, for bars and logs.
package struct StepProgress: Sendable {
    package var epoch: Int, step: Int, steps: Int
    package var loss: Double, learningRate: Double, imagesPerSecond: Double
    /// Epochs in the run, and seconds since this epoch's first step began.
    package var epochs: Int = 0, elapsed: Double = 0

    /// Seconds left in this epoch's steps, at this epoch's pace so far.
    package var epochSecondsLeft: Double { step > 0 ? elapsed / Double(step) * Double(steps - step) : 0 }
    /// Seconds left in the run's remaining steps at this pace (head fitting and validation not included).
    package var runSecondsLeft: Double {
        step > 0 ? epochSecondsLeft + elapsed / Double(step) * Double(steps) * Double(max(0, epochs - epoch - 1)) : 0
    }
}

/// CoDE's training loop (docs/upstream.md, Heads during training): contrastive steps on resampled shards, then per
/// epoch the heads fitted on the linear-train shards and evaluated on the validation shards, early stopping
/// on the linear head's clean accuracy, checkpoints (`last`, `best`, the last N epochs) written atomically,
/// and a release folder in the Hugging Face layout. Before epoch 0 the untrained model gets the same head
/// fitting and validation (summary.csv's epoch −1 row), the baseline the epochs are compared with; it is
/// not a checkpoint and takes no part in model selection. Everything random derives from (seed, epoch,
/// step, record), so `resume` continues bit for bit, whenever the previous process was killed.
package final class Trainer {
    package let configuration: TrainingConfiguration
    package let log: (String) -> Void
    package let progress: (StepProgress) -> Void
    private var compute: ComputeOptions
    private let folder: String
    /// The shards of each set, without those found missing at the start (`on-error: skip`).
    private var shardSets: [TrainingConfiguration.ShardSet: [String]] = [:]
    /// Shards left out because they were missing when the run started (`on-error: skip`); a caller ends with a
    /// failure status when there are any.
    package private(set) var missingShards: [String] = []

    package init(configuration: TrainingConfiguration, log: @escaping (String) -> Void = { _ in },
                progress: @escaping (StepProgress) -> Void = { _ in }) throws {
        try configuration.validate()
        self.configuration = configuration
        self.log = log
        self.progress = progress
        self.compute = ComputeOptions(threads: configuration.threads)
        self.folder = configuration.output
    }

    /// The run's folder: state, summary, log, checkpoints, release.
    private var files: RunFolder { RunFolder(path: folder, keepCheckpoints: configuration.keepCheckpoints) }
    /// The run's log file, open while `run` runs.
    private var runLog: RunLog?

    /// Appends a line to the run's log file and passes it on.
    private func note(_ line: String) {
        if let runLog { runLog.note(line) } else { log(line) }
    }

    /// The stream the initial weights draw from (a child of the seed's): apart from the data's streams, which
    /// are derived from (epoch, step, ...).
    static let initialWeightsStream: UInt64 = 0x1417
    /// Images embedded per forward when fitting and validating the heads: the batch upstream's evaluation uses.
    static let evaluationBatch = 32
    /// Samples the training shuffle buffer holds before it yields the first one (webdataset's `initial=100`).
    static let initialShuffleFill = 100

    // MARK: the run

    /// Trains from scratch, or from the last checkpoint when `resume` is true and one exists.
    /// `stopAfterEpoch` ends the run early after that epoch (as if interrupted), for tests and staged runs.
    /// Returns what this call measured: the untrained model's validation (`epoch` −1) when it ran in this
    /// call (`initialValidation`, not yet recorded by the run), then each epoch trained.
    @discardableResult
    package func run(resume: Bool = false, stopAfterEpoch: Int? = nil) throws -> [EpochSummary] {
        let fm = FileManager.default
        let missing = try resolveShardSets()
        let files = self.files
        try fm.createDirectory(atPath: files.checkpoints, withIntermediateDirectories: true)
        runLog = try RunLog(path: files.logPath, forward: log)
        defer { runLog = nil }
        let c = configuration
        let modelConfig = c.model
        var state = RunState(epochsDone: 0, last: nil, best: nil, bestMetric: 0, badEpochs: 0, stopped: false,
                             threads: compute.threads)
        var weights = ViTInitialization.timm(config: modelConfig, rng: RandomSource(seed: c.seed).derived(Self.initialWeightsStream))
        var optimizer = AdamW(parameters: ParameterSet.vit(modelConfig),
                              configuration: AdamWConfiguration(weightDecay: c.weightDecay))
        if resume { files.removeLeftovers() }
        if resume, let saved = try files.readState() {
            state = saved
            if let recorded = saved.threads, recorded != compute.threads {
                if configuration.threads == nil {
                    compute = ComputeOptions(threads: recorded)
                    note("resuming with the run's \(recorded) threads (gradients are summed per thread; --threads overrides)")
                } else {
                    note("warning: resuming with \(compute.threads) threads where the run used \(recorded): the result will "
                         + "differ in the last bits from an uninterrupted run")
                }
            }
            state.threads = compute.threads  // what the rest of the run computes with
            if let last = saved.last {
                let checkpoint = files.checkpoints + "/" + last
                let stored = try VisionTransformer(folder: checkpoint)
                var storedConfig = stored.config
                storedConfig.layerNormEps = modelConfig.layerNormEps
                guard storedConfig == modelConfig else {
                    func sizes(_ m: ViTConfig) -> String {
                        let sameFixedChoices = m.qkvBias == modelConfig.qkvBias && m.activation == modelConfig.activation && m.channels == modelConfig.channels
                        return "image-size \(m.imageSize), patch-size \(m.patchSize), hidden-size \(m.hiddenSize), layers \(m.layers), heads \(m.heads), "
                            + "mlp-size \(m.intermediateSize)" + (sameFixedChoices ? "" : " (another activation, qkv_bias or num_channels)")
                    }
                    throw TrainingError.runFolder("\(checkpoint) holds a model with \(sizes(stored.config)); the configuration asks for \(sizes(modelConfig)): "
                                        + "resume with the run's own model sizes, or start a new run with another --output")
                }
                weights = stored.weights
                _ = try optimizer.loadState(from: checkpoint + "/optimizer.safetensors")
                try files.pruneCheckpoints(keeping: [saved.last, saved.best].compactMap { $0 })
                note("resumed from \(checkpoint) after epoch \(saved.epochsDone)")
            } else {
                note("resumed before epoch 0, from the initial weights")
            }
        } else if fm.fileExists(atPath: files.statePath) {
            throw TrainingError.runFolder("\(folder) already holds a run; pass --resume to continue it or choose another --output")
        }
        // Written once the folder is known to be this run's (a refused resume leaves the run's own file).
        try writeFileAtomically(folder + "/config.yaml", bytes: Array(try configuration.encodedYAML().utf8))
        for problem in missing { note("warning: \(problem) (on-error: skip; the run goes on without it)") }
        state.missingShards = missingShards.isEmpty ? nil : missingShards
        if state.stopped { note("the run had already stopped early"); return [] }

        let schedule = CosineSchedule(baseLR: c.learningRate, minLR: c.minLR, warmupLR: c.warmupLR,
                                      warmupEpochs: c.warmupEpochs, epochs: c.epochs)
        let trainShards = try shards(.train)
        var summaries: [EpochSummary] = []
        let validateInitial = c.initialValidation && state.epochsDone == 0 && state.initialValidated != true
        let summary = try SummaryWriter(path: files.summaryPath, next: validateInitial ? EpochSummary.initialEpoch : state.epochsDone)
        // The untrained model's validation: the baseline the epochs are compared with (once per run).
        if validateInitial {
            let model = VisionTransformer(config: modelConfig, weights: weights)
            let (_, clean, transformed) = try fitAndValidate(model: model, epoch: EpochSummary.initialEpoch)
            let initial = EpochSummary(epoch: EpochSummary.initialEpoch, learningRate: nil, trainLoss: nil,
                                       cleanAccuracy: clean, transformedAccuracy: transformed)
            summaries.append(initial)
            try summary.append(initial)
            state.initialValidated = true
            try files.writeState(state)
            note("initial model (untrained): linear accuracy \(String(format: "%.4f", initial.selectionMetric))")
        }
        // A resume with fewer epochs than the run has done trains nothing more.
        for epoch in state.epochsDone..<max(state.epochsDone, c.epochs) {
            let lr = schedule.learningRate(epoch: epoch)
            let (loss, leftOut) = try trainEpoch(epoch: epoch, shards: trainShards, weights: &weights, optimizer: &optimizer,
                                                 learningRate: lr)
            if leftOut > 0 { state.recordsLeftOut = (state.recordsLeftOut ?? 0) + leftOut }
            let model = VisionTransformer(config: modelConfig, weights: weights)
            let (heads, clean, transformed) = try fitAndValidate(model: model, epoch: epoch)
            let row = EpochSummary(epoch: epoch, learningRate: lr, trainLoss: loss, cleanAccuracy: clean,
                                   transformedAccuracy: transformed)
            summaries.append(row)
            // Early stopping (upstream's EarlyStopper): better → reset; worse → count; equal → nothing.
            let metric = row.selectionMetric
            let improved = state.best == nil || metric > state.bestMetric
            if improved { state.bestMetric = metric; state.badEpochs = 0 } else if metric < state.bestMetric { state.badEpochs += 1 }
            let name = RunFolder.checkpointName(epoch: epoch)
            // Checkpoint, summary row, then the state that points at them; pruning last, so that a kill at
            // any moment leaves state.json naming complete checkpoints (a resume redoes an unrecorded epoch
            // bit for bit and replaces its row).
            try files.saveCheckpoint(name: name, config: modelConfig, weights: weights, optimizer: optimizer, heads: heads)
            try summary.append(row)
            state.epochsDone = epoch + 1
            state.last = name
            if improved { state.best = name }
            state.stopped = c.earlyStopping && state.badEpochs >= c.patienceEpochs
            try files.writeState(state)
            try files.pruneCheckpoints(keeping: [state.last, state.best].compactMap { $0 })
            note("epoch \(epoch): lr \(String(format: "%.6g", lr)), loss \(String(format: "%.5f", loss)), "
                 + "linear accuracy \(String(format: "%.4f", metric)) (best \(String(format: "%.4f", state.bestMetric)) at \(state.best ?? "-"))"
                 + (state.stopped ? ", early stopping" : ""))
            if state.stopped || stopAfterEpoch == epoch { break }
        }
        if let best = state.best, state.stopped || state.epochsDone >= c.epochs {
            note("release: \(try files.writeRelease(from: best)) (from \(best))")
        }
        if let leftOut = state.recordsLeftOut {
            note("data: \(leftOut) undecodable training records left out of their steps (each replaced by the next record)")
        }
        if !missingShards.isEmpty { note("data: \(missingShards.count) missing shards left out (on-error: skip)") }
        return summaries
    }

    /// Resolves every shard set and checks its local shards: one that is missing or cannot be opened stops the
    /// run here, naming the list, line and file (`on-error: stop`), or is left out of its set (`skip`: listed
    /// in `missingShards` and returned as warnings). A set left with no shard stops the run either way.
    private func resolveShardSets() throws -> [String] {
        var problems: [String] = [], missing: [String] = []
        for set in TrainingConfiguration.ShardSet.allCases {
            var kept: [String] = []
            for entry in try configuration.shardEntries(set) {
                if case .file(let path) = try ShardSpec.location(of: entry.name), let reason = ShardSpec.localFileProblem(path) {
                    if !missing.contains(entry.description) {
                        missing.append(entry.description)
                        problems.append("\(entry): \(reason)")
                    }
                } else {
                    kept.append(entry.name)
                }
            }
            shardSets[set] = kept
        }
        if !problems.isEmpty && configuration.onError == .stop {
            throw TrainingError.data("shards that cannot be read:\n  " + problems.joined(separator: "\n  ")
                                + "\n(on-error: skip trains on the other shards instead)")
        }
        let needed: [(TrainingConfiguration.ShardSet, String)] = [(.train, "train-shards"), (.linearTrain, "linear-train-shards"),
                                                                  (.validation, "val-shards-no-augm")]
        for (set, key) in needed where shardSets[set]?.isEmpty != false {
            throw TrainingError.data("no shard of \(key) can be read:\n  " + problems.joined(separator: "\n  "))
        }
        missingShards = missing
        return problems
    }

    /// The shards of `set` (without the missing ones once the run has checked them).
    private func shards(_ set: TrainingConfiguration.ShardSet) throws -> [String] {
        if let known = shardSets[set] { return known }
        return try configuration.shardNames(set)
    }

    /// The contrastive steps of one epoch; returns the mean loss and how many records were left out because an
    /// image did not decode.
    private func trainEpoch(epoch: Int, shards: [String], weights: inout ViTWeights, optimizer: inout AdamW,
                            learningRate: Double) throws -> (loss: Double, leftOut: Int) {
        let c = configuration
        let report = PipelineReport()
        var samples = ShardList(shards).resampled(seed: c.seed, epoch: epoch)
            .samples(from: TarShardSource(), report: report, onError: .skip)
            .shuffled(bufferSize: c.shuffleBuffer, initial: min(Self.initialShuffleFill, c.shuffleBuffer), seed: c.seed, epoch: epoch)
            .makeIterator()
        var step = TrainingStep(configuration: c, views: CoDEViewBuilder(viewConfiguration), compute: compute,
                                parameters: optimizer.parameters)
        var total = 0.0
        var leftOut = 0
        let start = Date()
        func nextSample() throws -> Sample {
            guard let sample = try samples.next() else { throw TrainingError.data("the training shards yielded no samples") }
            return sample
        }
        for s in 0..<c.stepsPerEpoch {
            let (losses, left) = try step.run(epoch: epoch, step: s, weights: &weights, optimizer: &optimizer,
                                              learningRate: learningRate, next: nextSample, warn: note)
            for loss in losses { total += loss / Double(c.gradientAccumulation) }
            leftOut += left
            let elapsed = Date().timeIntervalSince(start)
            progress(StepProgress(epoch: epoch, step: s + 1, steps: c.stepsPerEpoch, loss: total / Double(s + 1),
                                  learningRate: learningRate,
                                  imagesPerSecond: Double((s + 1) * ViewGroup.allCases.count * c.batchSize * c.gradientAccumulation) / max(elapsed, 1e-9),
                                  epochs: c.epochs, elapsed: elapsed))
        }
        if report.counts.samplesSkipped > 0 || report.counts.shardsFailed > 0 { note("data: \(report.counts)") }
        return (total / Double(c.stepsPerEpoch), leftOut)
    }

    /// The view pipeline for this model size: crops at the model's image size, Resize(floor(size / crop-pct)) + CenterCrop.
    var viewConfiguration: CoDEViewConfiguration {
        let c = configuration
        let size = c.imageSize
        var global = RandomResizedCrop.codeGlobal, local = RandomResizedCrop.codeLocal
        global.size = size; local.size = size
        global.scale = c.globalCropScale; local.scale = c.localCropScale
        return CoDEViewConfiguration(globalCrop: global, localCrop: local,
                                     augmentations: .upstream(maxOperations: c.numTransform), useTransform: c.dataAugmentation,
                                     preprocessing: .resizeThenCenterCrop(resize: Int(Double(size) / c.cropPercent), crop: size))
    }

    /// Embeds the records of a shard set (real and every generated image; Resize + CenterCrop as upstream's
    /// in-training evaluation), at most `limit` records.
    func embedRecords(_ set: TrainingConfiguration.ShardSet, model: VisionTransformer, limit: Int?) throws -> HeadTrainingSet {
        let names = try shards(set)
        let report = PipelineReport()
        var iterator = ShardList(names).samples(from: TarShardSource(), report: report, onError: .skip).makeIterator()
        let prep = viewConfiguration.preprocessing
        var vectors: [Float] = [], labels: [Bool] = []
        var count = 0
        let batch = Self.evaluationBatch
        while limit.map({ count < $0 }) ?? true {
            var samples: [Sample] = []
            while samples.count < batch, limit.map({ count + samples.count < $0 }) ?? true, let s = try iterator.next() { samples.append(s) }
            if samples.isEmpty { break }
            count += samples.count
            let decoded = samples.map(decodeRecord)
            var images: [(RGBImage, Bool)] = []
            for d in decoded {
                switch d {
                case let .success(r): images.append((r.real, false)); images += r.fakes.map { ($0, true) }
                case let .failure(e): note("warning: \(e)")
                }
            }
            var pixels = [Float](repeating: 0, count: images.count * model.inputCount)
            pixels.withUnsafeMutableBufferPointer { px in
                let px = UncheckedSendable(px)
                parallelFor(images.count, threads: compute.threads) { i in
                    prep.apply(images[i].0, normalization: .imageNet,
                               into: UnsafeMutableBufferPointer(rebasing: px.value[(i * model.inputCount)..<((i + 1) * model.inputCount)]))
                }
            }
            let z = pixels.withUnsafeBufferPointer { model.embed(pixels: $0, batch: images.count, options: compute) }
            vectors += z.data
            labels += images.map(\.1)
        }
        if report.counts.samplesSkipped > 0 || report.counts.shardsFailed > 0 { note("data: \(report.counts)") }
        return try HeadTrainingSet(embeddings: vectors, features: model.config.hiddenSize, isFake: labels)
    }

    /// Fits the three heads on the linear-train records and measures them on the validation records.
    private func fitAndValidate(model: VisionTransformer, epoch: Int)
        throws -> (heads: [FittedHead], clean: [HeadKind: Double], transformed: [HeadKind: Double]) {
        let c = configuration
        let train = try embedRecords(.linearTrain, model: model, limit: c.linearRecords)
        let heads = try fitHeads(train, kinds: HeadKind.allCases)
        func accuracy(_ shards: TrainingConfiguration.ShardSet, _ specs: [String]) throws -> [HeadKind: Double] {
            guard !specs.isEmpty else { return [:] }
            let set = try embedRecords(shards, model: model, limit: c.validationRecords)
            var out: [HeadKind: Double] = [:]
            for fitted in heads {
                var correct = 0
                for i in 0..<set.count {
                    let x = Array(set.embeddings[(i * set.features)..<((i + 1) * set.features)])
                    if fitted.head.predict(x).isFake == set.isFake[i] { correct += 1 }
                }
                out[fitted.kind] = Double(correct) / Double(max(1, set.count))
            }
            return out
        }
        return (heads, try accuracy(.validation, c.validationShards), try accuracy(.validationTransformed, c.validationTransformedShards))
    }
}
