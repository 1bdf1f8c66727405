/// Random indices for the pipeline's shuffles and resampling. Anything that can draw a uniform integer in
/// `0..<n` works (tests replay webdataset's recorded draws through it).
public protocol RandomIndexGenerator {
    /// A uniformly distributed integer in `0..<n`; `n > 0`.
    mutating func index(below n: Int) -> Int
}

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014; the
/// generator Java's `SplittableRandom` and Vigna's `splitmix64.c` use): a 64-bit state advanced by the
/// golden-ratio increment γ = 0x9E3779B97F4A7C15, each output the state passed through `mix`. Portable
/// and fully specified here, so a seed gives the same stream on every platform and Swift version
/// (the pipeline never uses the system generator nor the standard library's `random(in:)`, whose
/// algorithm is not specified).
///
/// From seed 0 the first outputs are 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F.
public struct SplitMix64: RandomNumberGenerator, RandomIndexGenerator, Sendable, Hashable {
    public static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= Self.gamma
        return Self.mix(state)
    }

    /// The SplitMix64 output function (variant 13 of Stafford's MurmurHash3 finalizer).
    @inlinable
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<n`: `uniformIndex(below:)`.
    public mutating func index(below n: Int) -> Int { uniformIndex(below: n) }

    /// One seed from several parts (a base seed, an epoch, a rank, a worker …): starting from 0,
    /// `h ← mix((h &+ γ) ^ part)` for each part in order. Different parts or orders give unrelated seeds.
    public static func derive(_ parts: UInt64...) -> UInt64 {
        var h: UInt64 = 0
        for p in parts { h = mix((h &+ gamma) ^ p) }
        return h
    }
}

extension RandomNumberGenerator {
    /// Uniform in `0..<n` by Lemire's multiply-and-reject method ("Fast random integer generation in an
    /// interval", ACM TOMACS 2019): the high word of `next() · n`, redrawing while the low word is below
    /// `2^64 mod n`. Exactly uniform, usually one draw, and specified here (the standard library's bounded
    /// draws are not), so a generator's stream gives the same integers on every platform.
    @inlinable
    public mutating func uniformIndex(below n: Int) -> Int {
        precondition(n > 0, "uniformIndex(below:) needs a positive bound, got \(n)")
        let bound = UInt64(n)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }
}

extension Array {
    /// A Fisher–Yates shuffle driven by `generator` (for i from the last index down to 1, swap element i
    /// with element `index(below: i + 1)`), so the permutation depends only on the generator's stream.
    mutating func pipelineShuffle<G: RandomIndexGenerator>(using generator: inout G) {
        guard count > 1 else { return }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = generator.index(below: i + 1)
            if i != j { swapAt(i, j) }
        }
    }
}

/// `Int` (an epoch, a rank) as a seed part; negative values keep their two's-complement bits.
@inline(__always) func seedPart(_ x: Int) -> UInt64 { UInt64(bitPattern: Int64(x)) }
