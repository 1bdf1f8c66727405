// One optimiser step of CoDE training: `gradientAccumulation` batches of records, each turned into views, through
// the contrastive forward/backward, the gradients averaged, clipped and applied by AdamW.

import Tensor
import ViT
import WebDataset

struct TrainingStep {
    /// Images per recomputed forward/backward chunk when a whole forward holds more: the activation cache of a
    /// 4·B forward needs ~24 MB per image (7 GB at B = 32); the gradients are the same sums either way.
    static let maxChunkImages = 64
    /// The child stream (of a micro-batch's stream) that draws the augmented views' pairing permutation; the
    /// records' view streams are children 0..<B, an index no batch reaches.
    static let permutationStream: UInt64 = 0xFE12

    let configuration: TrainingConfiguration
    let batcher: ViewBatcher
    let contrastive: ContrastiveStep
    let batch: ViewBatch
    var accumulator: GradientAccumulator

    init(configuration c: TrainingConfiguration, views: CoDEViewBuilder, compute: ComputeOptions, parameters: ParameterSet) {
        configuration = c
        batcher = ViewBatcher(builder: views, threads: compute.threads)
        contrastive = ContrastiveStep(loss: CoDELoss(temperature: c.temperature, variant: c.loss), options: compute,
                                      microBatch: 4 * c.batchSize > Self.maxChunkImages ? Self.maxChunkImages : nil)
        batch = ViewBatch(records: c.batchSize, viewFloats: views.configuration.viewFloatCount)
        accumulator = GradientAccumulator(parameters: parameters, microBatches: c.gradientAccumulation)
    }

    /// Step `step` of `epoch`: reads `batchSize` samples per accumulated batch from `next`, updates `weights` and
    /// `optimizer`. Returns each batch's loss (in order) and how many records were left out because an image did
    /// not decode (each replaced by the next record).
    mutating func run(epoch: Int, step: Int, weights: inout ViTWeights, optimizer: inout AdamW, learningRate: Double,
                      next: () throws -> Sample, warn: (String) -> Void) throws -> (losses: [Double], leftOut: Int) {
        let c = configuration
        var losses: [Double] = [], leftOut = 0
        for micro in 0..<c.gradientAccumulation {
            var records: [Sample] = []
            while records.count < c.batchSize { records.append(try next()) }
            let rng = RandomSource(seed: c.seed).derived(UInt64(epoch), UInt64(step), UInt64(micro))
            leftOut += try batcher.fill(batch, records: &records, rng: rng, next: next, warn: warn)
            var permutationRNG = rng.derived(Self.permutationStream)
            let permutation = AugmentationPermutation.draw(records: c.batchSize, using: &permutationRNG)
            let model = VisionTransformer(config: c.model, weights: weights)
            let result = contrastive.run(model: model, first: batch.firstForward, second: batch.secondForward,
                                         records: c.batchSize, permutation: permutation)
            losses.append(result.loss.value)
            accumulator.add(result.gradients, parameters: optimizer.parameters)
        }
        var gradients = accumulator.gradients
        accumulator.reset()
        if let maxNorm = c.clipGradient { _ = GradientClipping.clip(&gradients, maxNorm: maxNorm) }
        optimizer.step(&weights, gradients: gradients, learningRate: learningRate)
        return (losses, leftOut)
    }
}
