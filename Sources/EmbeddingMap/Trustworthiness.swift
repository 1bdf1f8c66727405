import Foundation
import Tensor

/// How well an embedding keeps local neighbourhoods (Venna & Kaski), as `sklearn.manifold.trustworthiness`
/// computes it with the euclidean metric:
///
///     T(k) = 1 − 2 / (n·k·(2n − 3k − 1)) · Σᵢ Σ_{j ∈ Nᵢᵏ} max(0, r(i, j) − k)
///
/// where Nᵢᵏ are the k nearest neighbours of i in the embedding and r(i, j) is j's rank (1 = nearest) among
/// i's neighbours in the input space. Distances are euclidean in Double; equal distances rank by index.
/// scikit-learn ranks float32-rounded distances with an unstable sort and leaves the order of ties to its
/// sort and KD-tree, so on points with duplicates (every distance to a duplicate ties) the two can differ by
/// a few ranks; without ties that change the sum they agree exactly.
/// - Parameters:
///   - points: the input points, all of the same length.
///   - embedding: one low-dimensional point per input point, all of the same length.
///   - neighbours: k (scikit-learn's `n_neighbors`, 5); must be below n / 2.
///   - threads: worker threads.
/// - Throws: `EmbeddingMapError` for ragged or non-finite input, counts that differ, or k not in 1..<n/2.
package func trustworthiness(_ points: [[Float]], embedding: [[Double]], neighbours k: Int = 5, threads: Int = 1) throws(EmbeddingMapError) -> Double {
    let input = try PointMatrix(points)
    let n = input.count
    guard embedding.count == n else { throw .badOption("\(embedding.count) embedded points for \(n) input points") }
    guard k >= 1, Double(k) < Double(n) / 2 else {
        throw .badOption("trustworthiness needs 1 ≤ neighbours < n / 2; got \(k) neighbours for \(n) points")
    }
    let e = embedding.first?.count ?? 0
    var low = [Double]()
    low.reserveCapacity(n * e)
    for (i, p) in embedding.enumerated() {
        guard p.count == e else { throw .ragged(index: i, expected: e, found: p.count) }
        guard p.allSatisfy(\.isFinite) else { throw .nonFinite(index: i) }
        low.append(contentsOf: p)
    }
    var penalties = [Int](repeating: 0, count: n)
    penalties.withUnsafeMutableBufferPointer { out in
        let out = UncheckedSendable(out)
        parallelChunks(n, threads: threads) { rows in
            var high = [Double](repeating: 0, count: n), near = [Double](repeating: 0, count: n)
            for i in rows {
                for j in 0..<n {
                    high[j] = input.squaredDistance(i, j)
                    var s = 0.0
                    for c in 0..<e { let d = low[i * e + c] - low[j * e + c]; s += d * d }
                    near[j] = s
                }
                // The k nearest in the embedding (self excluded), ties by index.
                var nearest: [Int] = []
                for j in 0..<n where j != i {
                    if nearest.count == k, let worst = nearest.last, !(near[j] < near[worst]) { continue }
                    var at = nearest.count
                    while at > 0 && near[nearest[at - 1]] > near[j] { at -= 1 }
                    nearest.insert(j, at: at)
                    if nearest.count > k { nearest.removeLast() }
                }
                // Input-space rank of each: 1 + the others closer to i (equal distances: lower index first).
                var penalty = 0
                for j in nearest {
                    var rank = 1
                    for l in 0..<n where l != i && l != j && (high[l] < high[j] || (high[l] == high[j] && l < j)) { rank += 1 }
                    penalty += max(0, rank - k)
                }
                out.value[i] = penalty
            }
        }
    }
    let total = Double(penalties.reduce(0, +))
    let nn = Double(n), kk = Double(k)
    return 1 - total * (2 / (nn * kk * (2 * nn - 3 * kk - 1)))
}
