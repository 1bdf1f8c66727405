import Foundation
import ViT
import XCTest
import Training

final class InitializationTests: XCTestCase {
    /// ViT-Tiny initialised with a fixed seed: each group has timm's distribution (moments within
    /// sampling tolerances, bounds respected), and the result depends only on the seed.
    func testViTTinyDistributions() {
        let config = ViTConfig.tiny16
        let set = ParameterSet.vit(config)
        let w = ViTInitialization.timm(config: config, rng: RandomSource(seed: 42))
        var linear: [Double] = []
        for i in 0..<set.count {
            let spec = set.parameters[i]
            let values = set.tensor(i, of: w).map(Double.init)
            XCTAssertEqual(values.count, spec.count, spec.name)
            let name = spec.name
            switch name {
            case "pos_embed":
                let m = moments(values)
                let n = Double(values.count)
                XCTAssertEqual(m.mean, 0, accuracy: 5 * 0.02 / n.squareRoot(), name)
                XCTAssertEqual(m.std, 0.02, accuracy: 0.02 * 5 / (2 * n).squareRoot(), name)
                XCTAssert(m.min >= -2 && m.max <= 2)
                XCTAssertEqual(m.kurtosis, 3, accuracy: 0.1, name)
            case "cls_token":
                let m = moments(values)
                XCTAssertLessThan(m.max, 1e-5)
                XCTAssertGreaterThan(m.max, 0)
                XCTAssertLessThan(-m.min, 1e-5)
                XCTAssertEqual(m.std, 1e-6, accuracy: 0.5e-6)
            case "patch_embed.proj.weight":
                let bound = 1 / 768.0.squareRoot()
                XCTAssertEqual(ViTInitialization.kaimingUniformBound(fanIn: 768), bound, accuracy: 1e-15)
                let m = moments(values)
                let n = Double(values.count)
                XCTAssert(m.min >= -bound && m.max <= bound)
                XCTAssertGreaterThan(m.max, bound * 0.999)
                XCTAssertLessThan(m.min, -bound * 0.999)
                XCTAssertEqual(m.mean, 0, accuracy: 5 * bound / (3 * n).squareRoot())
                XCTAssertEqual(m.std, bound / 3.0.squareRoot(), accuracy: 0.005 * bound)
                XCTAssertEqual(m.kurtosis, 1.8, accuracy: 0.02)   // uniform
            case "patch_embed.proj.bias":
                let bound = 1 / 768.0.squareRoot()
                XCTAssert(values.allSatisfy { abs($0) <= bound })
                XCTAssertEqual(moments(values).std, bound / 3.0.squareRoot(), accuracy: 0.15 * bound)
                XCTAssertEqual(Set(values).count, values.count)
            default:
                if ViTInitialization.isLinearWeight(name) {
                    linear += values
                    XCTAssertEqual(moments(values).std, 0.02, accuracy: 0.0005, name)
                } else if ViTInitialization.isLayerNormWeight(name) {
                    XCTAssert(values.allSatisfy { $0 == 1 }, name)
                } else {
                    XCTAssert(name.hasSuffix(".bias"), name)
                    XCTAssert(values.allSatisfy { $0 == 0 }, name)
                }
            }
        }
        // All Linear weights together: N(0, 0.02²) (the ±2 truncation is at ±100σ and never bites).
        let m = moments(linear)
        let n = Double(linear.count)
        XCTAssertEqual(linear.count, 12 * (576 * 192 + 192 * 192 + 768 * 192 * 2))
        XCTAssertEqual(m.mean, 0, accuracy: 5 * 0.02 / n.squareRoot())
        XCTAssertEqual(m.std, 0.02, accuracy: 0.02 * 5 / (2 * n).squareRoot())
        XCTAssertEqual(m.skewness, 0, accuracy: 0.01)
        XCTAssertEqual(m.kurtosis, 3, accuracy: 0.02)
        XCTAssert(m.min >= -2 && m.max <= 2)
        XCTAssertGreaterThan(m.max, 0.09)   // ≈ 5σ for 5.3M draws: the tails are there
        // The empirical CDF at ±1σ, ±2σ against the normal's.
        for (z, p) in [(-2.0, 0.022750131948179), (-1.0, 0.158655253931457), (1.0, 0.841344746068543), (2.0, 0.977249868051821)] {
            let frac = Double(linear.lazy.filter { $0 <= z * 0.02 }.count) / n
            XCTAssertEqual(frac, p, accuracy: 5 * (p * (1 - p) / n).squareRoot(), "CDF at \(z)σ")
        }
        XCTAssertEqual(ViTInitialization.truncatedNormalBounds, -2.0...2.0)
    }

    func testSeedDeterminism() {
        let config = ViTConfig(hiddenSize: 16, layers: 2, heads: 2, intermediateSize: 32, patchSize: 8, imageSize: 32,
                               layerNormEps: 1e-6)
        let set = ParameterSet.vit(config)
        let a = set.tensors(of: ViTInitialization.timm(config: config, rng: RandomSource(seed: 7)))
        let b = set.tensors(of: ViTInitialization.timm(config: config, rng: RandomSource(seed: 7)))
        let c = set.tensors(of: ViTInitialization.timm(config: config, rng: RandomSource(seed: 8)))
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a[set.index(of: "pos_embed")!], c[set.index(of: "pos_embed")!])
        // Different tensors of the same shape get different values (independent child streams).
        XCTAssertNotEqual(a[set.index(of: "blocks.0.attn.proj.weight")!], a[set.index(of: "blocks.1.attn.proj.weight")!])
        // Truncated-normal bounds are absolute: with σ = 1 the [−2, 2] cut is visible.
        var r = RandomSource(seed: 1)
        var buffer = [Float](repeating: 0, count: 100_000)
        buffer.withUnsafeMutableBufferPointer {
            r.fillTruncatedNormal($0, mean: 0, std: 1, lower: ViTInitialization.truncatedNormalBounds.lowerBound,
                                  upper: ViTInitialization.truncatedNormalBounds.upperBound)
        }
        XCTAssert(buffer.allSatisfy { abs($0) <= 2 })
        XCTAssertEqual(moments(buffer.map(Double.init)).std, truncatedMoments(-2, 2).variance.squareRoot(), accuracy: 0.005)
    }
}
