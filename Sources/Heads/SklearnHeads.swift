import Checkpoints

/// Why a scikit-learn head file could not be turned into a `Head`.
public struct HeadError: Error, CustomStringConvertible, Equatable {
    /// What went wrong.
    public enum Reason: Sendable, Equatable {
        /// The pickle/joblib stream was refused (forbidden global, truncation, limits, ...).
        case unreadable(PickleError)
        /// The file holds something other than a supported estimator.
        case notAnEstimator(String)
        /// A fitted attribute the head needs is absent.
        case missingAttribute(String)
        /// An attribute has the wrong type, dtype or shape.
        case badAttribute(name: String, reason: String)
        /// A valid estimator configuration the heads do not implement (multiclass, metric, kernel, ...).
        case unsupported(String)
    }

    /// The file (or the name given for in-memory bytes).
    public var path: String
    /// What went wrong.
    public var reason: Reason

    /// An error about the head file `path`.
    public init(path: String, reason: Reason) { self.path = path; self.reason = reason }

    public var description: String {
        switch reason {
        case let .unreadable(e): return "\(path): cannot read the scikit-learn head: \(e.underlying.description)"
        case let .notAnEstimator(what): return "\(path): not a supported scikit-learn head (found \(what)); expected LogisticRegression, KNeighborsClassifier or OneClassSVM"
        case let .missingAttribute(name): return "\(path): the estimator has no attribute '\(name)' (not fitted, or not written by scikit-learn)"
        case let .badAttribute(name, why): return "\(path): attribute '\(name)': \(why)"
        case let .unsupported(why): return "\(path): unsupported scikit-learn head: \(why)"
        }
    }
}

extension Head {
    /// Reads a scikit-learn head saved with `joblib.dump` (compressed or not) or `pickle.dump` — CoDE's
    /// released `linear_tot_classifier_epoch-32.sav`, `knn_tot_classifier_epoch-32.sav` and
    /// `ocsvm_kernel_poly_gamma_auto_nu_0_1_crop.joblib` — through the restricted unpickler, which never runs
    /// code from the file.
    public init(sklearnFile path: String) throws(HeadError) {
        let value: PickleValue
        do { value = try Joblib.load(path: path) } catch { throw HeadError(path: path, reason: .unreadable(error.underlying)) }
        try self.init(sklearnEstimator: value, source: path)
    }

    /// `init(sklearnFile:)` for bytes in memory; `name` labels errors.
    public init(sklearnBytes bytes: [UInt8], name: String = "<memory>") throws(HeadError) {
        let value: PickleValue
        do { value = try Joblib.load(bytes: bytes) } catch { throw HeadError(path: name, reason: .unreadable(error.underlying)) }
        try self.init(sklearnEstimator: value, source: name)
    }

    /// Maps an unpickled estimator to a head; `source` labels errors.
    public init(sklearnEstimator value: PickleValue, source: String) throws(HeadError) {
        guard case let .object(object) = value else { throw HeadError(path: source, reason: .notAnEstimator(value.kindDescription)) }
        switch object.name {
        case "LogisticRegression": self = .linear(try LogisticRegressionHead(sklearn: object, source: source))
        case "KNeighborsClassifier": self = .knn(try KNNHead(sklearn: object, source: source))
        case "OneClassSVM": self = .svm(try OneClassSVMHead(sklearn: object, source: source))
        default: throw HeadError(path: source, reason: .notAnEstimator(object.className))
        }
    }
}

extension LogisticRegressionHead {
    /// From a fitted binary `LogisticRegression`: `coef_` [1, F], `intercept_` [1], `classes_` [0, 1] or
    /// [False, True] (class 1 / True is fake).
    public init(sklearn object: PickleObject, source: String) throws(HeadError) {
        let state = SklearnState(object: object, source: source)
        _ = try state.binaryClasses()
        if let mode = state.optionalString("multi_class"), mode == "multinomial" {
            throw state.unsupported("multi_class='multinomial' (probabilities are a softmax over [-z, z], not the logistic of z)")
        }
        let coef = try state.array("coef_")
        guard coef.shape.count == 2, coef.shape[1] > 0 else { throw state.bad("coef_", "shape \(coef.shape), expected [1, features]") }
        guard coef.shape[0] == 1 else { throw state.unsupported("coef_ has \(coef.shape[0]) rows: a multiclass model") }
        let weights = try state.doubles("coef_", coef)
        let intercept: Double
        switch state.attributes["intercept_"] {
        case let .array(a)?:
            guard a.count == 1, a.shape.count <= 1 else { throw state.bad("intercept_", "shape \(a.shape), expected [1]") }
            intercept = try state.doubles("intercept_", a)[0]
        case let v?:
            guard let d = v.doubleValue else { throw state.bad("intercept_", "is \(v.kindDescription)") }
            intercept = d
        case nil:
            throw state.missing("intercept_")
        }
        guard weights.allSatisfy(\.isFinite), intercept.isFinite else { throw state.bad("coef_", "contains non-finite values") }
        self.init(coefficients: weights, intercept: intercept)
    }
}

extension KNNHead {
    /// From a fitted binary `KNeighborsClassifier`: `_fit_X` [N, F], `_y` [N] (indices into `classes_`),
    /// `classes_` [0, 1] or [False, True], `n_neighbors`, `weights` ('uniform', 'distance' or None) and the
    /// metric (`effective_metric_`, else `metric`): 'cosine', 'euclidean'/'l2', or 'minkowski' with p = 2.
    public init(sklearn object: PickleObject, source: String) throws(HeadError) {
        let state = SklearnState(object: object, source: source)
        let fakeIndex = try state.binaryClasses()
        if let outputs2d = state.attributes["outputs_2d_"], outputs2d.intValue == 1 {
            throw state.unsupported("a multi-output k-NN (outputs_2d_ is True)")
        }
        let fit = try state.array("_fit_X")
        guard fit.shape.count == 2, fit.shape[0] > 0, fit.shape[1] > 0 else { throw state.bad("_fit_X", "shape \(fit.shape), expected [samples, features]") }
        let n = fit.shape[0], f = fit.shape[1]
        guard fit.dtype.kind == .float else { throw state.bad("_fit_X", "dtype \(fit.dtype.name), expected float32 or float64") }
        let vectors: [Float]
        do { vectors = try fit.floats() } catch { throw state.bad("_fit_X", error.description) }

        let y = try state.array("_y")
        guard y.shape == [n] else { throw state.bad("_y", "shape \(y.shape), expected [\(n)]") }
        let indices: [Int64]
        do { indices = try y.int64s() } catch { throw state.bad("_y", error.description) }
        var labels: [Bool] = []
        labels.reserveCapacity(n)
        for v in indices {
            guard v == 0 || v == 1 else { throw state.bad("_y", "class index \(v) outside [0, 1]") }
            labels.append(Int(v) == fakeIndex)
        }

        guard let kValue = state.attributes["n_neighbors"] else { throw state.missing("n_neighbors") }
        guard let k = kValue.intValue, k >= 1 else { throw state.bad("n_neighbors", "is \(kValue.kindDescription), expected a positive int") }
        guard k <= Int64(n) else { throw state.bad("n_neighbors", "\(k) exceeds the \(n) stored vectors") }

        let weights: Weights
        switch state.attributes["weights"] {
        case nil, .none?: weights = .uniform
        case let v?:
            guard let s = v.stringValue, let w = Weights(rawValue: s) else {
                throw state.unsupported("weights=\(v.stringValue.map { "'\($0)'" } ?? v.kindDescription) (only 'uniform' and 'distance')")
            }
            weights = w
        }

        let metric = try KNNHead.metric(state)
        guard vectors.allSatisfy(\.isFinite) else { throw state.bad("_fit_X", "contains non-finite values") }
        self.init(vectors: vectors, features: f, labels: labels, k: Int(k), metric: metric, weights: weights)
    }

    private static func metric(_ state: SklearnState) throws(HeadError) -> Metric {
        let useEffective = state.attributes["effective_metric_"] != nil
        let metricName = useEffective ? "effective_metric_" : "metric"
        guard let value = state.attributes[metricName] else { throw state.missing("metric") }
        guard let name = value.stringValue else { throw state.unsupported("metric is \(value.kindDescription), not a metric name") }
        let paramsName = useEffective ? "effective_metric_params_" : "metric_params"
        var p: Double? = state.attributes["p"]?.doubleValue
        if case let .dict(params)? = state.attributes[paramsName] {
            for (key, v) in zip(params.keys, params.values) {
                guard key.stringValue == "p", let pv = v.doubleValue else {
                    throw state.unsupported("metric parameter \(key.stringValue ?? key.kindDescription)")
                }
                p = pv
            }
        }
        switch name {
        case "cosine": return .cosine
        case "euclidean", "l2": return .euclidean
        case "minkowski":
            guard p == 2 else { throw state.unsupported("metric 'minkowski' with p=\(p.map { String($0) } ?? "None") (only p=2, euclidean)") }
            return .euclidean
        default:
            throw state.unsupported("metric '\(name)' (only 'cosine', 'euclidean' and 'minkowski' with p=2)")
        }
    }
}

extension OneClassSVMHead {
    /// From a fitted dense `OneClassSVM`: `support_vectors_` [S, F], `_dual_coef_` [1, S] and `_intercept_` [1]
    /// (what `decision_function` uses; `dual_coef_`/`intercept_`, which hold the same values for one-class
    /// models, or −`offset_` as fallbacks), `kernel`, `_gamma`, `degree`, `coef0`.
    /// `decision` then equals scikit-learn's `decision_function`: Σ αᵢ·K(svᵢ, x) + intercept.
    public init(sklearn object: PickleObject, source: String) throws(HeadError) {
        let state = SklearnState(object: object, source: source)
        if let sparse = state.attributes["_sparse"], sparse.intValue == 1 { throw state.unsupported("an SVM fitted on sparse data") }
        let sv = try state.array("support_vectors_")
        guard sv.shape.count == 2, sv.shape[1] > 0 else { throw state.bad("support_vectors_", "shape \(sv.shape), expected [vectors, features]") }
        let s = sv.shape[0], f = sv.shape[1]
        let vectors = try state.doubles("support_vectors_", sv)

        let dualName = state.attributes["_dual_coef_"] != nil ? "_dual_coef_" : "dual_coef_"
        let dual = try state.array(dualName)
        guard dual.shape == [1, s] || dual.shape == [s] else { throw state.bad(dualName, "shape \(dual.shape), expected [1, \(s)]") }
        let coefficients = try state.doubles(dualName, dual)

        let intercept: Double
        if let name = ["_intercept_", "intercept_"].first(where: { state.attributes[$0] != nil }) {
            intercept = try state.scalar(name)
        } else if state.attributes["offset_"] != nil {
            intercept = -(try state.scalar("offset_"))
        } else {
            throw state.missing("_intercept_")
        }

        guard let kernelValue = state.attributes["kernel"] else { throw state.missing("kernel") }
        guard let kernelName = kernelValue.stringValue else { throw state.unsupported("kernel is \(kernelValue.kindDescription) (a callable kernel)") }
        let kernel: Kernel
        switch kernelName {
        case "linear":
            kernel = .linear
        case "poly":
            let degree = try state.scalar("degree")
            guard degree >= 0, degree <= 64, degree.rounded() == degree else { throw state.bad("degree", "\(degree) is not a small non-negative integer") }
            kernel = .poly(gamma: try state.scalar("_gamma"), coef0: try state.scalar("coef0"), degree: Int(degree))
        case "rbf":
            kernel = .rbf(gamma: try state.scalar("_gamma"))
        case "sigmoid":
            kernel = .sigmoid(gamma: try state.scalar("_gamma"), coef0: try state.scalar("coef0"))
        default:
            throw state.unsupported("kernel '\(kernelName)' (only linear, poly, rbf, sigmoid)")
        }
        guard vectors.allSatisfy(\.isFinite), coefficients.allSatisfy(\.isFinite), intercept.isFinite else {
            throw state.bad("support_vectors_", "non-finite values in the model")
        }
        self.init(supportVectors: vectors, features: f, dualCoefficients: coefficients, intercept: intercept, kernel: kernel)
    }
}

/// Typed access to an estimator's pickled attributes, with errors naming the attribute and the file.
struct SklearnState {
    let object: PickleObject
    let source: String
    let attributes: PickleDict

    init(object: PickleObject, source: String) {
        self.object = object; self.source = source; self.attributes = object.attributes
    }

    func missing(_ name: String) -> HeadError { HeadError(path: source, reason: .missingAttribute(name)) }
    func bad(_ name: String, _ why: String) -> HeadError { HeadError(path: source, reason: .badAttribute(name: name, reason: why)) }
    func unsupported(_ why: String) -> HeadError { HeadError(path: source, reason: .unsupported("\(object.name): \(why)")) }

    func array(_ name: String) throws(HeadError) -> NDArray {
        guard let v = attributes[name] else { throw missing(name) }
        guard case let .array(a) = v else { throw bad(name, "is \(v.kindDescription), expected a numpy array") }
        return a
    }

    func doubles(_ name: String, _ a: NDArray) throws(HeadError) -> [Double] {
        guard a.dtype.kind == .float || a.dtype.kind == .signed || a.dtype.kind == .unsigned else {
            throw bad(name, "dtype \(a.dtype.name), expected a float array")
        }
        do { return try a.doubles() } catch { throw bad(name, error.description) }
    }

    /// A number: Python int/float, numpy scalar or a one-element array.
    func scalar(_ name: String) throws(HeadError) -> Double {
        guard let v = attributes[name] else { throw missing(name) }
        if let d = v.doubleValue { return d }
        if case let .array(a) = v, a.count == 1, let d = try? a.doubles().first { return d }
        throw bad(name, "is \(v.kindDescription), expected a number")
    }

    func optionalString(_ name: String) -> String? { attributes[name]?.stringValue }

    /// Checks `classes_` is binary with a recognisable fake class and returns the fake class's index (1).
    func binaryClasses() throws(HeadError) -> Int {
        let classes = try array("classes_")
        guard classes.shape.count == 1 else { throw bad("classes_", "shape \(classes.shape), expected [2]") }
        guard classes.count == 2 else {
            throw unsupported("\(classes.count) classes; CoDE heads are binary (0 real, 1 fake)")
        }
        let values: [Int64]
        switch classes.dtype.kind {
        case .bool, .signed, .unsigned:
            do { values = try classes.int64s() } catch { throw bad("classes_", error.description) }
        case .float:
            guard let d = try? classes.doubles(), d.allSatisfy({ $0 == 0 || $0 == 1 }) else {
                throw bad("classes_", "float classes other than 0 and 1")
            }
            values = d.map { Int64($0) }
        case .object:
            guard let v = try? classes.int64s() else { throw bad("classes_", "object classes that are not 0/1 or False/True") }
            values = v
        default:
            throw bad("classes_", "\(classes.dtype.name) classes; expected [0, 1] or [False, True] (which label is fake cannot be told otherwise)")
        }
        guard values == [0, 1] else { throw bad("classes_", "classes \(values), expected [0, 1] or [False, True]") }
        return 1
    }
}
