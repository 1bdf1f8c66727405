// NumPy's legacy global generator (`np.random.seed`, `np.random.RandomState`), reproduced draw for draw:
// the MT19937 Mersenne Twister with NumPy's seeding, and the legacy algorithms built on it that augly's
// `shuffle_pixels` (CoDE's augmentation 17) uses. Only `RandomState`'s behaviour is modelled here, not
// NumPy's newer `Generator` API, whose algorithms differ.

/// A port of NumPy's legacy `RandomState` (MT19937): the same seeding and, for the methods provided,
/// the same numbers as NumPy for the same seed and call sequence.
///
/// - `init(seed:)` is `RandomState(seed)` / `np.random.seed(seed)` for an integer seed in `0..<2³²`
///   (Knuth's linear-congruential state fill of the reference Mersenne Twister, `init_genrand`).
/// - `init(seedArray:)` is the same for a 1-d array of 32-bit seeds (the reference `init_by_array`).
/// - Bounded integers use masked rejection: draw 32-bit words (64-bit ones, built high word first,
///   for ranges above 2³² − 1), keep the bits below the smallest all-ones mask covering the range, and
///   retry while the value exceeds it.
/// - `permutation(n)` is `arange(n)` shuffled by `shuffle`, which is Fisher–Yates from the last element
///   down: for `i = n−1 … 1`, swap element `i` with element `interval(i)`.
/// - `choice(n, size:, replace: false)` is NumPy's legacy rule: the first `size` entries of
///   `permutation(n)` (all `n` positions are shuffled whatever `size` is).
package struct NumpyRandomState: Sendable, Hashable {
    static let stateLength = 624
    static let shift = 397
    static let matrixA: UInt32 = 0x9908_b0df
    static let upperMask: UInt32 = 0x8000_0000
    static let lowerMask: UInt32 = 0x7fff_ffff

    /// The 624-word Mersenne Twister state.
    package private(set) var key: [UInt32]
    /// The next word of `key` to temper and return; 624 = regenerate first.
    package private(set) var position: Int

    /// `np.random.seed(seed)` / `RandomState(seed)` for an integer seed.
    package init(seed: UInt32) {
        var key = [UInt32](repeating: 0, count: Self.stateLength)
        var s = seed
        for i in 0..<Self.stateLength {
            key[i] = s
            s = 1_812_433_253 &* (s ^ (s >> 30)) &+ UInt32(i + 1)
        }
        self.key = key
        self.position = Self.stateLength
    }

    /// `RandomState(array)` for a non-empty 1-d array of seeds, each in `0..<2³²`.
    package init(seedArray: [UInt32]) {
        precondition(!seedArray.isEmpty, "NumpyRandomState: empty seed array")
        self.init(seed: 19_650_218)
        let n = Self.stateLength
        var i = 1, j = 0
        for _ in 0..<max(n, seedArray.count) {
            let previous = key[i - 1]
            key[i] = (key[i] ^ ((previous ^ (previous >> 30)) &* 1_664_525)) &+ seedArray[j] &+ UInt32(truncatingIfNeeded: j)
            i += 1; j += 1
            if i >= n { key[0] = key[n - 1]; i = 1 }
            if j >= seedArray.count { j = 0 }
        }
        for _ in 0..<(n - 1) {
            let previous = key[i - 1]
            key[i] = (key[i] ^ ((previous ^ (previous >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= n { key[0] = key[n - 1]; i = 1 }
        }
        key[0] = 0x8000_0000
        position = n
    }

    /// Refills the state (the reference `genrand` block step).
    mutating func regenerate() {
        let n = Self.stateLength, m = Self.shift
        key.withUnsafeMutableBufferPointer { k in
            @inline(__always) func twist(_ i: Int, _ next: Int, _ far: Int) {
                let y = (k[i] & Self.upperMask) | (k[next] & Self.lowerMask)
                k[i] = k[far] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : Self.matrixA)
            }
            for i in 0..<(n - m) { twist(i, i + 1, i + m) }
            for i in (n - m)..<(n - 1) { twist(i, i + 1, i + m - n) }
            twist(n - 1, 0, m - 1)
        }
        position = 0
    }

    /// The next tempered 32-bit word.
    package mutating func nextUInt32() -> UInt32 {
        if position == Self.stateLength { regenerate() }
        var y = key[position]
        position += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// Two words, the first one high: NumPy's 64-bit draw for MT19937.
    package mutating func nextUInt64() -> UInt64 {
        let high = UInt64(nextUInt32())
        return high << 32 | UInt64(nextUInt32())
    }

    /// `random_sample()`: a double in [0, 1) from 27 + 26 bits of two words.
    package mutating func randomSample() -> Double {
        let a = Double(nextUInt32() >> 5), b = Double(nextUInt32() >> 6)
        return (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// The smallest `2ᵏ − 1` that is `>= value`.
    static func mask(covering value: UInt64) -> UInt64 {
        var m = value
        m |= m >> 1; m |= m >> 2; m |= m >> 4; m |= m >> 8; m |= m >> 16; m |= m >> 32
        return m
    }

    /// A uniform integer in `0...max` (NumPy's `random_interval`, used by `shuffle`): masked
    /// rejection on 32-bit words when `max < 2³²`, on 64-bit draws otherwise; `max == 0` draws nothing.
    package mutating func interval(_ max: UInt64) -> UInt64 {
        if max == 0 { return 0 }
        let m = Self.mask(covering: max)
        if max <= 0xffff_ffff {
            while true {
                let v = UInt64(nextUInt32()) & m
                if v <= max { return v }
            }
        }
        while true {
            let v = nextUInt64() & m
            if v <= max { return v }
        }
    }

    /// `randint(low, high)` (legacy, 64-bit result): uniform in `low..<high`. A range of exactly 2³²
    /// values takes one raw word; other ranges up to 2³² use masked 32-bit rejection, larger ones masked
    /// 64-bit rejection.
    package mutating func randint(_ low: Int64, _ high: Int64) -> Int64 {
        precondition(low < high, "NumpyRandomState.randint: low >= high")
        let range = UInt64(bitPattern: high &- low) &- 1
        if range == 0 { return low }
        var offset: UInt64 = 0
        if range == 0xffff_ffff {
            offset = UInt64(nextUInt32())
        } else {
            let m = Self.mask(covering: range)
            if range < 0xffff_ffff {
                repeat { offset = UInt64(nextUInt32()) & m } while offset > range
            } else {
                repeat { offset = nextUInt64() & m } while offset > range
            }
        }
        return low &+ Int64(bitPattern: offset)
    }

    /// `shuffle(x)` along the first axis: for `i = count−1 … 1`, swap `x[i]` and `x[interval(i)]`.
    package mutating func shuffle<T>(_ elements: inout [T]) {
        var i = elements.count - 1
        while i >= 1 {
            let j = Int(interval(UInt64(i)))
            if i != j { elements.swapAt(i, j) }
            i -= 1
        }
    }

    /// `permutation(n)`: `0..<n` shuffled.
    package mutating func permutation(_ n: Int) -> [Int] {
        var values = Array(0..<max(n, 0))
        shuffle(&values)
        return values
    }

    /// `choice(n, size, replace)` over `0..<n`: with replacement `size` draws of `randint(0, n)`;
    /// without, the first `size` entries of `permutation(n)`.
    package mutating func choice(_ n: Int, size: Int, replace: Bool = true) -> [Int] {
        precondition(size >= 0, "NumpyRandomState.choice: negative size")
        if replace {
            precondition(n > 0 || size == 0, "NumpyRandomState.choice: empty population")
            return (0..<size).map { _ in Int(randint(0, Int64(n))) }
        }
        precondition(size <= n, "NumpyRandomState.choice: sample larger than the population")
        return Array(permutation(n).prefix(size))
    }
}
