import Foundation

/// How a map is fitted: Platt's sigmoid or isotonic regression.
public enum CalibrationMethod: String, Sendable, CaseIterable {
    case sigmoid, isotonic
}

/// A fitted score → probability-of-fake map.
public enum CalibrationMap: Sendable, Equatable {
    case sigmoid(SigmoidCalibration)
    case isotonic(IsotonicCalibration)

    /// Which method fitted it.
    public var method: CalibrationMethod {
        switch self {
        case .sigmoid: return .sigmoid
        case .isotonic: return .isotonic
        }
    }

    /// The calibrated probability of fake for a calibration score.
    public func probability(_ score: Double) -> Double {
        switch self {
        case let .sigmoid(m): return m.probability(score)
        case let .isotonic(m): return m.probability(score)
        }
    }

    /// Fits a map of `method` on calibration scores (higher = more fake) and labels (true = fake).
    public static func fit(_ method: CalibrationMethod, scores: [Double], labels: [Bool]) throws(CalibrationError) -> CalibrationMap {
        switch method {
        case .sigmoid: return .sigmoid(try SigmoidCalibration.fit(scores: scores, labels: labels))
        case .isotonic: return .isotonic(try IsotonicCalibration.fit(scores: scores, labels: labels))
        }
    }
}

/// The score of a head's output that a calibration map reads, oriented so that higher = more fake. It is the
/// value scikit-learn's `CalibratedClassifierCV` calibrates for that estimator (`decision_function` where the
/// estimator has one, else `predict_proba[:, 1]`), with the one-class SVM's sign turned so that isotonic
/// regression (which is increasing) sees fakes high.
public enum CalibrationInput: String, Sendable, CaseIterable {
    /// Logistic regression: the decision value x·w + b (the logit of the probability of fake).
    case decision
    /// k-NN: the (weighted) share of fake neighbours.
    case fakeFraction = "fake-fraction"
    /// One-class SVM: −decision (the SVM's decision is positive for reals).
    case negatedDecision = "negated-decision"

    /// The input used for a head kind.
    public init(headKind: HeadKind) {
        switch headKind {
        case .linear: self = .decision
        case .knn: self = .fakeFraction
        case .svm: self = .negatedDecision
        }
    }

    /// The calibration score of one head output.
    public func score(_ output: HeadOutput) -> Double {
        switch self {
        case .decision:
            if let d = output.decision { return d }
            return Foundation.log(output.score) - Foundation.log1p(-output.score)
        case .fakeFraction: return output.score
        case .negatedDecision: return -(output.decision ?? output.score)
        }
    }
}

/// A score threshold that calls at most a given share of the calibration set's reals fake.
///
/// With `roc_curve(labels, scores, drop_intermediate=False)` on the calibration set (thresholds +∞ and every
/// distinct score, decreasing), it is the point with the largest index whose false-positive rate is ≤ the
/// target: the lowest such threshold, hence the highest true-positive rate. An image is called fake when its
/// calibration score is ≥ `threshold`; +∞ (no distinct score qualifies) calls nothing fake.
public struct FalsePositiveThreshold: Sendable, Equatable {
    /// The false-positive rate asked for, in (0, 1).
    public var target: Double
    /// Fake when score ≥ threshold (+∞: never).
    public var threshold: Double
    /// Share of the calibration reals scoring ≥ threshold (≤ target).
    public var falsePositiveRate: Double
    /// Share of the calibration fakes scoring ≥ threshold.
    public var truePositiveRate: Double

    /// A threshold from its four values.
    public init(target: Double, threshold: Double, falsePositiveRate: Double, truePositiveRate: Double) {
        self.target = target; self.threshold = threshold
        self.falsePositiveRate = falsePositiveRate; self.truePositiveRate = truePositiveRate
    }

    /// The thresholds for `targets` on calibration scores (higher = more fake) and labels (true = fake).
    /// - Throws: `CalibrationError` for a bad target, an empty set, a missing class or a non-finite score.
    public static func fit(scores: [Double], labels: [Bool], targets: [Double]) throws(CalibrationError) -> [FalsePositiveThreshold] {
        try CalibrationError.check(scores: scores, labels: labels)
        if let bad = targets.first(where: { !($0 > 0 && $0 < 1) }) { throw .badTarget(bad) }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        // The full ROC curve: (+∞, 0, 0), then cumulative counts at each distinct score.
        var thresholds = [Double.infinity], fps = [0.0], tps = [0.0]
        var fp = 0.0, tp = 0.0
        for (k, i) in order.enumerated() {
            if labels[i] { tp += 1 } else { fp += 1 }
            if k == order.count - 1 || scores[order[k + 1]] != scores[i] {
                thresholds.append(scores[i]); fps.append(fp); tps.append(tp)
            }
        }
        return targets.map { target in
            var best = 0
            for j in fps.indices where fps[j] / fp <= target { best = j }
            return FalsePositiveThreshold(target: target, threshold: thresholds[best],
                                          falsePositiveRate: fps[best] / fp, truePositiveRate: tps[best] / tp)
        }
    }
}

/// Three answers instead of two: a calibrated probability below `low` is real, above `high` fake, and in
/// [low, high] (both ends included) uncertain. `0.5:0.5` leaves only p = 0.5 uncertain.
public struct UncertainBand: Sendable, Equatable, CustomStringConvertible {
    /// Probabilities below this are real.
    public let low: Double
    /// Probabilities above this are fake.
    public let high: Double

    /// A band with 0 ≤ low ≤ high ≤ 1.
    public init(low: Double, high: Double) throws(UncertainBandError) {
        guard low.isFinite, high.isFinite, low >= 0, high <= 1, low <= high else {
            throw UncertainBandError(text: "\(low):\(high)")
        }
        self.low = low; self.high = high
    }

    /// Parses `LOW:HIGH` (e.g. `0.3:0.7`), as `detect --uncertain` takes it.
    public init(parsing text: String) throws(UncertainBandError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let low = Double(parts[0].trimmingCharacters(in: .whitespaces)),
              let high = Double(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw UncertainBandError(text: text)
        }
        try self.init(low: low, high: high)
    }

    /// The answer for a calibrated probability of fake.
    public func verdict(_ probability: Double) -> TrustVerdict {
        if probability < low { return .real }
        if probability > high { return .fake }
        return .uncertain
    }

    /// `LOW:HIGH`.
    public var description: String { "\(low):\(high)" }
}

/// An uncertain band that is not `LOW:HIGH` with 0 ≤ LOW ≤ HIGH ≤ 1.
public struct UncertainBandError: Error, CustomStringConvertible, Equatable {
    /// What was given.
    public let text: String
    /// One line naming the value and the rule.
    public var description: String {
        "uncertain band '\(text)' is not LOW:HIGH with 0 ≤ LOW ≤ HIGH ≤ 1 (for example 0.3:0.7)"
    }
}

/// A three-way answer.
public enum TrustVerdict: String, Sendable, CaseIterable {
    case real, uncertain, fake
}

/// Everything a model folder stores to turn one head's output into a calibrated probability of fake: the
/// input definition, the fitted map, thresholds at false-positive rates and the calibration set's counts.
/// Saved by `CalibrationStore` (docs/calibration-format.md).
public struct HeadCalibration: Sendable, Equatable {
    /// The head this calibration belongs to.
    public var headKind: HeadKind
    /// Which score of the head's output the map reads.
    public var input: CalibrationInput
    /// The fitted map.
    public var map: CalibrationMap
    /// Thresholds on the calibration score at the targets asked for.
    public var thresholds: [FalsePositiveThreshold]
    /// Reals in the calibration set.
    public var realCount: Int
    /// Fakes in the calibration set.
    public var fakeCount: Int

    /// A calibration from its parts.
    public init(headKind: HeadKind, input: CalibrationInput, map: CalibrationMap, thresholds: [FalsePositiveThreshold],
                realCount: Int, fakeCount: Int) {
        self.headKind = headKind; self.input = input; self.map = map; self.thresholds = thresholds
        self.realCount = realCount; self.fakeCount = fakeCount
    }

    /// The false-positive-rate targets fitted by default: 1% and 5%.
    public static let defaultTargets = [0.01, 0.05]

    /// Fits a calibration from a head's outputs on a labelled calibration set (true = fake). The head is
    /// already fitted; only these outputs are seen (scikit-learn's `CalibratedClassifierCV` with a
    /// `FrozenEstimator`).
    public static func fit(headKind: HeadKind, outputs: [HeadOutput], labels: [Bool], method: CalibrationMethod,
                           falsePositiveRates: [Double] = defaultTargets) throws(CalibrationError) -> HeadCalibration {
        let input = CalibrationInput(headKind: headKind)
        return try fit(headKind: headKind, scores: outputs.map(input.score), labels: labels, method: method,
                       falsePositiveRates: falsePositiveRates)
    }

    /// Fits a calibration from calibration scores already read with `CalibrationInput(headKind:)`.
    public static func fit(headKind: HeadKind, scores: [Double], labels: [Bool], method: CalibrationMethod,
                           falsePositiveRates: [Double] = defaultTargets) throws(CalibrationError) -> HeadCalibration {
        let input = CalibrationInput(headKind: headKind)
        let map = try CalibrationMap.fit(method, scores: scores, labels: labels)
        let thresholds = try FalsePositiveThreshold.fit(scores: scores, labels: labels, targets: falsePositiveRates)
        let fakes = labels.lazy.filter { $0 }.count
        return HeadCalibration(headKind: headKind, input: input, map: map, thresholds: thresholds,
                               realCount: labels.count - fakes, fakeCount: fakes)
    }

    /// The calibration score of an output (see `CalibrationInput`).
    public func score(_ output: HeadOutput) -> Double { input.score(output) }

    /// The calibrated probability that the image is generated.
    public func probability(_ output: HeadOutput) -> Double { map.probability(input.score(output)) }

    /// Real / uncertain / fake for an output, by its calibrated probability.
    public func verdict(_ output: HeadOutput, band: UncertainBand) -> TrustVerdict { band.verdict(probability(output)) }

    /// Whether the output is fake at the stored threshold for `target` (nil when no threshold was fitted
    /// for that target).
    public func isFake(_ output: HeadOutput, atFalsePositiveRate target: Double) -> Bool? {
        guard let t = thresholds.first(where: { $0.target == target }) else { return nil }
        return input.score(output) >= t.threshold
    }
}
