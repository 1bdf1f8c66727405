import Detection
import Foundation
import Heads
import XCTest
import TestSupport

/// A fixture written by tools/reference/make_metric_fixtures.py (scikit-learn's values).
struct MetricFixture: Decodable {
    struct Curve: Decodable {
        let fpr: [Number]?
        let tpr: [Number]?
        let precision: [Number]?
        let recall: [Number]?
        let thresholds: [Number]
    }
    struct Best: Decodable { let accuracy: Double; let threshold: Number }
    struct Point: Decodable { let tpr: Double; let fpr: Double; let threshold: Number }
    /// A number that may be written "inf" / "-inf" / "nan".
    struct Number: Decodable {
        let value: Double
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let d = try? c.decode(Double.self) { value = d; return }
            switch try c.decode(String.self) {
            case "inf": value = .infinity
            case "-inf": value = -.infinity
            default: value = .nan
            }
        }
    }

    let name: String
    let labels: [Int]
    let scores: [Number]
    let predicted: [Int]
    let decision: [Double]?
    let accuracy: Double
    let real_accuracy: Double?
    let fake_accuracy: Double?
    let balanced_accuracy: Double?
    let average_precision: Double?
    let roc_auc: Double?
    let best_threshold: Best
    let roc_curve: Curve?
    let roc_curve_full: Curve?
    let tpr_at_fpr_1: Point?
    let tpr_at_fpr_5: Point?
    let pr_curve: Curve?

    var samples: [ScoredSample] {
        labels.indices.map { ScoredSample(isFake: labels[$0] == 1, score: scores[$0].value, predictedFake: predicted[$0] == 1) }
    }
}

let metricFixtureFolder = Fixtures.url("metrics")

func loadMetricFixtures() throws -> [MetricFixture] {
    let names = try FileManager.default.contentsOfDirectory(atPath: metricFixtureFolder.path).filter { $0.hasSuffix(".json") }.sorted()
    return try names.map { try JSONDecoder().decode(MetricFixture.self, from: Data(contentsOf: metricFixtureFolder.appendingPathComponent($0))) }
}

final class MetricsTests: XCTestCase {
    let tolerance = 1e-6

    func assertClose(_ a: Double?, _ b: Double?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let a, let b else {
            XCTAssertTrue(a == nil && b == nil, "\(what): \(String(describing: a)) vs \(String(describing: b))", file: file, line: line)
            return
        }
        if a.isInfinite || b.isInfinite { XCTAssertEqual(a, b, what, file: file, line: line); return }
        XCTAssertEqual(a, b, accuracy: tolerance, what, file: file, line: line)
    }

    func assertCurve(_ a: [Double], _ b: [MetricFixture.Number], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "\(what): length", file: file, line: line)
        for (x, y) in zip(a, b) { assertClose(x, y.value, what, file: file, line: line) }
    }

    func testFixturesArePresent() throws {
        let fixtures = try loadMetricFixtures()
        XCTAssertGreaterThanOrEqual(fixtures.count, 10)
        XCTAssertEqual(Set(fixtures.map(\.name)).isSuperset(of: ["random_ties", "separable", "all_tied", "imbalanced",
                                                                  "knn_discrete", "svm_decision", "only_real"]), true)
    }

    func testScalarMetricsMatchScikitLearn() throws {
        for fx in try loadMetricFixtures() {
            let s = fx.samples
            assertClose(Metrics.accuracy(s).value, fx.accuracy, "\(fx.name) accuracy")
            assertClose(Metrics.realAccuracy(s).value, fx.real_accuracy, "\(fx.name) real accuracy")
            assertClose(Metrics.fakeAccuracy(s).value, fx.fake_accuracy, "\(fx.name) fake accuracy")
            assertClose(Metrics.balancedAccuracy(s).value, fx.balanced_accuracy, "\(fx.name) balanced accuracy")
            assertClose(Metrics.averagePrecision(s).value, fx.average_precision, "\(fx.name) AP")
            assertClose(Metrics.rocAUC(s).value, fx.roc_auc, "\(fx.name) AUC")
            let best = try XCTUnwrap(Metrics.bestThresholdAccuracy(s).value)
            assertClose(best.accuracy, fx.best_threshold.accuracy, "\(fx.name) best accuracy")
            XCTAssertEqual(best.threshold, fx.best_threshold.threshold.value, "\(fx.name) best threshold")
            for (target, expected) in [(0.01, fx.tpr_at_fpr_1), (0.05, fx.tpr_at_fpr_5)] {
                let got = Metrics.truePositiveRate(s, atFalsePositiveRate: target).value
                XCTAssertEqual(got == nil, expected == nil, "\(fx.name) TPR@\(target) defined")
                if let got, let expected {
                    assertClose(got.truePositiveRate, expected.tpr, "\(fx.name) TPR@\(target)")
                    assertClose(got.falsePositiveRate, expected.fpr, "\(fx.name) FPR@\(target)")
                    XCTAssertEqual(got.threshold, expected.threshold.value, "\(fx.name) threshold@\(target)")
                }
            }
        }
    }

    func testCurvesMatchScikitLearnPointForPoint() throws {
        for fx in try loadMetricFixtures() {
            let s = fx.samples
            for (drop, expected) in [(true, fx.roc_curve), (false, fx.roc_curve_full)] {
                let got = Metrics.rocCurve(s, dropIntermediate: drop)
                XCTAssertEqual(got.value == nil, expected == nil, "\(fx.name) ROC defined")
                if let got = got.value, let expected {
                    assertCurve(got.falsePositiveRates, expected.fpr!, "\(fx.name) fpr drop=\(drop)")
                    assertCurve(got.truePositiveRates, expected.tpr!, "\(fx.name) tpr drop=\(drop)")
                    assertCurve(got.thresholds, expected.thresholds, "\(fx.name) roc thresholds drop=\(drop)")
                }
            }
            let pr = Metrics.precisionRecallCurve(s)
            XCTAssertEqual(pr.value == nil, fx.pr_curve == nil, "\(fx.name) PR defined")
            if let got = pr.value, let expected = fx.pr_curve {
                assertCurve(got.precision, expected.precision!, "\(fx.name) precision")
                assertCurve(got.recall, expected.recall!, "\(fx.name) recall")
                assertCurve(got.thresholds, expected.thresholds, "\(fx.name) pr thresholds")
            }
        }
    }

    func testSummaryAgreesWithTheSingleFunctions() throws {
        for fx in try loadMetricFixtures() {
            let s = fx.samples, m = MetricSummary(s)
            XCTAssertEqual(m.realCount, fx.labels.filter { $0 == 0 }.count)
            XCTAssertEqual(m.fakeCount, fx.labels.filter { $0 == 1 }.count)
            XCTAssertEqual(m.accuracy.value, Metrics.accuracy(s).value)
            XCTAssertEqual(m.balancedAccuracy.value, Metrics.balancedAccuracy(s).value)
            XCTAssertEqual(m.averagePrecision.value, Metrics.averagePrecision(s).value)
            XCTAssertEqual(m.rocAUC.value, Metrics.rocAUC(s).value)
            XCTAssertEqual(m.roc.value, Metrics.rocCurve(s).value)
            XCTAssertEqual(m.precisionRecall.value, Metrics.precisionRecallCurve(s).value)
            XCTAssertEqual(m.bestThreshold.value, Metrics.bestThresholdAccuracy(s).value)
            XCTAssertEqual(m.tprAt1PercentFPR.value, Metrics.truePositiveRate(s, atFalsePositiveRate: 0.01).value)
            XCTAssertEqual(m.tprAt5PercentFPR.value, Metrics.truePositiveRate(s, atFalsePositiveRate: 0.05).value)
        }
    }

    func testSVMScoresAreNegatedDecisionValues() throws {
        let fx = try XCTUnwrap(loadMetricFixtures().first { $0.name == "svm_decision" })
        let decisions = try XCTUnwrap(fx.decision)
        let samples = decisions.indices.map { i in
            ScoredSample(isFake: fx.labels[i] == 1, output: HeadOutput(isFake: decisions[i] <= 0, score: decisions[i], decision: decisions[i]),
                         headKind: .svm)
        }
        XCTAssertEqual(samples.map(\.score), fx.scores.map(\.value))
        XCTAssertEqual(samples.map(\.predictedFake), fx.predicted.map { $0 == 1 })
        assertClose(Metrics.rocAUC(samples).value, fx.roc_auc, "svm AUC through the mapping")
        let linear = HeadOutput(isFake: true, score: 0.8, decision: 1.386)
        XCTAssertEqual(linear.fakeScore(headKind: .linear), 0.8)
        XCTAssertEqual(HeadOutput(isFake: false, score: 0, decision: nil).fakeScore(headKind: .knn), 0)
        XCTAssertEqual(HeadOutput(isFake: true, score: -0.25, decision: nil).fakeScore(headKind: .svm), 0.25)
    }

    func testUndefinedCasesGiveReasonsNotCrashes() {
        XCTAssertEqual(Metrics.accuracy([]).undefinedReason, "no samples")
        XCTAssertNotNil(Metrics.rocAUC([]).undefinedReason)
        XCTAssertNotNil(Metrics.bestThresholdAccuracy([]).undefinedReason)
        let reals = [ScoredSample(isFake: false, score: 0.1, predictedFake: false), ScoredSample(isFake: false, score: 0.7, predictedFake: true)]
        XCTAssertEqual(Metrics.rocAUC(reals).undefinedReason, "no fake samples")
        XCTAssertEqual(Metrics.averagePrecision(reals).undefinedReason, "no fake samples")
        XCTAssertEqual(Metrics.fakeAccuracy(reals).undefinedReason, "no fake samples")
        XCTAssertNotNil(Metrics.balancedAccuracy(reals).undefinedReason)
        XCTAssertEqual(Metrics.accuracy(reals).value, 0.5)
        let fakes = reals.map { ScoredSample(isFake: true, score: $0.score, predictedFake: $0.predictedFake) }
        XCTAssertEqual(Metrics.rocAUC(fakes).undefinedReason, "no real samples")
        XCTAssertEqual(Metrics.truePositiveRate(fakes, atFalsePositiveRate: 0.01).undefinedReason, "no real samples")
        XCTAssertEqual(Metrics.averagePrecision(fakes).value, 1)
        let nan = reals + [ScoredSample(isFake: true, score: .nan, predictedFake: true)]
        XCTAssertNotNil(Metrics.rocAUC(nan).undefinedReason)
        XCTAssertEqual(Metrics.accuracy(nan).value, 2.0 / 3.0)
        let m = MetricSummary(reals)
        XCTAssertNil(m.rocAUC.value)
        XCTAssertNil(m.roc.value)
        XCTAssertNil(m.tprAt5PercentFPR.value)
        XCTAssertEqual(m.bestThreshold.value, ThresholdAccuracy(accuracy: 1, threshold: .infinity))
    }

    func testTPRAtFPRUsesTheFullCurveWithoutInterpolation() {
        // 200 reals at 0.0…0.199 (distinct), fakes spread above and below: FPR steps of 0.005.
        var s: [ScoredSample] = (0..<200).map { ScoredSample(isFake: false, score: Double($0) / 1000, predictedFake: false) }
        s += (0..<10).map { ScoredSample(isFake: true, score: 1 + Double($0), predictedFake: true) }  // above all reals
        s += (0..<10).map { ScoredSample(isFake: true, score: 0.1985 - Double($0) * 0.001, predictedFake: true) }  // interleaved at the top reals
        let p = Metrics.truePositiveRate(s, atFalsePositiveRate: 0.01).value!
        XCTAssertLessThanOrEqual(p.falsePositiveRate, 0.01)
        // The 2 highest reals are 0.199 and 0.198: fakes ≥ 0.1975 are 10 + 2 (0.1985, 0.1975) -> 12/20 at FPR 0.01.
        XCTAssertEqual(p.truePositiveRate, 12.0 / 20.0, accuracy: 1e-12)
        XCTAssertEqual(p.falsePositiveRate, 0.01, accuracy: 1e-12)
        // With no real allowed the best is the 10 fakes above every real.
        XCTAssertEqual(Metrics.truePositiveRate(s, atFalsePositiveRate: 0).value!.truePositiveRate, 0.5)
    }
}
