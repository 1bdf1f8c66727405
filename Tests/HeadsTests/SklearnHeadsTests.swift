import Checkpoints
import Foundation
import Heads
import XCTest

/// Heads read from scikit-learn files agree with scikit-learn's own outputs on the fixture test set
/// (tools/reference/make_head_fixtures.py): the same labels on 100% of vectors, logistic probabilities within
/// 1e-5 and logits within 1e-5 absolute, k-NN probabilities equal (uniform weights; distance weights, which
/// divide by float32 distances, within 1e-5), one-class SVM decision values within 1e-4 relative.
final class SklearnHeadParityTests: XCTestCase {
    struct Deviation { var worst = 0.0; var label = "" }

    func testEveryFixtureFileMatchesScikitLearn() throws {
        let vectors = try sklearnTestVectors()
        XCTAssertEqual(vectors.count, 632)
        let folders = sklearnFixtureFolders()
        XCTAssertGreaterThanOrEqual(folders.count, 2, "expected a numpy-1 and a numpy-2 fixture folder")
        var files = 0
        var linearProbability = Deviation(), linearDecision = Deviation(), svmDecision = Deviation(), knnProbability = Deviation()
        for folder in folders {
            let fixture = try readJSON(folder + "/fixture.json")
            let estimators = try XCTUnwrap(fixture["estimators"] as? [String: [String: Any]])
            for entry in try XCTUnwrap(fixture["files"] as? [[String: Any]]) {
                let file = try XCTUnwrap(entry["file"] as? String)
                let estimator = try XCTUnwrap(estimators[try XCTUnwrap(entry["estimator"] as? String)])
                let label = "\(URL(fileURLWithPath: folder).lastPathComponent)/\(file)"
                let head = try Head(sklearnFile: folder + "/" + file)
                let (shape, expected) = try readNpyDoubles(folder + "/" + (try XCTUnwrap(estimator["expected"] as? String)))
                XCTAssertEqual(shape, [3, vectors.count], label)
                let n = vectors.count
                let predict = Array(expected[0..<n]), proba = Array(expected[n..<(2 * n)]), decision = Array(expected[(2 * n)...])
                let params = try XCTUnwrap(estimator["params"] as? [String: Any])
                files += 1

                switch head {
                case let .linear(h):
                    XCTAssertEqual(estimator["class"] as? String, "sklearn.linear_model._logistic.LogisticRegression", label)
                    XCTAssertEqual(h.coefficients.count, 192)
                    for (i, x) in vectors.enumerated() {
                        let out = h.predict(x)
                        XCTAssertEqual(out.isFake, predict[i] == 1, "\(label) vector \(i): label")
                        let dp = abs(out.score - proba[i])
                        if dp > linearProbability.worst { linearProbability = Deviation(worst: dp, label: "\(label) #\(i)") }
                        XCTAssertLessThanOrEqual(dp, 1e-5, "\(label) vector \(i): probability")
                        let dd = abs(out.decision! - decision[i])
                        if dd > linearDecision.worst { linearDecision = Deviation(worst: dd, label: "\(label) #\(i)") }
                        XCTAssertLessThanOrEqual(dd, 1e-5, "\(label) vector \(i): decision")
                    }
                case let .knn(h):
                    XCTAssertEqual(h.k, params["n_neighbors"] as? Int, label)
                    XCTAssertEqual(h.weights.rawValue, params["weights"] as? String, label)
                    XCTAssertEqual(h.metric, (params["metric"] as? String) == "cosine" ? .cosine : .euclidean, label)
                    let batch = h.predict(batch: vectors)
                    for (i, x) in vectors.enumerated() {
                        let out = batch[i]
                        if i % 50 == 0 { XCTAssertEqual(h.predict(x), out, "\(label) vector \(i): single vs batch") }
                        XCTAssertEqual(out.isFake, predict[i] == 1, "\(label) vector \(i): label")
                        let dp = abs(out.score - proba[i])
                        if dp > knnProbability.worst { knnProbability = Deviation(worst: dp, label: "\(label) #\(i)") }
                        if h.weights == .uniform {
                            XCTAssertEqual(out.score, proba[i], "\(label) vector \(i): probability")
                        } else {
                            XCTAssertLessThanOrEqual(dp, 1e-5, "\(label) vector \(i): probability")
                        }
                    }
                case let .svm(h):
                    XCTAssertEqual(estimator["class"] as? String, "sklearn.svm._classes.OneClassSVM", label)
                    switch (h.kernel, params["kernel"] as? String) {
                    case (.poly(_, let coef0, let degree), "poly"?):
                        XCTAssertEqual(degree, params["degree"] as? Int); XCTAssertEqual(coef0, params["coef0"] as? Double)
                    case (.rbf, "rbf"?), (.linear, "linear"?), (.sigmoid, "sigmoid"?): break
                    default: XCTFail("\(label): kernel \(h.kernel) vs \(params["kernel"] ?? "?")")
                    }
                    if case let .poly(gamma, _, _) = h.kernel, params["gamma"] as? String == "auto" { XCTAssertEqual(gamma, 1.0 / 192) }
                    for (i, x) in vectors.enumerated() {
                        let out = h.predict(x)
                        XCTAssertEqual(out.isFake, predict[i] == -1, "\(label) vector \(i): label (-1 = fake)")
                        let dd = abs(out.decision! - decision[i]) / max(abs(decision[i]), 1e-12)
                        if dd > svmDecision.worst { svmDecision = Deviation(worst: dd, label: "\(label) #\(i)") }
                        XCTAssertLessThanOrEqual(dd, 1e-4, "\(label) vector \(i): decision")
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(files, 20)
        print("sklearn parity: \(files) files × \(vectors.count) vectors; worst |Δp| linear \(linearProbability.worst) (\(linearProbability.label)), "
              + "worst |Δlogit| linear \(linearDecision.worst) (\(linearDecision.label)), worst relative Δdecision svm \(svmDecision.worst) (\(svmDecision.label)), "
              + "worst |Δp| knn \(knnProbability.worst) (\(knnProbability.label))")
    }

    /// The three files named as in the release load as the three head kinds in both environments.
    func testReleaseFileNames() throws {
        for folder in sklearnFixtureFolders() {
            XCTAssertEqual(try Head(sklearnFile: folder + "/linear_tot_classifier_epoch-32.sav").kind, .linear)
            XCTAssertEqual(try Head(sklearnFile: folder + "/knn_tot_classifier_epoch-32.sav").kind, .knn)
            let svm = try Head(sklearnFile: folder + "/ocsvm_kernel_poly_gamma_auto_nu_0_1_crop.joblib")
            guard case let .svm(h) = svm, case let .poly(gamma, coef0, degree) = h.kernel else { return XCTFail("\(folder): not a poly SVM") }
            XCTAssertEqual(gamma, 1.0 / 192); XCTAssertEqual(coef0, 0); XCTAssertEqual(degree, 3)
        }
    }

    /// The same estimator saved as joblib, zlib-joblib and pickle protocols 2/4/5 gives identical heads.
    func testFormatsGiveIdenticalHeads() throws {
        let folder = try XCTUnwrap(sklearnFixtureFolders().first { $0.contains("numpy-2") })
        let reference = try Head(sklearnFile: folder + "/linear_tot_classifier_epoch-32.sav")
        for name in ["linear_p0.pkl", "linear_p1.pkl", "linear_p2.pkl", "linear_p4.pkl", "linear_p5.pkl", "linear_zlib.joblib", "linear_bool.sav"] {
            XCTAssertEqual(try Head(sklearnFile: folder + "/" + name), reference, name)
        }
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/linear_zlib.joblib")))
        XCTAssertEqual(try Head(sklearnBytes: bytes), reference)
    }
}

/// Estimator states that cannot become a head give errors that name the file and the attribute.
final class SklearnHeadErrorTests: XCTestCase {
    func object(_ file: String) throws -> PickleObject {
        let folder = try XCTUnwrap(sklearnFixtureFolders().first { $0.contains("numpy-2") })
        guard case let .object(o) = try Joblib.load(path: folder + "/" + file) else { throw HeadError(path: file, reason: .notAnEstimator("?")) }
        return o
    }

    func edited(_ o: PickleObject, removing: String? = nil, setting: [String: PickleValue] = [:]) -> PickleValue {
        var d = PickleDict()
        for (k, v) in zip(o.attributes.keys, o.attributes.values) where k.stringValue != removing { d.set(k, v) }
        for (k, v) in setting { d.set(.string(k), v) }
        var copy = o
        copy.state = .dict(d)
        return .object(copy)
    }

    func reason(_ value: PickleValue) -> HeadError.Reason? {
        do {
            _ = try Head(sklearnEstimator: value, source: "edited.sav")
            return nil
        } catch {
            XCTAssertTrue(error.description.hasPrefix("edited.sav: "), error.description)
            return error.reason
        }
    }

    func array(_ type: NumpyDType.Kind, _ size: Int, shape: [Int], _ values: [Double]) throws -> PickleValue {
        var raw: [UInt8] = []
        for v in values {
            switch (type, size) {
            case (.float, 8): withUnsafeBytes(of: v.bitPattern.littleEndian) { raw += $0 }
            case (.float, 4): withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { raw += $0 }
            default: withUnsafeBytes(of: Int64(v).littleEndian) { raw += $0 }
            }
        }
        return .array(try NDArray(dtype: NumpyDType(kind: type, itemSize: size, byteOrder: .little), shape: shape, fortranOrder: false, storage: .raw(raw)))
    }

    func testLinearErrors() throws {
        let lr = try object("linear_tot_classifier_epoch-32.sav")
        XCTAssertEqual(reason(edited(lr, removing: "coef_")), .missingAttribute("coef_"))
        XCTAssertEqual(reason(edited(lr, removing: "classes_")), .missingAttribute("classes_"))
        guard case .badAttribute("coef_", _)? = reason(edited(lr, setting: ["coef_": .int(3)])) else { return XCTFail("coef_ type") }
        guard case .unsupported? = reason(edited(lr, setting: ["coef_": try array(.float, 8, shape: [3, 2], [1, 2, 3, 4, 5, 6])])) else {
            return XCTFail("multiclass coef_")
        }
        guard case .unsupported? = reason(edited(lr, setting: ["classes_": try array(.signed, 8, shape: [3], [0, 1, 2])])) else {
            return XCTFail("three classes")
        }
        guard case .badAttribute("classes_", _)? = reason(edited(lr, setting: ["classes_": try array(.signed, 8, shape: [2], [1, 2])])) else {
            return XCTFail("classes [1, 2]")
        }
        guard case .unsupported? = reason(edited(lr, setting: ["multi_class": .string("multinomial")])) else { return XCTFail("multinomial") }
        guard case .badAttribute("intercept_", _)? = reason(edited(lr, setting: ["intercept_": try array(.float, 8, shape: [2], [1, 2])])) else {
            return XCTFail("intercept_ shape")
        }
    }

    func testKNNErrors() throws {
        let knn = try object("knn_tot_classifier_epoch-32.sav")
        XCTAssertEqual(reason(edited(knn, removing: "_fit_X")), .missingAttribute("_fit_X"))
        XCTAssertEqual(reason(edited(knn, removing: "_y")), .missingAttribute("_y"))
        guard case .unsupported? = reason(edited(knn, setting: ["effective_metric_": .string("manhattan")])) else { return XCTFail("manhattan") }
        guard case .unsupported? = reason(edited(knn, setting: ["effective_metric_": .string("minkowski"), "p": .int(1)])) else {
            return XCTFail("minkowski p=1")
        }
        guard case .unsupported? = reason(edited(knn, setting: ["weights": .global(module: "sklearn.neighbors._kd_tree", name: "newObj")])) else {
            return XCTFail("callable weights")
        }
        guard case .badAttribute("_y", _)? = reason(edited(knn, setting: ["_y": try array(.signed, 8, shape: [2], [0, 1])])) else {
            return XCTFail("_y shape")
        }
        guard case .badAttribute("n_neighbors", _)? = reason(edited(knn, setting: ["n_neighbors": .int(100_000)])) else {
            return XCTFail("k beyond the stored vectors")
        }
        if case let .knn(h)? = try? Head(sklearnEstimator: edited(knn, removing: "effective_metric_", setting: ["metric": .string("minkowski"), "p": .int(2)]), source: "x") {
            XCTAssertEqual(h.metric, .euclidean)
        } else {
            XCTFail("minkowski p=2 is euclidean")
        }
    }

    func testSVMErrors() throws {
        let svm = try object("ocsvm_kernel_poly_gamma_auto_nu_0_1_crop.joblib")
        XCTAssertEqual(reason(edited(svm, removing: "support_vectors_")), .missingAttribute("support_vectors_"))
        guard case .unsupported? = reason(edited(svm, setting: ["kernel": .string("precomputed")])) else { return XCTFail("precomputed") }
        guard case .badAttribute("_dual_coef_", _)? = reason(edited(svm, setting: ["_dual_coef_": try array(.float, 8, shape: [1, 2], [1, 2])])) else {
            return XCTFail("dual coefficient shape")
        }
        XCTAssertEqual(reason(edited(svm, removing: "_gamma")), .missingAttribute("_gamma"))
        // Without _intercept_ and intercept_, −offset_ gives the same head.
        let reference = try Head(sklearnEstimator: .object(svm), source: "x")
        let noIntercept = edited(edited(svm, removing: "_intercept_").objectValue!, removing: "intercept_")
        XCTAssertEqual(try Head(sklearnEstimator: noIntercept, source: "x"), reference)
    }

    func testNotAnEstimator() {
        guard case .notAnEstimator? = reason(.list([])) else { return XCTFail() }
        guard case .notAnEstimator? = reason(.object(PickleObject(module: "sklearn.neighbors._kd_tree", name: "KDTree"))) else { return XCTFail() }
    }
}

extension PickleValue {
    var objectValue: PickleObject? { if case let .object(o) = self { return o } else { return nil } }
}
