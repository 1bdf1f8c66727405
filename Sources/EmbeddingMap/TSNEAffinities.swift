import Foundation
import Tensor

// The input-space affinities P of t-SNE, as scikit-learn computes them: squared euclidean distances rounded to
// float32, a binary search per point for the Gaussian precision β that gives the wanted perplexity
// (`_utils._binary_search_perplexity`), then symmetrised and normalised joint probabilities.

/// Dense joint probabilities for the exact method: pᵢⱼ = max((pⱼ|ᵢ + pᵢ|ⱼ) / Σ, ε) for i ≠ j, ε = 2⁻⁵².
struct DenseAffinities {
    let count: Int
    /// Row-major [count, count]; the diagonal is 0 and never read.
    let p: [Double]
}

/// Sparse joint probabilities for Barnes–Hut over the k-nearest-neighbour graph: P = (C + Cᵀ) / Σ(C + Cᵀ),
/// rows in CSR form with columns increasing.
struct SparseAffinities {
    let count: Int
    let rowStart: [Int]
    let columns: [Int]
    let values: [Double]
}

/// float32 1e-8 and 1e-5, the constants of scikit-learn's Cython search.
private let emptyRowSum = Double(Float(1e-8))
private let entropyTolerance = Double(Float(1e-5))

/// Conditional probabilities pⱼ|ᵢ ∝ exp(−β·dⱼ) over one row of squared distances, with β found by bisection
/// (doubling or halving until bracketed, at most 100 steps) until the entropy is within 1e-5 of
/// log(perplexity). `skip` is the row's own index in a full row (left at 0), nil for a neighbour row.
func conditionalProbabilities(_ distances: UnsafeBufferPointer<Float>, skip: Int?, perplexity: Double,
                              into p: UnsafeMutableBufferPointer<Double>) {
    let desiredEntropy = Foundation.log(Double(Float(perplexity)))
    var beta = 1.0, betaMin = -Double.infinity, betaMax = Double.infinity
    for _ in 0..<100 {
        var sum = 0.0
        for j in 0..<distances.count where j != skip {
            p[j] = Foundation.exp(-Double(distances[j]) * beta)
            sum += p[j]
        }
        if sum == 0 { sum = emptyRowSum }
        var weighted = 0.0
        for j in 0..<distances.count {
            p[j] /= sum
            weighted += Double(distances[j]) * p[j]
        }
        let difference = Foundation.log(sum) + beta * weighted - desiredEntropy
        if abs(difference) <= entropyTolerance { break }
        if difference > 0 {
            betaMin = beta
            beta = betaMax == .infinity ? beta * 2 : (beta + betaMax) / 2
        } else {
            betaMax = beta
            beta = betaMin == -.infinity ? beta / 2 : (beta + betaMin) / 2
        }
    }
}

/// The conditional probabilities of `count` rows of `width` squared distances each (`distance(i, j)`, taken as
/// float32 as scikit-learn's binary search takes them), rows computed in parallel; with `skipsSelf`, row i's
/// entry i is the point itself and is left out.
private func conditionalRows(count n: Int, width: Int, skipsSelf: Bool, perplexity: Double, threads: Int,
                             distance: (Int, Int) -> Float) -> [Double] {
    var conditional = [Double](repeating: 0, count: n * width)
    conditional.withUnsafeMutableBufferPointer { out in
        let out = UncheckedSendable(out)
        parallelChunks(n, threads: threads) { rows in
            var row = [Float](repeating: 0, count: width)
            for i in rows {
                for j in 0..<width { row[j] = distance(i, j) }
                row.withUnsafeBufferPointer { d in
                    conditionalProbabilities(d, skip: skipsSelf ? i : nil, perplexity: perplexity,
                                             into: UnsafeMutableBufferPointer(rebasing: out.value[(i * width)..<((i + 1) * width)]))
                }
            }
        }
    }
    return conditional
}

/// The exact method's P from all pairwise squared distances.
func denseAffinities(_ data: PointMatrix, perplexity: Double, threads: Int) -> DenseAffinities {
    let n = data.count
    let conditional = conditionalRows(count: n, width: n, skipsSelf: true, perplexity: perplexity, threads: threads) { i, j in
        i == j ? 0 : Float(data.squaredDistance(i, j))
    }
    var total = 0.0
    for i in 0..<n { for j in 0..<n where j != i { total += conditional[i * n + j] + conditional[j * n + i] } }
    total = max(total, Double.ulpOfOne)
    var p = [Double](repeating: 0, count: n * n)
    for i in 0..<n {
        for j in 0..<n where j != i { p[i * n + j] = max((conditional[i * n + j] + conditional[j * n + i]) / total, Double.ulpOfOne) }
    }
    return DenseAffinities(count: n, p: p)
}

/// The k nearest other points of every point (index, squared distance), nearest first. Candidates come from
/// float32 matrix products (BLAS) in blocks of rows; the best k + 8 are rescored in Double.
func nearestNeighbours(_ data: PointMatrix, k: Int, threads: Int) -> [[(index: Int, distance: Double)]] {
    BLAS.configure()
    let n = data.count, d = data.dimensions
    let floats = data.values.map(Float.init)
    var norms = [Float](repeating: 0, count: n)
    for i in 0..<n { var s: Float = 0; for c in 0..<d { s += floats[i * d + c] * floats[i * d + c] }; norms[i] = s }
    let block = 64, blocks = (n + block - 1) / block
    let shortlist = min(n - 1, k + 8)
    var result = [[(index: Int, distance: Double)]](repeating: [], count: n)
    result.withUnsafeMutableBufferPointer { out in
        let out = UncheckedSendable(out)
        floats.withUnsafeBufferPointer { x in
            let x = UncheckedSendable(x)
            parallelFor(blocks, threads: threads) { b in
                let rows = (b * block)..<min(n, (b + 1) * block)
                var products = [Float](repeating: 0, count: rows.count * n)
                products.withUnsafeMutableBufferPointer { c in
                    BLAS.gemm(transA: false, transB: true, m: rows.count, n: n, k: d,
                              a: x.value.baseAddress! + rows.lowerBound * d, lda: d, b: x.value.baseAddress!, ldb: d,
                              c: c.baseAddress!, ldc: n)
                }
                var candidates: [(distance: Float, index: Int)] = []
                candidates.reserveCapacity(n)
                for (r, i) in rows.enumerated() {
                    candidates.removeAll(keepingCapacity: true)
                    for j in 0..<n where j != i { candidates.append((norms[i] + norms[j] - 2 * products[r * n + j], j)) }
                    candidates.sort { ($0.distance, $0.index) < ($1.distance, $1.index) }
                    var exact = candidates.prefix(shortlist).map { (index: $0.index, distance: data.squaredDistance(i, $0.index)) }
                    exact.sort { ($0.distance, $0.index) < ($1.distance, $1.index) }
                    out.value[i] = Array(exact.prefix(k))
                }
            }
        }
    }
    return result
}

/// The Barnes–Hut method's P from each point's k nearest neighbours.
func sparseAffinities(_ neighbours: [[(index: Int, distance: Double)]], perplexity: Double, threads: Int) -> SparseAffinities {
    let n = neighbours.count, k = neighbours.first?.count ?? 0
    let conditional = conditionalRows(count: n, width: k, skipsSelf: false, perplexity: perplexity, threads: threads) { i, j in
        Float(neighbours[i][j].distance)
    }
    // C + Cᵀ: every (i, j, c) entered in row i and row j, then each row sorted by column and merged.
    var counts = [Int](repeating: 0, count: n + 1)
    for i in 0..<n { for nb in neighbours[i] { counts[i + 1] += 1; counts[nb.index + 1] += 1 } }
    for i in 0..<n { counts[i + 1] += counts[i] }
    var fill = counts
    var entries = [(column: Int, value: Double)](repeating: (0, 0), count: counts[n])
    for i in 0..<n {
        for (m, nb) in neighbours[i].enumerated() {
            let c = conditional[i * k + m]
            entries[fill[i]] = (nb.index, c); fill[i] += 1
            entries[fill[nb.index]] = (i, c); fill[nb.index] += 1
        }
    }
    var rowStart = [0], columns: [Int] = [], values: [Double] = []
    columns.reserveCapacity(entries.count); values.reserveCapacity(entries.count)
    for i in 0..<n {
        let row = entries[counts[i]..<counts[i + 1]].sorted { $0.column < $1.column }
        for e in row {
            if let last = columns.last, columns.count > rowStart[i], last == e.column {
                values[values.count - 1] += e.value
            } else {
                columns.append(e.column); values.append(e.value)
            }
        }
        rowStart.append(columns.count)
    }
    let total = max(values.reduce(0, +), Double.ulpOfOne)
    return SparseAffinities(count: n, rowStart: rowStart, columns: columns, values: values.map { $0 / total })
}
