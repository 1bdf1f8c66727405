import Checkpoints
import Foundation
import Heads
import XCTest

/// A k-NN head the size of the released one (48,000 × 192 float32, ~37 MB) loads whole and answers batches
/// through matrix products exactly as single queries. (Timings are printed for information only; speed is
/// measured by benchmarks, not asserted by tests.)
final class SklearnLargeKNNTests: XCTestCase {
    func testReleasedSizeKNNPickleLoadsAndAnswersBatches() throws {
        let rows = 48_000, f = 192
        var state: UInt32 = 7
        var vectors = [Float](repeating: 0, count: rows * f)
        for i in vectors.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            vectors[i] = Float(Int32(bitPattern: state) >> 8) / Float(1 << 23)
        }
        let labels = (0..<rows).map { Int64($0 % 5 == 0 ? 0 : 1) }
        let bytes = knnPickle(vectors: vectors, rows: rows, features: f, labels: labels, k: 1, metric: "cosine")
        XCTAssertGreaterThan(bytes.count, 37_000_000)

        var best = Double.infinity
        var head: Head?
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            head = try Head(sklearnBytes: bytes)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        guard case let .knn(knn)? = head else { return XCTFail("not a k-NN head") }
        XCTAssertEqual(knn.count, rows)
        XCTAssertEqual(knn.vectors, vectors)

        // Stored vectors find themselves (distance 0 up to float32 rounding); batch = single.
        let queries = (0..<64).map { r in Array(vectors[(r * 700 * f)..<((r * 700 + 1) * f)]) }
        let start = DispatchTime.now().uptimeNanoseconds
        let batch = knn.predict(batch: queries)
        let batchSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        for (r, out) in batch.enumerated() {
            XCTAssertEqual(out.isFake, labels[r * 700] == 1)
            XCTAssertEqual(knn.neighbours(queries[r]).first?.index, r * 700)
        }
        let single = DispatchTime.now().uptimeNanoseconds
        XCTAssertEqual(knn.predict(queries[5]), batch[5])
        let singleSeconds = Double(DispatchTime.now().uptimeNanoseconds - single) / 1e9
        print("k-NN 48,000 × 192: load \(String(format: "%.3f", best)) s, batch of 64 \(String(format: "%.3f", batchSeconds)) s, one query \(String(format: "%.4f", singleSeconds)) s")
    }
}
