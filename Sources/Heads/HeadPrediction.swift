import Foundation
import Tensor

extension KNNHead {
    /// Distance from `x` to stored vector `i` in Double: cosine 1 − x·y/(‖x‖‖y‖) (1 when either is zero),
    /// euclidean ‖x − y‖. A slow reference; queries go through the search index (see `neighbours`).
    func distance(_ x: [Float], xNorm: Double, to i: Int) -> Double {
        let base = i * features
        switch metric {
        case .cosine:
            var dot = 0.0, norm = 0.0
            for j in 0..<features {
                let v = Double(vectors[base + j])
                dot += Double(x[j]) * v
                norm += v * v
            }
            let denominator = xNorm * norm.squareRoot()
            return denominator > 0 ? min(2, max(0, 1 - dot / denominator)) : 1
        case .euclidean:
            var s = 0.0
            for j in 0..<features { let d = Double(x[j]) - Double(vectors[base + j]); s += d * d }
            return s.squareRoot()
        }
    }

    /// The k nearest stored vectors (index, distance), nearest first; ties keep the lower index first.
    ///
    /// Distances are computed as scikit-learn's brute-force search computes them for float32 data:
    /// cosine normalises both rows in float32 (x / ‖x‖, a zero row stays zero) and takes 1 − x̂·ŷ in float32,
    /// clipped to [0, 2]; euclidean is ‖x − y‖ in Double (candidates found with a float32 matrix product, then
    /// rescored exactly).
    public func neighbours(_ x: [Float]) -> [(index: Int, distance: Double)] {
        neighbours(batch: [x], threads: 1)[0]
    }

    /// `neighbours(_:)` for many embeddings at once: matrix products against the stored vectors (BLAS),
    /// spread over `threads` cores.
    public func neighbours(batch: [[Float]], threads: Int) -> [[(index: Int, distance: Double)]] {
        for x in batch { precondition(x.count == features, "embedding has \(x.count) features, head expects \(features)") }
        if batch.isEmpty { return [] }
        let kk = min(k, count)
        if kk <= 0 { return batch.map { _ in [] } }
        let index = KNNSearchIndex.shared(for: self)
        var result = [[(index: Int, distance: Double)]](repeating: [], count: batch.count)
        let chunk = 64
        var start = 0
        while start < batch.count {
            let rows = min(chunk, batch.count - start)
            let found = index.search(Array(batch[start..<(start + rows)]), k: kk, threads: max(1, threads))
            for r in 0..<rows { result[start + r] = found[r] }
            start += rows
        }
        return result
    }

    /// scikit-learn's `predict_proba` / `predict`: the (distance-weighted) share of fake neighbours;
    /// fake when the fake weight exceeds the real weight (a tie goes to real, the first class, as argmax does).
    /// Distance weights are 1/d (in float32 for cosine, as scikit-learn divides float32 distances); when some
    /// neighbours are at distance 0, those get weight 1 and the others 0.
    public func predict(_ x: [Float]) -> HeadOutput {
        vote(neighbours(x))
    }

    /// `predict(_:)` for many embeddings, on all online cores.
    public func predict(batch: [[Float]]) -> [HeadOutput] {
        predict(batch: batch, threads: ComputeOptions().threads)
    }

    /// `predict(_:)` for many embeddings, spread over `threads` cores.
    public func predict(batch: [[Float]], threads: Int) -> [HeadOutput] {
        neighbours(batch: batch, threads: threads).map(vote)
    }

    func vote(_ nn: [(index: Int, distance: Double)]) -> HeadOutput {
        var fake = 0.0, real = 0.0
        let exact = nn.contains { $0.distance == 0 }
        for n in nn {
            let w: Double
            switch weights {
            case .uniform: w = 1
            case .distance:
                if exact { w = n.distance == 0 ? 1 : 0 } else { w = metric == .cosine ? Double(1 / Float(n.distance)) : 1 / n.distance }
            }
            if labels[n.index] { fake += w } else { real += w }
        }
        let total = real + fake
        let p = total > 0 ? fake / total : 0
        return HeadOutput(isFake: fake > real, score: p, decision: nil)
    }
}

/// What k-NN queries need from the stored vectors, computed once per head: float32-normalised rows (cosine)
/// or squared norms (euclidean). Shared through a small process-wide cache keyed by the identity of the
/// head's `vectors` storage; the cache keeps that storage alive, so a mutated head (which copies on write)
/// never matches a stale entry.
final class KNNSearchIndex: @unchecked Sendable {
    let source: [Float]
    let features: Int
    let count: Int
    let metric: KNNHead.Metric
    /// Row-major [count, features]: normalised rows (cosine) or the stored rows (euclidean).
    let rows: [Float]
    /// Euclidean: Σ y² per row (rounded to Float), and the largest norm.
    let squaredNorms: [Float]
    let maxNorm: Double

    init(_ head: KNNHead) {
        let src = head.vectors, f = head.features, n = head.count
        source = src; features = f; count = n; metric = head.metric
        switch head.metric {
        case .cosine:
            var out = [Float](repeating: 0, count: src.count)
            out.withUnsafeMutableBufferPointer { dst in
                src.withUnsafeBufferPointer { s in
                    for i in 0..<n { normalise(s.baseAddress! + i * f, into: dst.baseAddress! + i * f, count: f) }
                }
            }
            rows = out; squaredNorms = []; maxNorm = 1
        case .euclidean:
            rows = src
            var norms = [Float](repeating: 0, count: n)
            var largest = 0.0
            src.withUnsafeBufferPointer { s in
                for i in 0..<n {
                    var sum = 0.0
                    for j in 0..<f { let v = Double(s[i * f + j]); sum += v * v }
                    norms[i] = Float(sum)
                    largest = max(largest, sum)
                }
            }
            squaredNorms = norms; maxNorm = largest.squareRoot()
        }
    }

    private static let cache = Cache()

    /// The index for `head`, built on first use.
    static func shared(for head: KNNHead) -> KNNSearchIndex { cache.index(for: head) }

    func matches(_ head: KNNHead) -> Bool {
        guard head.features == features, head.count == count, head.metric == metric, head.vectors.count == source.count else { return false }
        let a = head.vectors.withUnsafeBufferPointer { $0.baseAddress }
        let b = source.withUnsafeBufferPointer { $0.baseAddress }
        return a == b
    }

    final class Cache: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [KNNSearchIndex] = []

        func index(for head: KNNHead) -> KNNSearchIndex {
            lock.lock()
            if let i = entries.firstIndex(where: { $0.matches(head) }) {
                let hit = entries.remove(at: i)
                entries.append(hit)
                lock.unlock()
                return hit
            }
            lock.unlock()
            let built = KNNSearchIndex(head)
            lock.lock()
            entries.append(built)
            if entries.count > 2 { entries.removeFirst() }
            lock.unlock()
            return built
        }
    }

    /// The k nearest rows for each query (k ≤ count), nearest first, ties by lower index.
    func search(_ queries: [[Float]], k: Int, threads: Int) -> [[(index: Int, distance: Double)]] {
        BLAS.configure()
        let q = queries.count, f = features, n = count
        var a = [Float](repeating: 0, count: q * f)
        a.withUnsafeMutableBufferPointer { dst in
            for (r, x) in queries.enumerated() {
                x.withUnsafeBufferPointer { src in
                    if metric == .cosine {
                        normalise(src.baseAddress!, into: dst.baseAddress! + r * f, count: f)
                    } else {
                        (dst.baseAddress! + r * f).update(from: src.baseAddress!, count: f)
                    }
                }
            }
        }
        // products[r, i] = query r · row i
        var products = [Float](repeating: 0, count: q * n)
        let parts = max(1, min(threads, n / 4096))
        products.withUnsafeMutableBufferPointer { c in
            a.withUnsafeBufferPointer { a in
                rows.withUnsafeBufferPointer { b in
                    let c = UncheckedSendable(c), a = UncheckedSendable(a), b = UncheckedSendable(b)
                    parallelFor(parts, threads: threads) { part in
                        let range = chunkRange(part, of: parts, total: n)
                        if range.isEmpty { return }
                        BLAS.gemm(transA: false, transB: true, m: q, n: range.count, k: f,
                                  a: a.value.baseAddress!, lda: f,
                                  b: b.value.baseAddress! + range.lowerBound * f, ldb: f,
                                  c: c.value.baseAddress! + range.lowerBound, ldc: n)
                    }
                }
            }
        }
        var out = [[(index: Int, distance: Double)]](repeating: [], count: q)
        out.withUnsafeMutableBufferPointer { results in
            products.withUnsafeBufferPointer { p in
                let results = UncheckedSendable(results), p = UncheckedSendable(p)
                parallelFor(q, threads: min(threads, q)) { r in
                    let row = UnsafeBufferPointer(rebasing: p.value[(r * n)..<((r + 1) * n)])
                    results.value[r] = metric == .cosine
                        ? cosineSelect(row, normalisedQuery: Array(a[(r * f)..<((r + 1) * f)]), k: k)
                        : euclideanSelect(row, query: queries[r], k: k)
                }
            }
        }
        return out
    }

    /// k smallest of 1 − x̂·ŷ (float32, clipped to [0, 2]). The float32 products only shortlist rows: every
    /// row whose approximate distance is within the products' rounding bound of the k-th best is rescored
    /// with x̂·ŷ summed in Double and rounded to float32 (what an exactly rounded float32 product gives), so
    /// the result does not depend on how BLAS blocked the batch.
    private func cosineSelect(_ similarities: UnsafeBufferPointer<Float>, normalisedQuery x: [Float], k: Int) -> [(index: Int, distance: Double)] {
        let n = similarities.count, f = features
        var approx = TopK(k)
        for i in 0..<n { approx.offer(1 - Double(similarities[i]), i) }
        let u = Double(Float.ulpOfOne) / 2
        let limit = approx.items.last!.distance + 4 * (Double(f) + 4) * u
        var exact = TopK(k)
        rows.withUnsafeBufferPointer { y in
            for i in 0..<n where 1 - Double(similarities[i]) <= limit {
                var s = 0.0
                let base = i * f
                for j in 0..<f { s += Double(x[j]) * Double(y[base + j]) }
                exact.offer(Double(min(2, max(0, 1 - Float(s)))), i)
            }
        }
        return exact.items
    }

    /// Candidates from ‖y‖² − 2x·y (float32 products), then exact Double distances for every row whose
    /// approximate value is within the rounding bound of the k-th best.
    private func euclideanSelect(_ dots: UnsafeBufferPointer<Float>, query x: [Float], k: Int) -> [(index: Int, distance: Double)] {
        let n = dots.count, f = features
        var approx = TopK(k)
        for i in 0..<n { approx.offer(Double(squaredNorms[i]) - 2 * Double(dots[i]), i) }
        let kth = approx.items.last!.distance
        var xNorm2 = 0.0
        for v in x { xNorm2 += Double(v) * Double(v) }
        let u = Double(Float.ulpOfOne) / 2
        let bound = 4 * (Double(f) + 2) * u * (xNorm2.squareRoot() * maxNorm + maxNorm * maxNorm) + 1e-30
        let limit = kth + 2 * bound
        var exact = TopK(k)
        rows.withUnsafeBufferPointer { y in
            for i in 0..<n where Double(squaredNorms[i]) - 2 * Double(dots[i]) <= limit {
                var s = 0.0
                let base = i * f
                for j in 0..<f { let d = Double(x[j]) - Double(y[base + j]); s += d * d }
                exact.offer(s.squareRoot(), i)
            }
        }
        return exact.items
    }
}

/// x / ‖x‖ in float32 with ‖x‖ rounded to float32 (scikit-learn's `normalize`); a zero row stays zero.
private func normalise(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
    var s = 0.0
    for j in 0..<count { s += Double(x[j]) * Double(x[j]) }
    let norm = Float(s.squareRoot())
    let divisor: Float = norm == 0 ? 1 : norm
    for j in 0..<count { out[j] = x[j] / divisor }
}

/// The k smallest (distance, index) pairs offered in increasing index order; an equal distance never
/// displaces an earlier index.
private struct TopK {
    let k: Int
    var items: [(index: Int, distance: Double)] = []

    init(_ k: Int) { self.k = k; items.reserveCapacity(k + 1) }

    mutating func offer(_ d: Double, _ i: Int) {
        if items.count == k, let worst = items.last, !(d < worst.distance) { return }
        var at = items.count
        while at > 0 && items[at - 1].distance > d { at -= 1 }
        items.insert((i, d), at: at)
        if items.count > k { items.removeLast() }
    }
}

extension OneClassSVMHead {
    /// The kernel value K(support vector i, x), in Double as libsvm computes it.
    func kernelValue(_ i: Int, _ x: [Double]) -> Double {
        let base = i * features
        switch kernel {
        case .linear:
            return dot(base, x)
        case let .poly(gamma, coef0, degree):
            return power(gamma * dot(base, x) + coef0, degree)
        case let .rbf(gamma):
            var s = 0.0
            for j in 0..<features { let d = supportVectors[base + j] - x[j]; s += d * d }
            return Foundation.exp(-gamma * s)
        case let .sigmoid(gamma, coef0):
            return Foundation.tanh(gamma * dot(base, x) + coef0)
        }
    }

    private func dot(_ base: Int, _ x: [Double]) -> Double {
        var s = 0.0
        for j in 0..<features { s += supportVectors[base + j] * x[j] }
        return s
    }

    /// Σᵢ αᵢ·K(svᵢ, x) + intercept.
    public func decision(_ x: [Float]) -> Double {
        precondition(x.count == features, "embedding has \(x.count) features, head expects \(features)")
        let xd = x.map(Double.init)
        var s = 0.0
        for i in 0..<dualCoefficients.count { s += dualCoefficients[i] * kernelValue(i, xd) }
        return s + intercept
    }

    /// libsvm's one-class rule: inlier (+1, real) when decision > 0, else outlier (−1, fake).
    public func predict(_ x: [Float]) -> HeadOutput {
        let d = decision(x)
        return HeadOutput(isFake: !(d > 0), score: d, decision: d)
    }
}

/// base^n by repeated squaring (libsvm's powi), n ≥ 0.
func power(_ base: Double, _ n: Int) -> Double {
    var result = 1.0, b = base, e = n
    while e > 0 {
        if e & 1 == 1 { result *= b }
        b *= b
        e >>= 1
    }
    return result
}

extension Head {
    /// The head's verdict on one embedding.
    public func predict(_ x: [Float]) -> HeadOutput {
        switch self {
        case let .linear(h): return h.predict(x)
        case let .knn(h): return h.predict(x)
        case let .svm(h): return h.predict(x)
        }
    }
}
