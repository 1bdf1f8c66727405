import Foundation

/// Upstream's three numbers per evaluation (`validate_d3.py`; docs/upstream.md, D3 test protocol), at the head's own
/// decision: accuracy on reals (`r_acc`), on fakes (`f_acc`) and pooled over both (`acc`, the plain accuracy
/// over the union, not the mean of the two). For the one-class SVM the decision −1 is fake, which is what
/// `HeadOutput.isFake` already says. A value is nil when its class has no samples (upstream would print nan).
public struct UpstreamAccuracies: Sendable, Equatable {
    /// `r_acc`: accuracy on the reals.
    public let realAccuracy: Double?
    /// `f_acc`: accuracy on the fakes.
    public let fakeAccuracy: Double?
    /// `acc`: accuracy over all samples.
    public let accuracy: Double?

    /// The three values as given.
    public init(realAccuracy: Double?, fakeAccuracy: Double?, accuracy: Double?) {
        self.realAccuracy = realAccuracy; self.fakeAccuracy = fakeAccuracy; self.accuracy = accuracy
    }

    /// The three accuracies of `samples` (only `isFake` and `predictedFake` are used).
    public init(_ samples: [ScoredSample]) {
        self.init(realAccuracy: Metrics.realAccuracy(samples).value, fakeAccuracy: Metrics.fakeAccuracy(samples).value,
                  accuracy: Metrics.accuracy(samples).value)
    }

    /// Upstream's `results/acc0.txt` line, newline included:
    /// `"{key}: {round(r_acc*100,2)}  {round(f_acc*100,2)}  {round(acc*100,2)}\n"` with Python's `round`
    /// and float printing (e.g. `augm_gen_1: 97.5  100.0  98.75`); an undefined value prints `nan`.
    public func acc0Line(key: String) -> String {
        func field(_ v: Double?) -> String { v.map { pythonRoundedString($0 * 100, digits: 2) } ?? "nan" }
        return "\(key): \(field(realAccuracy))  \(field(fakeAccuracy))  \(field(accuracy))\n"
    }
}

/// `str(round(value, digits))` as Python 3 prints it, for `digits` in 0...3: the double is rounded to
/// `digits` decimals from its exact binary value (halfway cases, which only exactly representable values
/// can be, go to the even neighbour), and the result is printed in the shortest form that reads back to
/// the same double, always with a fractional part (`100.0`, `97.5`, `88.12`). NaN prints `nan`, infinities
/// `inf`/`-inf` (Python's `round` would raise on them).
public func pythonRoundedString(_ value: Double, digits: Int) -> String {
    precondition((0...3).contains(digits), "pythonRoundedString supports 0 to 3 decimals")
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    let rounded = pythonRound(value, digits: digits)
    // Swift's description is the shortest round-trip form, as Python's repr; both use exponents from 1e16
    // and below 1e-4, both write "e+16"/"e-05".
    let text = rounded.description
    return text.contains(".") || text.contains("e") || text.contains("n") ? text : text + ".0"
}

/// Python 3's `round(value, digits)` for a finite double and `digits` in 0...3 (correctly rounded, ties to even);
/// exact for |value| < 2^43 (far beyond the percentages it is used for).
public func pythonRound(_ value: Double, digits: Int) -> Double {
    precondition((0...3).contains(digits), "pythonRound supports 0 to 3 decimals")
    guard value.isFinite, value != 0 else { return value }
    let magnitude = value.magnitude
    // magnitude = significand · 2^exponent exactly, with an integer significand below 2^53.
    let exponent = Int(magnitude.exponent) - Double.significandBitCount
    let significand = UInt64(magnitude.significandBitPattern) | (magnitude.isNormal ? UInt64(1) << 52 : 0)
    let adjustedExponent = magnitude.isNormal ? exponent : Int(Double.leastNormalMagnitude.exponent) - Double.significandBitCount
    if adjustedExponent >= 0 { return value }  // already an integer
    var scale: UInt64 = 1
    for _ in 0..<digits { scale *= 10 }
    let scaled = significand * scale  // < 2^53 · 1000 < 2^63
    let shift = -adjustedExponent
    var quotient: UInt64
    if shift >= 64 {
        quotient = 0  // scaled / 2^shift < 2^63 / 2^64 < 1/2
    } else {
        quotient = scaled >> UInt64(shift)
        let remainder = scaled - (quotient << UInt64(shift))
        let half = UInt64(1) << UInt64(shift - 1)
        if remainder > half || (remainder == half && quotient & 1 == 1) { quotient += 1 }
    }
    // quotient / 10^digits correctly rounded, as Python reads the rounded decimal string back.
    let result = Double(quotient) / Double(scale)
    return value < 0 ? -result : result
}
