import Foundation

// How well probabilities of fake match how often images are fake: expected calibration error, log loss,
// Brier score and a reliability diagram's data. Labels: true = fake (generated). Probabilities: of fake.

/// One bin of a reliability diagram.
public struct ReliabilityBin: Sendable, Equatable {
    /// The bin's lower edge (excluded, except for the first bin, which starts at 0 included).
    public var lower: Double
    /// The bin's upper edge (included).
    public var upper: Double
    /// Samples whose probability falls in the bin.
    public var count: Int
    /// Mean probability of fake in the bin ("confidence"); nil when the bin is empty.
    public var meanConfidence: Double?
    /// Share of fakes in the bin ("accuracy" of the probability); nil when the bin is empty.
    public var accuracy: Double?

    /// A bin from its values.
    public init(lower: Double, upper: Double, count: Int, meanConfidence: Double?, accuracy: Double?) {
        self.lower = lower; self.upper = upper; self.count = count; self.meanConfidence = meanConfidence; self.accuracy = accuracy
    }
}

/// Calibration metrics of one probability set, computed once.
public struct CalibrationSummary: Sendable, Equatable {
    /// Expected calibration error (`CalibrationMetrics.expectedCalibrationError`).
    public var expectedCalibrationError: Double
    /// Mean negative log-likelihood (`CalibrationMetrics.logLoss`).
    public var logLoss: Double
    /// Brier score (`CalibrationMetrics.brierScore`).
    public var brierScore: Double
    /// The reliability diagram's bins.
    public var bins: [ReliabilityBin]
}

/// Calibration metrics equal to scikit-learn's (`log_loss`, `brier_score_loss`) and the usual binary ECE.
///
/// Every function returns `.failure(UndefinedMetric)` instead of trapping for no samples, counts that differ,
/// or a probability that is NaN or outside [0, 1] (which scikit-learn rejects).
public enum CalibrationMetrics {
    /// The number of equal-width bins of the ECE and the reliability diagram by default.
    public static let defaultBinCount = 15

    /// The bin edges 0, 1/n, …, 1 as `np.linspace(0, 1, n + 1)` computes them: k·(1/n), the last exactly 1.
    public static func binEdges(count n: Int) -> [Double] {
        let step = 1.0 / Double(n)
        return (0...n).map { $0 == n ? 1 : Double($0) * step }
    }

    /// The bin of a probability: the number of inner edges strictly below it (`np.searchsorted(edges[1:-1], p)`),
    /// so the bins are [0, e₁], (e₁, e₂], …, (eₙ₋₁, 1] — scikit-learn's `calibration_curve(strategy="uniform")`.
    public static func binIndex(_ p: Double, edges: [Double]) -> Int {
        var lo = 1, hi = edges.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if edges[mid] < p { lo = mid + 1 } else { hi = mid }
        }
        return lo - 1
    }

    /// Per bin of `bins` equal-width bins on the probability of fake: count, mean probability and share of
    /// fakes (nil for empty bins).
    public static func reliability(labels: [Bool], probabilities: [Double], bins: Int = defaultBinCount) -> MetricResult<[ReliabilityBin]> {
        if let problem = problem(labels, probabilities) { return .failure(problem) }
        guard bins >= 1 else { return .failure(UndefinedMetric("the reliability diagram needs at least one bin")) }
        let edges = binEdges(count: bins)
        var counts = [Int](repeating: 0, count: bins), sums = [Double](repeating: 0, count: bins)
        var fakes = [Int](repeating: 0, count: bins)
        for (label, p) in zip(labels, probabilities) {
            let b = binIndex(p, edges: edges)
            counts[b] += 1; sums[b] += p
            if label { fakes[b] += 1 }
        }
        return .success((0..<bins).map { b in
            let n = counts[b]
            return ReliabilityBin(lower: edges[b], upper: edges[b + 1], count: n,
                                  meanConfidence: n > 0 ? sums[b] / Double(n) : nil,
                                  accuracy: n > 0 ? Double(fakes[b]) / Double(n) : nil)
        })
    }

    /// Expected calibration error on the probability of fake: Σ over non-empty bins of
    /// (count / N) · |share of fakes − mean probability|, with `bins` equal-width bins as `binIndex` assigns them.
    public static func expectedCalibrationError(labels: [Bool], probabilities: [Double], bins: Int = defaultBinCount) -> MetricResult<Double> {
        reliability(labels: labels, probabilities: probabilities, bins: bins).map { expectedCalibrationError($0) }
    }

    /// The ECE of a reliability diagram's bins.
    public static func expectedCalibrationError(_ bins: [ReliabilityBin]) -> Double {
        let total = Double(bins.reduce(0) { $0 + $1.count })
        var ece = 0.0
        for bin in bins {
            if let confidence = bin.meanConfidence, let accuracy = bin.accuracy {
                ece += Double(bin.count) / total * abs(accuracy - confidence)
            }
        }
        return ece
    }

    /// Mean negative log-likelihood (`sklearn.metrics.log_loss`): −log p for fakes, −log(1 − p) for reals,
    /// the probability of the true class clipped to [ε, 1 − ε] with ε = 2⁻⁵² (float64 machine epsilon).
    public static func logLoss(labels: [Bool], probabilities: [Double]) -> MetricResult<Double> {
        if let problem = problem(labels, probabilities) { return .failure(problem) }
        let eps = Double.ulpOfOne
        var sum = 0.0
        for (label, p) in zip(labels, probabilities) {
            sum -= Foundation.log(min(max(label ? p : 1 - p, eps), 1 - eps))
        }
        return .success(sum / Double(labels.count))
    }

    /// Brier score (`sklearn.metrics.brier_score_loss`): mean of (label − p)², label 1 for fake.
    public static func brierScore(labels: [Bool], probabilities: [Double]) -> MetricResult<Double> {
        if let problem = problem(labels, probabilities) { return .failure(problem) }
        var sum = 0.0
        for (label, p) in zip(labels, probabilities) {
            let d = (label ? 1 : 0) - p
            sum += d * d
        }
        return .success(sum / Double(labels.count))
    }

    /// ECE, log loss, Brier score and the reliability bins together.
    public static func summary(labels: [Bool], probabilities: [Double], bins: Int = defaultBinCount) -> MetricResult<CalibrationSummary> {
        reliability(labels: labels, probabilities: probabilities, bins: bins).flatMap { reliability in
            logLoss(labels: labels, probabilities: probabilities).flatMap { nll in
                brierScore(labels: labels, probabilities: probabilities).map { brier in
                    CalibrationSummary(expectedCalibrationError: expectedCalibrationError(reliability), logLoss: nll,
                                       brierScore: brier, bins: reliability)
                }
            }
        }
    }

    private static func problem(_ labels: [Bool], _ probabilities: [Double]) -> UndefinedMetric? {
        if labels.count != probabilities.count {
            return UndefinedMetric("\(probabilities.count) probabilities for \(labels.count) labels")
        }
        if labels.isEmpty { return UndefinedMetric("no samples") }
        if let i = probabilities.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
            return UndefinedMetric("probability \(i) is \(probabilities[i]), not in [0, 1]")
        }
        return nil
    }
}
