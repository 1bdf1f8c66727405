// timm's CosineLRScheduler (timm 0.9.x) stepped per epoch, with linear warm-up.

import Foundation

/// timm `CosineLRScheduler` as CoDE builds it (`create_scheduler_v2(sched="cosine")`, stepped per epoch:
/// `step(epoch + 1)` at the end of each epoch, so epoch `t` trains at `learningRate(epoch: t)`).
///
/// For epoch `t` (timm's `_get_lr`, `cycle_mul = 1`):
/// ```
/// t < warmup:  warmupLR + t · ((baseLR − warmupLR) / warmup)
/// otherwise:   t' = t − warmup if warmupPrefix else t          (CoDE: not shifted)
///              i = t' // epochs, tc = t' − epochs·i
///              i < cycleLimit:  minLR + ½·(baseLR·cycleDecayⁱ − minLR)·(1 + cos(π · tcᵏ / epochsᵏ))
///              otherwise:       minLR                            (t' ≥ epochs with one cycle)
/// ```
/// At construction (epoch 0) timm sets `warmupLR` when there is a warm-up, which is the formula at
/// `t = 0`. With CoDE's settings, epoch 5 gets 1.99452e-3 (the cosine is not shifted by the warm-up),
/// and any epoch ≥ 150 gets `minLR` = 0.
package struct CosineSchedule: Sendable, Equatable {
    /// Peak learning rate (`--lr`, 0.002).
    package var baseLR: Double
    /// Floor (`--min-lr`, 0).
    package var minLR: Double
    /// Warm-up start (`--warmup-lr`, 1e-6).
    package var warmupLR: Double
    /// Warm-up length in epochs (`--warmup-epochs`, 5).
    package var warmupEpochs: Int
    /// Cycle length `t_initial` = the number of epochs (150).
    package var epochs: Int
    /// timm's `warmup_prefix` (False): shift the cosine by the warm-up.
    package var warmupPrefix: Bool
    /// timm's `cycle_limit` (1).
    package var cycleLimit: Int
    /// timm's `cycle_decay` (`--decay-rate`, 0.1; only matters with more than one cycle).
    package var cycleDecay: Double
    /// timm's `k_decay` (1).
    package var kDecay: Double

    package init(baseLR: Double, minLR: Double = 0, warmupLR: Double = 0, warmupEpochs: Int = 0, epochs: Int,
                warmupPrefix: Bool = false, cycleLimit: Int = 1, cycleDecay: Double = 0.1, kDecay: Double = 1) {
        precondition(epochs > 0 && warmupEpochs >= 0 && minLR >= 0, "CosineSchedule: bad arguments")
        self.baseLR = baseLR; self.minLR = minLR; self.warmupLR = warmupLR; self.warmupEpochs = warmupEpochs
        self.epochs = epochs; self.warmupPrefix = warmupPrefix; self.cycleLimit = cycleLimit
        self.cycleDecay = cycleDecay; self.kDecay = kDecay
    }

    /// CoDE's schedule: lr 0.002, 150 epochs, 5 warm-up epochs from 1e-6, min 0.
    package static let code = CosineSchedule(baseLR: 0.002, minLR: 0, warmupLR: 1e-6, warmupEpochs: 5, epochs: 150)

    /// The learning rate of epoch `t` (0-based), evaluated in timm's operation order.
    package func learningRate(epoch t: Int) -> Double {
        precondition(t >= 0, "CosineSchedule: negative epoch")
        if t < warmupEpochs {
            let slope = (baseLR - warmupLR) / Double(warmupEpochs)
            return warmupLR + Double(t) * slope
        }
        let shifted = warmupPrefix ? t - warmupEpochs : t
        let cycle = shifted / epochs
        let inCycle = shifted - epochs * cycle
        guard cycle < cycleLimit else { return minLR }
        let peak = baseLR * pow(cycleDecay, Double(cycle))
        let phase: Double
        if kDecay == 1 {
            phase = Double.pi * Double(inCycle) / Double(epochs)
        } else {
            phase = Double.pi * pow(Double(inCycle), kDecay) / pow(Double(epochs), kDecay)
        }
        return minLR + 0.5 * (peak - minLR) * (1 + cos(phase))
    }

    /// `learningRate(epoch:)` for epochs `0..<count`.
    package func learningRates(epochs count: Int) -> [Double] {
        (0..<count).map { learningRate(epoch: $0) }
    }
}
