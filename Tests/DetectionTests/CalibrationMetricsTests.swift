import Detection
import Foundation
import TestSupport
import XCTest

/// Tests/Fixtures/trust/metrics.json (tools/reference/make_trust_fixtures.py): ECE from the script's numpy
/// implementation (cross-checked there with calibration_curve), scikit-learn's log_loss and brier_score_loss.
final class CalibrationMetricsTests: XCTestCase {
    struct Fixture: Decodable {
        struct Bin: Decodable {
            let count: Int
            let mean_confidence: Double?
            let accuracy: Double?
        }
        struct Set: Decodable {
            let name: String
            let labels: [Int]
            let probabilities: [Double]
            let ece: Double
            let nll: Double
            let brier: Double
            let bin_edges: [Double]
            let bins: [Bin]
        }
        let bins: Int
        let sets: [Set]
    }

    static let fixture: Fixture? = try? JSONDecoder().decode(Fixture.self, from: Data(contentsOf: Fixtures.url("trust/metrics.json")))

    func sets() throws -> [Fixture.Set] {
        let fixture = try XCTUnwrap(Self.fixture, "Tests/Fixtures/trust/metrics.json is missing or unreadable")
        XCTAssertEqual(fixture.bins, CalibrationMetrics.defaultBinCount)
        XCTAssertEqual(fixture.sets.count, 14)
        return fixture.sets
    }

    func testBinEdgesAreNumpyLinspace() throws {
        for set in try sets() { XCTAssertEqual(CalibrationMetrics.binEdges(count: 15), set.bin_edges) }
    }

    func testECENLLBrierMatchReference() throws {
        var worst = (ece: 0.0, nll: 0.0, brier: 0.0)
        for set in try sets() {
            let labels = set.labels.map { $0 == 1 }
            let summary = try CalibrationMetrics.summary(labels: labels, probabilities: set.probabilities).get()
            XCTAssertEqual(summary.expectedCalibrationError, set.ece, accuracy: 1e-6, "\(set.name) ECE")
            XCTAssertEqual(summary.logLoss, set.nll, accuracy: 1e-6, "\(set.name) NLL")
            XCTAssertEqual(summary.brierScore, set.brier, accuracy: 1e-6, "\(set.name) Brier")
            worst.ece = max(worst.ece, abs(summary.expectedCalibrationError - set.ece))
            worst.nll = max(worst.nll, abs(summary.logLoss - set.nll))
            worst.brier = max(worst.brier, abs(summary.brierScore - set.brier))
            XCTAssertEqual(summary.bins.count, set.bins.count)
            for (b, (got, want)) in zip(summary.bins, set.bins).enumerated() {
                XCTAssertEqual(got.count, want.count, "\(set.name) bin \(b) count")
                XCTAssertEqual(got.meanConfidence == nil, want.mean_confidence == nil, "\(set.name) bin \(b)")
                if let g = got.meanConfidence, let w = want.mean_confidence { XCTAssertEqual(g, w, accuracy: 1e-12, "\(set.name) bin \(b)") }
                if let g = got.accuracy, let w = want.accuracy { XCTAssertEqual(g, w, accuracy: 1e-12, "\(set.name) bin \(b)") }
                XCTAssertEqual(got.lower, set.bin_edges[b]); XCTAssertEqual(got.upper, set.bin_edges[b + 1])
            }
        }
        print("calibration metrics: largest |ours − reference|: ECE \(worst.ece), NLL \(worst.nll), Brier \(worst.brier)")
    }

    /// Probabilities exactly on an inner edge belong to the bin below it; 0 to the first bin, 1 to the last.
    func testEdgeConvention() {
        let edges = CalibrationMetrics.binEdges(count: 15)
        XCTAssertEqual(CalibrationMetrics.binIndex(0, edges: edges), 0)
        XCTAssertEqual(CalibrationMetrics.binIndex(edges[1], edges: edges), 0)
        XCTAssertEqual(CalibrationMetrics.binIndex(edges[1].nextUp, edges: edges), 1)
        XCTAssertEqual(CalibrationMetrics.binIndex(edges[14], edges: edges), 13)
        XCTAssertEqual(CalibrationMetrics.binIndex(1, edges: edges), 14)
    }

    func testUndefinedInputsAreReportedNotTrapped() {
        XCTAssertEqual(CalibrationMetrics.logLoss(labels: [], probabilities: []).undefinedReason, "no samples")
        XCTAssertNotNil(CalibrationMetrics.brierScore(labels: [true], probabilities: [1.5]).undefinedReason)
        XCTAssertNotNil(CalibrationMetrics.expectedCalibrationError(labels: [true], probabilities: [.nan]).undefinedReason)
        XCTAssertNotNil(CalibrationMetrics.reliability(labels: [true, false], probabilities: [0.5]).undefinedReason)
        XCTAssertNotNil(CalibrationMetrics.reliability(labels: [true], probabilities: [0.5], bins: 0).undefinedReason)
    }
}
