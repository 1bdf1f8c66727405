import Foundation
import Tensor

// t-SNE (van der Maaten & Hinton 2008; Barnes–Hut: van der Maaten 2014) as scikit-learn 1.9's
// `sklearn.manifold.TSNE` runs it with its defaults: euclidean affinities with a per-point binary search for
// the Gaussian's precision, PCA initialisation scaled to a standard deviation of 1e-4, Student-t (one degree
// of freedom) similarities in 2-D, 250 iterations of early exaggeration at momentum 0.5, then momentum 0.8,
// per-coordinate gains, progress checks every 50 iterations. Computed in Double (scikit-learn keeps the
// embedding in float32), so results agree in quality (KL divergence, trustworthiness), not bit for bit.

/// Settings of a t-SNE run; the defaults are scikit-learn's.
package struct TSNEOptions: Sendable, Equatable {
    /// Exact gradients (O(N²) per iteration) or the Barnes–Hut approximation (O(N log N), sparse affinities
    /// over the ⌊3·perplexity + 1⌋ nearest neighbours).
    package enum Method: Sendable, Equatable {
        case exact
        case barnesHut
        /// Exact up to `exactUpTo` points, Barnes–Hut beyond.
        case automatic(exactUpTo: Int)
    }

    /// The gradient-descent step.
    package enum LearningRate: Sendable, Equatable {
        /// max(N / early exaggeration / 4, 50), scikit-learn's "auto".
        case auto
        case fixed(Double)
    }

    /// Where the points start.
    package enum Initialization: Sendable, Equatable {
        /// The first two principal components, scaled so the first has standard deviation 1e-4; each
        /// component's largest-magnitude loading is positive (scikit-learn's sign convention).
        case pca
        /// 1e-4 · N(0, 1) draws from a SplitMix64 stream seeded with `seed` (not numpy's stream).
        case random(seed: UInt64)
    }

    /// Effective number of neighbours (scikit-learn: 30); must be below the number of points.
    package var perplexity: Double = 30
    /// Factor on the affinities during the first `explorationIterations` (12).
    package var earlyExaggeration: Double = 12
    /// Step size (auto).
    package var learningRate: LearningRate = .auto
    /// Total iterations, exploration included (scikit-learn's `max_iter`, 1000).
    package var maxIterations: Int = 1000
    /// Iterations with exaggeration and momentum 0.5 (250).
    package var explorationIterations: Int = 250
    /// Stop when the KL divergence has not improved for this many iterations after exploration (300).
    package var iterationsWithoutProgress: Int = 300
    /// Stop when the gradient's norm falls to this (1e-7).
    package var minGradientNorm: Double = 1e-7
    /// Barnes–Hut opening angle θ: a cell is summarised when width² / distance² < θ² (0.5).
    package var angle: Double = 0.5
    /// Exact up to 1,000 points by default.
    package var method: Method = .automatic(exactUpTo: 1000)
    /// PCA by default.
    package var initialization: Initialization = .pca
    /// Worker threads (≥ 1).
    package var threads: Int = ComputeOptions().threads

    /// Default options.
    package init() {}
}

/// The outcome of a t-SNE run.
package struct TSNEResult: Sendable, Equatable {
    /// One 2-D point per input point, in input order.
    package var coordinates: [SIMD2<Double>]
    /// The KL divergence at the last iteration (scikit-learn's `kl_divergence_`; for Barnes–Hut the
    /// approximation it optimises: sparse affinities, tree-estimated normalisation).
    package var klDivergence: Double
    /// Index of the last iteration run (scikit-learn's `n_iter_`).
    package var iterations: Int
    /// Whether the exact or the Barnes–Hut gradient was used.
    package var usedBarnesHut: Bool
    /// The learning rate used.
    package var learningRate: Double
}

/// Why t-SNE or trustworthiness could not run.
package enum EmbeddingMapError: Error, CustomStringConvertible, Equatable {
    /// Fewer points than the method needs.
    case tooFewPoints(count: Int, needed: Int)
    /// Point `index` has `found` features where the first has `expected`.
    case ragged(index: Int, expected: Int, found: Int)
    /// Point `index` holds a NaN or infinite value.
    case nonFinite(index: Int)
    /// An option outside its range.
    case badOption(String)

    /// One line naming the problem.
    package var description: String {
        switch self {
        case let .tooFewPoints(count, needed): return "\(count) points given; this needs at least \(needed)"
        case let .ragged(index, expected, found):
            return "point \(index) has \(found) values, the first point \(expected); all embeddings must have the same length"
        case let .nonFinite(index): return "point \(index) holds a NaN or infinite value"
        case let .badOption(text): return text
        }
    }
}

/// t-SNE embeddings into the plane.
package enum TSNE {
    /// Embeds `points` (all of the same length) into 2-D.
    /// - Throws: `EmbeddingMapError` for fewer than 2 points, ragged or non-finite input, perplexity not in
    ///   (0, N), or options out of range.
    package static func embed(_ points: [[Float]], options: TSNEOptions = TSNEOptions()) throws(EmbeddingMapError) -> TSNEResult {
        let problem = try Problem(points, options: options)
        let n = problem.count
        var start: [Double]
        switch options.initialization {
        case .pca: start = principalComponentStart(problem.data, threads: options.threads)
        case let .random(seed): start = randomStart(count: n, seed: seed)
        }
        // Exploration: exaggerated affinities, momentum 0.5, patience = its own length.
        var state = Descent(positions: start, learningRate: problem.learningRate, minGradientNorm: options.minGradientNorm)
        var (error, last) = state.run(problem.objective, exaggeration: options.earlyExaggeration, from: 0,
                                      to: options.explorationIterations, momentum: 0.5,
                                      patience: options.explorationIterations)
        if last < options.explorationIterations || options.maxIterations > options.explorationIterations {
            (error, last) = state.run(problem.objective, exaggeration: 1, from: last + 1, to: options.maxIterations, momentum: 0.8,
                                      patience: options.iterationsWithoutProgress)
        }
        let coordinates = (0..<n).map { SIMD2(state.positions[2 * $0], state.positions[2 * $0 + 1]) }
        return TSNEResult(coordinates: coordinates, klDivergence: error, iterations: last, usedBarnesHut: problem.barnesHut,
                          learningRate: problem.learningRate)
    }

    /// The objective a run with `options` minimises (exact or Barnes–Hut, as `options.method` picks for this
    /// many points), evaluated at `embedding`: KL(P‖Q) without exaggeration.
    /// - Throws: `EmbeddingMapError` as `embed`, or when `embedding` has another count or a non-finite value.
    package static func klDivergence(of embedding: [SIMD2<Double>], points: [[Float]], options: TSNEOptions = TSNEOptions()) throws(EmbeddingMapError) -> Double {
        let problem = try Problem(points, options: options)
        guard embedding.count == problem.count else { throw .badOption("\(embedding.count) embedded points for \(problem.count) points") }
        if let bad = embedding.firstIndex(where: { !$0.x.isFinite || !$0.y.isFinite }) { throw .nonFinite(index: bad) }
        return problem.objective.evaluate(embedding.flatMap { [$0.x, $0.y] }, 1, true).error
    }
}

/// Checked points and options, the learning rate, the method and the objective of one t-SNE problem.
struct Problem {
    let data: PointMatrix
    let learningRate: Double
    let barnesHut: Bool
    let objective: Objective
    var count: Int { data.count }

    init(_ points: [[Float]], options: TSNEOptions) throws(EmbeddingMapError) {
        data = try PointMatrix(points)
        let n = data.count
        guard n >= 2 else { throw .tooFewPoints(count: n, needed: 2) }
        guard options.perplexity > 0, options.perplexity < Double(n) else {
            throw .badOption("perplexity \(options.perplexity) must be positive and less than the number of points (\(n))")
        }
        guard options.earlyExaggeration >= 1, options.maxIterations >= options.explorationIterations, options.explorationIterations >= 0,
              options.iterationsWithoutProgress >= 1, options.minGradientNorm >= 0, options.angle >= 0, options.threads >= 1 else {
            throw .badOption("t-SNE options out of range: early exaggeration ≥ 1, 0 ≤ exploration ≤ max iterations, angle ≥ 0, threads ≥ 1")
        }
        switch options.learningRate {
        case .auto: learningRate = max(Double(n) / options.earlyExaggeration / 4, 50)
        case let .fixed(rate):
            guard rate > 0, rate.isFinite else { throw .badOption("learning rate \(rate) must be positive") }
            learningRate = rate
        }
        switch options.method {
        case .exact: barnesHut = false
        case .barnesHut: barnesHut = true
        case let .automatic(limit): barnesHut = n > limit
        }
        let threads = options.threads, angle = options.angle
        if barnesHut {
            let k = min(n - 1, Int(3 * options.perplexity + 1))
            let affinities = sparseAffinities(nearestNeighbours(data, k: k, threads: threads), perplexity: options.perplexity,
                                              threads: threads)
            objective = Objective { positions, exaggeration, computeError in
                barnesHutGradient(positions, affinities: affinities, exaggeration: exaggeration, angle: angle,
                                  computeError: computeError, threads: threads)
            }
        } else {
            let affinities = denseAffinities(data, perplexity: options.perplexity, threads: threads)
            objective = Objective { positions, exaggeration, computeError in
                exactGradient(positions, affinities: affinities, exaggeration: exaggeration, computeError: computeError, threads: threads)
            }
        }
    }
}

/// The KL objective: (positions, exaggeration, compute the error?) → (error or NaN, gradient).
struct Objective {
    let evaluate: ([Double], Double, Bool) -> (error: Double, gradient: [Double])
    init(_ evaluate: @escaping ([Double], Double, Bool) -> (error: Double, gradient: [Double])) { self.evaluate = evaluate }
}

/// scikit-learn's `_gradient_descent`: momentum, per-coordinate gains (+0.2 when the gradient's sign flips
/// against the last update, ×0.8 otherwise, at least 0.01), a check every 50 iterations that stops when the
/// error has not improved for `patience` iterations or the (gain-scaled) gradient norm is ≤ the minimum.
struct Descent {
    var positions: [Double]
    var update: [Double]
    var gains: [Double]
    let learningRate: Double
    let minGradientNorm: Double
    static let checkEvery = 50

    init(positions: [Double], learningRate: Double, minGradientNorm: Double) {
        self.positions = positions
        update = [Double](repeating: 0, count: positions.count)
        gains = [Double](repeating: 1, count: positions.count)
        self.learningRate = learningRate; self.minGradientNorm = minGradientNorm
    }

    /// Iterations `from..<to`; returns the last error computed and the last iteration index.
    mutating func run(_ objective: Objective, exaggeration: Double, from: Int, to: Int, momentum: Double,
                      patience: Int) -> (error: Double, last: Int) {
        var error = Double.greatestFiniteMagnitude, best = Double.greatestFiniteMagnitude
        var bestIteration = from, i = from
        var iteration = from
        while iteration < to {
            i = iteration
            let check = (i + 1) % Descent.checkEvery == 0
            var gradient: [Double]
            (error, gradient) = objective.evaluate(positions, exaggeration, check || i == to - 1)
            var norm = 0.0
            for c in positions.indices {
                if update[c] * gradient[c] < 0 { gains[c] += 0.2 } else { gains[c] *= 0.8 }
                gains[c] = max(gains[c], 0.01)
                gradient[c] *= gains[c]
                update[c] = momentum * update[c] - learningRate * gradient[c]
                positions[c] += update[c]
                norm += gradient[c] * gradient[c]
            }
            if check {
                if error < best {
                    best = error; bestIteration = i
                } else if i - bestIteration > patience {
                    break
                }
                if norm.squareRoot() <= minGradientNorm { break }
            }
            iteration += 1
        }
        return (error, i)
    }
}

/// Points as one row-major Double matrix, checked.
struct PointMatrix {
    let values: [Double]
    let count: Int
    let dimensions: Int

    init(_ points: [[Float]]) throws(EmbeddingMapError) {
        count = points.count
        dimensions = points.first?.count ?? 0
        var values: [Double] = []
        values.reserveCapacity(count * dimensions)
        for (i, p) in points.enumerated() {
            guard p.count == dimensions else { throw .ragged(index: i, expected: dimensions, found: p.count) }
            guard p.allSatisfy(\.isFinite) else { throw .nonFinite(index: i) }
            values.append(contentsOf: p.lazy.map(Double.init))
        }
        guard dimensions >= 1 || count == 0 else { throw .badOption("points have no values") }
        self.values = values
    }

    /// ‖xᵢ − xⱼ‖² in Double.
    @inline(__always)
    func squaredDistance(_ i: Int, _ j: Int) -> Double {
        var s = 0.0
        let a = i * dimensions, b = j * dimensions
        for c in 0..<dimensions { let d = values[a + c] - values[b + c]; s += d * d }
        return s
    }
}

/// 1e-4 · N(0, 1) coordinates from SplitMix64(seed) with Box–Muller.
func randomStart(count: Int, seed: UInt64) -> [Double] {
    var state = seed
    func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (Double(z >> 11) + 0.5) * 0x1p-53
    }
    var out = [Double](repeating: 0, count: 2 * count)
    for i in 0..<count {
        let r = (-2 * Foundation.log(next())).squareRoot(), t = 2 * Double.pi * next()
        out[2 * i] = 1e-4 * r * Foundation.cos(t); out[2 * i + 1] = 1e-4 * r * Foundation.sin(t)
    }
    return out
}

/// Runs `body(range)` over `0..<count` split into a few contiguous chunks per thread.
func parallelChunks(_ count: Int, threads: Int, _ body: (Range<Int>) -> Void) {
    let parts = max(1, min(count, threads * 4))
    parallelFor(parts, threads: threads) { body(chunkRange($0, of: parts, total: count)) }
}
