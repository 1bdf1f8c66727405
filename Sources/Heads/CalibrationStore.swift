import Checkpoints
import Foundation

/// Saves and loads a head's calibration (docs/calibration-format.md): a safetensors file beside the head,
/// `heads/<kind>.calibration.safetensors`, with the same conventions as the head files (docs/head-format.md):
/// string metadata, F64 tensors, atomic writes, every value checked on load.
public enum CalibrationStore {
    /// `__metadata__["format"]` of every calibration file.
    public static let format = "deepfake-calibration"
    /// The format version this code writes and reads.
    public static let version = "1"
    /// Metadata keys this format defines; `save` refuses extra metadata that reuses them.
    public static let reservedKeys: Set<String> = ["format", "version", "head", "input", "method", "reals", "fakes"]

    /// Where a model folder keeps the calibration of head `kind`, relative to the folder.
    public static func fileName(headKind kind: HeadKind) -> String { "heads/\(kind.rawValue).calibration.safetensors" }

    /// Writes `calibration` to `path` atomically, with `extraMetadata` (e.g. where the calibration set came
    /// from) whose keys must not be reserved.
    public static func save(_ calibration: HeadCalibration, to path: String, extraMetadata: [String: String] = [:]) throws(CalibrationStoreError) {
        if let clash = extraMetadata.keys.sorted().first(where: { reservedKeys.contains($0) }) {
            throw .invalid(path: path, reason: "extra metadata key '\(clash)' is reserved by the calibration format")
        }
        if let problem = problem(in: calibration) { throw .invalid(path: path, reason: problem) }
        var metadata = extraMetadata
        metadata["format"] = format
        metadata["version"] = version
        metadata["head"] = calibration.headKind.rawValue
        metadata["input"] = calibration.input.rawValue
        metadata["method"] = calibration.map.method.rawValue
        metadata["reals"] = String(calibration.realCount)
        metadata["fakes"] = String(calibration.fakeCount)
        var tensors: [(name: String, shape: [Int], data: [Double])] = []
        switch calibration.map {
        case let .sigmoid(m): tensors.append(("sigmoid", [2], [m.a, m.b]))
        case let .isotonic(m): tensors += [("isotonic_x", [m.x.count], m.x), ("isotonic_y", [m.y.count], m.y)]
        }
        let rows = calibration.thresholds.flatMap { [$0.target, $0.threshold, $0.falsePositiveRate, $0.truePositiveRate] }
        tensors.append(("thresholds", [calibration.thresholds.count, 4], rows))
        do { try SafeTensorsWriter.write(doubles: tensors, to: path, metadata: metadata) } catch { throw .file(error) }
    }

    /// Reads a calibration written by `save`, checking the format marker and version, that the input fits the
    /// head kind, every tensor's presence, dtype and shape, and the values (finite parameters; isotonic
    /// thresholds strictly increasing with probabilities non-decreasing in [0, 1]; threshold rows with a
    /// target in (0, 1), a finite or +∞ threshold and rates in [0, 1]; at least one real and one fake).
    public static func load(from path: String) throws(CalibrationStoreError) -> HeadCalibration {
        let file: SafeTensorsFile
        do { file = try SafeTensorsFile(path: path) } catch { throw .file(error) }
        let meta = file.metadata
        func invalid(_ reason: String) -> CalibrationStoreError { .invalid(path: path, reason: reason) }
        guard let marker = meta["format"], marker == format else {
            throw .notACalibrationFile(path: path, found: meta["format"])
        }
        guard let v = meta["version"] else { throw invalid("metadata has no \"version\"") }
        guard v == version else { throw .unsupportedVersion(path: path, version: v) }
        guard let kindName = meta["head"] else { throw invalid("metadata has no \"head\"") }
        guard let kind = HeadKind(rawValue: kindName) else { throw invalid("metadata \"head\" is \"\(kindName)\"; expected linear, knn or svm") }
        let expectedInput = CalibrationInput(headKind: kind)
        guard let inputName = meta["input"], let input = CalibrationInput(rawValue: inputName), input == expectedInput else {
            throw invalid("metadata \"input\" is \(meta["input"].map { "\"\($0)\"" } ?? "missing"); a \(kind) head is calibrated on \"\(expectedInput.rawValue)\"")
        }
        guard let methodName = meta["method"], let method = CalibrationMethod(rawValue: methodName) else {
            throw invalid("metadata \"method\" is \(meta["method"].map { "\"\($0)\"" } ?? "missing"); expected sigmoid or isotonic")
        }
        func count(_ key: String) throws(CalibrationStoreError) -> Int {
            guard let s = meta[key], let n = Int(s), n >= 1 else {
                throw invalid("metadata \"\(key)\" is \(meta[key].map { "\"\($0)\"" } ?? "missing"); expected an integer ≥ 1")
            }
            return n
        }
        let reals = try count("reals"), fakes = try count("fakes")
        func doubles(_ name: String, shape: (([Int]) -> Bool), expected: String) throws(CalibrationStoreError) -> (shape: [Int], values: [Double]) {
            guard let entry = file.entries[name] else { throw .file(.missingTensor(path: path, tensor: name)) }
            guard entry.dtype == "F64" else { throw invalid("tensor '\(name)' is \(entry.dtype); the calibration format stores it as F64") }
            guard shape(entry.shape) else { throw invalid("tensor '\(name)' has shape \(entry.shape); expected \(expected)") }
            do { return (entry.shape, try file.tensorDoubles(name)) } catch { throw .file(error) }
        }
        let map: CalibrationMap
        var names: Set<String> = ["thresholds"]
        switch method {
        case .sigmoid:
            names.insert("sigmoid")
            let ab = try doubles("sigmoid", shape: { $0 == [2] }, expected: "[2]").values
            guard ab.allSatisfy(\.isFinite) else { throw invalid("tensor 'sigmoid' holds a NaN or infinite value") }
            map = .sigmoid(SigmoidCalibration(a: ab[0], b: ab[1]))
        case .isotonic:
            names.formUnion(["isotonic_x", "isotonic_y"])
            let x = try doubles("isotonic_x", shape: { $0.count == 1 && $0[0] >= 1 }, expected: "[N], N ≥ 1").values
            let y = try doubles("isotonic_y", shape: { $0 == [x.count] }, expected: "[\(x.count)] (as isotonic_x)").values
            if let i = x.indices.first(where: { !x[$0].isFinite || ($0 > 0 && !(x[$0] > x[$0 - 1])) }) {
                throw invalid("isotonic_x[\(i)] = \(x[i]) is not finite or not above the previous threshold")
            }
            if let i = y.indices.first(where: { !(y[$0] >= 0 && y[$0] <= 1) || ($0 > 0 && !(y[$0] >= y[$0 - 1])) }) {
                throw invalid("isotonic_y[\(i)] = \(y[i]) is not a probability or below the previous one")
            }
            map = .isotonic(IsotonicCalibration(x: x, y: y))
        }
        let present = Set(file.entries.keys)
        if let extra = present.subtracting(names).sorted().first { throw .file(.unexpectedTensor(path: path, tensor: extra)) }
        let table = try doubles("thresholds", shape: { $0.count == 2 && $0[1] == 4 }, expected: "[T, 4]")
        var thresholds: [FalsePositiveThreshold] = []
        for r in 0..<table.shape[0] {
            let t = FalsePositiveThreshold(target: table.values[4 * r], threshold: table.values[4 * r + 1],
                                           falsePositiveRate: table.values[4 * r + 2], truePositiveRate: table.values[4 * r + 3])
            guard t.target > 0, t.target < 1, t.threshold.isFinite || t.threshold == .infinity,
                  (0...1).contains(t.falsePositiveRate), (0...1).contains(t.truePositiveRate) else {
                throw invalid("thresholds row \(r) \([t.target, t.threshold, t.falsePositiveRate, t.truePositiveRate]) is not (target in (0, 1), threshold finite or +inf, rates in [0, 1])")
            }
            thresholds.append(t)
        }
        return HeadCalibration(headKind: kind, input: input, map: map, thresholds: thresholds, realCount: reals, fakeCount: fakes)
    }

    /// What `save` refuses: values `load` would refuse.
    private static func problem(in c: HeadCalibration) -> String? {
        let expected = CalibrationInput(headKind: c.headKind)
        guard c.input == expected else { return "a \(c.headKind) head is calibrated on \(expected.rawValue), not \(c.input.rawValue)" }
        guard c.realCount >= 1, c.fakeCount >= 1 else { return "the calibration set needs at least one real and one fake image" }
        switch c.map {
        case let .sigmoid(m):
            guard m.a.isFinite, m.b.isFinite else { return "sigmoid parameters are NaN or infinite" }
        case let .isotonic(m):
            guard m.x.allSatisfy(\.isFinite), zip(m.x, m.x.dropFirst()).allSatisfy({ $0 < $1 }),
                  m.y.allSatisfy({ $0 >= 0 && $0 <= 1 }), zip(m.y, m.y.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                return "isotonic map is not increasing with probabilities in [0, 1]"
            }
        }
        for t in c.thresholds where !(t.target > 0 && t.target < 1 && (t.threshold.isFinite || t.threshold == .infinity)
                                       && (0...1).contains(t.falsePositiveRate) && (0...1).contains(t.truePositiveRate)) {
            return "threshold for target \(t.target) is out of range"
        }
        return nil
    }
}

/// Why a calibration file could not be written or read. Every message names the file.
public enum CalibrationStoreError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened, mapped or written, is not valid safetensors, or lacks/has extra tensors.
    case file(CheckpointError)
    /// A valid safetensors file that is not a calibration file (`found`: its format marker, if any).
    case notACalibrationFile(path: String, found: String?)
    /// A calibration file of a version this code does not read.
    case unsupportedVersion(path: String, version: String)
    /// Metadata or values that break the format (or a calibration that cannot be saved).
    case invalid(path: String, reason: String)

    /// A one-line message naming the file and the problem.
    public var description: String {
        switch self {
        case let .file(error): return "calibration file \(error)"
        case let .notACalibrationFile(path, found):
            return "\(path): not a deepfake calibration file: metadata format is \(found.map { "\"\($0)\"" } ?? "missing") (expected \"\(CalibrationStore.format)\"); run `deepfake calibrate` to write one"
        case let .unsupportedVersion(path, version):
            return "\(path): calibration format version \"\(version)\" is not supported (this build reads version \(CalibrationStore.version))"
        case let .invalid(path, reason): return "\(path): invalid calibration file: \(reason)"
        }
    }
}
