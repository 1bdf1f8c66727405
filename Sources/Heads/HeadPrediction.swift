import Foundation

extension KNNHead {
    /// Distance from `x` to stored vector `i`, as scikit-learn defines the metric:
    /// cosine 1 − x·y/(‖x‖‖y‖) (0 distance to itself), euclidean ‖x − y‖.
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
    public func neighbours(_ x: [Float]) -> [(index: Int, distance: Double)] {
        precondition(x.count == features, "embedding has \(x.count) features, head expects \(features)")
        let xNorm = x.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        var best: [(index: Int, distance: Double)] = []
        best.reserveCapacity(k + 1)
        for i in 0..<count {
            let d = distance(x, xNorm: xNorm, to: i)
            if best.count == k, let worst = best.last, d >= worst.distance { continue }
            var at = best.count
            while at > 0 && best[at - 1].distance > d { at -= 1 }
            best.insert((i, d), at: at)
            if best.count > k { best.removeLast() }
        }
        return best
    }

    /// scikit-learn's `predict_proba` / `predict`: the (distance-weighted) share of fake neighbours;
    /// fake when that share exceeds the real share (a tie goes to real, the first class, as argmax does).
    public func predict(_ x: [Float]) -> HeadOutput {
        let nn = neighbours(x)
        var fake = 0.0, total = 0.0
        let exact = nn.contains { $0.distance == 0 }
        for n in nn {
            let w: Double
            switch weights {
            case .uniform: w = 1
            case .distance: w = exact ? (n.distance == 0 ? 1 : 0) : 1 / n.distance
            }
            total += w
            if labels[n.index] { fake += w }
        }
        let p = total > 0 ? fake / total : 0
        return HeadOutput(isFake: p > 1 - p, score: p, decision: nil)
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
