// The line search L-BFGS-B uses: Moré–Thuente with L-BFGS-B's constants.

import Foundation

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
