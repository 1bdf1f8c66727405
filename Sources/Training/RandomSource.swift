// The seedable, splittable random source behind every random choice of training: view crops,
// augmentations, fake selection, weight initialisation.
//
// Generator: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as
// 1, 2, 3", SC 2011), the counter-based generator of Random123, cuRAND and JAX. A 64-bit key and a
// 128-bit counter go through ten rounds of a keyed bijection; each counter value yields four 32-bit
// words. Counter-based means a stream is a pure function of (key, counter): sub-streams are made by
// hashing labels into a new key and counter prefix, never by consuming the parent, so a record's
// views are the same whichever thread builds them and in whatever order.
//
// Everything built on the 32-bit words (integers in a range, shuffles, samples) is integer
// arithmetic written out here, so it is identical on every platform and Swift version. The
// floating-point conversions are exact; the normal and truncated-normal draws call `log`, `sqrt`,
// `cos`, `sin`, `exp` and `erf` from the C library, which are correctly rounded in practice but
// not guaranteed so: across C libraries those draws may differ in the last bit.

import Foundation
import DeepfakeCore

/// A seedable, splittable, counter-based pseudo-random source (Philox4x32-10).
///
/// * `RandomSource(seed:)` starts a stream; equal seeds give equal streams on every platform.
/// * `derived(_:)` makes an independent child stream from labels (e.g. epoch, record index, view
///   index). A child depends only on the parent's identity (seed and stream labels), **not** on how
///   much of the parent has been consumed, so work can be split across threads deterministically.
/// * The draws (`uniform`, `int(below:)`, `shuffle`, `sample`, `normal`, `truncatedNormal`, …) are
///   the portable, documented algorithms to use. The type also conforms to `RandomNumberGenerator`
///   for convenience, but the standard library's `random(in:using:)` algorithms are not specified
///   across Swift versions; do not use them where reproducibility matters.
package struct RandomSource: RandomNumberGenerator, Sendable, Hashable {
    /// The Philox key (two 32-bit words, low word first).
    package let key: UInt64
    /// The high 64 bits of the 128-bit counter: which sub-stream of `key` this is.
    package let stream: UInt64
    /// The low 64 bits of the counter: how many 4-word blocks have been generated so far.
    package private(set) var block: UInt64
    /// The words of the last generated block and how many of them have been handed out (4 = none left).
    private var words: SIMD4<UInt32> = .zero
    private var used: Int = 4

    /// A stream for `seed` (and an optional stream number; different streams of one seed are independent).
    package init(seed: UInt64, stream: UInt64 = 0) {
        self.key = seed
        self.stream = stream
        self.block = 0
    }

    /// The stream positioned at `block` (the next draw is the first word of that block).
    package init(key: UInt64, stream: UInt64, block: UInt64) {
        self.key = key
        self.stream = stream
        self.block = block
    }

    // MARK: Philox4x32-10

    static let multiplier0: UInt32 = 0xD251_1F53
    static let multiplier1: UInt32 = 0xCD9E_8D57
    static let weyl0: UInt32 = 0x9E37_79B9
    static let weyl1: UInt32 = 0xBB67_AE85

    /// The Philox4x32 bijection with `rounds` rounds (10 is the standard, Random123's `philox4x32_10`)
    /// applied to the counter `(c0, c1, c2, c3)` under the key `(k0, k1)`.
    package static func philox(counter: SIMD4<UInt32>, key: SIMD2<UInt32>, rounds: Int = 10) -> SIMD4<UInt32> {
        var c = counter
        var k0 = key[0], k1 = key[1]
        for round in 0..<rounds {
            if round > 0 {
                k0 &+= weyl0
                k1 &+= weyl1
            }
            let p0 = UInt64(multiplier0) &* UInt64(c[0])
            let p1 = UInt64(multiplier1) &* UInt64(c[2])
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c = SIMD4(hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0)
        }
        return c
    }

    /// The four words of block `index` of this stream (counter = index low word first, then `stream`).
    package func blockWords(_ index: UInt64) -> SIMD4<UInt32> {
        let counter = SIMD4<UInt32>(UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32),
                                    UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32))
        let k = SIMD2<UInt32>(UInt32(truncatingIfNeeded: key), UInt32(truncatingIfNeeded: key >> 32))
        return Self.philox(counter: counter, key: k)
    }

    /// The next 32-bit word: the words of block 0 in order, then block 1, …
    @inline(__always)
    package mutating func next32() -> UInt32 {
        if used == 4 {
            words = blockWords(block)
            block &+= 1
            used = 0
        }
        let w = words[used]
        used += 1
        return w
    }

    /// The next 64 bits: two consecutive words, the first one in the high half.
    @inline(__always)
    package mutating func next() -> UInt64 {
        let hi = UInt64(next32())
        return (hi << 32) | UInt64(next32())
    }

    // MARK: Splitting

    /// An independent child stream identified by `labels` (for example `derived(epoch, record)` and then
    /// `derived(view)`). The child's key and stream are a hash of this stream's key, stream and the
    /// labels; the parent's position plays no part, and the parent is not advanced.
    package func derived(_ labels: UInt64...) -> RandomSource {
        derived(labels)
    }

    /// `derived(_:)` with the labels in an array.
    package func derived(_ labels: [UInt64]) -> RandomSource {
        // Two SplitMix64-style absorptions with different starting constants give the new key and stream.
        var a = Self.mix(key ^ 0x243F_6A88_85A3_08D3)
        var b = Self.mix(stream ^ 0x1319_8A2E_0370_7344)
        a = Self.mix(a ^ b)
        b = Self.mix(b &+ a &+ Self.golden)
        for label in labels {
            a = Self.mix((a &+ Self.golden) ^ label)
            b = Self.mix(b ^ Self.mix(label &+ a))
        }
        return RandomSource(key: a, stream: b, block: 0)
    }

    /// `derived(_:)` for a non-negative `Int` label (its two's-complement bits otherwise).
    package func derived(_ label: Int) -> RandomSource {
        derived([UInt64(bitPattern: Int64(label))])
    }

    static let golden = SplitMix64.gamma

    /// The SplitMix64 finaliser (Stafford's variant 13): a 64-bit bijection with good avalanche.
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 { SplitMix64.mix(x) }

    // MARK: Uniform

    /// Uniform in [0, 1) with 53 random bits: `(next() >> 11) · 2⁻⁵³` (exact; every multiple of 2⁻⁵³ equally likely).
    @inline(__always)
    package mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform in [`lower`, `upper`): `lower + (upper − lower) · uniform()` (the form torch's `uniform_` uses).
    @inline(__always)
    package mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * uniform()
    }

    /// Uniform in [0, 1) as a Float with 24 random bits: `(next32() >> 8) · 2⁻²⁴`.
    @inline(__always)
    package mutating func uniformFloat() -> Float {
        Float(next32() >> 8) * 0x1p-24
    }

    /// Fills `buffer` with `Float(uniform(lower, upper))`.
    package mutating func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>, _ lower: Double, _ upper: Double) {
        for i in buffer.indices { buffer[i] = Float(uniform(lower, upper)) }
    }

    // MARK: Integers

    /// Exactly uniform in `0..<n` (Lemire's multiply-and-reject: `uniformIndex(below:)`).
    package mutating func int(below n: Int) -> Int { uniformIndex(below: n) }

    /// Exactly uniform in `range` (Python's `randrange(lo, hi)`, torch's `randint(lo, hi)`).
    package mutating func int(in range: Range<Int>) -> Int {
        precondition(!range.isEmpty, "RandomSource.int(in:) on an empty range")
        return range.lowerBound + int(below: range.count)
    }

    /// Exactly uniform in `range` (Python's `randint(lo, hi)`).
    package mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + int(below: range.count)
    }

    /// A Fisher–Yates shuffle: for i from the last index down to 1, swap element i with `int(below: i + 1)`.
    package mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = int(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }

    /// A uniformly random permutation of `0..<n` (`shuffle` of `[0, 1, …, n−1]`).
    package mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }

    /// `k` distinct integers drawn uniformly without replacement from `0..<n`, in the order drawn
    /// (Python's `random.sample(range(n), k)` semantics; not sorted). A partial Fisher–Yates shuffle
    /// over a virtual `[0, …, n−1]`: draw i takes position `i + int(below: n − i)` and swaps it to i.
    /// Costs O(k) time and memory whatever `n`.
    package mutating func sample(_ k: Int, of n: Int) -> [Int] {
        precondition(k >= 0 && n >= 0 && k <= n, "RandomSource.sample: cannot draw \(k) of \(n)")
        var moved: [Int: Int] = [:]
        var out: [Int] = []
        out.reserveCapacity(k)
        for i in 0..<k {
            let j = i + int(below: n - i)
            let atJ = moved[j] ?? j
            let atI = moved[i] ?? i
            moved[j] = atI
            out.append(atJ)
        }
        return out
    }

    /// One element of `collection`, uniformly (Python's `random.choice`).
    package mutating func element<C: Collection>(of collection: C) -> C.Element where C.Index == Int {
        collection[collection.startIndex + int(below: collection.count)]
    }

    // MARK: Normal

    /// A standard normal draw by the Box–Muller transform: `√(−2 ln u₁) · cos(2π u₂)` with
    /// `u₁ = 1 − uniform()` in (0, 1] and `u₂ = uniform()`; the sine half is discarded.
    package mutating func normal() -> Double {
        let u1 = 1.0 - uniform()
        let u2 = uniform()
        return (-2.0 * log(u1)).squareRoot() * cos(2.0 * Double.pi * u2)
    }

    /// A normal draw `mean + std · normal()`.
    package mutating func normal(mean: Double, std: Double) -> Double {
        mean + std * normal()
    }

    /// Fills `buffer` with `Float(mean + std · z)`, the z drawn in Box–Muller pairs (cosine, then sine
    /// half; an odd last element uses `normal()`).
    package mutating func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>, mean: Double, std: Double) {
        var i = 0
        while i + 1 < buffer.count {
            let u1 = 1.0 - uniform()
            let u2 = uniform()
            let r = (-2.0 * log(u1)).squareRoot()
            let theta = 2.0 * Double.pi * u2
            buffer[i] = Float(mean + std * (r * cos(theta)))
            buffer[i + 1] = Float(mean + std * (r * sin(theta)))
            i += 2
        }
        if i < buffer.count { buffer[i] = Float(normal(mean: mean, std: std)) }
    }

    /// A draw from N(`mean`, `std`²) conditioned on [`lower`, `upper`] (the bounds are absolute values,
    /// as in `torch.nn.init.trunc_normal_(t, mean, std, a, b)`; either may be infinite).
    ///
    /// Exact (rejection) sampling, with the proposal chosen from the standardised bounds α, β:
    /// plain normal draws when the interval holds at least 30% of the mass; otherwise, for an interval
    /// on one side of the mean, Robert's (1995) translated-exponential proposal when it is wider than
    /// a few tail scales, else a uniform proposal on [α, β] accepted with `exp((m² − z²)/2)`, m the
    /// bound nearest the mean (also used for narrow intervals that straddle the mean).
    package mutating func truncatedNormal(mean: Double, std: Double, lower: Double, upper: Double) -> Double {
        precondition(std > 0 && lower < upper, "truncatedNormal: need std > 0 and lower < upper")
        let alpha = (lower - mean) / std, beta = (upper - mean) / std
        return mean + std * standardTruncatedNormal(alpha, beta)
    }

    /// A standard normal draw conditioned on [α, β].
    mutating func standardTruncatedNormal(_ alpha: Double, _ beta: Double) -> Double {
        let mass = Self.normalCDF(beta) - Self.normalCDF(alpha)
        if mass >= 0.3 {
            while true {
                let z = normal()
                if z >= alpha && z <= beta { return z }
            }
        }
        if alpha >= 0 || beta <= 0 {
            // One side of the mean: reflect onto the positive side, a ≤ z ≤ b with a ≥ 0.
            let flip = beta <= 0
            let a = flip ? -beta : alpha, b = flip ? -alpha : beta
            let z: Double
            let lambda = (a + (a * a + 4).squareRoot()) / 2
            if b - a > 2 / lambda {
                // Translated exponential: z = a + E/λ, accepted with exp(−(z − λ)²/2).
                while true {
                    let e = -log(1.0 - uniform()) / lambda
                    let candidate = a + e
                    if candidate > b { continue }
                    let d = candidate - lambda
                    if uniform() <= exp(-d * d / 2) { z = candidate; break }
                }
            } else {
                // Uniform on [a, b], accepted with exp((a² − z²)/2) (the density relative to its peak at a).
                while true {
                    let candidate = a + (b - a) * uniform()
                    if uniform() <= exp((a * a - candidate * candidate) / 2) { z = candidate; break }
                }
            }
            return flip ? -z : z
        }
        // Narrow interval around the mean: uniform proposal, density peak at 0.
        while true {
            let candidate = alpha + (beta - alpha) * uniform()
            if uniform() <= exp(-candidate * candidate / 2) { return candidate }
        }
    }

    /// Fills `buffer` with `Float(truncatedNormal(mean:std:lower:upper:))`.
    package mutating func fillTruncatedNormal(_ buffer: UnsafeMutableBufferPointer<Float>, mean: Double, std: Double,
                                             lower: Double, upper: Double) {
        precondition(std > 0 && lower < upper, "truncatedNormal: need std > 0 and lower < upper")
        let alpha = (lower - mean) / std, beta = (upper - mean) / std
        // Rounding to Float could step just outside a bound; keep the documented interval.
        var lo = Float(lower), hi = Float(upper)
        if Double(lo) < lower { lo = lo.nextUp }
        if Double(hi) > upper { hi = hi.nextDown }
        for i in buffer.indices {
            buffer[i] = min(max(Float(mean + std * standardTruncatedNormal(alpha, beta)), lo), hi)
        }
    }

    /// The standard normal CDF, `(1 + erf(x/√2)) / 2`.
    static func normalCDF(_ x: Double) -> Double {
        if x == .infinity { return 1 }
        if x == -.infinity { return 0 }
        return 0.5 * (1 + erf(x / 2.0.squareRoot()))
    }
}
