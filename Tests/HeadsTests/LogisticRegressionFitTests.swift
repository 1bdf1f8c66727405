import Foundation
import Heads
import XCTest

/// Native L-BFGS logistic regression against scikit-learn's fits on the same data (Tests/Fixtures/fit).
final class LogisticRegressionFitTests: XCTestCase {
    /// (fixture fit, our options) for every logistic fit the fixtures hold.
    static let fits: [(name: String, options: LogisticRegressionFitOptions)] = [
        // CoDE's head with the installed scikit-learn (≥ 1.4 conventions)
        ("lr_code", LogisticRegressionFitOptions(convention: .v1_4)),
        ("lr_c1", LogisticRegressionFitOptions(c: 1, classWeight: .none, convention: .v1_4)),
        ("lr_code_tight", LogisticRegressionFitOptions(tolerance: 1e-10, convention: .v1_4)),
        // CoDE's head as scikit-learn 1.3.2 solved it (our default)
        ("lr_code_v13", .code),
    ]

    func testAgreesWithScikitLearn() throws {
        for datasetName in FitFixtures.datasetNames {
            let ds = try FitFixtures.dataset(datasetName)
            for (name, options) in Self.fits {
                let entry = FitFixtures.fit(datasetName, name)
                let reference = try FitFixtures.array("\(datasetName)_\(name)_coef").values
                let referenceIntercept = FitFixtures.exact(entry, "intercept")
                let referenceDecision = try FitFixtures.array("\(datasetName)_\(name)_decision").values
                let (head, report) = try LogisticRegressionHead.fit(ds.train, options: options)
                let label = "\(datasetName)/\(name)"

                // coefficients: ‖w − w_sk‖∞ / ‖w_sk‖∞ ≤ 1e-3
                let scale = reference.map(abs).max()!
                let coef = Deviation(head.coefficients, reference)
                let relative = coef.maxAbs / scale
                XCTAssertLessThanOrEqual(relative, name == "lr_code_tight" ? 1e-4 : 1e-3, label)
                XCTAssertLessThanOrEqual(abs(head.intercept - referenceIntercept), 1e-3 * max(1, abs(referenceIntercept)), label)

                // held-out labels and decision values
                let (decisions, agree, agreement) = heldOutDecisions(ds.heldOut, reference: referenceDecision, head.decision)
                XCTAssertGreaterThanOrEqual(agreement, 0.995, label)
                let decision = Deviation(decisions, referenceDecision)

                // iterations: the same L-BFGS path gives the same count (the tight fits end on the
                // relative-reduction test, which rounding moves by many iterations)
                let skIterations = entry["n_iter"] as! Int
                if name != "lr_code_tight" {
                    XCTAssertLessThanOrEqual(abs(report.iterations - skIterations), 2 + skIterations / 10, label)
                }
                XCTAssertTrue(report.converged, label)
                XCTAssertEqual(report.wouldWarn, entry["convergence_warning"] as! Bool, label)

                let selfShuffle = entry["self_shuffle_rel_diff"] as? Double ?? .nan
                print(String(format: "[lr-fit] %@: coef ‖Δ‖∞/‖w‖∞ %.3g (scikit-learn vs itself, rows shuffled: %.3g); coef %@; ",
                             label, relative, selfShuffle, coef.description)
                      + String(format: "intercept Δ %.3g; held-out agreement %.2f%% (%d/%d); decision %@; iterations %d (sklearn %d), %@",
                               abs(head.intercept - referenceIntercept), agreement * 100, agree, ds.heldOut.count,
                               decision.description, report.iterations, skIterations, report.stop.rawValue))
            }
        }
    }

    /// Probabilities follow from the decision values: p = expit(d), as scikit-learn's predict_proba.
    func testProbabilitiesMatchScikitLearn() throws {
        let ds = try FitFixtures.dataset("overlap")
        let (head, _) = try LogisticRegressionHead.fit(ds.train, options: LogisticRegressionFitOptions(convention: .v1_4))
        let reference = try FitFixtures.array("overlap_lr_code_proba").values
        let ours = ds.heldOut.map { head.predict($0).score }
        let dev = Deviation(ours, reference)
        XCTAssertLessThan(dev.maxAbs, 1e-4)
        print("[lr-fit] overlap/lr_code probabilities: \(dev)")
    }

    /// The fit is deterministic and independent of the number of threads.
    func testThreadCountDoesNotChangeTheResult() throws {
        let ds = try FitFixtures.dataset("offset")
        var one = LogisticRegressionFitOptions.code
        one.threads = 1
        var four = LogisticRegressionFitOptions.code
        four.threads = 4
        let a = try LogisticRegressionHead.fit(ds.train, options: one)
        let b = try LogisticRegressionHead.fit(ds.train, options: four)
        XCTAssertEqual(a.head, b.head)
        XCTAssertEqual(a.report, b.report)
    }

    /// max_iter stops the solver, reports it, and scikit-learn would warn.
    func testMaxIterationsIsReported() throws {
        let ds = try FitFixtures.dataset("overlap")
        let (_, report) = try LogisticRegressionHead.fit(ds.train, options: LogisticRegressionFitOptions(maxIterations: 5))
        XCTAssertEqual(report.iterations, 5)
        XCTAssertEqual(report.stop, .maxIterations)
        XCTAssertFalse(report.converged)
        XCTAssertTrue(report.wouldWarn)
    }

    func testDefaultsAreCoDEs() {
        let o = LogisticRegressionFitOptions.code
        XCTAssertEqual(o.c, 0.316)
        XCTAssertEqual(o.maxIterations, 1500)
        XCTAssertEqual(o.classWeight, .balanced)
        XCTAssertEqual(o.tolerance, 1e-4)
        XCTAssertEqual(o.memory, 10)
        XCTAssertEqual(o.lossScaling, .sum)
        XCTAssertEqual(o.maxLineSearchSteps, 20)
        let v14 = LogisticRegressionFitOptions(convention: .v1_4)
        XCTAssertEqual(v14.lossScaling, .mean)
        XCTAssertEqual(v14.maxLineSearchSteps, 50)
        XCTAssertEqual(v14.relativeReductionTolerance, 64 * Double.ulpOfOne)
    }

    func testRefusesBadInput() throws {
        let onlyReal = try HeadTrainingSet(embeddings: [1, 2, 3, 4], features: 2, isFake: [false, false])
        XCTAssertThrowsError(try LogisticRegressionHead.fit(onlyReal)) { error in
            XCTAssertEqual(error as? HeadFitError, .singleClass(isFake: false))
            XCTAssertTrue("\(error)".contains("both classes"), "\(error)")
        }
        let both = try HeadTrainingSet(embeddings: [1, 2, 3, 4], features: 2, isFake: [false, true])
        XCTAssertThrowsError(try LogisticRegressionHead.fit(both, options: LogisticRegressionFitOptions(c: 0))) { error in
            XCTAssertTrue("\(error)".contains("C must be positive"), "\(error)")
        }
        XCTAssertThrowsError(try HeadTrainingSet(embeddings: [1, 2, 3], features: 2, isFake: [false, true])) { error in
            XCTAssertTrue("\(error)".contains("3 floats"), "\(error)")
        }
        XCTAssertThrowsError(try HeadTrainingSet(embeddings: [1, .nan, 3, 4], features: 2, isFake: [false, true])) { error in
            XCTAssertEqual(error as? HeadFitError, .nonFiniteValue(row: 0, feature: 1))
        }
        XCTAssertThrowsError(try HeadTrainingSet(embeddings: [], features: 2, isFake: [])) { error in
            XCTAssertEqual(error as? HeadFitError, .emptyTrainingSet)
        }
    }

    /// A separable toy problem: the fitted head classifies its training points and the gradient is small.
    func testSeparableToyProblem() throws {
        var x: [Float] = []
        var y: [Bool] = []
        for i in 0..<40 {
            let t = Float(i) / 40
            x += [t, 1 - t, 0.5]; y.append(false)
            x += [t + 2, 1 - t, 0.5]; y.append(true)
        }
        let set = try HeadTrainingSet(embeddings: x, features: 3, isFake: y)
        let (head, report) = try LogisticRegressionHead.fit(set)
        XCTAssertTrue(report.converged)
        for i in 0..<y.count { XCTAssertEqual(head.predict(Array(x[(3 * i)..<(3 * i + 3)])).isFake, y[i]) }
    }
}
