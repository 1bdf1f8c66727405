import Foundation
import Heads

// Binary detection metrics, computed the way scikit-learn computes them (sklearn/metrics/_ranking.py and
// _classification.py), in Double. Fake is the positive class; scores are oriented so that higher = more fake.

/// One evaluated image: its true label, the head's fake score and the head's own decision.
public struct ScoredSample: Sendable, Equatable {
    /// The true label: true = fake (generated), false = real.
    public var isFake: Bool
    /// How fake the head thinks the image is; higher = more fake (see `HeadOutput.fakeScore(headKind:)`).
    public var score: Double
    /// The head's own decision (`HeadOutput.isFake`).
    public var predictedFake: Bool

    /// A sample from its label, fake score and decision.
    public init(isFake: Bool, score: Double, predictedFake: Bool) {
        self.isFake = isFake; self.score = score; self.predictedFake = predictedFake
    }

    /// A sample from a head's output: the score is `output.fakeScore(headKind:)`, the decision `output.isFake`.
    public init(isFake: Bool, output: HeadOutput, headKind: HeadKind) {
        self.init(isFake: isFake, score: output.fakeScore(headKind: headKind), predictedFake: output.isFake)
    }
}

extension HeadOutput {
    /// The score oriented so that higher = more fake, as the ranking metrics expect.
    ///
    /// `.linear` (probability of fake) and `.knn` (share of fake neighbours) already are: their `score`.
    /// `.svm` (one-class SVM) reports its decision value, where negative means fake (docs/upstream.md, One-class
    /// SVM sign): its fake score is −decision (−`score` when `decision` is nil).
    public func fakeScore(headKind: HeadKind) -> Double {
        headKind == .svm ? -(decision ?? score) : score
    }
}

/// Why a metric has no value (one class absent, no samples, non-finite scores).
public struct UndefinedMetric: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason, for users (e.g. `no fake samples`).
    public let reason: String
    /// An undefined metric with its reason.
    public init(_ reason: String) { self.reason = reason }
    /// The reason.
    public var description: String { reason }
}

/// A metric's value, or why it is undefined.
public typealias MetricResult<Value> = Result<Value, UndefinedMetric>

extension Result where Failure == UndefinedMetric {
    /// The value, or nil when undefined.
    public var value: Success? {
        if case let .success(v) = self { return v }
        return nil
    }

    /// Why the metric is undefined, or nil when it has a value.
    public var undefinedReason: String? {
        if case let .failure(e) = self { return e.reason }
        return nil
    }
}

/// Counts of fakes (true positives) and reals (false positives) scoring at or above each distinct score,
/// highest score first — scikit-learn's `confusion_matrix_at_thresholds` (formerly `_binary_clf_curve`).
public struct ThresholdCounts: Sendable, Equatable {
    /// The distinct scores, decreasing.
    public let thresholds: [Double]
    /// Fakes with score ≥ thresholds[i] (cumulative; exact integers in Double).
    public let truePositives: [Double]
    /// Reals with score ≥ thresholds[i].
    public let falsePositives: [Double]
    /// Number of fakes.
    public let positives: Int
    /// Number of reals.
    public let negatives: Int

    /// Counts for `samples` (at least one; scores must be finite, which `Metrics` checks).
    public init(_ samples: [ScoredSample]) {
        let order = samples.indices.sorted { samples[$0].score > samples[$1].score }
        var thresholds: [Double] = [], tps: [Double] = [], fps: [Double] = []
        var tp = 0.0, fp = 0.0
        for (k, i) in order.enumerated() {
            if samples[i].isFake { tp += 1 } else { fp += 1 }
            // A threshold closes where the next score differs (ties form one group, as np.diff finds them).
            if k == order.count - 1 || samples[order[k + 1]].score != samples[i].score {
                thresholds.append(samples[i].score); tps.append(tp); fps.append(fp)
            }
        }
        self.thresholds = thresholds; self.truePositives = tps; self.falsePositives = fps
        self.positives = Int(tp); self.negatives = Int(fp)
    }
}

/// A ROC curve: false- and true-positive rates when calling fake every score ≥ thresholds[i].
/// The first point is (0, 0) at threshold +∞, as `sklearn.metrics.roc_curve` returns it.
public struct ROCCurve: Sendable, Equatable {
    /// Share of reals scoring ≥ the threshold, non-decreasing from 0 to 1.
    public let falsePositiveRates: [Double]
    /// Share of fakes scoring ≥ the threshold, non-decreasing from 0 to 1.
    public let truePositiveRates: [Double]
    /// +∞, then the kept distinct scores, decreasing.
    public let thresholds: [Double]

    /// A curve from its three arrays (same length).
    public init(falsePositiveRates: [Double], truePositiveRates: [Double], thresholds: [Double]) {
        self.falsePositiveRates = falsePositiveRates; self.truePositiveRates = truePositiveRates; self.thresholds = thresholds
    }
}

/// A precision–recall curve in scikit-learn's order: recall decreasing, ending at (recall 0, precision 1),
/// which has no threshold (`thresholds.count == precision.count − 1`, thresholds increasing).
public struct PrecisionRecallCurve: Sendable, Equatable {
    /// Share of fakes among the samples scoring ≥ the threshold (0 where none does).
    public let precision: [Double]
    /// Share of fakes scoring ≥ the threshold, decreasing to 0.
    public let recall: [Double]
    /// The distinct scores, increasing; one fewer than points.
    public let thresholds: [Double]

    /// A curve from its three arrays.
    public init(precision: [Double], recall: [Double], thresholds: [Double]) {
        self.precision = precision; self.recall = recall; self.thresholds = thresholds
    }
}

/// The best accuracy reachable by thresholding the score, and the threshold reaching it.
public struct ThresholdAccuracy: Sendable, Equatable {
    /// Accuracy (0…1) of the rule fake ⇔ score ≥ threshold.
    public let accuracy: Double
    /// Fake when score ≥ threshold; +∞ means calling everything real.
    public let threshold: Double

    /// A threshold and its accuracy.
    public init(accuracy: Double, threshold: Double) { self.accuracy = accuracy; self.threshold = threshold }
}

/// One point of the ROC curve.
public struct OperatingPoint: Sendable, Equatable {
    /// Share of fakes called fake.
    public let truePositiveRate: Double
    /// Share of reals called fake.
    public let falsePositiveRate: Double
    /// Fake when score ≥ threshold; +∞ is the (0, 0) point.
    public let threshold: Double

    /// A point from its rates and threshold.
    public init(truePositiveRate: Double, falsePositiveRate: Double, threshold: Double) {
        self.truePositiveRate = truePositiveRate; self.falsePositiveRate = falsePositiveRate; self.threshold = threshold
    }
}

/// Binary detection metrics (fake = positive class, higher score = more fake), equal to scikit-learn's.
///
/// Every function returns `.failure(UndefinedMetric)` instead of trapping where the metric is undefined:
/// no samples, a class that the metric needs is absent, or (for score-based metrics) a NaN/infinite score,
/// which scikit-learn rejects.
public enum Metrics {
    /// Fraction of samples whose decision matches the label (`accuracy_score`).
    public static func accuracy(_ samples: [ScoredSample]) -> MetricResult<Double> {
        fraction(samples, what: "samples")
    }

    /// Accuracy on the real samples only (upstream's `r_acc`).
    public static func realAccuracy(_ samples: [ScoredSample]) -> MetricResult<Double> {
        fraction(samples.filter { !$0.isFake }, what: "real samples")
    }

    /// Accuracy on the fake samples only (upstream's `f_acc`).
    public static func fakeAccuracy(_ samples: [ScoredSample]) -> MetricResult<Double> {
        fraction(samples.filter { $0.isFake }, what: "fake samples")
    }

    /// Mean of the real and fake accuracies (`balanced_accuracy_score`). Undefined when a class is absent
    /// (scikit-learn then averages over the classes present, with a warning; here that is not reported as
    /// a balanced accuracy).
    public static func balancedAccuracy(_ samples: [ScoredSample]) -> MetricResult<Double> {
        realAccuracy(samples).flatMap { r in fakeAccuracy(samples).map { f in (r + f) / 2 } }
    }

    /// Confusion counts at every distinct score, or why they cannot be computed.
    public static func thresholdCounts(_ samples: [ScoredSample]) -> MetricResult<ThresholdCounts> {
        if samples.isEmpty { return .failure(UndefinedMetric("no samples")) }
        if samples.contains(where: { !$0.score.isFinite }) { return .failure(UndefinedMetric("scores contain NaN or infinity")) }
        return .success(ThresholdCounts(samples))
    }

    /// The ROC curve as `roc_curve(y, score, drop_intermediate:)` (default true: points collinear with their
    /// neighbours are dropped, which changes neither the plot nor the AUC). Needs both classes.
    public static func rocCurve(_ samples: [ScoredSample], dropIntermediate: Bool = true) -> MetricResult<ROCCurve> {
        thresholdCounts(samples).flatMap { counts in
            guard counts.positives > 0, counts.negatives > 0 else { return .failure(oneClass(counts)) }
            return .success(rocCurve(counts, dropIntermediate: dropIntermediate))
        }
    }

    /// The ROC curve from precomputed counts (both classes present).
    public static func rocCurve(_ counts: ThresholdCounts, dropIntermediate: Bool = true) -> ROCCurve {
        var fps = counts.falsePositives, tps = counts.truePositives, thr = counts.thresholds
        if dropIntermediate && fps.count > 2 {
            // Keep the ends and every point where either count's second difference is non-zero (a corner).
            var keep = [0]
            for i in 1..<(fps.count - 1) {
                let fpBend = (fps[i + 1] - fps[i]) - (fps[i] - fps[i - 1])
                let tpBend = (tps[i + 1] - tps[i]) - (tps[i] - tps[i - 1])
                if fpBend != 0 || tpBend != 0 { keep.append(i) }
            }
            keep.append(fps.count - 1)
            fps = keep.map { fps[$0] }; tps = keep.map { tps[$0] }; thr = keep.map { thr[$0] }
        }
        let n = Double(counts.negatives), p = Double(counts.positives)
        return ROCCurve(falsePositiveRates: [0] + fps.map { $0 / n },
                        truePositiveRates: [0] + tps.map { $0 / p },
                        thresholds: [Double.infinity] + thr)
    }

    /// Area under the ROC curve (`roc_auc_score`): trapezoids over `rocCurve(_:)`. Needs both classes.
    public static func rocAUC(_ samples: [ScoredSample]) -> MetricResult<Double> {
        rocCurve(samples).map(areaUnderROC)
    }

    /// The trapezoidal area under a ROC curve (`sklearn.metrics.auc`; false-positive rates never decrease).
    public static func areaUnderROC(_ curve: ROCCurve) -> Double {
        let x = curve.falsePositiveRates, y = curve.truePositiveRates
        var area = 0.0
        for i in 1..<max(1, x.count) { area += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2 }
        return area
    }

    /// The precision–recall curve as `precision_recall_curve(y, score)`. Needs at least one fake
    /// (scikit-learn sets recall to 1 everywhere when there is none; that is reported as undefined here).
    public static func precisionRecallCurve(_ samples: [ScoredSample]) -> MetricResult<PrecisionRecallCurve> {
        thresholdCounts(samples).flatMap { counts in
            guard counts.positives > 0 else { return .failure(UndefinedMetric("no fake samples")) }
            return .success(precisionRecallCurve(counts))
        }
    }

    /// The precision–recall curve from precomputed counts (at least one fake).
    public static func precisionRecallCurve(_ counts: ThresholdCounts) -> PrecisionRecallCurve {
        let tps = counts.truePositives, fps = counts.falsePositives
        let allPositives = tps[tps.count - 1]
        var precision: [Double] = [], recall: [Double] = []
        precision.reserveCapacity(tps.count + 1); recall.reserveCapacity(tps.count + 1)
        for i in stride(from: tps.count - 1, through: 0, by: -1) {
            let predicted = tps[i] + fps[i]
            precision.append(predicted != 0 ? tps[i] / predicted : 0)
            recall.append(tps[i] / allPositives)
        }
        precision.append(1); recall.append(0)
        return PrecisionRecallCurve(precision: precision, recall: recall, thresholds: counts.thresholds.reversed())
    }

    /// Average precision (`average_precision_score`): Σₙ (Rₙ − Rₙ₋₁)·Pₙ over the distinct thresholds, without
    /// interpolation. Needs at least one fake (with only fakes it is 1, as in scikit-learn).
    public static func averagePrecision(_ samples: [ScoredSample]) -> MetricResult<Double> {
        precisionRecallCurve(samples).map(averagePrecision)
    }

    /// The step-wise average precision of a precision–recall curve (clipped at 0 like scikit-learn's).
    public static func averagePrecision(_ curve: PrecisionRecallCurve) -> Double {
        var sum = 0.0
        for i in 0..<(curve.recall.count - 1) { sum += (curve.recall[i + 1] - curve.recall[i]) * curve.precision[i] }
        return max(0, -sum)
    }

    /// The best accuracy over all thresholds on the score (fake when score ≥ t, for t = +∞ — everything
    /// real — and every distinct score); ties keep the highest threshold. Needs at least one sample.
    public static func bestThresholdAccuracy(_ samples: [ScoredSample]) -> MetricResult<ThresholdAccuracy> {
        thresholdCounts(samples).map(bestThresholdAccuracy)
    }

    /// The best-threshold accuracy from precomputed counts.
    public static func bestThresholdAccuracy(_ counts: ThresholdCounts) -> ThresholdAccuracy {
        let total = Double(counts.positives + counts.negatives), negatives = Double(counts.negatives)
        var bestCorrect = negatives, bestThreshold = Double.infinity
        for i in counts.thresholds.indices {
            let correct = counts.truePositives[i] + (negatives - counts.falsePositives[i])
            if correct > bestCorrect { bestCorrect = correct; bestThreshold = counts.thresholds[i] }
        }
        return ThresholdAccuracy(accuracy: bestCorrect / total, threshold: bestThreshold)
    }

    /// The true-positive rate at a false-positive-rate budget, without interpolation: the highest TPR among
    /// the points of the full ROC curve (`drop_intermediate=False`, (0, 0) at +∞ included) whose FPR ≤
    /// `maxFalsePositiveRate` — the best detection rate a threshold on the score reaches while calling at most
    /// that share of reals fake. Of equal TPRs the first (highest threshold, lowest FPR) is reported.
    /// Needs both classes.
    public static func truePositiveRate(_ samples: [ScoredSample], atFalsePositiveRate maxFalsePositiveRate: Double) -> MetricResult<OperatingPoint> {
        rocCurve(samples, dropIntermediate: false).map { truePositiveRate($0, atFalsePositiveRate: maxFalsePositiveRate) }
    }

    /// The TPR at an FPR budget on a full (`dropIntermediate: false`) ROC curve.
    public static func truePositiveRate(_ curve: ROCCurve, atFalsePositiveRate maxFalsePositiveRate: Double) -> OperatingPoint {
        var best = 0
        for i in curve.falsePositiveRates.indices where curve.falsePositiveRates[i] <= maxFalsePositiveRate {
            if curve.truePositiveRates[i] > curve.truePositiveRates[best] { best = i }
        }
        return OperatingPoint(truePositiveRate: curve.truePositiveRates[best], falsePositiveRate: curve.falsePositiveRates[best],
                              threshold: curve.thresholds[best])
    }

    private static func fraction(_ samples: [ScoredSample], what: String) -> MetricResult<Double> {
        if samples.isEmpty { return .failure(UndefinedMetric("no \(what)")) }
        let correct = samples.reduce(0) { $0 + ($1.predictedFake == $1.isFake ? 1 : 0) }
        return .success(Double(correct) / Double(samples.count))
    }

    private static func oneClass(_ counts: ThresholdCounts) -> UndefinedMetric {
        UndefinedMetric(counts.positives == 0 ? "no fake samples" : "no real samples")
    }
}

/// Every metric of one score set, computed once.
public struct MetricSummary: Sendable {
    /// Number of real samples.
    public let realCount: Int
    /// Number of fake samples.
    public let fakeCount: Int
    /// Accuracy at the head's own decision (upstream's `acc`).
    public let accuracy: MetricResult<Double>
    /// Accuracy on reals at the head's decision (`r_acc`).
    public let realAccuracy: MetricResult<Double>
    /// Accuracy on fakes at the head's decision (`f_acc`).
    public let fakeAccuracy: MetricResult<Double>
    /// Mean of the real and fake accuracies.
    public let balancedAccuracy: MetricResult<Double>
    /// Average precision of the scores.
    public let averagePrecision: MetricResult<Double>
    /// ROC-AUC of the scores.
    public let rocAUC: MetricResult<Double>
    /// Best accuracy over thresholds on the score.
    public let bestThreshold: MetricResult<ThresholdAccuracy>
    /// TPR at FPR ≤ 1% (see `Metrics.truePositiveRate(_:atFalsePositiveRate:)`).
    public let tprAt1PercentFPR: MetricResult<OperatingPoint>
    /// TPR at FPR ≤ 5%.
    public let tprAt5PercentFPR: MetricResult<OperatingPoint>
    /// `roc_curve(drop_intermediate=True)`.
    public let roc: MetricResult<ROCCurve>
    /// `precision_recall_curve`.
    public let precisionRecall: MetricResult<PrecisionRecallCurve>

    /// Computes every metric of `samples`.
    public init(_ samples: [ScoredSample]) {
        realCount = samples.reduce(0) { $0 + ($1.isFake ? 0 : 1) }
        fakeCount = samples.count - realCount
        accuracy = Metrics.accuracy(samples)
        realAccuracy = Metrics.realAccuracy(samples)
        fakeAccuracy = Metrics.fakeAccuracy(samples)
        balancedAccuracy = Metrics.balancedAccuracy(samples)
        let counts = Metrics.thresholdCounts(samples)
        bestThreshold = counts.map(Metrics.bestThresholdAccuracy)
        precisionRecall = counts.flatMap { c in
            c.positives > 0 ? .success(Metrics.precisionRecallCurve(c)) : .failure(UndefinedMetric("no fake samples"))
        }
        averagePrecision = precisionRecall.map(Metrics.averagePrecision)
        let full: MetricResult<ROCCurve> = counts.flatMap { c in
            guard c.positives > 0, c.negatives > 0 else {
                return .failure(UndefinedMetric(c.positives == 0 ? "no fake samples" : "no real samples"))
            }
            return .success(Metrics.rocCurve(c, dropIntermediate: false))
        }
        roc = counts.flatMap { c in full.map { _ in Metrics.rocCurve(c, dropIntermediate: true) } }
        rocAUC = roc.map(Metrics.areaUnderROC)
        tprAt1PercentFPR = full.map { Metrics.truePositiveRate($0, atFalsePositiveRate: 0.01) }
        tprAt5PercentFPR = full.map { Metrics.truePositiveRate($0, atFalsePositiveRate: 0.05) }
    }
}
