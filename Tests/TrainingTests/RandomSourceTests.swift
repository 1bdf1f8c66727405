import Foundation
import XCTest
import Training

final class RandomSourceTests: XCTestCase {
    /// Random123 `tests/kat_vectors`, the three `philox4x32 10` lines (counter, key → result).
    func testPhiloxKnownAnswers() {
        let cases: [(SIMD4<UInt32>, SIMD2<UInt32>, SIMD4<UInt32>)] = [
            (SIMD4(0, 0, 0, 0), SIMD2(0, 0), SIMD4(0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8)),
            (SIMD4(repeating: 0xFFFF_FFFF), SIMD2(repeating: 0xFFFF_FFFF), SIMD4(0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD)),
            (SIMD4(0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344), SIMD2(0xA409_3822, 0x299F_31D0),
             SIMD4(0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1)),
        ]
        for (counter, key, expected) in cases {
            XCTAssertEqual(RandomSource.philox(counter: counter, key: key), expected)
        }
        // The stream's first block is Philox at counter (0, 0, stream lo, stream hi) under the seed as key.
        var r = RandomSource(seed: 0)
        XCTAssertEqual([r.next32(), r.next32(), r.next32(), r.next32()], [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8])
        XCTAssertEqual(r.block, 1)
    }

    /// Pins the stream of seed 42 (integer outputs are platform-independent), so accidental changes show up.
    func testPinnedStream() {
        var r = RandomSource(seed: 42)
        let words = (0..<6).map { _ in r.next32() }
        XCTAssertEqual(words, [0x9CEA_F053, 0x77F5_493B, 0x12BF_50AD, 0x5742_B3D7, 0xFCDB_2127, 0x53BA_6CFD])
        var again = RandomSource(seed: 42)
        XCTAssertEqual(words, (0..<6).map { _ in again.next32() })
        var q = RandomSource(seed: 42)
        let hi = UInt64(words[0]) << 32 | UInt64(words[1])
        XCTAssertEqual(q.next(), hi)
        XCTAssertEqual(RandomSource(seed: 42).derived(7, 9), RandomSource(seed: 42).derived([7, 9]))
        // The derivation of child streams is part of the reproducibility contract too.
        var d = RandomSource(seed: 42).derived(7, 9)
        XCTAssertEqual(d.key, 0x836F_E4DC_5B5A_FB22)
        XCTAssertEqual(d.stream, 0xA04C_57EE_FB6F_29D0)
        XCTAssertEqual(d.next(), 0x2A42_0626_A509_F6DD)
        XCTAssertEqual(RandomSource(seed: 42).derived(3), RandomSource(seed: 42).derived(UInt64(3)))
        var u = RandomSource(seed: 42)
        XCTAssertEqual(u.uniform(), Double(UInt64(0x9CEA_F053_77F5_493B) >> 11) * 0x1p-53)
        XCTAssertEqual(u.int(below: 1000), 73)
    }

    func testDerivedStreamsIgnoreConsumptionAndDiffer() {
        let base = RandomSource(seed: 123)
        var consumed = base
        for _ in 0..<37 { _ = consumed.next() }
        XCTAssertEqual(base.derived(5), consumed.derived(5))
        var a = base.derived(1), b = base.derived(2), c = base.derived(1, 0), d = RandomSource(seed: 124).derived(1)
        let sa = (0..<8).map { _ in a.next() }, sb = (0..<8).map { _ in b.next() }
        let sc = (0..<8).map { _ in c.next() }, sd = (0..<8).map { _ in d.next() }
        XCTAssertNotEqual(sa, sb)
        XCTAssertNotEqual(sa, sc)
        XCTAssertNotEqual(sa, sd)
        XCTAssertNotEqual(RandomSource(seed: 1, stream: 0).derived(3), RandomSource(seed: 1, stream: 1).derived(3))
    }

    func testUniformMoments() {
        var r = RandomSource(seed: 7)
        let n = 400_000
        var sum = 0.0, sq = 0.0, lo = 1.0, hi = 0.0
        for _ in 0..<n {
            let u = r.uniform()
            sum += u; sq += u * u; lo = min(lo, u); hi = max(hi, u)
        }
        let mean = sum / Double(n), variance = sq / Double(n) - mean * mean
        XCTAssertEqual(mean, 0.5, accuracy: 5 * (1.0 / 12 / Double(n)).squareRoot())
        XCTAssertEqual(variance, 1.0 / 12, accuracy: 0.001)
        XCTAssertGreaterThanOrEqual(lo, 0)
        XCTAssertLessThan(hi, 1)
        var f = RandomSource(seed: 8)
        for _ in 0..<10_000 {
            let x = f.uniformFloat()
            XCTAssert(x >= 0 && x < 1)
            let y = f.uniform(-3, 5)
            XCTAssert(y >= -3 && y < 5)
        }
    }

    func testIntegersAreUniform() {
        var r = RandomSource(seed: 99)
        let n = 7, draws = 140_000
        var counts = [Int](repeating: 0, count: n)
        for _ in 0..<draws { counts[r.int(below: n)] += 1 }
        let expected = Double(draws) / Double(n)
        let chi2 = counts.reduce(0.0) { $0 + pow(Double($1) - expected, 2) / expected }
        XCTAssertLessThan(chi2, 22.46, "chi² with 6 degrees of freedom at p = 0.001: \(counts)")
        for _ in 0..<1000 {
            let x = r.int(in: -3..<4)
            XCTAssert((-3..<4).contains(x))
            let y = r.int(in: 10...12)
            XCTAssert((10...12).contains(y))
        }
        XCTAssertEqual(r.int(in: 5...5), 5)
        // A bound just above 2^63 exercises the rejection path.
        for _ in 0..<100 { XCTAssertLessThan(r.int(below: Int.max), Int.max) }
    }

    func testSampleAndShuffle() {
        var r = RandomSource(seed: 5)
        var counts = [Int](repeating: 0, count: 19)
        let trials = 38_000
        for _ in 0..<trials {
            let s = r.sample(2, of: 19)
            XCTAssertEqual(s.count, 2)
            XCTAssertNotEqual(s[0], s[1])
            for x in s { counts[x] += 1 }
        }
        let expected = Double(trials * 2) / 19
        for c in counts { XCTAssertEqual(Double(c), expected, accuracy: 6 * expected.squareRoot()) }
        XCTAssertEqual(r.sample(0, of: 0), [])
        XCTAssertEqual(Set(r.sample(50, of: 50)), Set(0..<50))
        let big = r.sample(1000, of: 1_000_000_000)
        XCTAssertEqual(Set(big).count, 1000)
        XCTAssert(big.allSatisfy { $0 >= 0 && $0 < 1_000_000_000 })

        var a = Array(0..<100)
        r.shuffle(&a)
        XCTAssertEqual(a.sorted(), Array(0..<100))
        XCTAssertNotEqual(a, Array(0..<100))
        XCTAssertEqual(Set(r.permutation(10)), Set(0..<10))
        // Each position of a 3-permutation is uniform.
        var firsts = [Int](repeating: 0, count: 3)
        for _ in 0..<30_000 { firsts[r.permutation(3)[0]] += 1 }
        for c in firsts { XCTAssertEqual(Double(c), 10_000, accuracy: 400) }
    }

    func testNormalMoments() {
        var r = RandomSource(seed: 11)
        let n = 400_000
        var buffer = [Float](repeating: 0, count: n)
        buffer.withUnsafeMutableBufferPointer { r.fillNormal($0, mean: 2, std: 3) }
        let m = moments(buffer.map(Double.init))
        XCTAssertEqual(m.mean, 2, accuracy: 5 * 3 / Double(n).squareRoot())
        XCTAssertEqual(m.std, 3, accuracy: 0.02)
        XCTAssertEqual(m.kurtosis, 3, accuracy: 0.05)
        let single = (0..<n).map { _ in r.normal() }
        let s = moments(single)
        XCTAssertEqual(s.mean, 0, accuracy: 5 / Double(n).squareRoot())
        XCTAssertEqual(s.std, 1, accuracy: 0.006)
        XCTAssertEqual(s.skewness, 0, accuracy: 0.02)
        XCTAssertEqual(s.kurtosis, 3, accuracy: 0.05)
    }

    /// Truncated normals: all draws inside the bounds; mean and variance match the closed forms.
    func testTruncatedNormalMatchesTheory() {
        let intervals: [(Double, Double)] = [(-2, 2), (1, 3), (-3, -1), (2.5, .infinity), (-0.1, 0.2), (4, 4.5),
                                             (-.infinity, -3), (-0.5, .infinity), (0.3, 0.31), (-1, 8)]
        for (k, (a, b)) in intervals.enumerated() {
            var r = RandomSource(seed: 1000 + UInt64(k))
            let n = 100_000
            var xs = [Double]()
            xs.reserveCapacity(n)
            for _ in 0..<n {
                let x = r.truncatedNormal(mean: 0, std: 1, lower: a, upper: b)
                XCTAssert(x >= a && x <= b, "\(x) outside [\(a), \(b)]")
                xs.append(x)
            }
            let (mean, variance) = truncatedMoments(a, b)
            let m = moments(xs)
            XCTAssertEqual(m.mean, mean, accuracy: 6 * (variance / Double(n)).squareRoot() + 1e-12, "mean on [\(a), \(b)]")
            XCTAssertEqual(m.std * m.std, variance, accuracy: 0.03 * variance + 1e-12, "variance on [\(a), \(b)]")
        }
        // Scaled and shifted, filling a Float buffer.
        var r = RandomSource(seed: 3)
        var buffer = [Float](repeating: 0, count: 50_000)
        buffer.withUnsafeMutableBufferPointer { r.fillTruncatedNormal($0, mean: 1, std: 0.5, lower: 0.8, upper: 2) }
        XCTAssert(buffer.allSatisfy { $0 >= 0.8 && $0 <= 2 })
        let (mean, variance) = truncatedMoments(-0.4, 2)
        let m = moments(buffer.map(Double.init))
        XCTAssertEqual(m.mean, 1 + 0.5 * mean, accuracy: 0.005)
        XCTAssertEqual(m.std, 0.5 * variance.squareRoot(), accuracy: 0.005)
    }
}

struct Moments {
    var mean: Double, std: Double, skewness: Double, kurtosis: Double, min: Double, max: Double
}

func moments(_ xs: [Double]) -> Moments {
    let n = Double(xs.count)
    let mean = xs.reduce(0, +) / n
    var m2 = 0.0, m3 = 0.0, m4 = 0.0
    for x in xs {
        let d = x - mean
        m2 += d * d; m3 += d * d * d; m4 += d * d * d * d
    }
    m2 /= n; m3 /= n; m4 /= n
    return Moments(mean: mean, std: m2.squareRoot(), skewness: m2 > 0 ? m3 / pow(m2, 1.5) : 0,
                   kurtosis: m2 > 0 ? m4 / (m2 * m2) : 0, min: xs.min() ?? 0, max: xs.max() ?? 0)
}

/// Mean and variance of a standard normal truncated to [a, b].
func truncatedMoments(_ a: Double, _ b: Double) -> (mean: Double, variance: Double) {
    func pdf(_ x: Double) -> Double { x.isInfinite ? 0 : exp(-x * x / 2) / (2 * Double.pi).squareRoot() }
    func cdf(_ x: Double) -> Double { x == .infinity ? 1 : x == -.infinity ? 0 : 0.5 * erfc(-x / 2.0.squareRoot()) }
    func xpdf(_ x: Double) -> Double { x.isInfinite ? 0 : x * pdf(x) }
    let z = cdf(b) - cdf(a)
    let mean = (pdf(a) - pdf(b)) / z
    let variance = 1 + (xpdf(a) - xpdf(b)) / z - mean * mean
    return (mean, variance)
}
