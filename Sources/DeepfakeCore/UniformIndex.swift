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
