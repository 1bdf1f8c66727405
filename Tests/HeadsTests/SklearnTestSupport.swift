import Checkpoints
import Foundation
import Heads
import XCTest
import TestSupport

/// Tests/Fixtures/heads (see tools/reference/make_head_fixtures.py).
let sklearnFixtures = Fixtures.path("heads")

/// The version folders ("sklearn-1.3.2-numpy-1.26.4", ...), each with a fixture.json.
func sklearnFixtureFolders() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: sklearnFixtures)) ?? []
    return names.filter { $0.hasPrefix("sklearn-") }.sorted().map { sklearnFixtures + "/" + $0 }
}

func readJSON(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw CheckpointError.malformed(path: path, reason: "not a JSON object")
    }
    return object
}

/// A little-endian `<f4` or `<f8` C-order .npy file as Double values and its shape.
func readNpyDoubles(_ path: String) throws -> (shape: [Int], values: [Double]) {
    let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    guard b.count > 10, b[0] == 0x93, b[6] >= 1 else { throw CheckpointError.malformed(path: path, reason: "not .npy") }
    let headerLength = b[6] == 1 ? Int(b[8]) | Int(b[9]) << 8 : Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24
    let start = (b[6] == 1 ? 10 : 12) + headerLength
    let header = String(decoding: b[(b[6] == 1 ? 10 : 12)..<start], as: UTF8.self)
    guard header.contains("'fortran_order': False"), let open = header.range(of: "'shape': ("),
          let close = header[open.upperBound...].firstIndex(of: ")") else {
        throw CheckpointError.malformed(path: path, reason: header)
    }
    let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let n = shape.reduce(1, *)
    var values = [Double](repeating: 0, count: n)
    if header.contains("'<f8'") {
        values.withUnsafeMutableBytes { dst in b.withUnsafeBytes { dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<(start + 8 * n)])) } }
    } else if header.contains("'<f4'") {
        b.withUnsafeBytes { src in
            for i in 0..<n { values[i] = Double(Float(bitPattern: src.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self))) }
        }
    } else {
        throw CheckpointError.malformed(path: path, reason: "dtype: \(header)")
    }
    return (shape, values)
}

/// The shared test vectors (float32 [632, 192]).
func sklearnTestVectors() throws -> [[Float]] {
    let (shape, values) = try readNpyDoubles(sklearnFixtures + "/test_vectors.npy")
    let f = shape[1]
    return (0..<shape[0]).map { r in (0..<f).map { Float(values[r * f + $0]) } }
}

/// Builds a protocol-4 pickle of a fitted KNeighborsClassifier (the layout scikit-learn's pickle has), for
/// sizes no fixture should hold.
func knnPickle(vectors: [Float], rows: Int, features: Int, labels: [Int64], k: Int, metric: String) -> [UInt8] {
    var out: [UInt8] = [0x80, 4]
    func str(_ s: String) { let u = Array(s.utf8); out += [0x8C, UInt8(u.count)] + u }
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
    func int(_ v: Int) { out.append(0x4A); withUnsafeBytes(of: Int32(v).littleEndian) { out += $0 } }
    func global(_ m: String, _ n: String) { str(m); str(n); out.append(0x93) }
    func dtype(_ t: String, _ order: String) {
        global("numpy", "dtype"); str(t); out += [0x89, 0x88, 0x87, 0x52]
        out.append(0x28); out += [0x4B, 3]; str(order); out += [0x4E, 0x4E, 0x4E]; int(-1); int(-1); out += [0x4B, 0, 0x74, 0x62]
    }
    func array(_ t: String, _ order: String, _ shape: [Int], _ raw: UnsafeRawBufferPointer) {
        global("numpy.core.multiarray", "_reconstruct"); global("numpy", "ndarray")
        out += [0x4B, 0, 0x85, 0x43, 1, 0x62, 0x87, 0x52, 0x28, 0x4B, 1, 0x28]
        for d in shape { int(d) }
        out.append(0x74)
        dtype(t, order)
        out.append(0x89)
        out.append(0x8E); u64(UInt64(raw.count)); out += raw
        out += [0x74, 0x62]
    }
    global("sklearn.neighbors._classification", "KNeighborsClassifier")
    out += [0x29, 0x81, 0x94, 0x7D, 0x94, 0x28]
    str("n_neighbors"); int(k)
    str("weights"); str("uniform")
    str("metric"); str(metric)
    str("p"); int(2)
    str("classes_"); ([0, 1] as [Int64]).withUnsafeBytes { (raw: UnsafeRawBufferPointer) in array("i8", "<", [2], raw) }
    str("_y"); labels.withUnsafeBytes { array("i8", "<", [rows], $0) }
    str("effective_metric_"); str(metric)
    str("_fit_method"); str("brute")
    str("_fit_X"); vectors.withUnsafeBytes { array("f4", "<", [rows, features], $0) }
    str("_sklearn_version"); str("1.3.2")
    out += [0x75, 0x62, 0x2E]
    return out
}
