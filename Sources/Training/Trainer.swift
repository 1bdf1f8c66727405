import Checkpoints
import DeepfakeCore
import Detection
import Foundation
import Heads
import Imaging
import Tensor
import ViT
import WebDataset

/// One D3 record decoded: the real image and its generated ones (gen_0, gen_1, ... in order).
public struct DecodedRecord: Sendable {
    public var key: String
    public var real: RGBImage
    public var fakes: [RGBImage]
}

/// Decodes a D3 sample (`real.*`, `gen_0.*` … `gen_3.*`); nil with a reason when a field is missing or broken.
public func decodeRecord(_ sample: Sample) -> Result<DecodedRecord, TrainingError> {
    func field(_ prefix: String) -> (name: String, bytes: [UInt8])? { sample.fields.first { $0.name.hasPrefix(prefix + ".") } }
    guard let real = field("real") else { return .failure(TrainingError("\(sample.shard)#\(sample.key): no real.* field")) }
    var fakes: [(name: String, bytes: [UInt8])] = []
    var k = 0
    while let f = field("gen_\(k)") { fakes.append(f); k += 1 }
    if fakes.isEmpty { return .failure(TrainingError("\(sample.shard)#\(sample.key): no gen_0.* field")) }
    do {
        func decode(_ f: (name: String, bytes: [UInt8])) throws -> RGBImage {
            try decodeImage(f.bytes, name: "\(sample.shard)#\(sample.key).\(f.name)")
        }
        return .success(DecodedRecord(key: sample.key, real: try decode(real), fakes: try fakes.map(decode)))
    } catch {
        return .failure(TrainingError("\(error)"))
    }
}

/// What one epoch produced, or (epoch −1) what the untrained model measures before epoch 0.
public struct EpochSummary: Sendable {
    /// The epoch, from 0; `initialEpoch` (−1) for the untrained model's validation.
    public var epoch: Int
    /// The epoch's learning rate and mean contrastive loss (nil for the untrained model: no step was taken).
    public var learningRate: Double?
    public var trainLoss: Double?
    /// Per head: accuracy on the clean and the transformed validation records (nil when not run).
    public var cleanAccuracy: [HeadKind: Double]
    public var transformedAccuracy: [HeadKind: Double]
    /// The model-selection metric: the linear head's accuracy on the clean validation set.
    public var selectionMetric: Double { cleanAccuracy[.linear] ?? cleanAccuracy.values.first ?? 0 }
    /// The `epoch` of the untrained model's row (summary.csv and `Trainer.run`'s result).
    public static let initialEpoch = -1
    /// Whether this is the untrained model's validation rather than an epoch's.
    public var isInitial: Bool { epoch == Self.initialEpoch }
}

/// Progress of the contrastive steps, for bars and logs.
public struct StepProgress: Sendable {
    public var epoch: Int, step: Int, steps: Int
    public var loss: Double, learningRate: Double, imagesPerSecond: Double
    /// Epochs in the run, and seconds since this epoch's first step began.
    public var epochs: Int = 0, elapsed: Double = 0

    /// Seconds left in this epoch's steps, at this epoch's pace so far.
    public var epochSecondsLeft: Double { step > 0 ? elapsed / Double(step) * Double(steps - step) : 0 }
    /// Seconds left in the run's remaining steps at this pace (head fitting and validation not included).
    public var runSecondsLeft: Double {
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
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let log: (String) -> Void
    public let progress: (StepProgress) -> Void
    private var compute: ComputeOptions
    private let folder: String
    /// The shards of each set, without those found missing at the start (`on-error: skip`).
    private var shardSets: [TrainingConfiguration.ShardSet: [String]] = [:]
    /// Shards left out because they were missing when the run started (`on-error: skip`); a caller ends with a
    /// failure status when there are any.
    public private(set) var missingShards: [String] = []

    public init(configuration: TrainingConfiguration, log: @escaping (String) -> Void = { _ in },
                progress: @escaping (StepProgress) -> Void = { _ in }) throws {
        try configuration.validate()
        self.configuration = configuration
        self.log = log
        self.progress = progress
        self.compute = ComputeOptions(threads: configuration.threads)
        self.folder = configuration.output
    }

    // MARK: state on disk

    /// What `state.json` records: enough to resume. It is written after each epoch's checkpoint and
    /// summary row, and after the untrained model's validation (then with `last` nil: a resume starts again
    /// from the initial weights, which derive from the seed).
    struct RunState: Codable {
        var epochsDone: Int
        var last: String?
        var best: String?
        var bestMetric: Double
        var badEpochs: Int
        var stopped: Bool
        /// Whether the untrained model's validation is in summary.csv (nil in runs from before it existed).
        var initialValidated: Bool?
        /// The thread count the run computes with: gradients are summed per thread, so a resume keeps it to
        /// stay bit for bit (nil in runs from before it was recorded).
        var threads: Int?
        /// Shards the data keys name that were missing when the run (or its last resume) started and were left out
        /// under `on-error: skip`, as `LIST line N: FILE` or `'PATTERN': FILE` (nil: none).
        var missingShards: [String]?
        /// Training records left out of their step because an image did not decode, all epochs recorded so far
        /// (nil: none).
        var recordsLeftOut: Int?
    }

    private var statePath: String { folder + "/state.json" }

    /// The run's `state.json`, nil when there is none. A file that cannot be read, is not the JSON this
    /// class writes, or holds values no run writes is refused with its path, what is wrong and what to do.
    private func readState() throws -> RunState? {
        let fm = FileManager.default
        guard fm.fileExists(atPath: statePath) else { return nil }
        let advice = "the run cannot be resumed from it. Restore the file, or delete it to start the run again in this "
            + "folder (its checkpoints are then replaced), or choose another --output"
        let data: Data
        do { data = Data(try readSmallFile(statePath, limit: 1 << 20)) } catch { throw TrainingError("\(error); \(advice)") }
        let state: RunState
        do { state = try JSONDecoder().decode(RunState.self, from: data) } catch {
            throw TrainingError("\(statePath) is corrupt (\(Self.describe(error))); \(advice)")
        }
        func corrupt(_ reason: String) -> TrainingError { TrainingError("\(statePath) is corrupt (\(reason)); \(advice)") }
        if state.epochsDone < 0 { throw corrupt("epochsDone is \(state.epochsDone)") }
        if state.badEpochs < 0 { throw corrupt("badEpochs is \(state.badEpochs)") }
        if !state.bestMetric.isFinite { throw corrupt("bestMetric is \(state.bestMetric)") }
        if let threads = state.threads, !(1...1024).contains(threads) { throw corrupt("threads is \(threads)") }
        if state.epochsDone > 0, state.last == nil { throw corrupt("\(state.epochsDone) epochs done but no last checkpoint") }
        for (key, name) in [("last", state.last), ("best", state.best)] {
            guard let name else { continue }
            guard name.hasPrefix("epoch-"), name.count > 6, name.dropFirst(6).allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw corrupt("\(key) is '\(name)', not a checkpoint name such as epoch-0007")
            }
            guard fm.fileExists(atPath: folder + "/checkpoints/" + name) else {
                throw corrupt("\(key) names \(folder)/checkpoints/\(name), which does not exist")
            }
        }
        return state
    }

    /// A decoding error in one line: what is wrong and at which key.
    private static func describe(_ error: Error) -> String {
        func at(_ path: [CodingKey]) -> String { path.isEmpty ? "" : " at '\(path.map(\.stringValue).joined(separator: "."))'" }
        switch error as? DecodingError {
        case let .dataCorrupted(c)?: return "not valid JSON" + at(c.codingPath) + ": " + c.debugDescription
        case let .keyNotFound(key, c)?: return "no '\(key.stringValue)'" + at(c.codingPath)
        case let .typeMismatch(_, c)?, let .valueNotFound(_, c)?: return c.debugDescription + at(c.codingPath)
        default: return "\(error)"
        }
    }

    private func writeState(_ state: RunState) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writeFileAtomically(statePath, bytes: [UInt8](try encoder.encode(state)))
    }

    /// Writes `text` to `path` atomically.
    private func writeText(_ text: String, to path: String) throws {
        try writeFileAtomically(path, bytes: Array(text.utf8))
    }

    /// Appends a line to the run's log file and passes it on.
    private func note(_ line: String) {
        log(line)
        if let handle = FileHandle(forWritingAtPath: folder + "/train.log") {
            handle.seekToEndOfFile()
            handle.write((line + "\n").data(using: .utf8)!)
            try? handle.close()
        }
    }

    // MARK: the run

    /// Trains from scratch, or from the last checkpoint when `resume` is true and one exists.
    /// `stopAfterEpoch` ends the run early after that epoch (as if interrupted), for tests and staged runs.
    /// Returns what this call measured: the untrained model's validation (`epoch` −1) when it ran in this
    /// call (`initialValidation`, not yet recorded by the run), then each epoch trained.
    @discardableResult
    public func run(resume: Bool = false, stopAfterEpoch: Int? = nil) throws -> [EpochSummary] {
        let fm = FileManager.default
        let missing = try resolveShardSets()
        try fm.createDirectory(atPath: folder + "/checkpoints", withIntermediateDirectories: true)
        if !fm.fileExists(atPath: folder + "/train.log"), !fm.createFile(atPath: folder + "/train.log", contents: nil) {
            throw TrainingError("\(folder): cannot create train.log")
        }
        let c = configuration
        let modelConfig = c.model
        var state = RunState(epochsDone: 0, last: nil, best: nil, bestMetric: 0, badEpochs: 0, stopped: false,
                             threads: compute.threads)
        var weights = ViTInitialization.timm(config: modelConfig, rng: RandomSource(seed: c.seed).derived(0x1417))
        var optimizer = AdamW(parameters: ParameterSet.vit(modelConfig),
                              configuration: AdamWConfiguration(weightDecay: c.weightDecay))
        if resume { removeLeftovers() }
        if resume, let saved = try readState() {
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
                let checkpoint = folder + "/checkpoints/" + last
                let stored = try VisionTransformer(folder: checkpoint)
                var storedConfig = stored.config
                storedConfig.layerNormEps = modelConfig.layerNormEps
                guard storedConfig == modelConfig else {
                    func sizes(_ m: ViTConfig) -> String {
                        let sameFixedChoices = m.qkvBias == modelConfig.qkvBias && m.activation == modelConfig.activation && m.channels == modelConfig.channels
                        return "image-size \(m.imageSize), patch-size \(m.patchSize), hidden-size \(m.hiddenSize), layers \(m.layers), heads \(m.heads), "
                            + "mlp-size \(m.intermediateSize)" + (sameFixedChoices ? "" : " (another activation, qkv_bias or num_channels)")
                    }
                    throw TrainingError("\(checkpoint) holds a model with \(sizes(stored.config)); the configuration asks for \(sizes(modelConfig)): "
                                        + "resume with the run's own model sizes, or start a new run with another --output")
                }
                weights = stored.weights
                _ = try optimizer.loadState(from: checkpoint + "/optimizer.safetensors")
                try pruneCheckpoints(keeping: [saved.last, saved.best].compactMap { $0 })
                note("resumed from \(checkpoint) after epoch \(saved.epochsDone)")
            } else {
                note("resumed before epoch 0, from the initial weights")
            }
        } else if fm.fileExists(atPath: statePath) {
            throw TrainingError("\(folder) already holds a run; pass --resume to continue it or choose another --output")
        }
        // Written once the folder is known to be this run's (a refused resume leaves the run's own file).
        try writeText(try configuration.encodedYAML(), to: folder + "/config.yaml")
        for problem in missing { note("warning: \(problem) (on-error: skip; the run goes on without it)") }
        state.missingShards = missingShards.isEmpty ? nil : missingShards
        if state.stopped { note("the run had already stopped early"); return [] }

        let schedule = CosineSchedule(baseLR: c.learningRate, minLR: c.minLR, warmupLR: c.warmupLR,
                                      warmupEpochs: c.warmupEpochs, epochs: c.epochs)
        let trainShards = try shards(.train)
        var summaries: [EpochSummary] = []
        if !fm.fileExists(atPath: folder + "/summary.csv") {
            try writeText("epoch,lr,train_loss,eval_accuracy,linear_clean,knn_clean,svm_clean,linear_transf,knn_transf,svm_transf\n",
                          to: folder + "/summary.csv")
        }
        // The untrained model's validation: the baseline the epochs are compared with (once per run).
        if c.initialValidation, state.epochsDone == 0, state.initialValidated != true {
            let model = VisionTransformer(config: modelConfig, weights: weights)
            let (_, clean, transformed) = try fitAndValidate(model: model, epoch: EpochSummary.initialEpoch)
            let summary = EpochSummary(epoch: EpochSummary.initialEpoch, learningRate: nil, trainLoss: nil,
                                       cleanAccuracy: clean, transformedAccuracy: transformed)
            summaries.append(summary)
            try appendSummary(summary)
            state.initialValidated = true
            try writeState(state)
            note("initial model (untrained): linear accuracy \(String(format: "%.4f", summary.selectionMetric))")
        }
        // A resume with fewer epochs than the run has done trains nothing more.
        for epoch in state.epochsDone..<max(state.epochsDone, c.epochs) {
            let lr = schedule.learningRate(epoch: epoch)
            let (loss, leftOut) = try trainEpoch(epoch: epoch, shards: trainShards, weights: &weights, optimizer: &optimizer,
                                                 learningRate: lr)
            if leftOut > 0 { state.recordsLeftOut = (state.recordsLeftOut ?? 0) + leftOut }
            let model = VisionTransformer(config: modelConfig, weights: weights)
            let (heads, clean, transformed) = try fitAndValidate(model: model, epoch: epoch)
            let summary = EpochSummary(epoch: epoch, learningRate: lr, trainLoss: loss, cleanAccuracy: clean,
                                       transformedAccuracy: transformed)
            summaries.append(summary)
            // Early stopping (upstream's EarlyStopper): better → reset; worse → count; equal → nothing.
            let metric = summary.selectionMetric
            let improved = state.best == nil || metric > state.bestMetric
            if improved { state.bestMetric = metric; state.badEpochs = 0 } else if metric < state.bestMetric { state.badEpochs += 1 }
            let name = String(format: "epoch-%04d", epoch)
            // Checkpoint, summary row, then the state that points at them; pruning last, so that a kill at
            // any moment leaves state.json naming complete checkpoints (a resume redoes an unrecorded epoch
            // bit for bit and replaces its row).
            try saveCheckpoint(name: name, config: modelConfig, weights: weights, optimizer: optimizer, heads: heads)
            try appendSummary(summary)
            state.epochsDone = epoch + 1
            state.last = name
            if improved { state.best = name }
            state.stopped = c.earlyStopping && state.badEpochs >= c.patienceEpochs
            try writeState(state)
            try pruneCheckpoints(keeping: [state.last, state.best].compactMap { $0 })
            note("epoch \(epoch): lr \(String(format: "%.6g", lr)), loss \(String(format: "%.5f", loss)), "
                 + "linear accuracy \(String(format: "%.4f", metric)) (best \(String(format: "%.4f", state.bestMetric)) at \(state.best ?? "-"))"
                 + (state.stopped ? ", early stopping" : ""))
            if state.stopped || stopAfterEpoch == epoch { break }
        }
        if let best = state.best, state.stopped || state.epochsDone >= c.epochs {
            try writeRelease(from: best)
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
            throw TrainingError("shards that cannot be read:\n  " + problems.joined(separator: "\n  ")
                                + "\n(on-error: skip trains on the other shards instead)")
        }
        let needed: [(TrainingConfiguration.ShardSet, String)] = [(.train, "train-shards"), (.linearTrain, "linear-train-shards"),
                                                                  (.validation, "val-shards-no-augm")]
        for (set, key) in needed where shardSets[set]?.isEmpty != false {
            throw TrainingError("no shard of \(key) can be read:\n  " + problems.joined(separator: "\n  "))
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
            .shuffled(bufferSize: c.shuffleBuffer, initial: min(100, c.shuffleBuffer), seed: c.seed, epoch: epoch)
            .makeIterator()
        let views = CoDEViewBuilder(viewConfiguration)
        let perView = views.configuration.viewFloatCount
        let b = c.batchSize
        // Backward in micro-batches of 64 images: the activation cache of a whole 4·B forward would need
        // ~24 MB per image (7 GB at B = 32); gradients are the same sums either way.
        let step = ContrastiveStep(loss: CoDELoss(temperature: c.temperature, variant: c.loss), options: compute,
                                   microBatch: 4 * b > 64 ? 64 : nil)
        var accumulator = GradientAccumulator(parameters: optimizer.parameters, microBatches: c.gradientAccumulation)
        var total = 0.0
        var leftOut = 0
        let start = Date()
        func nextSample() throws -> Sample {
            guard let sample = try samples.next() else { throw TrainingError("the training shards yielded no samples") }
            return sample
        }
        for s in 0..<c.stepsPerEpoch {
            for micro in 0..<c.gradientAccumulation {
                var records: [Sample] = []
                while records.count < b { records.append(try nextSample()) }
                var first = [Float](repeating: 0, count: 4 * b * perView)
                var second = [Float](repeating: 0, count: 4 * b * perView)
                var failures = [String?](repeating: nil, count: b)
                let rng = RandomSource(seed: c.seed).derived(UInt64(epoch), UInt64(s), UInt64(micro))
                // A record whose images do not decode leaves its slot's views untouched: it is logged and its slot
                // is filled again from the next record, until every slot has views.
                var pending = Array(0..<b), replaced = 0
                while !pending.isEmpty {
                    let slots = pending
                    first.withUnsafeMutableBufferPointer { f in
                    second.withUnsafeMutableBufferPointer { g in
                    failures.withUnsafeMutableBufferPointer { fails in
                        let f = UncheckedSendable(f), g = UncheckedSendable(g), fails = UncheckedSendable(fails)
                        parallelFor(slots.count, threads: compute.threads) { j in
                            let i = slots[j]
                            switch decodeRecord(records[i]) {
                            case let .failure(e): fails.value[i] = e.description
                            case let .success(record):
                                views.makeViews(real: record.real, fakes: record.fakes, rng: rng.derived(UInt64(i))) { view in
                                    let (buffer, group): (UnsafeMutableBufferPointer<Float>, Int)
                                    switch view {
                                    case .real: (buffer, group) = (f.value, 0)
                                    case .fake: (buffer, group) = (f.value, 1)
                                    case .augmentedReal: (buffer, group) = (f.value, 2)
                                    case .augmentedFake: (buffer, group) = (f.value, 3)
                                    case .globalReal: (buffer, group) = (g.value, 0)
                                    case .localReal: (buffer, group) = (g.value, 1)
                                    case .globalFake: (buffer, group) = (g.value, 2)
                                    case .localFake: (buffer, group) = (g.value, 3)
                                    }
                                    let offset = (group * b + i) * perView
                                    return UnsafeMutableBufferPointer(rebasing: buffer[offset..<(offset + perView)])
                                }
                            }
                        }
                    }}}
                    pending = slots.filter { failures[$0] != nil }
                    for i in pending {
                        note("warning: \(failures[i]!) (the record is left out of the step, replaced by the next record)")
                        failures[i] = nil
                        records[i] = try nextSample()
                    }
                    leftOut += pending.count
                    replaced += pending.count
                    if replaced > max(1000, 10 * b) {
                        throw TrainingError("more than \(max(1000, 10 * b)) undecodable training records in one step: the training "
                                            + "shards hold too few images that decode")
                    }
                }
                var permutationRNG = rng.derived(0xFE12)
                let permutation = AugmentationPermutation.draw(records: b, using: &permutationRNG)
                let model = VisionTransformer(config: c.model, weights: weights)
                let result = first.withUnsafeBufferPointer { f in
                    second.withUnsafeBufferPointer { g in
                        step.run(model: model, first: f, second: g, records: b, permutation: permutation)
                    }
                }
                total += result.loss.value / Double(c.gradientAccumulation)
                accumulator.add(result.gradients, parameters: optimizer.parameters)
            }
            var gradients = accumulator.gradients
            accumulator.reset()
            if let maxNorm = c.clipGradient { _ = GradientClipping.clip(&gradients, maxNorm: maxNorm) }
            optimizer.step(&weights, gradients: gradients, learningRate: learningRate)
            let elapsed = Date().timeIntervalSince(start)
            progress(StepProgress(epoch: epoch, step: s + 1, steps: c.stepsPerEpoch, loss: total / Double(s + 1),
                                  learningRate: learningRate,
                                  imagesPerSecond: Double((s + 1) * 8 * b * c.gradientAccumulation) / max(elapsed, 1e-9),
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
        let batch = 32
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

    // MARK: checkpoints

    /// Writes `checkpoints/<name>/` (config.json, model.safetensors, optimizer.safetensors, heads/) in a temporary
    /// folder that then replaces it in one step (`replaceFolderAtomically`): a kill at any moment leaves the earlier
    /// checkpoints intact, and a checkpoint written again (a resume redoing an unrecorded epoch) is never missing.
    private func saveCheckpoint(name: String, config: ViTConfig, weights: ViTWeights, optimizer: AdamW,
                                heads: [FittedHead]) throws {
        let fm = FileManager.default
        let final = folder + "/checkpoints/" + name, temporary = final + ".tmp"
        try? fm.removeItem(atPath: temporary)
        try config.writeHuggingFaceFolder(temporary, weights: weights)
        try optimizer.saveState(to: temporary + "/optimizer.safetensors")
        try fm.createDirectory(atPath: temporary + "/heads", withIntermediateDirectories: true)
        for fitted in heads { try HeadStore.save(fitted.head, to: temporary + "/" + fitted.kind.nativeFile) }
        try replaceFolderAtomically(final, with: temporary)
    }

    /// Keeps the newest `keepCheckpoints` epoch folders plus `keeping` (last and best).
    private func pruneCheckpoints(keeping: [String]) throws {
        let fm = FileManager.default
        let names = (try fm.contentsOfDirectory(atPath: folder + "/checkpoints")).filter { $0.hasPrefix("epoch-") && !$0.contains(".tmp") }.sorted()
        for name in names.dropLast(configuration.keepCheckpoints) where !keeping.contains(name) {
            try fm.removeItem(atPath: folder + "/checkpoints/" + name)
        }
    }

    /// Adds `s`'s row to summary.csv, dropping any row of this or a later epoch (left by a killed process
    /// whose state.json had not recorded it; the resumed run recomputes it identically). The untrained
    /// model's row has epoch −1 and empty lr and train_loss.
    private func appendSummary(_ s: EpochSummary) throws {
        func v(_ x: Double?) -> String { x.map { String(format: "%.6f", $0) } ?? "" }
        let line = "\(s.epoch),\(s.learningRate.map { "\($0)" } ?? ""),\(s.trainLoss.map { "\($0)" } ?? ""),\(v(s.selectionMetric)),"
            + [HeadKind.linear, .knn, .svm].map { v(s.cleanAccuracy[$0]) }.joined(separator: ",") + ","
            + [HeadKind.linear, .knn, .svm].map { v(s.transformedAccuracy[$0]) }.joined(separator: ",") + "\n"
        let path = folder + "/summary.csv"
        let old = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let kept = old.split(separator: "\n").filter { row in
            guard let epoch = Int(row.prefix { $0 != "," }) else { return true }  // the header
            return epoch < s.epoch
        }
        try writeText(kept.map { $0 + "\n" }.joined() + line, to: path)
    }

    /// On resume: removes what a killed process can leave half-written (`checkpoints/*.tmp`, `release.tmp`,
    /// the atomic writer's `*.tmp-<pid>` files). None of it is ever read; the work is redone.
    private func removeLeftovers() {
        let fm = FileManager.default
        for dir in [folder, folder + "/checkpoints"] {
            for name in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where name.hasSuffix(".tmp") || name.contains(".tmp-") {
                try? fm.removeItem(atPath: dir + "/" + name)
            }
        }
    }

    /// `release/`: the best checkpoint's backbone and heads, the folder `deepfake detect --model` and
    /// `transformers.ViTModel.from_pretrained` load; copied to `release.tmp`, which then replaces it in one step.
    private func writeRelease(from best: String) throws {
        let fm = FileManager.default
        let release = folder + "/release", temporary = release + ".tmp"
        try? fm.removeItem(atPath: temporary)
        try fm.copyItem(atPath: folder + "/checkpoints/" + best, toPath: temporary)
        try? fm.removeItem(atPath: temporary + "/optimizer.safetensors")
        try replaceFolderAtomically(release, with: temporary)
        note("release: \(release) (from \(best))")
    }
}
