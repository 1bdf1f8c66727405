import Checkpoints
import Foundation
import Tensor

/// Saves and loads heads in our own format: a safetensors file whose `__metadata__` says what the head is
/// (docs/head-format.md). Parameters that are Double in memory are stored as F64, the k-NN vectors as F32,
/// so a round trip is bit-exact. Nothing is ever unpickled.
public enum HeadStore {
    /// `__metadata__["format"]` of every head file.
    public static let format = "deepfake-head"
    /// The format version this code writes and reads.
    public static let version = "1"
    /// Metadata keys this format defines; `save` refuses extra metadata that reuses them.
    public static let reservedKeys: Set<String> = [
        "format", "version", "kind", "features", "count", "k", "metric", "weights", "kernel", "gamma", "coef0", "degree",
    ]

    /// Writes `head` to `path` atomically. `extraMetadata` (e.g. provenance) is stored alongside; its keys
    /// must not be reserved ones.
    public static func save(_ head: Head, to path: String, extraMetadata: [String: String] = [:]) throws(HeadStoreError) {
        if let clash = extraMetadata.keys.sorted().first(where: { reservedKeys.contains($0) }) {
            throw .invalid(path: path, reason: "extra metadata key '\(clash)' is reserved by the head format")
        }
        var metadata = extraMetadata
        metadata["format"] = format
        metadata["version"] = version
        metadata["kind"] = head.kind.rawValue
        var doubles: [(name: String, shape: [Int], data: [Double])] = []
        var floats: [(name: String, tensor: Tensor)] = []
        switch head {
        case let .linear(h):
            guard !h.coefficients.isEmpty else { throw .invalid(path: path, reason: "logistic regression head has no coefficients") }
            guard h.coefficients.allSatisfy(\.isFinite), h.intercept.isFinite else {
                throw .invalid(path: path, reason: "logistic regression head has NaN or infinite parameters")
            }
            metadata["features"] = String(h.coefficients.count)
            doubles = [("coef", [h.coefficients.count], h.coefficients), ("intercept", [1], [h.intercept])]
        case let .knn(h):
            guard h.features > 0, h.count > 0 else { throw .invalid(path: path, reason: "k-NN head stores no vectors") }
            guard h.k >= 1, h.k <= h.count else { throw .invalid(path: path, reason: "k-NN head has k = \(h.k) for \(h.count) vectors") }
            guard h.vectors.allSatisfy(\.isFinite) else { throw .invalid(path: path, reason: "k-NN head has NaN or infinite vectors") }
            metadata["features"] = String(h.features)
            metadata["count"] = String(h.count)
            metadata["k"] = String(h.k)
            metadata["metric"] = h.metric.rawValue
            metadata["weights"] = h.weights.rawValue
            floats = [("vectors", Tensor(shape: [h.count, h.features], data: h.vectors)),
                      ("labels", Tensor(shape: [h.count], data: h.labels.map { $0 ? 1 : 0 }))]
        case let .svm(h):
            guard h.features > 0 else { throw .invalid(path: path, reason: "one-class SVM head has no features") }
            guard h.supportVectors.allSatisfy(\.isFinite), h.dualCoefficients.allSatisfy(\.isFinite), h.intercept.isFinite else {
                throw .invalid(path: path, reason: "one-class SVM head has NaN or infinite parameters")
            }
            metadata["features"] = String(h.features)
            metadata["count"] = String(h.dualCoefficients.count)
            switch h.kernel {
            case .linear:
                metadata["kernel"] = "linear"
            case let .poly(gamma, coef0, degree):
                metadata["kernel"] = "poly"; metadata["gamma"] = "\(gamma)"; metadata["coef0"] = "\(coef0)"
                metadata["degree"] = String(degree)
            case let .rbf(gamma):
                metadata["kernel"] = "rbf"; metadata["gamma"] = "\(gamma)"
            case let .sigmoid(gamma, coef0):
                metadata["kernel"] = "sigmoid"; metadata["gamma"] = "\(gamma)"; metadata["coef0"] = "\(coef0)"
            }
            let s = h.dualCoefficients.count
            doubles = [("support_vectors", [s, h.features], h.supportVectors), ("dual_coef", [s], h.dualCoefficients),
                       ("intercept", [1], [h.intercept])]
        }
        do {
            try SafeTensorsWriter.write(doubles: doubles, floats: floats, floatDType: .f32, to: path, metadata: metadata)
        } catch {
            throw .file(error)
        }
    }

    /// Reads a head written by `save`, validating the format marker and version, the kind, every tensor's
    /// presence, dtype and shape against the metadata, and the values (finite parameters, 0/1 labels,
    /// 1 ≤ k ≤ count, known metric/weights/kernel).
    public static func load(from path: String) throws(HeadStoreError) -> Head {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { throw .file(error) }
        let reader = Reader(file: file)
        let meta = file.metadata
        guard let marker = meta["format"] else {
            throw .notAHeadFile(path: path, reason: "its safetensors metadata has no \"format\" key (expected \"\(format)\")")
        }
        guard marker == format else {
            throw .notAHeadFile(path: path, reason: "metadata format is \"\(marker)\", expected \"\(format)\"")
        }
        guard let v = meta["version"] else { throw .invalid(path: path, reason: "metadata has no \"version\"") }
        guard v == version else { throw .unsupportedVersion(path: path, version: v) }
        guard let kind = meta["kind"] else { throw .invalid(path: path, reason: "metadata has no \"kind\"") }
        let features = try reader.positiveInt("features")
        switch kind {
        case "linear":
            try reader.expectTensors(["coef", "intercept"])
            let coef = try reader.doubles("coef", dtype: "F64", shape: [features])
            let intercept = try reader.doubles("intercept", dtype: "F64", shape: [1])
            return .linear(LogisticRegressionHead(coefficients: coef, intercept: intercept[0]))
        case "knn":
            let count = try reader.positiveInt("count")
            let k = try reader.positiveInt("k")
            guard k <= count else { throw .invalid(path: path, reason: "k = \(k) exceeds the \(count) stored vectors") }
            guard let metricName = meta["metric"], let metric = KNNHead.Metric(rawValue: metricName) else {
                throw .invalid(path: path, reason: "metadata \"metric\" is \(meta["metric"].map { "\"\($0)\"" } ?? "missing"); expected cosine or euclidean")
            }
            guard let weightsName = meta["weights"], let weights = KNNHead.Weights(rawValue: weightsName) else {
                throw .invalid(path: path, reason: "metadata \"weights\" is \(meta["weights"].map { "\"\($0)\"" } ?? "missing"); expected uniform or distance")
            }
            try reader.expectTensors(["labels", "vectors"])
            let vectors = try reader.floats("vectors", shape: [count, features])
            let labelValues = try reader.floats("labels", shape: [count])
            var labels: [Bool] = []
            labels.reserveCapacity(count)
            for (i, v) in labelValues.enumerated() {
                guard v == 0 || v == 1 else { throw .invalid(path: path, reason: "label \(i) is \(v); labels must be 0 (real) or 1 (fake)") }
                labels.append(v == 1)
            }
            return .knn(KNNHead(vectors: vectors, features: features, labels: labels, k: k, metric: metric, weights: weights))
        case "svm":
            let count = try reader.nonNegativeInt("count")
            guard let kernelName = meta["kernel"] else { throw .invalid(path: path, reason: "metadata has no \"kernel\"") }
            let kernel: OneClassSVMHead.Kernel
            switch kernelName {
            case "linear": kernel = .linear
            case "poly":
                let degree = try reader.nonNegativeInt("degree")
                kernel = .poly(gamma: try reader.finiteDouble("gamma"), coef0: try reader.finiteDouble("coef0"), degree: degree)
            case "rbf": kernel = .rbf(gamma: try reader.finiteDouble("gamma"))
            case "sigmoid": kernel = .sigmoid(gamma: try reader.finiteDouble("gamma"), coef0: try reader.finiteDouble("coef0"))
            default:
                throw .invalid(path: path, reason: "metadata \"kernel\" is \"\(kernelName)\"; expected linear, poly, rbf or sigmoid")
            }
            try reader.expectTensors(["dual_coef", "intercept", "support_vectors"])
            let sv = try reader.doubles("support_vectors", dtype: "F64", shape: [count, features])
            let dual = try reader.doubles("dual_coef", dtype: "F64", shape: [count])
            let intercept = try reader.doubles("intercept", dtype: "F64", shape: [1])
            return .svm(OneClassSVMHead(supportVectors: sv, features: features, dualCoefficients: dual,
                                        intercept: intercept[0], kernel: kernel))
        default:
            throw .invalid(path: path, reason: "metadata \"kind\" is \"\(kind)\"; expected linear, knn or svm")
        }
    }

    /// Checked access to one head file's metadata and tensors.
    private struct Reader {
        let file: SafeTensorsFile
        var path: String { file.path }

        func positiveInt(_ key: String) throws(HeadStoreError) -> Int {
            let v = try nonNegativeInt(key)
            guard v > 0 else { throw .invalid(path: path, reason: "metadata \"\(key)\" is 0; it must be at least 1") }
            return v
        }

        func nonNegativeInt(_ key: String) throws(HeadStoreError) -> Int {
            guard let s = file.metadata[key] else { throw .invalid(path: path, reason: "metadata has no \"\(key)\"") }
            guard let v = Int(s), v >= 0 else { throw .invalid(path: path, reason: "metadata \"\(key)\" is \"\(s)\", not a non-negative integer") }
            return v
        }

        func finiteDouble(_ key: String) throws(HeadStoreError) -> Double {
            guard let s = file.metadata[key] else { throw .invalid(path: path, reason: "metadata has no \"\(key)\"") }
            guard let v = Double(s), v.isFinite else { throw .invalid(path: path, reason: "metadata \"\(key)\" is \"\(s)\", not a finite number") }
            return v
        }

        func expectTensors(_ names: Set<String>) throws(HeadStoreError) {
            let present = Set(file.entries.keys)
            if let missing = names.subtracting(present).sorted().first {
                throw .file(.missingTensor(path: path, tensor: missing))
            }
            if let extra = present.subtracting(names).sorted().first {
                throw .file(.unexpectedTensor(path: path, tensor: extra))
            }
        }

        func entry(_ name: String, dtype: String, shape: [Int]) throws(HeadStoreError) -> SafeTensorsEntry {
            guard let e = file.entries[name] else { throw .file(.missingTensor(path: path, tensor: name)) }
            guard e.dtype == dtype else {
                throw .invalid(path: path, reason: "tensor '\(name)' is \(e.dtype); the head format stores it as \(dtype)")
            }
            guard e.shape == shape else { throw .file(.shapeMismatch(path: path, tensor: name, expected: shape, found: e.shape)) }
            return e
        }

        func doubles(_ name: String, dtype: String, shape: [Int]) throws(HeadStoreError) -> [Double] {
            _ = try entry(name, dtype: dtype, shape: shape)
            let values: [Double]
            do { values = try file.tensorDoubles(name) } catch { throw .file(error) }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw .invalid(path: path, reason: "tensor '\(name)' holds a NaN or infinite value at element \(bad)")
            }
            return values
        }

        func floats(_ name: String, shape: [Int]) throws(HeadStoreError) -> [Float] {
            _ = try entry(name, dtype: "F32", shape: shape)
            let values: [Float]
            do { values = try file.tensor(name).data } catch { throw .file(error) }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw .invalid(path: path, reason: "tensor '\(name)' holds a NaN or infinite value at element \(bad)")
            }
            return values
        }
    }
}

/// Why a head file could not be written or read. Every message names the file.
public enum HeadStoreError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened, mapped or written, is not valid safetensors, or lacks/has extra
    /// tensors or a wrong shape (the underlying message).
    case file(CheckpointError)
    /// A valid safetensors file that is not a head file (no or another `format` marker).
    case notAHeadFile(path: String, reason: String)
    /// A head file of a version this code does not read.
    case unsupportedVersion(path: String, version: String)
    /// Metadata or values that break the format (or a head that cannot be saved).
    case invalid(path: String, reason: String)

    /// A one-line message naming the problem (and, for files, the file).
    public var description: String {
        switch self {
        case let .file(error): return "head file \(error)"
        case let .notAHeadFile(path, reason): return "\(path): not a deepfake head file: \(reason)"
        case let .unsupportedVersion(path, version):
            return "\(path): head format version \"\(version)\" is not supported (this build reads version \(HeadStore.version))"
        case let .invalid(path, reason): return "\(path): invalid head file: \(reason)"
        }
    }
}
