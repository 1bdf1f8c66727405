import Tensor
import ViT
import DeepfakeCore
import XCTest

/// The inference forward cuts a batch by image (whole images per rank) and the images left over by token
/// pieces over a team of ranks that meet at a barrier per block. Every image's rows always meet the same
/// product calls (`ViTConfig.tokenPieces`), so whatever the cut:
/// - every image gets the one-thread embedding of that image alone, bit for bit (oneDNN's AVX2 kernels round
///   a row differently with the call's row count: without the fixed pieces this fails on AVX2 CPUs);
/// - every call gives the same bits (a race between ranks would show up as an occasional different value).
final class ViTThreadingTests: XCTestCase {
    private func model(_ act: Activation) -> VisionTransformer {
        let config = ViTConfig(hiddenSize: 16, layers: 2, heads: 2, intermediateSize: 24, patchSize: 8, imageSize: 16,
                               layerNormEps: 1e-5, qkvBias: true, activation: act)
        var weights = ViTWeights.zeros(config: config)
        var rng = SplitMix64(seed: 41)
        for path in ViTWeights.parameterPaths(layers: config.layers) {
            weights[keyPath: path] = weights[keyPath: path].map { _ in rng.normal(0.5) }
        }
        return VisionTransformer(config: config, weights: weights)
    }

    func testEveryBatchCutGivesTheSingleThreadEmbeddingOnEveryCall() {
        let m = model(.gelu)
        var rng = SplitMix64(seed: 7)
        for batch in [1, 2, 3, 5] {
            let pixels = (0..<(batch * m.inputCount)).map { _ in rng.normal(1) }
            let reference = pixels.withUnsafeBufferPointer { m.embed(pixels: $0, batch: batch, options: .init(threads: 1)).data }
            // each image alone, one thread: the batch must not mix images
            for b in 0..<batch {
                let alone = pixels[(b * m.inputCount)..<((b + 1) * m.inputCount)].withUnsafeBufferPointer {
                    m.embed(pixels: $0, batch: 1, options: .init(threads: 1)).data
                }
                XCTAssertEqual(alone, Array(reference[(b * 16)..<((b + 1) * 16)]), "batch \(batch), image \(b)")
            }
            for threads in [2, 3, 4] {
                let first = pixels.withUnsafeBufferPointer { m.embed(pixels: $0, batch: batch, options: .init(threads: threads)).data }
                XCTAssertEqual(first, reference, "batch \(batch), threads \(threads): max \(maxAbsDifference(first, reference))")
                var differing = 0
                for _ in 0..<300 {
                    let got = pixels.withUnsafeBufferPointer { m.embed(pixels: $0, batch: batch, options: .init(threads: threads)).data }
                    if got != first { differing += 1 }
                }
                XCTAssertEqual(differing, 0, "batch \(batch), threads \(threads): \(differing) of 300 calls differ from the first")
            }
            // all tokens too (no class-token-only shortcut in the last block)
            let all1 = pixels.withUnsafeBufferPointer { m.lastHiddenState(pixels: $0, batch: batch, options: .init(threads: 1)).data }
            let all2 = pixels.withUnsafeBufferPointer { m.lastHiddenState(pixels: $0, batch: batch, options: .init(threads: 2)).data }
            XCTAssertEqual(all1, all2, "batch \(batch): all tokens")
            // `embed` computes the last block's class-token row alone, a one-row product that BLAS may round
            // differently in the last bits from the same row inside a piece (≤ 3e-7 measured, values of O(1))
            var classTokens: [Float] = []
            for b in 0..<batch { classTokens += all1[(b * 80)..<(b * 80 + 16)] }  // 5 tokens × 16
            XCTAssertLessThanOrEqual(maxAbsDifference(classTokens, reference), 1e-6, "batch \(batch): lastHiddenState vs embed")
        }
    }

    /// At ViT-Tiny's real size (197 tokens, 192 wide: the shapes where oneDNN's kernels pick row blockings),
    /// an image's embedding is the same alone, in any batch position and with any thread count. Detection
    /// scores therefore never depend on an image's neighbours.
    func testTinyImageScoredAloneEqualsItInAnyBatch() throws {
        let m = try VisionTransformer(folder: modelFixtures + "/vit-tiny-random")
        let batch = 5, pixels = formulaInput(count: batch * m.inputCount), d = m.config.hiddenSize
        let alone = (0..<batch).map { b in
            pixels[(b * m.inputCount)..<((b + 1) * m.inputCount)].withUnsafeBufferPointer {
                m.embed(pixels: $0, batch: 1, options: .init(threads: 2)).data
            }
        }
        for threads in [1, 2, 3] {
            for count in [2, 3, 5] {
                let got = pixels[0..<(count * m.inputCount)].withUnsafeBufferPointer {
                    m.embed(pixels: $0, batch: count, options: .init(threads: threads)).data
                }
                for b in 0..<count {
                    XCTAssertEqual(Array(got[(b * d)..<((b + 1) * d)]), alone[b], "image \(b) of \(count), \(threads) threads")
                }
            }
        }
    }

    func testWorkerTeamRunsEveryRankAndBarriersOrderThem() {
        for size in [1, 2, 3, 5] {
            let team = WorkerTeam.shared(size: size)
            XCTAssertEqual(team.size, size)
            for _ in 0..<200 {
                var stages = [Int](repeating: 0, count: size * 4)
                var seen = [Int](repeating: -1, count: size * 4)
                stages.withUnsafeMutableBufferPointer { st in
                    seen.withUnsafeMutableBufferPointer { se in
                        let st = UncheckedSendable(st), se = UncheckedSendable(se)
                        team.run { rank in
                            for phase in 0..<4 {
                                st.value[rank * 4 + phase] = phase + 1
                                team.barrier()
                                // after the barrier every rank has finished this phase
                                var minimum = Int.max
                                for other in 0..<size { minimum = min(minimum, st.value[other * 4 + phase]) }
                                se.value[rank * 4 + phase] = minimum
                            }
                        }
                    }
                }
                XCTAssertEqual(seen, (0..<size).flatMap { _ in [1, 2, 3, 4] }, "team of \(size)")
            }
        }
    }
}
