import Foundation
import Heads
import XCTest

/// Native one-class SVM (libsvm's SMO) against scikit-learn's `OneClassSVM` on the same data.
final class OneClassSVMFitTests: XCTestCase {
    static let fits: [(name: String, options: OneClassSVMFitOptions)] = [
        ("svm_poly", .code),
        ("svm_rbf", OneClassSVMFitOptions(kernel: .rbf, gamma: .scale)),
    ]

    func testAgreesWithScikitLearn() throws {
        for datasetName in FitFixtures.datasetNames {
            let ds = try FitFixtures.dataset(datasetName)
            for (name, options) in Self.fits {
                let entry = FitFixtures.fit(datasetName, name)
                let label = "\(datasetName)/\(name)"
                let support = try FitFixtures.array("\(datasetName)_\(name)_support").values.map { Int($0) }
                let dual = try FitFixtures.array("\(datasetName)_\(name)_dual_coef").values
                let referenceDecision = try FitFixtures.array("\(datasetName)_\(name)_decision").values
                let referenceIntercept = FitFixtures.exact(entry, "intercept")
                let referenceGamma = FitFixtures.exact(entry, "gamma")
                let (head, report) = try OneClassSVMHead.fit(ds.train, options: options)

                XCTAssertEqual(report.gamma, referenceGamma, accuracy: 1e-12 * referenceGamma, label)
                XCTAssertEqual(head.intercept, -report.rho)
                // support-vector count (and set), dual coefficients
                XCTAssertLessThanOrEqual(abs(report.supportVectors - support.count), max(2, support.count / 50), label)
                var dualNote = "support sets differ"
                if report.supportVectors == support.count {
                    let real = ds.train.realEmbeddings
                    var same = true
                    for (k, index) in support.enumerated() {
                        let row = real[(index * ds.train.features)..<((index + 1) * ds.train.features)].map(Double.init)
                        if Array(head.supportVectors[(k * ds.train.features)..<((k + 1) * ds.train.features)]) != row { same = false }
                    }
                    XCTAssertTrue(same, "\(label): support vectors are not scikit-learn's")
                    let dev = Deviation(head.dualCoefficients, dual)
                    XCTAssertLessThan(dev.maxAbs, 1e-6, label)
                    dualNote = "same support set, dual coef \(dev)"
                }
                XCTAssertEqual(head.intercept, referenceIntercept, accuracy: 1e-6 * max(1, abs(referenceIntercept)), label)

                // held-out decisions and labels
                let (decisions, agree, agreement) = heldOutDecisions(ds.heldOut, reference: referenceDecision, head.decision)
                XCTAssertGreaterThanOrEqual(agreement, 0.995, label)
                let decision = Deviation(decisions, referenceDecision)
                let spread = referenceDecision.map(abs).max()!
                XCTAssertLessThan(decision.maxAbs, 1e-3 * max(1, spread), label)
                XCTAssertFalse(report.reachedMaxIterations)
                print(String(format: "[svm-fit] %@: support vectors %d (sklearn %d), iterations %d (sklearn %d); %@; intercept Δ %.3g; ",
                             label, report.supportVectors, support.count, report.iterations, entry["n_iter"] as! Int,
                             dualNote, abs(head.intercept - referenceIntercept))
                      + String(format: "held-out agreement %.2f%% (%d/%d); decision %@ (|d| up to %.3g)",
                               agreement * 100, agree, ds.heldOut.count, decision.description, spread))
            }
        }
    }

    /// 4,000 generated vectors: libsvm runs past 1,000 iterations, so shrinking (and the gradient
    /// reconstruction it needs) is part of the path that must match scikit-learn's.
    func testAgreesWithScikitLearnWhenShrinking() throws {
        let generated = FitFixtures.manifest["generated"] as! [String: Any]
        let checksum = generated["checksum"] as! [String: Any]
        let train = GeneratedVectors.generate(seed: 7, rows: 4000)
        let heldOut = GeneratedVectors.generate(seed: 8, rows: 150) + GeneratedVectors.generate(seed: 9, rows: 150, shift: 0.25)
        // the generator reproduces the script's bits
        XCTAssertEqual(GeneratedVectors.sequentialSum(train), FitFixtures.exact(checksum, "train"))
        XCTAssertEqual(GeneratedVectors.sequentialSum(heldOut), FitFixtures.exact(checksum, "held_out"))
        let first = (checksum["train_first"] as! [[String: Any]]).map { Float(Double($0["hex"] as! String)!) }
        XCTAssertEqual(Array(train.prefix(4)), first)
        let rows = (0..<300).map { Array(heldOut[($0 * 192)..<(($0 + 1) * 192)]) }
        let fits = generated["fits"] as! [String: Any]
        for (name, options) in Self.fits {
            let entry = fits[name] as! [String: Any]
            let support = try FitFixtures.array("generated_\(name)_support").values.map { Int($0) }
            let dual = try FitFixtures.array("generated_\(name)_dual_coef").values
            let referenceDecision = try FitFixtures.array("generated_\(name)_decision").values
            let referenceIntercept = FitFixtures.exact(entry, "intercept")
            let start = Date()
            let (head, report) = try OneClassSVMHead.fit(vectors: train, features: 192, options: options)
            let seconds = Date().timeIntervalSince(start)
            let skIterations = entry["n_iter"] as! Int
            XCTAssertLessThanOrEqual(abs(report.supportVectors - support.count), max(2, support.count / 50), name)
            var note = "support sets differ"
            if report.supportVectors == support.count {
                var same = true
                for (k, index) in support.enumerated() {
                    let row = train[(index * 192)..<((index + 1) * 192)].map(Double.init)
                    if Array(head.supportVectors[(k * 192)..<((k + 1) * 192)]) != row { same = false }
                }
                XCTAssertTrue(same, "\(name): support vectors are not scikit-learn's")
                let dev = Deviation(head.dualCoefficients, dual)
                XCTAssertLessThan(dev.maxAbs, 1e-6, name)
                note = "same support set, dual coef \(dev)"
            }
            XCTAssertEqual(head.intercept, referenceIntercept, accuracy: 1e-6 * max(1, abs(referenceIntercept)), name)
            let decisions = rows.map { head.decision($0) }
            let agree = zip(decisions, referenceDecision).filter { ($0 > 0) == ($1 > 0) }.count
            XCTAssertGreaterThanOrEqual(Double(agree) / 300, 0.995, name)
            let dev = Deviation(decisions, referenceDecision)
            XCTAssertLessThan(dev.maxAbs, 1e-3 * max(1, referenceDecision.map(abs).max()!), name)
            print(String(format: "[svm-fit] generated/%@ (4000 vectors): support vectors %d (sklearn %d), iterations %d (sklearn %d), ",
                         name, report.supportVectors, support.count, report.iterations, skIterations)
                  + "\(note); intercept Δ \(abs(head.intercept - referenceIntercept)); held-out agreement \(agree)/300; decision \(dev); "
                  + String(format: "%.2f s", seconds))
        }
    }

    /// The cache is an optimisation only: on a run that shrinks (cached rows are permuted and cut), a
    /// 1 MB budget (constant eviction) and a two-row budget give the same bits as the default 200 MB, and
    /// so does any thread count.
    func testCacheBudgetAndThreadsDoNotChangeTheResult() throws {
        let train = GeneratedVectors.generate(seed: 7, rows: 4000)
        let reference = try OneClassSVMHead.fit(vectors: train, features: 192, options: .code)
        XCTAssertGreaterThan(reference.report.iterations, 1000)
        var small = OneClassSVMFitOptions.code
        small.cacheSizeMB = 1
        small.threads = 1
        let a = try OneClassSVMHead.fit(vectors: train, features: 192, options: small)
        XCTAssertEqual(a.head, reference.head)
        XCTAssertEqual(a.report.iterations, reference.report.iterations)
        XCTAssertGreaterThan(a.report.kernelRowsComputed, reference.report.kernelRowsComputed)
        var many = OneClassSVMFitOptions.code
        many.threads = 3
        XCTAssertEqual(try OneClassSVMHead.fit(vectors: train, features: 192, options: many).head, reference.head)
        let ds = try FitFixtures.dataset("overlap")
        var twoRows = OneClassSVMFitOptions.code
        twoRows.cacheSizeMB = 1e-6
        XCTAssertEqual(try OneClassSVMHead.fit(ds.train, options: twoRows).head, try OneClassSVMHead.fit(ds.train).head)
        print("[svm-fit] kernel rows computed: \(reference.report.kernelRowsComputed) with 200 MB, \(a.report.kernelRowsComputed) with 1 MB")
    }

    /// Without shrinking libsvm reaches the same solution up to its tolerance.
    func testShrinkingOffAgreesWithinTolerance() throws {
        let train = GeneratedVectors.generate(seed: 7, rows: 4000)
        let heldOut = GeneratedVectors.generate(seed: 9, rows: 150, shift: 0.25)
        let rows = (0..<150).map { Array(heldOut[($0 * 192)..<(($0 + 1) * 192)]) }
        let shrunk = try OneClassSVMHead.fit(vectors: train, features: 192, options: .code)
        var options = OneClassSVMFitOptions.code
        options.shrinking = false
        let plain = try OneClassSVMHead.fit(vectors: train, features: 192, options: options)
        let a = rows.map { shrunk.head.decision($0) }, b = rows.map { plain.head.decision($0) }
        let dev = Deviation(b, a)
        XCTAssertLessThan(dev.maxAbs, 1e-2 * max(1, a.map(abs).max()!))
        XCTAssertLessThanOrEqual(zip(a, b).filter { ($0 > 0) != ($1 > 0) }.count, 1)
        print("[svm-fit] shrinking off vs on: decision \(dev); support vectors \(plain.report.supportVectors) vs \(shrunk.report.supportVectors), iterations \(plain.report.iterations) vs \(shrunk.report.iterations)")
    }

    /// Every kernel fits; the ν-property holds: at least ν·l support vectors, at most ν·l bounded ones.
    func testAllKernelsSatisfyTheNuProperty() throws {
        let ds = try FitFixtures.dataset("offset")
        let l = ds.train.realCount
        for kernel in [OneClassSVMFitOptions.KernelType.linear, .poly, .rbf, .sigmoid] {
            let options = OneClassSVMFitOptions(nu: 0.2, kernel: kernel, gamma: kernel == .sigmoid ? .value(1e-4) : .scale, coef0: 0.5)
            let (head, report) = try OneClassSVMHead.fit(ds.train, options: options)
            XCTAssertGreaterThanOrEqual(Double(report.supportVectors), 0.2 * Double(l) - 1, "\(kernel)")
            XCTAssertLessThanOrEqual(Double(report.boundedSupportVectors), 0.2 * Double(l) + 1, "\(kernel)")
            XCTAssertEqual(head.dualCoefficients.reduce(0, +), 0.2 * Double(l), accuracy: 1e-9 * Double(l), "\(kernel)")
            XCTAssertTrue(head.dualCoefficients.allSatisfy { $0 > 0 && $0 <= 1 }, "\(kernel)")
        }
    }

    func testRefusesBadOptions() throws {
        let ds = try FitFixtures.dataset("offset")
        XCTAssertThrowsError(try OneClassSVMHead.fit(ds.train, options: OneClassSVMFitOptions(nu: 0))) { error in
            XCTAssertTrue("\(error)".contains("nu must lie in (0, 1]"), "\(error)")
        }
        XCTAssertThrowsError(try OneClassSVMHead.fit(vectors: [1, 2, 3], features: 2)) { error in
            XCTAssertTrue("\(error)".contains("whole number"), "\(error)")
        }
        let onlyFake = try HeadTrainingSet(embeddings: [1, 2], features: 2, isFake: [true])
        XCTAssertThrowsError(try OneClassSVMHead.fit(onlyFake)) { error in
            XCTAssertTrue("\(error)".contains("no real vectors"), "\(error)")
        }
    }

    func testDefaultsAreCoDEs() {
        let o = OneClassSVMFitOptions.code
        XCTAssertEqual(o.nu, 0.1)
        XCTAssertEqual(o.kernel, .poly)
        XCTAssertEqual(o.gamma, .auto)
        XCTAssertEqual(o.degree, 3)
        XCTAssertEqual(o.coef0, 0)
        XCTAssertEqual(o.tolerance, 1e-3)
        XCTAssertTrue(o.shrinking)
    }
}
