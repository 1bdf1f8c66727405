import Checkpoints
import Foundation
import Heads
import TestSupport
import XCTest

/// Tests/Fixtures/trust/calibration.json (tools/reference/make_trust_fixtures.py): scikit-learn 1.9.1's
/// sigmoid and isotonic calibration and roc_curve thresholds of head scores and synthetic scores.
final class CalibrationTests: XCTestCase {
    /// The fixture, read with `JSONDecoder`: swift-corelibs-foundation's `JSONSerialization` parses some
    /// decimals to a neighbouring double (0.009523809523809525 becomes ...528), which exact comparisons would
    /// take for our error.
    struct Fixture: Decodable {
        let fpr_targets: [Double]
        let sets: [Entry]
    }

    struct ScoreSet: Decodable {
        let scores: [Number]
        let labels: [Int]
    }

    struct Method: Decodable {
        let a: Double?
        let b: Double?
        let x_thresholds: [Double]?
        let y_thresholds: [Double]?
        let calibration_probabilities: [Double]
        let test_probabilities: [Double]
    }

    /// k-NN fractions with every float32 value rounded once from its exact value (no BLAS rounding).
    struct ExactScores: Decodable {
        let calibration: [Double]
        let test: [Double]
        let largest_difference_from_sklearn: Double
    }

    struct Threshold: Decodable {
        let target: Double
        let threshold: Number
        let fpr: Double
        let tpr: Double
    }

    struct Entry: Decodable {
        let name: String
        let calibration: ScoreSet
        let test: ScoreSet
        let sigmoid: Method
        let isotonic: Method
        let fpr_thresholds: [Threshold]
        let head_file: String?
        let exact_float32_scores: ExactScores?
        let calibration_rows: [Int]?
        let test_rows: [Int]?

        /// The calibration or test set's scores and labels (true = fake), named for messages.
        func set(_ key: String) -> (name: String, scores: [Double], labels: [Bool]) {
            let part = key == "calibration" ? calibration : test
            return ("\(name) \(key)", part.scores.map(\.value), part.labels.map { $0 == 1 })
        }
        func method(_ m: CalibrationMethod) -> Method { m == .sigmoid ? sigmoid : isotonic }
    }

    /// A JSON number, or the strings "inf" / "-inf" / "nan" the fixture scripts write for non-finite values.
    struct Number: Decodable {
        let value: Double
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let v = try? c.decode(Double.self) { value = v; return }
            switch try c.decode(String.self) {
            case "inf": value = .infinity
            case "-inf": value = -.infinity
            default: value = .nan
            }
        }
    }

    static let fixture: Fixture? = try? JSONDecoder().decode(Fixture.self, from: Data(contentsOf: Fixtures.url("trust/calibration.json")))

    var entries: [Entry] { Self.fixture?.sets ?? [] }

    func testFixtureHasAllSets() throws {
        XCTAssertNotNil(Self.fixture, "Tests/Fixtures/trust/calibration.json is missing or unreadable")
        XCTAssertEqual(entries.map(\.name), ["linear", "knn_k1_cosine", "knn_k5_cosine_distance", "svm_poly",
                                             "synthetic_overlap_ties", "synthetic_large"])
    }

    func testSigmoidMatchesScikitLearn() throws {
        var worst = 0.0
        for entry in entries {
            let cal = entry.set("calibration"), test = entry.set("test")
            let fitted = try SigmoidCalibration.fit(scores: cal.scores, labels: cal.labels)
            let want = entry.method(.sigmoid)
            for (set, key) in [(cal, "calibration_probabilities"), (test, "test_probabilities")] {
                let expected = key == "calibration_probabilities" ? want.calibration_probabilities : want.test_probabilities
                for (s, e) in zip(set.scores, expected) {
                    let error = abs(fitted.probability(s) - e)
                    worst = max(worst, error)
                    XCTAssertLessThanOrEqual(error, 1e-4, "\(set.name) sigmoid at \(s)")
                }
            }
        }
        print("sigmoid calibration: largest |p − sklearn| = \(worst)")
    }

    func testIsotonicMatchesScikitLearn() throws {
        var worst = 0.0
        for entry in entries {
            let cal = entry.set("calibration"), test = entry.set("test")
            let fitted = try IsotonicCalibration.fit(scores: cal.scores, labels: cal.labels)
            let want = entry.method(.isotonic)
            XCTAssertEqual(fitted.x, want.x_thresholds, "\(entry.name) X_thresholds_")
            let y = try XCTUnwrap(want.y_thresholds)
            XCTAssertEqual(fitted.y.count, y.count, "\(entry.name) y_thresholds_")
            for (a, b) in zip(fitted.y, y) { XCTAssertEqual(a, b, accuracy: 1e-12, "\(entry.name) y_thresholds_") }
            for (set, key) in [(cal, "calibration_probabilities"), (test, "test_probabilities")] {
                for (s, e) in zip(set.scores, key == "calibration_probabilities" ? want.calibration_probabilities : want.test_probabilities) {
                    let error = abs(fitted.probability(s) - e)
                    worst = max(worst, error)
                    XCTAssertLessThanOrEqual(error, 1e-4, "\(set.name) isotonic at \(s)")
                }
            }
        }
        print("isotonic calibration: largest |p − sklearn| = \(worst)")
    }

    func testFalsePositiveThresholdsMatchRocCurve() throws {
        let targets = try XCTUnwrap(Self.fixture).fpr_targets
        XCTAssertEqual(targets, [0.01, 0.05, 0.1])
        for entry in entries {
            let cal = entry.set("calibration")
            let got = try FalsePositiveThreshold.fit(scores: cal.scores, labels: cal.labels, targets: targets)
            let want = entry.fpr_thresholds
            XCTAssertEqual(got.count, want.count)
            for (g, w) in zip(got, want) {
                XCTAssertEqual(g.target, w.target)
                XCTAssertEqual(g.threshold, w.threshold.value, "\(entry.name) threshold at FPR \(g.target)")
                XCTAssertEqual(g.falsePositiveRate, w.fpr, "\(entry.name) FPR at \(g.target)")
                XCTAssertEqual(g.truePositiveRate, w.tpr, "\(entry.name) TPR at \(g.target)")
            }
        }
    }

    /// Our heads' outputs read through `CalibrationInput` are the scores scikit-learn calibrates, and the whole
    /// path (head → input → map) gives scikit-learn's calibrated probabilities.
    func testHeadOutputsGiveScikitLearnCalibration() throws {
        let vectors = try sklearnTestVectors()
        for entry in entries {
            guard let file = entry.head_file, let calRows = entry.calibration_rows, let testRows = entry.test_rows else { continue }
            let head = try Head(sklearnFile: sklearnFixtures + "/" + file.replacingOccurrences(of: "heads/", with: ""))
            let cal = entry.set("calibration"), test = entry.set("test")
            let calOutputs = head.predict(batch: calRows.map { vectors[$0] }, threads: 2)
            let testOutputs = head.predict(batch: testRows.map { vectors[$0] }, threads: 2)
            let input = CalibrationInput(headKind: head.kind)
            // scikit-learn's k-NN fractions rest on a float32 matrix product whose rounding depends on the BLAS
            // and the CPU (up to ~2e-6 here: the 1/d weights magnify it); the head rounds every float32 value
            // once from its exact value, which the fixture script computes too.
            var expected = cal.scores + test.scores
            if head.kind == .knn {
                let exact = try XCTUnwrap(entry.exact_float32_scores, "\(entry.name): no exact_float32_scores")
                XCTAssertLessThan(exact.largest_difference_from_sklearn, 1e-5)
                expected = exact.calibration + exact.test
            }
            XCTAssertEqual(expected.count, calOutputs.count + testOutputs.count)
            for (o, s) in zip(calOutputs + testOutputs, expected) {
                XCTAssertEqual(input.score(o), s, accuracy: 1e-12 * max(1, abs(s)), "\(entry.name) calibration input")
            }
            for method in CalibrationMethod.allCases {
                let calibration = try HeadCalibration.fit(headKind: head.kind, outputs: calOutputs, labels: cal.labels,
                                                          method: method, falsePositiveRates: [0.05])
                let expected = entry.method(method).test_probabilities
                for (o, e) in zip(testOutputs, expected) {
                    XCTAssertEqual(calibration.probability(o), e, accuracy: 1e-4, "\(entry.name) \(method) through the head")
                }
                XCTAssertEqual(calibration.realCount + calibration.fakeCount, cal.labels.count)
            }
        }
    }

    func testLargeScoresAreRescaledAsScikitLearnDoes() throws {
        let entry = try XCTUnwrap(entries.first { $0.name == "synthetic_large" })
        let cal = entry.set("calibration")
        XCTAssertGreaterThanOrEqual(cal.scores.map(abs).max()!, 30, "the set must exercise the rescaling branch")
        let fitted = try SigmoidCalibration.fit(scores: cal.scores, labels: cal.labels)
        XCTAssertEqual(fitted.a, try XCTUnwrap(entry.sigmoid.a), accuracy: 1e-6)
        XCTAssertEqual(fitted.b, try XCTUnwrap(entry.sigmoid.b), accuracy: 1e-5)
    }

    func testFitRefusesUnusableSets() {
        XCTAssertThrowsError(try SigmoidCalibration.fit(scores: [], labels: [])) { XCTAssertEqual($0 as? CalibrationError, .empty) }
        XCTAssertThrowsError(try IsotonicCalibration.fit(scores: [0.1, 0.2], labels: [true, true])) {
            XCTAssertEqual($0 as? CalibrationError, .oneClass(missing: "real"))
        }
        XCTAssertThrowsError(try SigmoidCalibration.fit(scores: [0.1, .nan], labels: [true, false])) {
            XCTAssertEqual($0 as? CalibrationError, .nonFiniteScore(index: 1))
        }
        XCTAssertThrowsError(try SigmoidCalibration.fit(scores: [0.1], labels: [true, false])) {
            XCTAssertEqual($0 as? CalibrationError, .countMismatch(scores: 1, labels: 2))
        }
        XCTAssertThrowsError(try FalsePositiveThreshold.fit(scores: [0, 1], labels: [false, true], targets: [1.5])) {
            XCTAssertEqual($0 as? CalibrationError, .badTarget(1.5))
        }
    }

    func testUncertainBand() throws {
        let band = try UncertainBand(parsing: "0.3:0.7")
        XCTAssertEqual(band.verdict(0.29), .real)
        XCTAssertEqual(band.verdict(0.3), .uncertain)
        XCTAssertEqual(band.verdict(0.7), .uncertain)
        XCTAssertEqual(band.verdict(0.71), .fake)
        let point = try UncertainBand(parsing: "0.5:0.5")
        XCTAssertEqual([0.49, 0.5, 0.51].map(point.verdict), [.real, .uncertain, .fake])
        for bad in ["0.7:0.3", "abc", "0.2", "-0.1:0.5", "0.5:1.5", "0.1:0.2:0.3", "nan:0.5"] {
            XCTAssertThrowsError(try UncertainBand(parsing: bad), bad) { XCTAssertTrue("\($0)".contains(bad)) }
        }
    }

    func testStoreRoundTripsBitExactly() throws {
        let entry = try XCTUnwrap(entries.first { $0.name == "linear" })
        let cal = entry.set("calibration")
        let folder = try temporaryFolder(self)
        for method in CalibrationMethod.allCases {
            let c = try HeadCalibration.fit(headKind: .linear, scores: cal.scores, labels: cal.labels, method: method)
            let path = folder + "/" + CalibrationStore.fileName(headKind: .linear).replacingOccurrences(of: "heads/", with: "")
            try CalibrationStore.save(c, to: path, extraMetadata: ["source": "calibration.json linear"])
            let back = try CalibrationStore.load(from: path)
            XCTAssertEqual(back, c)
            XCTAssertEqual(back.thresholds.map(\.target), [0.01, 0.05])
            XCTAssertEqual(try SafeTensorsFile(path: path).metadata["source"], "calibration.json linear")
        }
        // An infinite threshold (no score reaches the target) and an empty threshold table survive too.
        let knn = try HeadCalibration.fit(headKind: .knn, scores: [1, 1, 0, 0.5], labels: [false, true, false, true],
                                          method: .isotonic, falsePositiveRates: [0.01])
        XCTAssertEqual(knn.thresholds.first?.threshold, .infinity)
        var none = knn
        none.thresholds = []
        for c in [knn, none] {
            try CalibrationStore.save(c, to: folder + "/knn.cal.safetensors")
            XCTAssertEqual(try CalibrationStore.load(from: folder + "/knn.cal.safetensors"), c)
        }
    }

    func testStoreRefusesBrokenFiles() throws {
        let folder = try temporaryFolder(self)
        let path = folder + "/c.safetensors"
        let base: [String: String] = ["format": "deepfake-calibration", "version": "1", "head": "linear", "input": "decision",
                                      "method": "sigmoid", "reals": "3", "fakes": "4"]
        let thresholds = (name: "thresholds", shape: [1, 4], data: [0.05, 1.5, 0.0, 0.5])
        func write(_ meta: [String: String], _ tensors: [(name: String, shape: [Int], data: [Double])]) throws {
            try SafeTensorsWriter.write(doubles: tensors, to: path, metadata: meta)
        }
        func refused(_ what: String, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try CalibrationStore.load(from: path), what, file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(path), "\(error)", file: file, line: line)
                XCTAssertTrue("\(error)".contains(text), "\(what): \(error)", file: file, line: line)
            }
        }
        try write(base, [("sigmoid", [2], [-1, 0.5]), thresholds])
        XCTAssertNoThrow(try CalibrationStore.load(from: path))
        var meta = base; meta["format"] = "deepfake-head"
        try write(meta, [("sigmoid", [2], [-1, 0.5]), thresholds]); refused("other format", contains: "not a deepfake calibration file")
        meta = base; meta["version"] = "2"
        try write(meta, [("sigmoid", [2], [-1, 0.5]), thresholds]); refused("version", contains: "version \"2\"")
        meta = base; meta["input"] = "fake-fraction"
        try write(meta, [("sigmoid", [2], [-1, 0.5]), thresholds]); refused("input of another head", contains: "\"decision\"")
        meta = base; meta["reals"] = "0"
        try write(meta, [("sigmoid", [2], [-1, 0.5]), thresholds]); refused("no reals", contains: "reals")
        try write(base, [("sigmoid", [2], [.nan, 0.5]), thresholds]); refused("NaN slope", contains: "NaN")
        try write(base, [("sigmoid", [3], [1, 2, 3]), thresholds]); refused("shape", contains: "[3]")
        try write(base, [("sigmoid", [2], [-1, 0.5]), thresholds, ("extra", [1], [0])]); refused("extra tensor", contains: "extra")
        try write(base, [("sigmoid", [2], [-1, 0.5]), (name: "thresholds", shape: [1, 4], data: [0.05, .nan, 0, 0.5])])
        refused("NaN threshold", contains: "thresholds row 0")
        try write(base, [("sigmoid", [2], [-1, 0.5]), (name: "thresholds", shape: [1, 4], data: [0.05, 1, 0, 1.5])])
        refused("rate above 1", contains: "thresholds row 0")
        meta = base; meta["method"] = "isotonic"
        try write(meta, [("isotonic_x", [3], [0, 2, 1]), ("isotonic_y", [3], [0, 0.5, 1]), thresholds])
        refused("unsorted thresholds", contains: "isotonic_x[2]")
        try write(meta, [("isotonic_x", [3], [0, 1, 2]), ("isotonic_y", [3], [0, 0.7, 0.6]), thresholds])
        refused("decreasing probabilities", contains: "isotonic_y[2]")
        try write(meta, [("isotonic_x", [2], [0, 1]), ("isotonic_y", [2], [0, 1.2]), thresholds])
        refused("probability above 1", contains: "isotonic_y[1]")
        XCTAssertThrowsError(try CalibrationStore.load(from: folder + "/missing.safetensors")) {
            XCTAssertTrue("\($0)".contains("missing.safetensors"))
        }
        XCTAssertThrowsError(try CalibrationStore.save(
            HeadCalibration(headKind: .linear, input: .decision, map: .sigmoid(SigmoidCalibration(a: 1, b: 0)), thresholds: [],
                            realCount: 1, fakeCount: 1), to: path, extraMetadata: ["method": "x"])) {
            XCTAssertTrue("\($0)".contains("reserved"))
        }
        XCTAssertThrowsError(try CalibrationStore.save(
            HeadCalibration(headKind: .svm, input: .decision, map: .sigmoid(SigmoidCalibration(a: 1, b: 0)), thresholds: [],
                            realCount: 1, fakeCount: 1), to: path)) {
            XCTAssertTrue("\($0)".contains("negated-decision"))
        }
    }
}
