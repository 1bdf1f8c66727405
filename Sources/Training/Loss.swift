// CoDE's training objective (docs/upstream.md, Training objective): InfoNCE on L2-normalised embeddings, four terms over
// eight view groups, and the derangement that pairs each clean view with another record's augmented view.
// Everything is computed in Double (the inputs are at most a few hundred rows of 192 floats), with a
// log-sum-exp shifted by the row maximum.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which total the CoDE objective back-propagates (docs/upstream.md, Loss terms and Loss variant).
package enum LossVariant: String, Sendable, CaseIterable {
    /// `L_real + L_fake`, the objective upstream validates with and its gradient-accumulation branch trains.
    case intended
    /// `2·L_real`, what upstream's training step actually executes (`engine.py:174`): the fake-anchored
    /// terms get no gradient, but fake embeddings still receive gradient as negatives of the real terms.
    case released
}

/// The eight view groups of a CoDE batch, in the order the two forwards produce them:
/// forward 1 = cat[real, fake, augmentedReal, augmentedFake], forward 2 = cat[globalReal, localReal,
/// globalFake, localFake] (docs/upstream.md, Batch assembly).
package enum ViewGroup: Int, Sendable, CaseIterable {
    case real, fake, augmentedReal, augmentedFake, globalReal, localReal, globalFake, localFake
}

// MARK: InfoNCE

/// InfoNCE with unpaired negatives and mean reduction (the `info-nce-pytorch` package with
/// `negative_mode='unpaired'`, as CoDE uses it): with x̂ = x / max(‖x‖, 1e-12) for every vector,
///
///     logits_i = [q̂_i·p̂_i, q̂_i·n̂_1, …, q̂_i·n̂_M] / τ
///     loss     = (1/B) Σ_i (logsumexp(logits_i) − logits_i[0])
///
/// Every negative row is a negative for every query.
package struct InfoNCE: Sendable {
    /// τ; CoDE uses 0.1.
    package var temperature: Double

    package init(temperature: Double = 0.1) { self.temperature = temperature }

    /// The value and its gradient with respect to each input.
    package struct Result: Sendable {
        package var value: Double
        /// [B, D], [B, D], [M, D], row-major like the inputs.
        package var dQuery: [Double], dPositive: [Double], dNegatives: [Double]
    }

    /// query, positive: [B, D]; negatives: [M, D]; all row-major with row width `width`.
    package func evaluate(query: [Double], positive: [Double], negatives: [Double], width d: Int) -> Result {
        precondition(d > 0 && query.count % d == 0 && negatives.count % d == 0, "row width does not divide the inputs")
        precondition(query.count == positive.count, "query and positive must have the same rows")
        let b = query.count / d, m = negatives.count / d
        let tau = temperature
        let (qn, qNorm) = normalizedRows(query, width: d)
        let (pn, pNorm) = normalizedRows(positive, width: d)
        let (nn, nNorm) = normalizedRows(negatives, width: d)
        var dq = [Double](repeating: 0, count: b * d), dp = dq, dn = [Double](repeating: 0, count: m * d)
        var total = 0.0
        var logits = [Double](repeating: 0, count: m + 1)
        for i in 0..<b {
            let qi = i * d
            logits[0] = dot(qn, qi, pn, qi, d) / tau
            for j in 0..<m { logits[1 + j] = dot(qn, qi, nn, j * d, d) / tau }
            let top = logits.max()!
            var sum = 0.0
            for j in 0...m { sum += exp(logits[j] - top) }
            let lse = top + log(sum)
            total += lse - logits[0]
            // d(loss)/d(logit_ij) = (softmax_ij − [j = 0]) / B, then through the dot products and 1/τ
            let scale = 1 / (Double(b) * tau)
            let g0 = (exp(logits[0] - lse) - 1) * scale
            for k in 0..<d { dq[qi + k] += g0 * pn[qi + k]; dp[qi + k] += g0 * qn[qi + k] }
            for j in 0..<m {
                let gj = exp(logits[1 + j] - lse) * scale
                let nj = j * d
                for k in 0..<d { dq[qi + k] += gj * nn[nj + k]; dn[nj + k] += gj * qn[qi + k] }
            }
        }
        return Result(value: total / Double(b),
                      dQuery: normalizeBackward(dq, normalized: qn, norms: qNorm, width: d),
                      dPositive: normalizeBackward(dp, normalized: pn, norms: pNorm, width: d),
                      dNegatives: normalizeBackward(dn, normalized: nn, norms: nNorm, width: d))
    }
}

/// F.normalize's clamp: a row shorter than this is divided by it instead of its norm.
let normalizeEpsilon = 1e-12

/// x̂ = x / max(‖x‖, eps) per row, and the row norms.
func normalizedRows(_ x: [Double], width d: Int) -> ([Double], [Double]) {
    let rows = x.count / d
    var out = x, norms = [Double](repeating: 0, count: rows)
    for r in 0..<rows {
        var s = 0.0
        for k in 0..<d { s += x[r * d + k] * x[r * d + k] }
        norms[r] = s.squareRoot()
        let inv = 1 / max(norms[r], normalizeEpsilon)
        for k in 0..<d { out[r * d + k] *= inv }
    }
    return (out, norms)
}

/// Backward of x̂ = x / max(‖x‖, eps): dx = (dx̂ − x̂ (x̂·dx̂)) / ‖x‖ when ‖x‖ ≥ eps, else dx̂ / eps
/// (the clamp passes no gradient to the norm, as in PyTorch).
func normalizeBackward(_ g: [Double], normalized xn: [Double], norms: [Double], width d: Int) -> [Double] {
    var out = g
    for r in 0..<norms.count {
        if norms[r] >= normalizeEpsilon {
            let proj = dot(xn, r * d, g, r * d, d)
            for k in 0..<d { out[r * d + k] = (g[r * d + k] - xn[r * d + k] * proj) / norms[r] }
        } else {
            for k in 0..<d { out[r * d + k] = g[r * d + k] / normalizeEpsilon }
        }
    }
    return out
}

@inline(__always)
func dot(_ a: [Double], _ ao: Int, _ b: [Double], _ bo: Int, _ n: Int) -> Double {
    var s = 0.0
    for k in 0..<n { s += a[ao + k] * b[bo + k] }
    return s
}

// MARK: derangement

/// Upstream's `roll_index` permutation for `count` rows (docs/upstream.md, Batch assembly): a uniformly random
/// permutation drawn with `generator` (Fisher–Yates); if it has any fixed point p[i] = i it is replaced by
/// the shift by one, [count−1, 0, 1, …, count−2] (`torch.roll(arange(count), 1)`). The result is a
/// derangement for count ≥ 2; for count 1 it is [0], as upstream's.
package func rollIndex(count: Int, using generator: inout some RandomNumberGenerator) -> [Int] {
    var p = Array(0..<count)
    if count < 2 { return p }
    for i in stride(from: count - 1, to: 0, by: -1) {
        let j = Int(generator.next(upperBound: UInt64(i + 1)))
        p.swapAt(i, j)
    }
    if p.indices.contains(where: { p[$0] == $0 }) {
        p = (0..<count).map { ($0 + count - 1) % count }
    }
    return p
}

/// The row permutations applied to the augmented views: positive row i of the real terms is
/// augmentedReal[real[i]], of the fake terms augmentedFake[fake[i]] (upstream permutes the images before the
/// forward, `engine.py:94-97`; permuting the embeddings afterwards is the same, the network being per-image).
package struct AugmentationPermutation: Sendable, Equatable {
    package var real: [Int]
    package var fake: [Int]

    /// Explicit permutations (tests, resumption). Each must be a permutation of 0..<records.
    package init(real: [Int], fake: [Int]) {
        precondition(real.count == fake.count, "permutations of different lengths")
        precondition(Set(real) == Set(0..<real.count) && Set(fake) == Set(0..<fake.count), "not permutations")
        self.real = real
        self.fake = fake
    }

    /// No permutation: every record is paired with its own augmented views.
    package static func identity(records: Int) -> Self { .init(real: Array(0..<records), fake: Array(0..<records)) }

    /// Upstream's default: two independent `rollIndex` draws, real first, then fake.
    package static func draw(records: Int, using generator: inout some RandomNumberGenerator) -> Self {
        let real = rollIndex(count: records, using: &generator)
        let fake = rollIndex(count: records, using: &generator)
        return .init(real: real, fake: fake)
    }
}

// MARK: CoDE objective

/// CoDE's loss over the eight view groups (docs/upstream.md, Loss terms), with τ (default 0.1):
///
///     L_real = ½ [InfoNCE(z_R,  z_aR∘π_R, z_aF∘π_F) + InfoNCE(z_lR, z_gR, z_gF)]
///     L_fake = ½ [InfoNCE(z_F,  z_aF∘π_F, z_aR∘π_R) + InfoNCE(z_lF, z_gF, z_gR)]
///     total  = L_real + L_fake (intended)  or  2·L_real (released)
///
/// where z∘π has row i = z[π[i]]. Negatives are unpaired, so their permutation does not change the value.
package struct CoDELoss: Sendable {
    package var temperature: Double
    package var variant: LossVariant

    package init(temperature: Double = 0.1, variant: LossVariant = .intended) {
        self.temperature = temperature
        self.variant = variant
    }

    /// The loss and its gradient with respect to every embedding.
    package struct Result<Scalar: BinaryFloatingPoint & Sendable>: Sendable {
        /// The total the variant back-propagates.
        package var value: Double
        /// L_real and L_fake (both reported whatever the variant).
        package var realLoss: Double, fakeLoss: Double
        /// d(value)/d(embeddings), [8, B, D] in `ViewGroup` order.
        package var gradient: [Scalar]
    }

    /// `embeddings`: [8, B, D] in `ViewGroup` order (the two forwards' outputs concatenated; augmented views
    /// in record order, not yet permuted). Float or Double; the arithmetic is Double either way.
    package func evaluate<Scalar: BinaryFloatingPoint & Sendable>(
        embeddings: [Scalar], records b: Int, width d: Int, permutation: AugmentationPermutation
    ) -> Result<Scalar> {
        precondition(embeddings.count == 8 * b * d, "expected 8·\(b)·\(d) embedding values, got \(embeddings.count)")
        precondition(permutation.real.count == b, "permutation is for \(permutation.real.count) records, not \(b)")
        let z = embeddings.map { Double($0) }
        func group(_ g: ViewGroup, _ perm: [Int]? = nil) -> [Double] {
            let base = g.rawValue * b * d
            var out = [Double](repeating: 0, count: b * d)
            for i in 0..<b {
                let src = base + (perm?[i] ?? i) * d
                for k in 0..<d { out[i * d + k] = z[src + k] }
            }
            return out
        }
        var grad = [Double](repeating: 0, count: 8 * b * d)
        func scatter(_ g: [Double], to group: ViewGroup, _ perm: [Int]? = nil, weight: Double) {
            if weight == 0 { return }
            let base = group.rawValue * b * d
            for i in 0..<b {
                let dst = base + (perm?[i] ?? i) * d
                for k in 0..<d { grad[dst + k] += weight * g[i * d + k] }
            }
        }
        let nce = InfoNCE(temperature: temperature)
        let pr = permutation.real, pf = permutation.fake
        // (anchor, positive, negatives) of the four terms, with the permutation applied to each group's rows
        typealias Term = (anchor: ViewGroup, positive: (ViewGroup, [Int]?), negative: (ViewGroup, [Int]?))
        let terms: [Term] = [
            (.real, (.augmentedReal, pr), (.augmentedFake, pf)),
            (.localReal, (.globalReal, nil), (.globalFake, nil)),
            (.fake, (.augmentedFake, pf), (.augmentedReal, pr)),
            (.localFake, (.globalFake, nil), (.globalReal, nil)),
        ]
        // weight of each term in the total: intended ½ each; released 1, 1, 0, 0
        let weights: [Double] = variant == .intended ? [0.5, 0.5, 0.5, 0.5] : [1, 1, 0, 0]
        var values = [Double]()
        for (term, w) in zip(terms, weights) {
            let r = nce.evaluate(query: group(term.anchor), positive: group(term.positive.0, term.positive.1),
                                 negatives: group(term.negative.0, term.negative.1), width: d)
            values.append(r.value)
            scatter(r.dQuery, to: term.anchor, weight: w)
            scatter(r.dPositive, to: term.positive.0, term.positive.1, weight: w)
            scatter(r.dNegatives, to: term.negative.0, term.negative.1, weight: w)
        }
        let realLoss = 0.5 * (values[0] + values[1]), fakeLoss = 0.5 * (values[2] + values[3])
        let value = variant == .intended ? realLoss + fakeLoss : realLoss + realLoss
        return Result(value: value, realLoss: realLoss, fakeLoss: fakeLoss, gradient: grad.map { Scalar($0) })
    }
}
