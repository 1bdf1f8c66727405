import Foundation
import Tensor

/// The t-SNE start of scikit-learn's `init="pca"`: the centred points projected on their first two principal
/// components (each component's largest-magnitude loading made positive, `svd_flip`'s convention), divided by
/// the standard deviation of the first coordinate and multiplied by 1e-4. Positions [x₀, y₀, x₁, y₁, …].
func principalComponentStart(_ data: PointMatrix, threads: Int) -> [Double] {
    let n = data.count, d = data.dimensions
    var mean = [Double](repeating: 0, count: d)
    for i in 0..<n { for c in 0..<d { mean[c] += data.values[i * d + c] } }
    for c in 0..<d { mean[c] /= Double(n) }
    var centred = data.values
    for i in 0..<n { for c in 0..<d { centred[i * d + c] -= mean[c] } }
    let components = topEigenvectors(centred, rows: n, columns: d, count: 2, threads: threads)
    var out = [Double](repeating: 0, count: 2 * n)
    for i in 0..<n {
        for k in 0..<2 where k < components.count {
            var s = 0.0
            for c in 0..<d { s += centred[i * d + c] * components[k][c] }
            out[2 * i + k] = s
        }
    }
    // Population standard deviation of the first coordinate (np.std).
    var m = 0.0
    for i in 0..<n { m += out[2 * i] }
    m /= Double(n)
    var v = 0.0
    for i in 0..<n { v += (out[2 * i] - m) * (out[2 * i] - m) }
    let sd = (v / Double(n)).squareRoot()
    let scale = sd > 0 ? 1e-4 / sd : 1
    return out.map { $0 * scale }
}

/// The `count` leading eigenvectors of XᵀX (X: rows × columns, row-major) by subspace iteration with a few
/// extra vectors and a Rayleigh–Ritz step (Jacobi on the small projected matrix), until the leading vectors
/// stop moving (|cos| within 1e-13 of 1) or 1,000 rounds. Signs: largest-magnitude entry positive.
func topEigenvectors(_ x: [Double], rows n: Int, columns d: Int, count: Int, threads: Int) -> [[Double]] {
    let k = min(d, count + 8), want = min(count, d)
    guard n > 0, d > 0, want > 0 else { return [] }
    // Start: deterministic vectors (a fixed pseudo-random pattern), orthonormalised.
    var basis = (0..<k).map { v in (0..<d).map { c in Foundation.sin(Double((v + 1) * (c + 3)) * 0.7071) } }
    orthonormalise(&basis)
    var previous: [[Double]] = []
    for _ in 0..<1000 {
        // Y = X·V (n × k), then Z = Xᵀ·Y (d × k), column by column of the basis.
        var y = [[Double]](repeating: [Double](repeating: 0, count: n), count: k)
        y.withUnsafeMutableBufferPointer { out in
            let out = UncheckedSendable(out)
            parallelFor(k, threads: threads) { v in
                var col = [Double](repeating: 0, count: n)
                for i in 0..<n {
                    var s = 0.0
                    for c in 0..<d { s += x[i * d + c] * basis[v][c] }
                    col[i] = s
                }
                out.value[v] = col
            }
        }
        // Rayleigh–Ritz: H = Yᵀ·Y = Vᵀ XᵀX V, rotate the basis to H's eigenvectors (decreasing eigenvalues).
        var h = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for a in 0..<k { for b in a..<k { var s = 0.0; for i in 0..<n { s += y[a][i] * y[b][i] }; h[a][b] = s; h[b][a] = s } }
        let (values, vectors) = jacobiEigen(h)
        let order = (0..<k).sorted { values[$0] > values[$1] }
        let rotated = order.map { e in (0..<d).map { c in (0..<k).reduce(0.0) { $0 + basis[$1][c] * vectors[$1][e] } } }
        if previous.count == want,
           (0..<want).allSatisfy({ v in abs(zip(previous[v], rotated[v]).reduce(0.0) { $0 + $1.0 * $1.1 }) > 1 - 1e-13 }) {
            basis = rotated
            break
        }
        previous = Array(rotated.prefix(want))
        // Next basis: Xᵀ·(X·V) from the rotated vectors.
        var next = [[Double]](repeating: [Double](repeating: 0, count: d), count: k)
        next.withUnsafeMutableBufferPointer { out in
            let out = UncheckedSendable(out)
            parallelFor(k, threads: threads) { v in
                var proj = [Double](repeating: 0, count: n)
                for i in 0..<n { var s = 0.0; for c in 0..<d { s += x[i * d + c] * rotated[v][c] }; proj[i] = s }
                var col = [Double](repeating: 0, count: d)
                for i in 0..<n { let p = proj[i]; for c in 0..<d { col[c] += x[i * d + c] * p } }
                out.value[v] = col
            }
        }
        basis = next
        orthonormalise(&basis)
    }
    return basis.prefix(want).map { v in
        let big = v.indices.max { abs(v[$0]) < abs(v[$1]) }!
        return v[big] < 0 ? v.map { -$0 } : v
    }
}

/// Modified Gram–Schmidt, twice; a vector that vanishes is replaced by a unit axis orthogonalised in turn.
private func orthonormalise(_ vectors: inout [[Double]]) {
    for _ in 0..<2 {
        for v in vectors.indices {
            for u in 0..<v {
                let dot = zip(vectors[u], vectors[v]).reduce(0.0) { $0 + $1.0 * $1.1 }
                for c in vectors[v].indices { vectors[v][c] -= dot * vectors[u][c] }
            }
            var norm = vectors[v].reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            if norm < 1e-300 {
                vectors[v] = vectors[v].indices.map { $0 == v % vectors[v].count ? 1 : 0 }
                norm = 1
            }
            for c in vectors[v].indices { vectors[v][c] /= norm }
        }
    }
}

/// Eigenvalues and eigenvectors (columns of the second result: vectors[row][e]) of a small symmetric matrix
/// by cyclic Jacobi rotations.
func jacobiEigen(_ matrix: [[Double]]) -> (values: [Double], vectors: [[Double]]) {
    let k = matrix.count
    var a = matrix
    var v = (0..<k).map { r in (0..<k).map { $0 == r ? 1.0 : 0.0 } }
    for _ in 0..<100 {
        var off = 0.0
        for p in 0..<k { for q in (p + 1)..<max(p + 1, k) { off += a[p][q] * a[p][q] } }
        if off < 1e-30 * max(1, (0..<k).reduce(0.0) { $0 + a[$1][$1] * a[$1][$1] }) { break }
        for p in 0..<k {
            for q in (p + 1)..<max(p + 1, k) where a[p][q] != 0 {
                let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for r in 0..<k {
                    let arp = a[r][p], arq = a[r][q]
                    a[r][p] = c * arp - s * arq; a[r][q] = s * arp + c * arq
                }
                for r in 0..<k {
                    let apr = a[p][r], aqr = a[q][r]
                    a[p][r] = c * apr - s * aqr; a[q][r] = s * apr + c * aqr
                }
                for r in 0..<k {
                    let vrp = v[r][p], vrq = v[r][q]
                    v[r][p] = c * vrp - s * vrq; v[r][q] = s * vrp + c * vrq
                }
            }
        }
    }
    return ((0..<k).map { a[$0][$0] }, v)
}
