// A general minimiser: L-BFGS-B 3.0 without bounds (the logistic head's solver; any objective that gives
// a value and a gradient in Double).

import Foundation

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
