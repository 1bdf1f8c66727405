/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014; the
/// generator Java's `SplittableRandom` and Vigna's `splitmix64.c` use): a 64-bit state advanced by the
/// golden-ratio increment γ = 0x9E3779B97F4A7C15, each output the state passed through `mix`. Portable
/// and fully specified here, so a seed gives the same stream on every platform and Swift version
/// (the data pipeline never uses the system generator nor the standard library's `random(in:)`, whose
/// algorithm is not specified).
///
/// From seed 0 the first outputs are 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    /// The increment γ added to the state before each output.
    public static let gamma: UInt64 = 0x9E37_79B9_7F4A_7C15
    /// The current state (the seed before the first output).
    public private(set) var state: UInt64

    /// A stream starting from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64-bit output.
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

    /// One seed from several parts (a base seed, an epoch, a rank, a worker …): starting from 0,
    /// `h ← mix((h &+ γ) ^ part)` for each part in order. Different parts or orders give unrelated seeds.
    public static func derive(_ parts: UInt64...) -> UInt64 {
        var h: UInt64 = 0
        for p in parts { h = mix((h &+ gamma) ^ p) }
        return h
    }
}
