import Foundation
import Heads
import XCTest
import TestSupport

/// Tests/Fixtures/fit: synthetic embedding sets and scikit-learn's fits on them
/// (tools/reference/make_fit_fixtures.py).
enum FitFixtures {
    static let directory = Fixtures.path("fit")

    static let features = 192

    /// The manifest (versions, dataset sizes, per-fit scalars), read on each use.
    static var manifest: [String: Any] {
        let url = URL(fileURLWithPath: directory + "/manifest.json")
        guard let data = try? Data(contentsOf: url),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { fatalError("cannot read \(url.path)") }
        return object
    }

    static var datasetNames: [String] { ((manifest["datasets"] as? [String: Any]) ?? [:]).keys.sorted() }

    /// One fit's scalars from the manifest.
    static func fit(_ dataset: String, _ name: String) -> [String: Any] {
        let datasets = manifest["datasets"] as! [String: Any]
        let ds = datasets[dataset] as! [String: Any]
        return (ds["fits"] as! [String: Any])[name] as! [String: Any]
    }

    /// An exact scalar stored as {"hex": float.hex(), "value": ...}.
    static func exact(_ entry: [String: Any], _ key: String) -> Double {
        let e = entry[key] as! [String: Any]
        return Double(e["hex"] as! String)!
    }

    /// A little-endian C-order `.npy` of `<f4` or `<f8`, returned as Double (exact for both).
    static func array(_ name: String) throws -> (shape: [Int], values: [Double]) {
        let path = directory + "/" + name + ".npy"
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard data.count > 10, data.prefix(6) == Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) else {
            throw FixtureError("\(path): not a .npy file")
        }
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + headerLength)], as: UTF8.self)
        guard header.contains("'fortran_order': False") else { throw FixtureError("\(path): Fortran order") }
        let size: Int
        if header.contains("'<f8'") { size = 8 } else if header.contains("'<f4'") { size = 4 } else {
            throw FixtureError("\(path): dtype is not <f4 or <f8: \(header)")
        }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw FixtureError("\(path): no shape")
        }
        let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let start = 10 + headerLength
        guard data.count - start == count * size else { throw FixtureError("\(path): \(data.count - start) data bytes for shape \(shape)") }
        let values: [Double] = data.withUnsafeBytes { raw in
            (0..<count).map { i in
                size == 8
                    ? Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self)))
                    : Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self))))
            }
        }
        return (shape, values)
    }

    /// A dataset's training set and held-out vectors.
    struct Dataset {
        let name: String
        let train: HeadTrainingSet
        let heldOut: [[Float]]
        let heldOutIsFake: [Bool]
    }

    static func dataset(_ name: String) throws -> Dataset {
        let x = try array(name + "_train_x"), y = try array(name + "_train_y")
        let xt = try array(name + "_test_x"), yt = try array(name + "_test_y")
        XCTAssertEqual(x.shape, [y.values.count, features])
        let train = try HeadTrainingSet(embeddings: x.values.map { Float($0) }, features: features, isFake: y.values.map { $0 == 1 })
        let rows = xt.values.count / features
        let heldOut = (0..<rows).map { i in xt.values[(i * features)..<((i + 1) * features)].map { Float($0) } }
        return Dataset(name: name, train: train, heldOut: heldOut, heldOutIsFake: yt.values.map { $0 == 1 })
    }

    struct FixtureError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }
}

/// Summary statistics of |a − b| for reports.
struct Deviation: CustomStringConvertible {
    let maxAbs: Double
    let maxIndex: Int
    let meanAbs: Double
    let medianRelative: Double

    init(_ ours: [Double], _ reference: [Double]) {
        precondition(ours.count == reference.count && !ours.isEmpty)
        var maxAbs = 0.0, maxIndex = 0, sum = 0.0
        var relative: [Double] = []
        for i in 0..<ours.count {
            let d = abs(ours[i] - reference[i])
            if d > maxAbs { maxAbs = d; maxIndex = i }
            sum += d
            relative.append(reference[i] != 0 ? d / abs(reference[i]) : d)
        }
        relative.sort()
        self.maxAbs = maxAbs; self.maxIndex = maxIndex; meanAbs = sum / Double(ours.count)
        medianRelative = relative[relative.count / 2]
    }

    var description: String {
        String(format: "max |Δ| %.3g (at %d), mean |Δ| %.3g, median relative %.3g", maxAbs, maxIndex, meanAbs, medianRelative)
    }
}

/// The `generated` fixture set, drawn exactly as make_fit_fixtures.py's `generate`: a 64-bit LCG, uniforms
/// from its top 53 bits, "bell" = sum of four uniforms − 2, rows mean + shift + scale·bell + Σ mix·z with
/// every operation in the script's order (IEEE additions and multiplications only, so the bits agree).
enum GeneratedVectors {
    struct Stream {
        var state: UInt64
        mutating func uniform() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) * (1.0 / 9_007_199_254_740_992.0)
        }
        mutating func bell() -> Double {
            let a = uniform(), b = uniform(), c = uniform(), d = uniform()
            return (((a + b) + c) + d) - 2.0
        }
    }

    static func generate(seed: UInt64, rows: Int, shift: Double = 0, features: Int = 192, factors: Int = 16) -> [Float] {
        var st = Stream(state: seed)
        var mix = [[Double]]()
        for _ in 0..<features { mix.append((0..<factors).map { _ in (st.uniform() - 0.5) * 2.0 }) }
        let mean = (0..<features).map { _ in st.uniform() - 0.5 }
        let scale = (0..<features).map { j in 1.0 / (1.0 + Double(j) / 48.0) }
        var out = [Float](repeating: 0, count: rows * features)
        for i in 0..<rows {
            let z = (0..<factors).map { _ in st.bell() }
            for j in 0..<features {
                var v = mean[j] + shift + scale[j] * st.bell()
                for t in 0..<factors { v += mix[j][t] * z[t] }
                out[i * features + j] = Float(v)
            }
        }
        return out
    }

    static func sequentialSum(_ x: [Float]) -> Double {
        var s = 0.0
        for v in x { s += Double(v) }
        return s
    }
}

/// A fitted head's decision on each held-out vector, and how many (and what fraction) agree in sign (the
/// label) with scikit-learn's decision.
func heldOutDecisions(_ heldOut: [[Float]], reference: [Double], _ decide: ([Float]) -> Double)
    -> (decisions: [Double], agree: Int, agreement: Double) {
    let decisions = heldOut.map(decide)
    let agree = zip(decisions, reference).filter { ($0 > 0) == ($1 > 0) }.count
    return (decisions, agree, Double(agree) / Double(heldOut.count))
}
