import Foundation
import Tensor

// Binary L2 logistic regression fitted as scikit-learn's
// `LogisticRegression(penalty='l2', solver='lbfgs', fit_intercept=True)` does: the same objective in Double,
// minimised by a port of the unconstrained path of L-BFGS-B 3.0 (scipy's `setulb` as `_minimize_lbfgsb`
// drives it), with the same memory, Moré–Thuente line search and stopping rules.

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

// MARK: - L-BFGS-B without bounds

/// L-BFGS-B 3.0 (Zhu, Byrd, Lu, Nocedal; Morales & Nocedal 2011) restricted to problems without bounds, as
/// scipy's `_minimize_lbfgsb` drives it. Without bounds the generalized Cauchy point is x − g/θ and the
/// subspace step is the full quasi-Newton step −H·g of the limited-memory matrix; H·g is computed here by the
/// two-loop recursion, which equals L-BFGS-B's compact-form product with B₀ = θI. The iteration logic
/// mirrors `mainlb`/`lnsrlb`: first step length 1/‖d‖, then 1; Moré–Thuente search (ftol 1e-3,
/// gtol 0.9, xtol 0.1, stpmax 1e10); on a failed search the memory is dropped and the iteration retried
/// from steepest descent (a failure with empty memory ends the run); a pair is skipped when
/// sᵀy ≤ ε·(−gᵀs); the driver counts iterations and stops at `maxIterations` before the convergence tests
/// (max|g| ≤ gtol, then (f_old − f) ≤ ftol·max(|f_old|, |f|, 1)) run.
struct UnconstrainedLBFGSB {
    let n: Int
    let m: Int
    let pgtol: Double
    let ftol: Double
    let maxIterations: Int
    let maxEvaluations: Int
    let maxls: Int
    static let eps = 2.220446049250313e-16

    struct Result {
        var x: [Double]
        var f: Double
        var gradientNorm: Double
        var iterations: Int
        var evaluations: Int
        var stop: LogisticRegressionFitReport.Stop
        var skippedUpdates: Int
        var restarts: Int
    }

    init(dimension: Int, memory: Int, gradientTolerance: Double, relativeReductionTolerance: Double,
         maxIterations: Int, maxFunctionEvaluations: Int, maxLineSearchSteps: Int) {
        n = dimension; m = memory; pgtol = gradientTolerance; ftol = relativeReductionTolerance
        self.maxIterations = maxIterations; maxEvaluations = maxFunctionEvaluations; maxls = maxLineSearchSteps
    }

    mutating func minimize(x0: [Double], _ fg: (_ x: [Double], _ g: inout [Double]) -> Double) -> Result {
        var x = x0
        var g = [Double](repeating: 0, count: n)
        var f = fg(x, &g)
        var evaluations = 1
        var sbgnrm = infinityNorm(g)
        var skipped = 0, restarts = 0
        func result(_ stop: LogisticRegressionFitReport.Stop, _ iterations: Int) -> Result {
            Result(x: x, f: f, gradientNorm: sbgnrm, iterations: iterations, evaluations: evaluations, stop: stop,
                   skippedUpdates: skipped, restarts: restarts)
        }
        if sbgnrm.isNaN || !f.isFinite { return result(.lineSearchFailed, 0) }
        if sbgnrm <= pgtol { return result(.gradientTolerance, 0) }

        // Correction pairs, oldest first, in a ring of m slots.
        var sPairs = [[Double]](repeating: [Double](repeating: 0, count: n), count: m)
        var yPairs = sPairs
        var syPairs = [Double](repeating: 0, count: m)
        var head = 0, col = 0
        var theta = 1.0
        var iter = 0          // mainlb's iteration counter
        var nit = 0           // the driver's iteration counter (scikit-learn's n_iter_)
        var z = [Double](repeating: 0, count: n)
        var d = [Double](repeating: 0, count: n)
        var t = [Double](repeating: 0, count: n)
        var r = [Double](repeating: 0, count: n)
        var alpha = [Double](repeating: 0, count: m)

        while true {
            // Search direction d = z − x.
            if col == 0 {
                // Generalized Cauchy point with B = θI, θ = 1 and no breakpoints: x − g.
                for i in 0..<n { z[i] = x[i] + (-g[i]) }
            } else {
                // q = −g; two-loop recursion for q ← H·q with H₀ = I/θ.
                var q = g.map { -$0 }
                for k in stride(from: col - 1, through: 0, by: -1) {
                    let slot = (head + k) % m
                    let a = dot(sPairs[slot], q) / syPairs[slot]
                    alpha[k] = a
                    axpy(-a, yPairs[slot], &q)
                }
                for i in 0..<n { q[i] /= theta }
                for k in 0..<col {
                    let slot = (head + k) % m
                    let b = dot(yPairs[slot], q) / syPairs[slot]
                    axpy(alpha[k] - b, sPairs[slot], &q)
                }
                for i in 0..<n { z[i] = x[i] + q[i] }
            }
            for i in 0..<n { d[i] = z[i] - x[i] }

            // Line search (lnsrlb + dcsrch).
            let dnorm = dot(d, d).squareRoot()
            let stpmx = 1.0e10
            var stp = iter == 0 ? min(1 / dnorm, stpmx) : 1.0
            t = x; r = g
            let fold = f
            var ifun = 0, iback = 0
            var gd = dot(g, d)
            let gdold = gd
            var failed = gd >= 0
            if !failed {
                var search = MoreThuenteSearch(f: f, g: gd, stp: stp, stpmax: stpmx)
                while true {
                    ifun += 1
                    iback = ifun - 1
                    if iback >= maxls { failed = true; break }
                    if stp == 1 {
                        x = z
                    } else {
                        for i in 0..<n { x[i] = stp * d[i] + t[i] }
                    }
                    f = fg(x, &g)
                    evaluations += 1
                    gd = dot(g, d)
                    if search.next(f: f, g: gd, stp: &stp) != .evaluate { break }
                }
            }
            if failed {
                x = t; g = r; f = fold
                if col == 0 {
                    sbgnrm = infinityNorm(g)
                    return result(.lineSearchFailed, nit)
                }
                col = 0; head = 0; theta = 1
                restarts += 1
                continue
            }
            iter += 1
            sbgnrm = infinityNorm(g)

            // The driver: count the iteration, then the limits.
            nit += 1
            if nit >= maxIterations { return result(.maxIterations, nit) }
            if evaluations > maxEvaluations { return result(.maxFunctionEvaluations, nit) }
            if sbgnrm.isNaN || !f.isFinite { return result(.lineSearchFailed, nit) }

            // Convergence tests.
            if sbgnrm <= pgtol { return result(.gradientTolerance, nit) }
            let ddum = max(abs(fold), abs(f), 1)
            if fold - f <= ftol * ddum { return result(.relativeReduction, nit) }

            // s = stp·d, y = g − g_old, sᵀy from the directional derivatives (matupd's dr).
            for i in 0..<n { r[i] = g[i] - r[i] }
            let rr = dot(r, r)
            let dr: Double, curvatureFloor: Double
            if stp == 1 {
                dr = gd - gdold
                curvatureFloor = -gdold
            } else {
                dr = (gd - gdold) * stp
                for i in 0..<n { d[i] *= stp }
                curvatureFloor = -gdold * stp
            }
            if dr <= Self.eps * curvatureFloor {
                skipped += 1
                continue
            }
            let slot: Int
            if col < m {
                slot = (head + col) % m
                col += 1
            } else {
                slot = head
                head = (head + 1) % m
            }
            sPairs[slot] = d
            yPairs[slot] = r
            syPairs[slot] = dr
            theta = rr / dr
        }
    }
}

@inline(__always)
private func dot(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in 0..<a.count { s += a[i] * b[i] }
    return s
}

@inline(__always)
private func axpy(_ a: Double, _ x: [Double], _ y: inout [Double]) {
    for i in 0..<x.count { y[i] += a * x[i] }
}

private func infinityNorm(_ g: [Double]) -> Double {
    var s = 0.0
    for v in g {
        if v.isNaN { return v }
        s = max(s, abs(v))
    }
    return s
}

/// MINPACK-2's `dcsrch`/`dcstep` (Moré & Thuente 1994) with L-BFGS-B's constants: a step satisfying
/// f(stp) ≤ f(0) + ftol·stp·f′(0) and |f′(stp)| ≤ gtol·|f′(0)|, found by safeguarded cubic/quadratic
/// interpolation inside an interval that brackets it.
struct MoreThuenteSearch {
    enum Status { case evaluate, converged, warning }
    static let ftol = 1e-3, gtol = 0.9, xtol = 0.1, xtrapl = 1.1, xtrapu = 4.0
    let stpmin = 0.0
    let stpmax: Double
    var brackt = false
    var stage = 1
    let finit: Double, ginit: Double, gtest: Double
    var width: Double, width1: Double
    var stx = 0.0, fx: Double, gx: Double
    var sty = 0.0, fy: Double, gy: Double
    var stmin: Double, stmax: Double

    /// The START call: f and g at step 0, `stp` the first trial step.
    init(f: Double, g: Double, stp: Double, stpmax: Double) {
        self.stpmax = stpmax
        finit = f; ginit = g
        gtest = Self.ftol * g
        width = stpmax - stpmin
        width1 = width / 0.5
        fx = f; gx = g; fy = f; gy = g
        stmin = 0
        stmax = stp + Self.xtrapu * stp
    }

    /// Takes f and g at `stp`; either accepts it (converged or warning) or sets `stp` to the next trial.
    mutating func next(f: Double, g: Double, stp: inout Double) -> Status {
        let ftest = finit + stp * gtest
        if stage == 1 && f <= ftest && g >= 0 { stage = 2 }
        var status = Status.evaluate
        if brackt && (stp <= stmin || stp >= stmax) { status = .warning }
        if brackt && stmax - stmin <= Self.xtol * stmax { status = .warning }
        if stp == stpmax && f <= ftest && g <= gtest { status = .warning }
        if stp == stpmin && (f > ftest || g >= gtest) { status = .warning }
        if f <= ftest && abs(g) <= Self.gtol * (-ginit) { status = .converged }
        if status != .evaluate { return status }

        if stage == 1 && f <= fx && f > ftest {
            // Use the modified function ψ(stp) = f − stp·gtest to predict the step.
            let fm = f - stp * gtest
            var fxm = fx - stx * gtest, fym = fy - sty * gtest
            let gm = g - gtest
            var gxm = gx - gtest, gym = gy - gtest
            var x = stx, y = sty, bracketed = brackt
            Self.step(&x, &fxm, &gxm, &y, &fym, &gym, &stp, fm, gm, &bracketed, stmin, stmax)
            stx = x; sty = y; brackt = bracketed
            fx = fxm + stx * gtest
            fy = fym + sty * gtest
            gx = gxm + gtest
            gy = gym + gtest
        } else {
            var x = stx, y = sty, fxv = fx, fyv = fy, gxv = gx, gyv = gy, bracketed = brackt
            Self.step(&x, &fxv, &gxv, &y, &fyv, &gyv, &stp, f, g, &bracketed, stmin, stmax)
            stx = x; sty = y; fx = fxv; fy = fyv; gx = gxv; gy = gyv; brackt = bracketed
        }
        if brackt {
            if abs(sty - stx) >= 0.66 * width1 { stp = stx + 0.5 * (sty - stx) }
            width1 = width
            width = abs(sty - stx)
        }
        if brackt {
            stmin = min(stx, sty)
            stmax = max(stx, sty)
        } else {
            stmin = stp + Self.xtrapl * (stp - stx)
            stmax = stp + Self.xtrapu * (stp - stx)
        }
        stp = max(stp, stpmin)
        stp = min(stp, stpmax)
        if (brackt && (stp <= stmin || stp >= stmax)) || (brackt && stmax - stmin <= Self.xtol * stmax) {
            stp = stx
        }
        return .evaluate
    }

    /// `dcstep`: a safeguarded new trial step and the updated bracketing interval [stx, sty].
    private static func step(
        _ stx: inout Double, _ fx: inout Double, _ dx: inout Double,
        _ sty: inout Double, _ fy: inout Double, _ dy: inout Double,
        _ stp: inout Double, _ fp: Double, _ dp: Double,
        _ brackt: inout Bool, _ stpmin: Double, _ stpmax: Double
    ) {
        let sgnd = dp * (dx / abs(dx))
        var stpf: Double
        if fp > fx {
            // Higher value: minimum bracketed; cubic step if closer to stx, else the cubic–quadratic mean.
            let theta = 3 * (fx - fp) / (stp - stx) + dx + dp
            let s = max(abs(theta), max(abs(dx), abs(dp)))
            var gamma = s * ((theta / s) * (theta / s) - (dx / s) * (dp / s)).squareRoot()
            if stp < stx { gamma = -gamma }
            let p = (gamma - dx) + theta
            let q = ((gamma - dx) + gamma) + dp
            let r = p / q
            let stpc = stx + r * (stp - stx)
            let stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2) * (stp - stx)
            stpf = abs(stpc - stx) < abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2
            brackt = true
        } else if sgnd < 0 {
            // Lower value, derivatives of opposite sign: bracketed; the farther of cubic and secant steps.
            let theta = 3 * (fx - fp) / (stp - stx) + dx + dp
            let s = max(abs(theta), max(abs(dx), abs(dp)))
            var gamma = s * ((theta / s) * (theta / s) - (dx / s) * (dp / s)).squareRoot()
            if stp > stx { gamma = -gamma }
            let p = (gamma - dp) + theta
            let q = ((gamma - dp) + gamma) + dx
            let r = p / q
            let stpc = stp + r * (stx - stp)
            let stpq = stp + (dp / (dp - dx)) * (stx - stp)
            stpf = abs(stpc - stp) > abs(stpq - stp) ? stpc : stpq
            brackt = true
        } else if abs(dp) < abs(dx) {
            // Lower value, same sign, derivative shrinking.
            let theta = 3 * (fx - fp) / (stp - stx) + dx + dp
            let s = max(abs(theta), max(abs(dx), abs(dp)))
            var gamma = s * max(0, (theta / s) * (theta / s) - (dx / s) * (dp / s)).squareRoot()
            if stp > stx { gamma = -gamma }
            let p = (gamma - dp) + theta
            let q = (gamma + (dx - dp)) + gamma
            let r = p / q
            let stpc: Double
            if r < 0 && gamma != 0 {
                stpc = stp + r * (stx - stp)
            } else if stp > stx {
                stpc = stpmax
            } else {
                stpc = stpmin
            }
            let stpq = stp + (dp / (dp - dx)) * (stx - stp)
            if brackt {
                stpf = abs(stpc - stp) < abs(stpq - stp) ? stpc : stpq
                if stp > stx {
                    stpf = min(stp + 0.66 * (sty - stp), stpf)
                } else {
                    stpf = max(stp + 0.66 * (sty - stp), stpf)
                }
            } else {
                stpf = abs(stpc - stp) > abs(stpq - stp) ? stpc : stpq
                stpf = min(stpmax, stpf)
                stpf = max(stpmin, stpf)
            }
        } else {
            // Lower value, same sign, derivative not shrinking.
            if brackt {
                let theta = 3 * (fp - fy) / (sty - stp) + dy + dp
                let s = max(abs(theta), max(abs(dy), abs(dp)))
                var gamma = s * ((theta / s) * (theta / s) - (dy / s) * (dp / s)).squareRoot()
                if stp > sty { gamma = -gamma }
                let p = (gamma - dp) + theta
                let q = ((gamma - dp) + gamma) + dy
                let r = p / q
                stpf = stp + r * (sty - stp)
            } else if stp > stx {
                stpf = stpmax
            } else {
                stpf = stpmin
            }
        }
        // Update the interval that contains a minimizer.
        if fp > fx {
            sty = stp; fy = fp; dy = dp
        } else {
            if sgnd < 0 { sty = stx; fy = fx; dy = dx }
            stx = stp; fx = fp; dx = dp
        }
        stp = stpf
    }
}
