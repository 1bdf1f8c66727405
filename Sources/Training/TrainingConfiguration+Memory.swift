import Foundation
import ViT

/// The memory a training run needs at its peak, estimated from its configuration, in bytes (Double: the
/// estimate of an absurd configuration must not overflow). It follows what `Trainer` allocates for a step.
package struct TrainingMemoryEstimate: Sendable, Equatable {
    /// The two view buffers of a step: 2 × 4·batch-size images of 3·image-size² floats.
    package var views: Double
    /// The training forward's activation cache (`ViTActivations.byteCount`) for the images forwarded with
    /// caching at once (both whole forwards when 4·batch-size ≤ 64, else one 64-image chunk), the forward
    /// and backward scratch of those images, and, in chunks, the inference forward's token buffer for all
    /// 4·batch-size images.
    package var activations: Double
    /// Weights, gradients, the gradient accumulator and AdamW's two moments: five parameter-sized sets.
    package var parameters: Double
    /// The batch-size records of a step, at `assumedRecordBytes` each.
    package var batchRecords: Double
    /// The shuffle buffer's records, at `assumedRecordBytes` each.
    package var shuffleRecords: Double

    /// Everything together.
    package var total: Double { views + activations + parameters + batchRecords + shuffleRecords }

    /// The size assumed for one D3 record as read from a shard (a real image and four generated ones,
    /// compressed): the records of upstream's sample shard average 0.31 MB.
    package static let assumedRecordBytes = 512.0 * 1024

    /// `bytes` for people: "512 MiB", "23.5 GiB", "2.1 PiB".
    package static func text(_ bytes: Double) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = bytes, unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(Int(value)) bytes" : String(format: value < 10 ? "%.1f" : "%.0f", value) + " " + units[unit]
    }
}

extension TrainingConfiguration {
    /// The peak memory of a training step with this configuration (see `TrainingMemoryEstimate`). The model
    /// sizes must be within `ViTConfig`'s bounds (`validate` checks them first).
    package var memoryEstimate: TrainingMemoryEstimate {
        let m = model
        let images = 4 * Double(batchSize)
        let chunk = 64.0  // Trainer's micro-batch when 4·batch-size > 64
        let cached = images > chunk ? chunk : 2 * images
        let perImage = Double(ViTActivations.byteCount(config: m, batch: 1))
        // Scratch per image forwarded with caching: forward T·(2D + I), backward T·(6D + 2I) floats.
        let scratch = 4 * Double(m.tokens) * Double(8 * m.hiddenSize + 3 * m.intermediateSize)
        let inference = images > chunk ? 4 * images * Double(m.tokens) * Double(m.hiddenSize) : 0
        let viewFloats = 3 * Double(imageSize) * Double(imageSize)
        return TrainingMemoryEstimate(
            views: 2 * images * viewFloats * 4,
            activations: perImage * cached + scratch * min(images, chunk) + inference,
            parameters: 5 * 4 * Double(ParameterSet.vit(m).elementCount),
            batchRecords: Double(batchSize) * TrainingMemoryEstimate.assumedRecordBytes,
            shuffleRecords: Double(shuffleBuffer) * TrainingMemoryEstimate.assumedRecordBytes)
    }

    /// Refuses a configuration whose `memoryEstimate` exceeds `physicalMemory`, naming the key to lower: the
    /// model sizes when even batch-size 2 with a one-record shuffle buffer does not fit, else shuffle-buffer
    /// or batch-size, whichever needs more.
    func checkMemory(physicalMemory: UInt64) throws {
        let estimate = memoryEstimate
        let available = Double(physicalMemory)
        guard estimate.total > available else { return }
        let t = TrainingMemoryEstimate.text
        let parts = "views \(t(estimate.views)), activations \(t(estimate.activations)), model and optimiser \(t(estimate.parameters)), "
            + "records \(t(estimate.batchRecords)), shuffle buffer \(t(estimate.shuffleRecords))"
        let need = "training would need about \(t(estimate.total)) of memory (\(parts)), more than this machine's \(t(available))"
        var smallest = self
        smallest.batchSize = 2
        smallest.shuffleBuffer = 1
        if smallest.memoryEstimate.total > available {
            throw TrainingError.memory("the model (image-size \(imageSize), patch-size \(patchSize), hidden-size \(hiddenSize), layers \(layers), "
                                + "heads \(heads), mlp-size \(mlpSize)) is too large: even at batch-size 2 \(need); choose smaller sizes")
        }
        if estimate.shuffleRecords > estimate.views + estimate.activations + estimate.batchRecords {
            throw TrainingError.memory("shuffle-buffer \(shuffleBuffer): \(need) (at an assumed \(t(TrainingMemoryEstimate.assumedRecordBytes)) per record); lower shuffle-buffer")
        }
        throw TrainingError.memory("batch-size \(batchSize): \(need); lower batch-size (grad-accum-steps gives larger effective batches in the same memory)")
    }
}
