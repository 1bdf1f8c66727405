import Foundation
import Tensor

// Binary L2 logistic regression fitted as scikit-learn's
// `LogisticRegression(penalty='l2', solver='lbfgs', fit_intercept=True)` does: the same objective in Double,
// minimised by a port of the unconstrained path of L-BFGS-B 3.0 (scipy's `setulb` as `_minimize_lbfgsb`
// drives it), with the same memory, Moré–Thuente line search and stopping rules (LBFGSB.swift,
// MoreThuenteSearch.swift).

/// How a scikit-learn version scales the logistic objective and configures scipy's L-BFGS-B. The optimum is
/// the same; the stopping point (and so the fitted coefficients, to within the tolerance) is not.
public enum ScikitLearnLogisticConvention: String, Sendable, Equatable {
    /// scikit-learn ≤ 1.3 (CoDE used 1.3.2): minimises `Σᵢ sᵢ·lossᵢ + ‖w‖²/(2C)`; scipy's defaults
    /// `ftol` 2.22e-9 (factr 1e7) and 20 line-search steps.
    case v1_3
    /// scikit-learn ≥ 1.4: minimises `(Σᵢ sᵢ·lossᵢ)/Σᵢsᵢ + ‖w‖²/(2C·Σᵢsᵢ)`; `ftol` = 64·ε and 50 line-search steps.
    case v1_4
}

/// Options of a logistic-regression fit. Defaults are CoDE's head (docs/upstream.md, Heads):
/// `LogisticRegression(random_state=42, C=0.316, max_iter=1500, class_weight='balanced')` as scikit-learn
/// 1.3.2 solved it.
public struct LogisticRegressionFitOptions: Sendable, Equatable {
    /// Class weights: none, or scikit-learn's 'balanced' (`n_samples / (2 · count(class))` per sample).
    public enum ClassWeight: String, Sendable, Equatable { case none, balanced }
    /// How the data term is scaled (see `ScikitLearnLogisticConvention`).
    public enum LossScaling: String, Sendable, Equatable {
        /// Σᵢ sᵢ·lossᵢ + ‖w‖²/(2C) (scikit-learn ≤ 1.3).
        case sum
        /// (Σᵢ sᵢ·lossᵢ)/Σsᵢ + ‖w‖²/(2C·Σsᵢ) (scikit-learn ≥ 1.4).
        case mean
    }

    /// Inverse regularisation strength C (> 0).
    public var c: Double
    /// Per-sample weights from the classes (scikit-learn's `class_weight`).
    public var classWeight: ClassWeight
    /// scikit-learn's `max_iter`: L-BFGS iterations (scipy's `maxiter`).
    public var maxIterations: Int
    /// scikit-learn's `tol`, passed to scipy as `gtol`: stop when max |∂f/∂xᵢ| ≤ tolerance.
    public var tolerance: Double
    /// Sum- or mean-scaled data term (set by the convention).
    public var lossScaling: LossScaling
    /// scipy's `ftol`: stop when (f_old − f)/max(|f_old|, |f|, 1) ≤ ftol.
    public var relativeReductionTolerance: Double
    /// scipy's `maxls`: function evaluations allowed per line search.
    public var maxLineSearchSteps: Int
    /// scipy's `maxcor`: correction pairs kept (10).
    public var memory: Int
    /// scipy's `maxfun` (15000), checked after each iteration.
    public var maxFunctionEvaluations: Int
    /// Worker threads for the loss and gradient (results do not depend on it).
    public var threads: Int

    /// Options for `convention`'s objective and solver settings; the rest default to CoDE's head.
    public init(
        c: Double = 0.316, classWeight: ClassWeight = .balanced, maxIterations: Int = 1500, tolerance: Double = 1e-4,
        convention: ScikitLearnLogisticConvention = .v1_3, threads: Int? = nil
    ) {
        self.c = c
        self.classWeight = classWeight
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        switch convention {
        case .v1_3:
            lossScaling = .sum
            relativeReductionTolerance = 1e7 * 2.220446049250313e-16
            maxLineSearchSteps = 20
        case .v1_4:
            lossScaling = .mean
            relativeReductionTolerance = 64 * 2.220446049250313e-16
            maxLineSearchSteps = 50
        }
        memory = 10
        maxFunctionEvaluations = 15000
        self.threads = max(1, threads ?? ComputeOptions.onlineCores)
    }

    /// CoDE's head as trained with scikit-learn 1.3.2 (the default).
    public static var code: LogisticRegressionFitOptions { LogisticRegressionFitOptions() }

    func validate() throws(HeadFitError) {
        guard c > 0, c.isFinite else { throw .invalidOption("C must be positive and finite, not \(c)") }
        guard maxIterations >= 1 else { throw .invalidOption("maxIterations must be at least 1, not \(maxIterations)") }
        guard tolerance >= 0 else { throw .invalidOption("tolerance must be ≥ 0, not \(tolerance)") }
        guard relativeReductionTolerance >= 0 else {
            throw .invalidOption("relativeReductionTolerance must be ≥ 0, not \(relativeReductionTolerance)")
        }
        guard maxLineSearchSteps >= 1 else { throw .invalidOption("maxLineSearchSteps must be at least 1") }
        guard memory >= 1 else { throw .invalidOption("memory must be at least 1") }
        guard maxFunctionEvaluations >= 1 else { throw .invalidOption("maxFunctionEvaluations must be at least 1") }
    }
}

/// How a logistic-regression fit ended.
public struct LogisticRegressionFitReport: Sendable, Equatable {
    /// Why L-BFGS stopped (scipy's task messages).
    public enum Stop: String, Sendable, Equatable {
        /// CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL.
        case gradientTolerance
        /// CONVERGENCE: REL_REDUCTION_OF_F <= FACTR*EPSMCH.
        case relativeReduction
        /// STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT (scikit-learn warns).
        case maxIterations
        /// STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT (scikit-learn warns).
        case maxFunctionEvaluations
        /// ABNORMAL_TERMINATION_IN_LNSRCH (scikit-learn warns).
        case lineSearchFailed
    }

    /// scikit-learn's `n_iter_`: completed L-BFGS iterations (at most `maxIterations`).
    public var iterations: Int
    /// Loss-and-gradient evaluations.
    public var functionEvaluations: Int
    /// The stopping rule that ended the fit.
    public var stop: Stop
    /// The objective at the solution (scaled as `lossScaling` says).
    public var loss: Double
    /// max |∂f/∂xᵢ| at the solution.
    public var gradientNorm: Double
    /// Correction pairs skipped because sᵀy was not positive enough.
    public var skippedUpdates: Int
    /// Times the L-BFGS memory was dropped after a failed line search.
    public var restarts: Int

    /// true when the gradient or relative-reduction test stopped the solver.
    public var converged: Bool { stop == .gradientTolerance || stop == .relativeReduction }
    /// true where scikit-learn would raise its ConvergenceWarning ("lbfgs failed to converge").
    public var wouldWarn: Bool { !converged }
}

extension LogisticRegressionHead {
    /// Fits binary L2 logistic regression on `set` (fake = class 1) as scikit-learn's lbfgs solver does,
    /// starting from zero coefficients. Deterministic: the result does not depend on `options.threads`.
    public static func fit(
        _ set: HeadTrainingSet, options: LogisticRegressionFitOptions = .code
    ) throws(HeadFitError) -> (head: LogisticRegressionHead, report: LogisticRegressionFitReport) {
        try options.validate()
        let fakes = set.fakeCount
        if fakes == 0 || fakes == set.count { throw .singleClass(isFake: fakes == set.count) }
        let objective = LogisticObjective(set: set, options: options)
        var solver = UnconstrainedLBFGSB(
            dimension: set.features + 1, memory: options.memory, gradientTolerance: options.tolerance,
            relativeReductionTolerance: options.relativeReductionTolerance, maxIterations: options.maxIterations,
            maxFunctionEvaluations: options.maxFunctionEvaluations, maxLineSearchSteps: options.maxLineSearchSteps)
        let result = solver.minimize(x0: [Double](repeating: 0, count: set.features + 1)) { x, g in
            objective.evaluate(x, gradient: &g)
        }
        if !result.f.isFinite || result.x.contains(where: { !$0.isFinite }) {
            throw .nonFiniteObjective(iteration: result.iterations)
        }
        let head = LogisticRegressionHead(coefficients: Array(result.x[0..<set.features]), intercept: result.x[set.features])
        let report = LogisticRegressionFitReport(
            iterations: min(result.iterations, options.maxIterations), functionEvaluations: result.evaluations,
            stop: result.stop, loss: result.f, gradientNorm: result.gradientNorm,
            skippedUpdates: result.skippedUpdates, restarts: result.restarts)
        return (head, report)
    }
}

// MARK: - Objective

/// scikit-learn's `LinearModelLoss(HalfBinomialLoss(), fit_intercept=True).loss_gradient` over
/// x = [w, b], in Double (float32 inputs are upcast exactly). Rows are processed in fixed chunks whose
/// partial gradients are combined in chunk order, so the result does not depend on the thread count.
final class LogisticObjective {
    let rows: Int
    let features: Int
    let x: [Float]
    let y: [Double]
    let weights: [Double]?
    let weightSum: Double
    let l2: Double
    let mean: Bool
    let threads: Int
    static let chunk = 256

    init(set: HeadTrainingSet, options: LogisticRegressionFitOptions) {
        rows = set.count
        features = set.features
        x = set.embeddings
        y = set.isFake.map { $0 ? 1 : 0 }
        switch options.classWeight {
        case .none:
            weights = nil
            weightSum = Double(rows)
        case .balanced:
            // compute_class_weight('balanced'): n_samples / (n_classes · bincount)
            let fakes = Double(set.fakeCount), reals = Double(set.realCount)
            let wFake = Double(rows) / (2 * fakes), wReal = Double(rows) / (2 * reals)
            let w = set.isFake.map { $0 ? wFake : wReal }
            weights = w
            weightSum = pairwiseSum(w)
        }
        mean = options.lossScaling == .mean
        l2 = mean ? 1 / (options.c * weightSum) : 1 / options.c
        threads = options.threads
    }

    /// f(x), and ∂f/∂x into `gradient` (count features + 1).
    func evaluate(_ params: [Double], gradient: inout [Double]) -> Double {
        let n = rows, d = features
        let chunks = (n + Self.chunk - 1) / Self.chunk
        var loss = [Double](repeating: 0, count: n)
        var pointwise = [Double](repeating: 0, count: n)
        var partial = [Double](repeating: 0, count: chunks * d)
        let intercept = params[d]
        params.withUnsafeBufferPointer { wp in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in
                    loss.withUnsafeMutableBufferPointer { lp in
                        pointwise.withUnsafeMutableBufferPointer { gp in
                            partial.withUnsafeMutableBufferPointer { pp in
                                let w = wp.baseAddress!, X = xp.baseAddress!, Y = yp.baseAddress!
                                let L = lp.baseAddress!, G = gp.baseAddress!, P = pp.baseAddress!
                                let sw = weights
                                parallelFor(chunks, threads: threads) { c in
                                    let start = c * Self.chunk, end = min(n, start + Self.chunk)
                                    for i in start..<end {
                                        let raw = dotFloatDouble(X + i * d, w, d) + intercept
                                        var (li, gi) = halfBinomialLossGradient(Y[i], raw)
                                        if let sw { li *= sw[i]; gi *= sw[i] }
                                        L[i] = li
                                        if mean { gi /= weightSum }
                                        G[i] = gi
                                        accumulate(P + c * d, X + i * d, gi, d)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Σ over chunks in order, then the penalty, as X.T @ g + l2·w
        var norm2 = 0.0
        for j in 0..<d { norm2 += params[j] * params[j] }
        for j in 0..<d {
            var s = 0.0
            for c in 0..<chunks { s += partial[c * d + j] }
            gradient[j] = s + l2 * params[j]
        }
        gradient[d] = pairwiseSum(pointwise)
        var f = pairwiseSum(loss)
        if mean { f /= weightSum }
        return f + 0.5 * l2 * norm2
    }
}

/// Σⱼ x[j]·w[j] with x in Float (upcast) and w in Double.
@inline(__always)
private func dotFloatDouble(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Double>, _ n: Int) -> Double {
    var acc = SIMD8<Double>()
    var j = 0
    while j + 8 <= n {
        let xv = SIMD8<Double>(UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self))
        let wv = UnsafeRawPointer(w + j).loadUnaligned(as: SIMD8<Double>.self)
        acc += xv * wv
        j += 8
    }
    var s = acc.sum()
    while j < n { s += Double(x[j]) * w[j]; j += 1 }
    return s
}

/// out[j] += a · x[j], x in Float (upcast).
@inline(__always)
private func accumulate(_ out: UnsafeMutablePointer<Double>, _ x: UnsafePointer<Float>, _ a: Double, _ n: Int) {
    var j = 0
    let av = SIMD8<Double>(repeating: a)
    while j + 8 <= n {
        let xv = SIMD8<Double>(UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self))
        let o = UnsafeMutableRawPointer(out + j)
        o.storeBytes(of: o.loadUnaligned(as: SIMD8<Double>.self) + av * xv, as: SIMD8<Double>.self)
        j += 8
    }
    while j < n { out[j] += a * Double(x[j]); j += 1 }
}

/// scikit-learn's `closs_grad_half_binomial`: the loss log(1 + eʳ) − y·r and its derivative expit(r) − y,
/// with the same branches for numerical stability.
@inline(__always)
func halfBinomialLossGradient(_ y: Double, _ raw: Double) -> (Double, Double) {
    if raw <= -37 {
        let e = exp(raw)
        return (e - y * raw, e - y)
    } else if raw <= -2 {
        let e = exp(raw)
        return (log1p(e) - y * raw, ((1 - y) * e - y) / (1 + e))
    } else if raw <= 18 {
        let e = exp(-raw)
        return (log1p(e) + (1 - y) * raw, ((1 - y) - y * e) / (1 + e))
    } else {
        let e = exp(-raw)
        return (e + (1 - y) * raw, ((1 - y) - y * e) / (1 + e))
    }
}
