import DeepfakeCore

/// Random indices for the pipeline's shuffles and resampling. Anything that can draw a uniform integer in
/// `0..<n` works (tests replay webdataset's recorded draws through it).
public protocol RandomIndexGenerator {
    /// A uniformly distributed integer in `0..<n`; `n > 0`.
    mutating func index(below n: Int) -> Int
}

extension SplitMix64: RandomIndexGenerator {
    /// Uniform in `0..<n`: `uniformIndex(below:)`.
    public mutating func index(below n: Int) -> Int { uniformIndex(below: n) }
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
