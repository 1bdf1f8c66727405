import Checkpoints
import Foundation
import Training
import DeepfakeCore
import XCTest

/// Loss-test data from DeepfakeCore's SplitMix64.
extension SplitMix64 {
    mutating func values(_ n: Int, scale: Double = 1) -> [Double] { (0..<n).map { _ in Double.random(in: -1...1, using: &self) * scale } }
}

/// A generator that always returns the same word.
struct ConstantRNG: RandomNumberGenerator {
    let word: UInt64
    mutating func next() -> UInt64 { word }
}

final class InfoNCETests: XCTestCase {
    /// Against the definition written out directly (no max shift), on well-scaled inputs.
    func testValueMatchesTheFormula() {
        var rng = SplitMix64(seed: 1)
        let b = 4, m = 5, d = 6, tau = 0.1
        let q = rng.values(b * d), p = rng.values(b * d), n = rng.values(m * d)
        func unit(_ x: [Double], _ r: Int) -> [Double] {
            let row = Array(x[(r * d)..<((r + 1) * d)])
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return row.map { $0 / norm }
        }
        func dotp(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        var expected = 0.0
        for i in 0..<b {
            let qi = unit(q, i)
            let pos = exp(dotp(qi, unit(p, i)) / tau)
            let neg = (0..<m).reduce(0.0) { $0 + exp(dotp(qi, unit(n, $1)) / tau) }
            expected += -log(pos / (pos + neg))
        }
        expected /= Double(b)
        let r = InfoNCE(temperature: tau).evaluate(query: q, positive: p, negatives: n, width: d)
        XCTAssertEqual(r.value, expected, accuracy: 1e-12)
    }

    /// Central differences in Double (ε = 1e-6: truncation ~ε²·f‴ ≈ 1e-11, rounding ~1e-16/ε ≈ 1e-10),
    /// every coordinate of query, positive and negatives; tolerance 1e-7 absolute + 1e-6 relative.
    func testGradientsMatchCentralDifferences() {
        var rng = SplitMix64(seed: 2)
        let b = 3, m = 4, d = 5
        let nce = InfoNCE(temperature: 0.1)
        let q = rng.values(b * d), p = rng.values(b * d), n = rng.values(m * d, scale: 2)
        let r = nce.evaluate(query: q, positive: p, negatives: n, width: d)
        let eps = 1e-6
        var worst = 0.0
        for (which, x, grad) in [(0, q, r.dQuery), (1, p, r.dPositive), (2, n, r.dNegatives)] {
            for k in x.indices {
                var plus = x, minus = x
                plus[k] += eps; minus[k] -= eps
                func value(_ v: [Double]) -> Double {
                    nce.evaluate(query: which == 0 ? v : q, positive: which == 1 ? v : p, negatives: which == 2 ? v : n, width: d).value
                }
                let fd = (value(plus) - value(minus)) / (2 * eps)
                worst = max(worst, abs(fd - grad[k]))
                XCTAssertEqual(grad[k], fd, accuracy: 1e-7 + 1e-6 * abs(fd), "input \(which) coordinate \(k)")
            }
        }
        print("InfoNCE central differences: worst abs difference \(worst)")
    }

    /// Large logits (τ = 0.01, identical directions) stay finite: the log-sum-exp is shifted by the maximum.
    func testStableForLargeLogits() {
        let d = 3
        let q: [Double] = [1, 0, 0, 0, 1, 0], n: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        let r = InfoNCE(temperature: 0.01).evaluate(query: q, positive: q, negatives: n, width: d)
        XCTAssertTrue(r.value.isFinite)
        XCTAssertEqual(r.value, log(2), accuracy: 1e-9)  // the positive ties with one negative at logit 100
        XCTAssertTrue((r.dQuery + r.dPositive + r.dNegatives).allSatisfy(\.isFinite))
    }

    /// A zero vector is divided by eps (F.normalize's clamp) and gets gradient dx̂/eps, finite.
    func testZeroVectorIsClampedLikeFNormalize() {
        let r = InfoNCE().evaluate(query: [0, 0], positive: [1, 0], negatives: [0, 1], width: 2)
        XCTAssertEqual(r.value, log(2), accuracy: 1e-12)  // both logits are 0
        XCTAssertTrue(r.dQuery.allSatisfy(\.isFinite))
    }
}

final class CoDELossTests: XCTestCase {
    private func fixtureArrays(_ name: String) throws -> (GradFixture, [Float]) {
        let f = try GradFixture(name)
        return (f, try Npy.read(path: f.folder + "/embeddings.npy").data)
    }

    /// Value and embedding gradients against PyTorch autograd on the fixture's embeddings.
    func testMatchesPyTorchOnFixtureEmbeddings() throws {
        for name in ["vit-grad-tiny", "vit-grad-odd"] {
            let (f, z) = try fixtureArrays(name)
            for variant in LossVariant.allCases {
                let r = CoDELoss(temperature: f.temperature, variant: variant)
                    .evaluate(embeddings: z, records: f.records, width: f.config.hiddenSize, permutation: f.permutation)
                let expected = try XCTUnwrap((f.json["embedding_loss"] as? [String: Any])?[variant.rawValue] as? Double)
                XCTAssertEqual(r.value, expected, accuracy: 1e-5, "\(name) \(variant)")
                let g = try Npy.read(path: f.folder + "/emb_grads_\(variant.rawValue).npy")
                XCTAssertEqual(g.shape, [8, f.records, f.config.hiddenSize])
                var worst = 0.0
                for (ours, ref) in zip(r.gradient, g.data) {
                    let u = Double(ours), v = Double(ref)
                    worst = max(worst, abs(u - v) / (1e-4 * abs(v) + 1e-6))
                }
                print("\(name) \(variant): loss \(r.value) vs \(expected); embedding gradient worst |Δ|/(1e-4|ref|+1e-6) = \(worst)")
                XCTAssertLessThanOrEqual(worst, 1, "\(name) \(variant)")
            }
        }
    }

    /// Central differences of the whole objective in Double for every coordinate of all eight groups,
    /// both variants, a non-trivial permutation; tolerance 1e-7 absolute + 1e-6 relative.
    func testGradientsMatchCentralDifferences() {
        var rng = SplitMix64(seed: 3)
        let b = 3, d = 4
        let z = rng.values(8 * b * d)
        let perm = AugmentationPermutation(real: [1, 2, 0], fake: [2, 0, 1])
        for variant in LossVariant.allCases {
            let loss = CoDELoss(temperature: 0.1, variant: variant)
            let r = loss.evaluate(embeddings: z, records: b, width: d, permutation: perm)
            let eps = 1e-6
            var worst = 0.0
            for k in z.indices {
                var plus = z, minus = z
                plus[k] += eps; minus[k] -= eps
                let fd = (loss.evaluate(embeddings: plus, records: b, width: d, permutation: perm).value
                          - loss.evaluate(embeddings: minus, records: b, width: d, permutation: perm).value) / (2 * eps)
                worst = max(worst, abs(fd - r.gradient[k]))
                XCTAssertEqual(r.gradient[k], fd, accuracy: 1e-7 + 1e-6 * abs(fd), "\(variant) coordinate \(k)")
            }
            print("CoDE loss \(variant) central differences: worst abs difference \(worst)")
        }
    }

    /// released = 2·L_real: clean fake and local fake views are only anchors of the fake terms, so their
    /// gradient is exactly zero; global fake and augmented fake views still get gradient as negatives.
    func testReleasedVariantLeavesFakeAnchorsWithoutGradient() {
        var rng = SplitMix64(seed: 4)
        let b = 4, d = 5
        let z = rng.values(8 * b * d).map { Float($0) }
        let perm = AugmentationPermutation(real: [1, 2, 3, 0], fake: [3, 0, 1, 2])
        let r = CoDELoss(variant: .released).evaluate(embeddings: z, records: b, width: d, permutation: perm)
        func groupGradient(_ g: ViewGroup) -> [Float] { Array(r.gradient[(g.rawValue * b * d)..<((g.rawValue + 1) * b * d)]) }
        XCTAssertTrue(groupGradient(.fake).allSatisfy { $0 == 0 })
        XCTAssertTrue(groupGradient(.localFake).allSatisfy { $0 == 0 })
        XCTAssertTrue(groupGradient(.globalFake).contains { $0 != 0 })
        XCTAssertTrue(groupGradient(.augmentedFake).contains { $0 != 0 })
        XCTAssertEqual(r.value, 2 * r.realLoss, accuracy: 1e-12)
        let intended = CoDELoss(variant: .intended).evaluate(embeddings: z, records: b, width: d, permutation: perm)
        XCTAssertEqual(intended.value, intended.realLoss + intended.fakeLoss, accuracy: 1e-12)
        XCTAssertEqual(intended.realLoss, r.realLoss, accuracy: 1e-12)
    }

    /// Permuting the augmented embeddings' rows is the same as feeding permuted rows with the identity.
    func testPermutationPicksPositiveRows() {
        var rng = SplitMix64(seed: 5)
        let b = 3, d = 4
        let z = rng.values(8 * b * d)
        let perm = AugmentationPermutation(real: [2, 0, 1], fake: [1, 2, 0])
        var permuted = z
        for (group, p) in [(ViewGroup.augmentedReal, perm.real), (ViewGroup.augmentedFake, perm.fake)] {
            for i in 0..<b {
                for k in 0..<d { permuted[(group.rawValue * b + i) * d + k] = z[(group.rawValue * b + p[i]) * d + k] }
            }
        }
        let loss = CoDELoss()
        let a = loss.evaluate(embeddings: z, records: b, width: d, permutation: perm).value
        let c = loss.evaluate(embeddings: permuted, records: b, width: d, permutation: .identity(records: b)).value
        XCTAssertEqual(a, c, accuracy: 1e-12)
    }
}

final class RollIndexTests: XCTestCase {
    func testAlwaysADerangement() {
        var rng = SplitMix64(seed: 6)
        for count in 2...40 {
            for _ in 0..<50 {
                let p = rollIndex(count: count, using: &rng)
                XCTAssertEqual(p.sorted(), Array(0..<count))
                XCTAssertFalse(p.indices.contains { p[$0] == $0 }, "fixed point in \(p)")
            }
        }
    }

    /// A generator whose bounded draws are always the maximum makes Fisher–Yates return the identity,
    /// which has fixed points: the result must be the shift by one, torch.roll(arange(n), 1).
    func testFallsBackToTheShiftByOne() {
        var rng = ConstantRNG(word: .max)
        XCTAssertEqual(rollIndex(count: 5, using: &rng), [4, 0, 1, 2, 3])
        XCTAssertEqual(rollIndex(count: 2, using: &rng), [1, 0])
    }

    /// For 3 rows: 4 of the 6 permutations have a fixed point and fall back to [2, 0, 1], which is itself one
    /// of the two derangements, so [2, 0, 1] comes out 5/6 of the time and [1, 2, 0] 1/6.
    func testShiftFrequencyForThreeRows() {
        var rng = SplitMix64(seed: 7)
        var shift = 0
        let n = 6000
        for _ in 0..<n {
            let p = rollIndex(count: 3, using: &rng)
            XCTAssertTrue(p == [2, 0, 1] || p == [1, 2, 0], "\(p)")
            if p == [2, 0, 1] { shift += 1 }
        }
        XCTAssertEqual(Double(shift) / Double(n), 5.0 / 6.0, accuracy: 0.02)
    }

    func testSmallCountsAndReproducibility() {
        var rng = SplitMix64(seed: 8)
        XCTAssertEqual(rollIndex(count: 0, using: &rng), [])
        XCTAssertEqual(rollIndex(count: 1, using: &rng), [0])  // as upstream: no derangement of one row exists
        var a = SplitMix64(seed: 9), b = SplitMix64(seed: 9)
        let drawn = AugmentationPermutation.draw(records: 16, using: &a)
        XCTAssertEqual(drawn, AugmentationPermutation.draw(records: 16, using: &b))
        var c = SplitMix64(seed: 9)
        let real = rollIndex(count: 16, using: &c), fake = rollIndex(count: 16, using: &c)
        XCTAssertEqual(drawn, AugmentationPermutation(real: real, fake: fake))  // real drawn first, then fake
    }
}
