import Foundation

// Score → probability maps fitted on a calibration set: Platt's sigmoid and isotonic regression, as
// scikit-learn's `CalibratedClassifierCV(method="sigmoid" | "isotonic")` fits them for a binary problem
// (sklearn/calibration.py `_sigmoid_calibration`, sklearn/isotonic.py). Scores are oriented so that higher
// means more fake; labels are true for fake.

/// Platt scaling: p(fake) = 1 / (1 + e^(a·s + b)) (scikit-learn's `_SigmoidCalibration`, same signs).
public struct SigmoidCalibration: Sendable, Equatable {
    /// Slope (negative when higher scores mean more fake).
    public var a: Double
    /// Intercept.
    public var b: Double

    /// A map from its two parameters.
    public init(a: Double, b: Double) { self.a = a; self.b = b }

    /// The calibrated probability of fake for a score: expit(−(a·s + b)).
    public func probability(_ score: Double) -> Double { logistic(-(a * score + b)) }

    /// Fits (a, b) as `_sigmoid_calibration` does: targets smoothed with Platt's prior counts
    /// (fakes → (N₊ + 1)/(N₊ + 2), reals → 1/(N₋ + 2)), scores divided by max |s| when that is ≥ 30 (a is
    /// divided back), and the binomial log loss Σ log(1 + e^r) − t·r with r = −(a·s + b) minimised from
    /// (0, log((N₋ + 1)/(N₊ + 1))).
    ///
    /// scikit-learn stops L-BFGS-B at a gradient of 1e-6; the loss is strictly convex, so this runs Newton's
    /// method with a backtracking line search to the minimum itself (the two differ by far less than 1e-6 in
    /// probability).
    /// - Throws: `CalibrationError` for an empty set, mismatched counts, a missing class or a non-finite score.
    public static func fit(scores: [Double], labels: [Bool]) throws(CalibrationError) -> SigmoidCalibration {
        try CalibrationError.check(scores: scores, labels: labels)
        let negatives = Double(labels.lazy.filter { !$0 }.count)
        let positives = Double(labels.count) - negatives
        let largest = scores.lazy.map(abs).max() ?? 0
        let scale = largest >= 30 ? largest : 1
        let f = scale == 1 ? scores : scores.map { $0 / scale }
        let high = (positives + 1) / (positives + 2), low = 1 / (negatives + 2)
        let t = labels.map { $0 ? high : low }

        // Loss, gradient and Hessian of Σ softplus(r) − t·r, r = −(a·f + b), with respect to (a, b).
        func loss(_ a: Double, _ b: Double) -> Double {
            var sum = 0.0
            for i in f.indices {
                let r = -(a * f[i] + b)
                sum += (r > 0 ? r + Foundation.log1p(Foundation.exp(-r)) : Foundation.log1p(Foundation.exp(r))) - t[i] * r
            }
            return sum
        }
        var a = 0.0, b = Foundation.log((negatives + 1) / (positives + 1))
        var current = loss(a, b)
        for _ in 0..<200 {
            var ga = 0.0, gb = 0.0, haa = 0.0, hab = 0.0, hbb = 0.0
            for i in f.indices {
                let p = logistic(-(a * f[i] + b))
                let d = p - t[i]          // ∂loss/∂r
                let w = p * (1 - p)       // ∂²loss/∂r²
                ga -= d * f[i]; gb -= d
                haa += w * f[i] * f[i]; hab += w * f[i]; hbb += w
            }
            if max(abs(ga), abs(gb)) <= 1e-13 * max(1, Double(f.count)) { break }
            // Newton direction, with a small ridge where the Hessian is (nearly) singular.
            let ridge = 1e-12 * max(1, haa + hbb)
            let det = (haa + ridge) * (hbb + ridge) - hab * hab
            guard det > 0 else { break }
            let da = -((hbb + ridge) * ga - hab * gb) / det
            let db = -((haa + ridge) * gb - hab * ga) / det
            var step = 1.0, improved = false
            while step >= 1e-10 {
                let candidate = loss(a + step * da, b + step * db)
                if candidate <= current + 1e-4 * step * (ga * da + gb * db) {
                    a += step * da; b += step * db; current = candidate; improved = true
                    break
                }
                step /= 2
            }
            if !improved { break }
        }
        return SigmoidCalibration(a: a / scale, b: b)
    }
}

/// Isotonic regression with clipping outside the fitted range: scikit-learn's
/// `IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1)` (the map `CalibratedClassifierCV` fits).
/// The map interpolates linearly between its thresholds and is constant beyond the first and last one.
public struct IsotonicCalibration: Sendable, Equatable {
    /// Score thresholds, strictly increasing (`X_thresholds_`).
    public var x: [Double]
    /// Probabilities at the thresholds, non-decreasing in [0, 1] (`y_thresholds_`).
    public var y: [Double]

    /// A map from its thresholds (`x` strictly increasing, `y` the same count; `CalibrationStore` checks files).
    public init(x: [Double], y: [Double]) {
        precondition(!x.isEmpty && x.count == y.count, "isotonic map needs as many probabilities as thresholds")
        self.x = x; self.y = y
    }

    /// The calibrated probability of fake: the score clipped to [x.first, x.last], then scipy `interp1d`'s
    /// linear interpolation (the segment found by a left binary search, y_lo + slope·(s − x_lo)).
    public func probability(_ score: Double) -> Double {
        if x.count == 1 { return y[0] }
        let s = min(max(score, x[0]), x[x.count - 1])
        // First index with x[i] >= s (numpy searchsorted, side "left"), kept within 1...count-1.
        var lo = 0, hi = x.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if x[mid] < s { lo = mid + 1 } else { hi = mid }
        }
        let upper = min(max(lo, 1), x.count - 1), lower = upper - 1
        let slope = (y[upper] - y[lower]) / (x[upper] - x[lower])
        return slope * (s - x[lower]) + y[lower]
    }

    /// Fits the map as `IsotonicRegression.fit` does: samples sorted by score; scores closer than 1e-15
    /// (float64 resolution) to the first of a run are one point whose target is the mean label; pool adjacent
    /// violators on those points weighted by their counts; targets clipped to [0, 1]; interior points whose
    /// value equals both neighbours' are dropped.
    /// - Throws: `CalibrationError` for an empty set, mismatched counts, a missing class or a non-finite score.
    public static func fit(scores: [Double], labels: [Bool]) throws(CalibrationError) -> IsotonicCalibration {
        try CalibrationError.check(scores: scores, labels: labels)
        let order = scores.indices.sorted { (scores[$0], labels[$0] ? 1 : 0) < (scores[$1], labels[$1] ? 1 : 0) }
        // Unique scores (`_make_unique`): weight = count, value = mean label.
        var xs: [Double] = [], sums: [Double] = [], weights: [Double] = []
        for i in order {
            let label = labels[i] ? 1.0 : 0.0
            if let first = xs.last, !(scores[i] - first >= 1e-15) {
                sums[sums.count - 1] += label; weights[weights.count - 1] += 1
            } else {
                xs.append(scores[i]); sums.append(label); weights.append(1)
            }
        }
        // Pool adjacent violators: blocks of (mean, weight, length), merged while not increasing.
        var means: [Double] = [], blockWeights: [Double] = [], lengths: [Int] = []
        for j in xs.indices {
            var mean = sums[j] / weights[j], weight = weights[j], length = 1
            while let last = means.last, last >= mean {
                let w = blockWeights.removeLast()
                mean = (last * w + mean * weight) / (w + weight)
                weight += w
                length += lengths.removeLast()
                means.removeLast()
            }
            means.append(mean); blockWeights.append(weight); lengths.append(length)
        }
        var fitted: [Double] = []
        fitted.reserveCapacity(xs.count)
        for (mean, length) in zip(means, lengths) {
            fitted.append(contentsOf: repeatElement(min(1, max(0, mean)), count: length))
        }
        var keptX: [Double] = [], keptY: [Double] = []
        for j in xs.indices where j == 0 || j == xs.count - 1 || fitted[j] != fitted[j - 1] || fitted[j] != fitted[j + 1] {
            keptX.append(xs[j]); keptY.append(fitted[j])
        }
        return IsotonicCalibration(x: keptX, y: keptY)
    }
}

/// Why a calibration could not be fitted or used.
public enum CalibrationError: Error, CustomStringConvertible, Equatable {
    /// No calibration samples.
    case empty
    /// Scores and labels differ in count.
    case countMismatch(scores: Int, labels: Int)
    /// Only one class is present (`missing` is "real" or "fake").
    case oneClass(missing: String)
    /// A NaN or infinite score, at `index`.
    case nonFiniteScore(index: Int)
    /// A false-positive-rate target outside (0, 1).
    case badTarget(Double)

    /// One line naming the problem and what to do.
    public var description: String {
        switch self {
        case .empty: return "calibration needs labelled images; the calibration set is empty"
        case let .countMismatch(scores, labels): return "calibration got \(scores) scores for \(labels) labels"
        case let .oneClass(missing):
            return "calibration needs both real and fake images; the calibration set has no \(missing) images"
        case let .nonFiniteScore(index): return "calibration score \(index) is NaN or infinite"
        case let .badTarget(t): return "false-positive-rate target \(t) is not between 0 and 1"
        }
    }

    /// Checks what every fit needs: equal counts, both classes, finite scores.
    static func check(scores: [Double], labels: [Bool]) throws(CalibrationError) {
        guard scores.count == labels.count else { throw .countMismatch(scores: scores.count, labels: labels.count) }
        guard !scores.isEmpty else { throw .empty }
        if let bad = scores.firstIndex(where: { !$0.isFinite }) { throw .nonFiniteScore(index: bad) }
        guard labels.contains(true) else { throw .oneClass(missing: "fake") }
        guard labels.contains(false) else { throw .oneClass(missing: "real") }
    }
}
