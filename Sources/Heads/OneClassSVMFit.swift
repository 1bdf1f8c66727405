import Foundation
import Tensor

// One-class SVM fitted as scikit-learn's `OneClassSVM` does through its bundled libsvm: Schölkopf's ν
// formulation solved by SMO with libsvm's second-order working-set selection, shrinking and ρ rule, on
// kernel values cached in float32 exactly as libsvm's Q matrix holds them, with libsvm's update formulas in
// the same order. scikit-learn's libsvm takes its dot products from BLAS (ddot), whose summation order we do
// not reproduce (ours is sequential and independent of the thread count), so kernel values may differ in the
// last bit; on the fixtures this leaves the SMO path unchanged (same iterations, same support vectors) and
// the dual coefficients and ρ equal to ~1e-14.

/// Options of a one-class SVM fit. Defaults are CoDE's head (docs/upstream.md, Heads):
/// `OneClassSVM(nu=0.1, kernel='poly', gamma='auto')` (degree 3, coef0 0, tol 1e-3, shrinking on).
public struct OneClassSVMFitOptions: Sendable, Equatable {
    /// libsvm's kernels.
    public enum KernelType: String, Sendable, Equatable { case linear, poly, rbf, sigmoid }
    /// scikit-learn's `gamma`: 'scale' = 1/(features · Var(X)), 'auto' = 1/features, or a value.
    public enum Gamma: Sendable, Equatable {
        case scale, auto
        case value(Double)
    }

    /// ν ∈ (0, 1]: upper bound on the fraction of outliers, lower bound on the fraction of support vectors.
    public var nu: Double
    /// The kernel (scikit-learn's `kernel`).
    public var kernel: KernelType
    /// The kernel coefficient γ (poly, rbf, sigmoid).
    public var gamma: Gamma
    /// Polynomial degree (poly only).
    public var degree: Int
    /// Independent term (poly, sigmoid).
    public var coef0: Double
    /// libsvm's `eps`: stop when the maximal violating pair's gap is below it.
    public var tolerance: Double
    /// libsvm's shrinking heuristic (scikit-learn's default: on). The solution does not depend on it beyond
    /// the tolerance; it only changes speed.
    public var shrinking: Bool
    /// Kernel-row cache budget in MiB (scikit-learn's `cache_size`, 200).
    public var cacheSizeMB: Double
    /// Optional cap on SMO iterations (scikit-learn's `max_iter`; nil = no limit).
    public var maxIterations: Int?
    /// Threads that compute kernel rows (results do not depend on it).
    public var threads: Int

    /// Options with scikit-learn's `OneClassSVM` defaults, except the kernel: CoDE's poly with γ = 'auto'.
    public init(
        nu: Double = 0.1, kernel: KernelType = .poly, gamma: Gamma = .auto, degree: Int = 3, coef0: Double = 0,
        tolerance: Double = 1e-3, shrinking: Bool = true, cacheSizeMB: Double = 200, maxIterations: Int? = nil,
        threads: Int? = nil
    ) {
        self.nu = nu; self.kernel = kernel; self.gamma = gamma; self.degree = degree; self.coef0 = coef0
        self.tolerance = tolerance; self.shrinking = shrinking; self.cacheSizeMB = cacheSizeMB
        self.maxIterations = maxIterations
        self.threads = max(1, threads ?? ComputeOptions.onlineCores)
    }

    /// CoDE's head.
    public static var code: OneClassSVMFitOptions { OneClassSVMFitOptions() }

    func validate() throws(HeadFitError) {
        guard nu > 0, nu <= 1 else { throw .invalidOption("nu must lie in (0, 1], not \(nu)") }
        guard tolerance > 0, tolerance.isFinite else { throw .invalidOption("tolerance must be positive, not \(tolerance)") }
        guard cacheSizeMB > 0, cacheSizeMB.isFinite else { throw .invalidOption("cacheSizeMB must be positive, not \(cacheSizeMB)") }
        guard coef0.isFinite else { throw .invalidOption("coef0 must be finite") }
        if kernel == .poly { guard degree >= 0 else { throw .invalidOption("degree must be ≥ 0, not \(degree)") } }
        if case let .value(g) = gamma { guard g.isFinite, g >= 0 else { throw .invalidOption("gamma must be ≥ 0 and finite, not \(g)") } }
        if let maxIterations { guard maxIterations >= 1 else { throw .invalidOption("maxIterations must be at least 1") } }
    }
}

/// How a one-class SVM fit ended.
public struct OneClassSVMFitReport: Sendable, Equatable {
    /// SMO iterations (scikit-learn's `n_iter_`).
    public var iterations: Int
    /// Training vectors with αᵢ > 0.
    public var supportVectors: Int
    /// Support vectors at the upper bound αᵢ = 1.
    public var boundedSupportVectors: Int
    /// libsvm's ρ (the head's intercept is −ρ).
    public var rho: Double
    /// The dual objective ½αᵀQα at the solution.
    public var objective: Double
    /// The γ the kernel used (after resolving 'scale'/'auto').
    public var gamma: Double
    /// true when `maxIterations` stopped SMO before the tolerance was met (scikit-learn warns).
    public var reachedMaxIterations: Bool
    /// Kernel rows (or row tails) computed, a measure of cache pressure.
    public var kernelRowsComputed: Int
}

extension OneClassSVMHead {
    /// Fits a one-class SVM on `vectors` (row-major [count, features]; CoDE passes the real embeddings) as
    /// scikit-learn's `OneClassSVM.fit` does. Support vectors keep the training order.
    public static func fit(
        vectors: [Float], features: Int, options: OneClassSVMFitOptions = .code
    ) throws(HeadFitError) -> (head: OneClassSVMHead, report: OneClassSVMFitReport) {
        try options.validate()
        guard features > 0 else { throw .invalidShape("features is \(features); it must be at least 1") }
        guard !vectors.isEmpty else { throw .emptyTrainingSet }
        guard vectors.count % features == 0 else {
            throw .invalidShape("\(vectors.count) floats are not a whole number of \(features)-feature vectors")
        }
        if let bad = vectors.firstIndex(where: { !$0.isFinite }) {
            throw .nonFiniteValue(row: bad / features, feature: bad % features)
        }
        let l = vectors.count / features
        let x = vectors.map(Double.init)
        let gamma: Double
        switch options.gamma {
        case .auto: gamma = 1 / Double(features)
        case let .value(g): gamma = g
        case .scale:
            let total = Double(x.count)
            let mean = pairwiseSum(x) / total
            let variance = pairwiseSum(x.map { ($0 - mean) * ($0 - mean) }) / total
            gamma = variance != 0 ? 1 / (Double(features) * variance) : 1
        }
        let kernel: OneClassSVMHead.Kernel
        switch options.kernel {
        case .linear: kernel = .linear
        case .poly: kernel = .poly(gamma: gamma, coef0: options.coef0, degree: options.degree)
        case .rbf: kernel = .rbf(gamma: gamma)
        case .sigmoid: kernel = .sigmoid(gamma: gamma, coef0: options.coef0)
        }
        let matrix = OneClassKernelMatrix(x: x, count: l, features: features, kernel: kernel,
                                          cacheSizeMB: options.cacheSizeMB, threads: options.threads)
        var solver = OneClassSMO(q: matrix, nu: options.nu, eps: options.tolerance, shrinking: options.shrinking,
                                 maxIterations: options.maxIterations ?? -1)
        let solution = solver.solve()

        var supportVectors: [Double] = []
        var dual: [Double] = []
        var bounded = 0
        for i in 0..<l where abs(solution.alpha[i]) > 0 {
            supportVectors.append(contentsOf: x[(i * features)..<((i + 1) * features)])
            dual.append(solution.alpha[i])
            if abs(solution.alpha[i]) >= 1 { bounded += 1 }
        }
        let head = OneClassSVMHead(supportVectors: supportVectors, features: features, dualCoefficients: dual,
                                   intercept: -solution.rho, kernel: kernel)
        let report = OneClassSVMFitReport(
            iterations: solution.iterations, supportVectors: dual.count, boundedSupportVectors: bounded,
            rho: solution.rho, objective: solution.objective, gamma: gamma, reachedMaxIterations: solution.timedOut,
            kernelRowsComputed: matrix.rowsComputed)
        return (head, report)
    }

    /// Fits on the real (class 0) embeddings of `set`, as CoDE does (`svm.fit(X[Y == 0])`).
    public static func fit(
        _ set: HeadTrainingSet, options: OneClassSVMFitOptions = .code
    ) throws(HeadFitError) -> (head: OneClassSVMHead, report: OneClassSVMFitReport) {
        guard set.realCount > 0 else { throw .invalidShape("the training set holds no real vectors to fit the one-class SVM on") }
        return try fit(vectors: set.realEmbeddings, features: set.features, options: options)
    }
}

// MARK: - Kernel matrix with a row cache

/// libsvm's `ONE_CLASS_Q`: kernel rows Q[i][0..<len) in float32, by *position* (the solver permutes positions
/// when it shrinks), cached under an LRU budget; the diagonal in Double.
final class OneClassKernelMatrix {
    let l: Int
    let d: Int
    let x: [Double]
    let kernel: OneClassSVMHead.Kernel
    let threads: Int
    /// position → original row
    private(set) var order: [Int]
    /// per original row: ⟨x, x⟩ (rbf only)
    let squares: [Double]
    /// per position: K(i, i)
    private(set) var diagonal: [Double]
    private var rows: [UnsafeMutablePointer<Float>?]
    private var lengths: [Int]
    // LRU list over positions; index l is the sentinel.
    private var prev: [Int]
    private var next: [Int]
    private var budget: Int
    private(set) var rowsComputed = 0

    init(x: [Double], count: Int, features: Int, kernel: OneClassSVMHead.Kernel, cacheSizeMB: Double, threads: Int) {
        l = count; d = features; self.x = x; self.kernel = kernel; self.threads = threads
        order = Array(0..<count)
        if case .rbf = kernel {
            squares = (0..<count).map { i in
                var s = 0.0
                for k in 0..<features { s += x[i * features + k] * x[i * features + k] }
                return s
            }
        } else {
            squares = []
        }
        rows = [UnsafeMutablePointer<Float>?](repeating: nil, count: count)
        lengths = [Int](repeating: 0, count: count)
        prev = [Int](repeating: count, count: count + 1)
        next = [Int](repeating: count, count: count + 1)
        // libsvm: bytes → floats, less the per-row headers, at least two full rows
        let floats = Int(cacheSizeMB * 1_048_576) / 4 - count * 32 / 4
        budget = max(floats, 2 * count)
        diagonal = []
        diagonal = (0..<count).map { value($0, $0) }
    }

    deinit {
        for r in rows { r?.deallocate() }
    }

    /// K between the rows at positions i and j, in Double as libsvm's `kernel_function(i, j)`.
    @inline(__always)
    func value(_ i: Int, _ j: Int) -> Double {
        let a = order[i] * d, b = order[j] * d
        return x.withUnsafeBufferPointer { p in kernelValue(p.baseAddress! + a, p.baseAddress! + b, order[i], order[j]) }
    }

    @inline(__always)
    private func kernelValue(_ xi: UnsafePointer<Double>, _ xj: UnsafePointer<Double>, _ oi: Int, _ oj: Int) -> Double {
        var s = 0.0
        for k in 0..<d { s += xi[k] * xj[k] }
        return finish(s, oi, oj)
    }

    @inline(__always)
    private func finish(_ dot: Double, _ oi: Int, _ oj: Int) -> Double {
        switch kernel {
        case .linear: return dot
        case let .poly(gamma, coef0, degree): return libsvmPowi(gamma * dot + coef0, degree)
        case let .rbf(gamma): return exp(-gamma * (squares[oi] + squares[oj] - 2 * dot))
        case let .sigmoid(gamma, coef0): return tanh(gamma * dot + coef0)
        }
    }

    /// Q[i][0..<len): cached entries are reused, missing ones computed (in parallel over columns).
    func row(_ i: Int, _ len: Int) -> UnsafePointer<Float> {
        if lengths[i] > 0 { unlink(i) }
        let have = lengths[i]
        if len > have {
            let more = len - have
            while budget < more {
                let old = next[l]
                precondition(old != l, "kernel cache: budget too small")
                unlink(old)
                rows[old]?.deallocate()
                rows[old] = nil
                budget += lengths[old]
                lengths[old] = 0
            }
            let fresh = UnsafeMutablePointer<Float>.allocate(capacity: len)
            if have > 0, let old = rows[i] {
                fresh.update(from: old, count: have)
                old.deallocate()
            }
            rows[i] = fresh
            budget -= more
            lengths[i] = len
            fill(i, fresh, have, len)
            rowsComputed += 1
        }
        link(i)
        return UnsafePointer(rows[i]!)
    }

    private func fill(_ i: Int, _ out: UnsafeMutablePointer<Float>, _ start: Int, _ end: Int) {
        let count = end - start
        let parts = max(1, min(threads, count * d / 65_536))
        let oi = order[i]
        x.withUnsafeBufferPointer { xp in
            order.withUnsafeBufferPointer { op in
                let base = xp.baseAddress!, ord = op.baseAddress!
                let xi = base + oi * d
                parallelFor(parts, threads: threads) { part in
                    let r = chunkRange(part, of: parts, total: count)
                    var j = start + r.lowerBound
                    let stop = start + r.upperBound
                    // four columns at a time: four independent sums, each in libsvm's sequential order
                    while j + 4 <= stop {
                        let o0 = ord[j], o1 = ord[j + 1], o2 = ord[j + 2], o3 = ord[j + 3]
                        let x0 = base + o0 * d, x1 = base + o1 * d, x2 = base + o2 * d, x3 = base + o3 * d
                        var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
                        for k in 0..<d {
                            let v = xi[k]
                            s0 += v * x0[k]; s1 += v * x1[k]; s2 += v * x2[k]; s3 += v * x3[k]
                        }
                        out[j] = Float(finish(s0, oi, o0))
                        out[j + 1] = Float(finish(s1, oi, o1))
                        out[j + 2] = Float(finish(s2, oi, o2))
                        out[j + 3] = Float(finish(s3, oi, o3))
                        j += 4
                    }
                    while j < stop {
                        let oj = ord[j]
                        out[j] = Float(kernelValue(xi, base + oj * d, oi, oj))
                        j += 1
                    }
                }
            }
        }
    }

    /// libsvm's `swap_index`: exchanges positions i and j in the data, the diagonal and every cached row
    /// (a cached row that covers i but not j is dropped).
    func swap(_ i: Int, _ j: Int) {
        if i == j { return }
        if lengths[i] > 0 { unlink(i) }
        if lengths[j] > 0 { unlink(j) }
        rows.swapAt(i, j)
        lengths.swapAt(i, j)
        if lengths[i] > 0 { link(i) }
        if lengths[j] > 0 { link(j) }
        order.swapAt(i, j)
        diagonal.swapAt(i, j)
        let lo = min(i, j), hi = max(i, j)
        var h = next[l]
        while h != l {
            let following = next[h]
            if lengths[h] > lo {
                if lengths[h] > hi {
                    let r = rows[h]!
                    let t = r[lo]; r[lo] = r[hi]; r[hi] = t
                } else {
                    unlink(h)
                    rows[h]?.deallocate()
                    rows[h] = nil
                    budget += lengths[h]
                    lengths[h] = 0
                }
            }
            h = following
        }
    }

    private func unlink(_ h: Int) {
        next[prev[h]] = next[h]
        prev[next[h]] = prev[h]
    }

    private func link(_ h: Int) {
        next[h] = l
        prev[h] = prev[l]
        next[prev[h]] = h
        prev[l] = h
    }
}

/// libsvm's `powi`: base^times by repeated squaring.
@inline(__always)
func libsvmPowi(_ base: Double, _ times: Int) -> Double {
    var tmp = base, ret = 1.0
    var t = times
    while t > 0 {
        if t % 2 == 1 { ret *= tmp }
        tmp = tmp * tmp
        t /= 2
    }
    return ret
}

// MARK: - SMO

/// libsvm's `Solver` for the one-class dual: min ½αᵀQα subject to 0 ≤ αᵢ ≤ 1, Σαᵢ = ν·l (all yᵢ = +1,
/// p = 0), started from `solve_one_class`'s point (α = 1 for the first ⌊ν·l⌋ rows, the remainder on the
/// next). Working set: WSS3 (Fan, Chen & Lin 2005) with τ = 1e-12; stop when max violation < eps;
/// shrinking every min(l, 1000) iterations, with one unshrink when the gap falls below 10·eps.
struct OneClassSMO {
    let q: OneClassKernelMatrix
    let l: Int
    let eps: Double
    let shrinking: Bool
    let maxIterations: Int
    var alpha: [Double]
    var status: [UInt8]        // 0 lower, 1 upper, 2 free
    var gradient: [Double]
    var gradientBar: [Double]
    var active: [Int]
    var activeSize: Int
    var unshrink = false
    static let tau = 1e-12
    static let lower: UInt8 = 0, upper: UInt8 = 1, free: UInt8 = 2
    let c = 1.0

    struct Solution {
        var alpha: [Double]
        var rho: Double
        var objective: Double
        var iterations: Int
        var timedOut: Bool
    }

    init(q: OneClassKernelMatrix, nu: Double, eps: Double, shrinking: Bool, maxIterations: Int) {
        self.q = q; l = q.l; self.eps = eps; self.shrinking = shrinking; self.maxIterations = maxIterations
        var a = [Double](repeating: 0, count: l)
        var nuL = 0.0
        for _ in 0..<l { nuL += 1.0 * nu }
        var i = 0
        while nuL > 0 && i < l {
            a[i] = min(1.0, nuL)
            nuL -= a[i]
            i += 1
        }
        alpha = a
        status = [UInt8](repeating: 0, count: l)
        gradient = [Double](repeating: 0, count: l)
        gradientBar = [Double](repeating: 0, count: l)
        active = Array(0..<l)
        activeSize = l
        for k in 0..<l { updateStatus(k) }
    }

    @inline(__always) mutating func updateStatus(_ i: Int) {
        if alpha[i] >= c { status[i] = Self.upper } else if alpha[i] <= 0 { status[i] = Self.lower } else { status[i] = Self.free }
    }

    mutating func solve() -> Solution {
        // initial gradient G = Qα (p = 0), and Ḡ = C·Σ_{upper} Q_i
        for i in 0..<l where status[i] != Self.lower {
            let qi = q.row(i, l)
            let ai = alpha[i]
            for j in 0..<l { gradient[j] += ai * Double(qi[j]) }
            if status[i] == Self.upper {
                for j in 0..<l { gradientBar[j] += c * Double(qi[j]) }
            }
        }

        var iter = 0
        var counter = min(l, 1000) + 1
        var timedOut = false
        while true {
            if maxIterations != -1 && iter >= maxIterations {
                timedOut = true
                break
            }
            counter -= 1
            if counter == 0 {
                counter = min(l, 1000)
                if shrinking { shrink() }
            }
            var pair = selectWorkingSet()
            if pair == nil {
                // optimal on the active set: rebuild the full gradient and check all variables
                reconstructGradient()
                activeSize = l
                pair = selectWorkingSet()
                if pair == nil { break }
                counter = 1  // shrink again at the next iteration
            }
            iter += 1
            step(pair!.0, pair!.1)
        }

        let rho = calculateRho()
        var v = 0.0
        for i in 0..<l { v += alpha[i] * (gradient[i] + 0) }
        var out = [Double](repeating: 0, count: l)
        for i in 0..<l { out[active[i]] = alpha[i] }
        return Solution(alpha: out, rho: rho, objective: v / 2, iterations: iter, timedOut: timedOut)
    }

    /// One SMO update of the pair (i, j) (both yᵢ = yⱼ = +1), then G and Ḡ.
    private mutating func step(_ i: Int, _ j: Int) {
        let qi = q.row(i, activeSize)
        let qj = q.row(j, activeSize)
        let oldI = alpha[i], oldJ = alpha[j]
        var quad = q.diagonal[i] + q.diagonal[j] - Double(2 * qi[j])
        if quad <= 0 { quad = Self.tau }
        let delta = (gradient[i] - gradient[j]) / quad
        let sum = alpha[i] + alpha[j]
        alpha[i] -= delta
        alpha[j] += delta
        if sum > c {
            if alpha[i] > c { alpha[i] = c; alpha[j] = sum - c }
        } else {
            if alpha[j] < 0 { alpha[j] = 0; alpha[i] = sum }
        }
        if sum > c {
            if alpha[j] > c { alpha[j] = c; alpha[i] = sum - c }
        } else {
            if alpha[i] < 0 { alpha[i] = 0; alpha[j] = sum }
        }
        let dI = alpha[i] - oldI, dJ = alpha[j] - oldJ
        gradient.withUnsafeMutableBufferPointer { g in
            for k in 0..<activeSize { g[k] += Double(qi[k]) * dI + Double(qj[k]) * dJ }
        }
        let wasUpperI = status[i] == Self.upper, wasUpperJ = status[j] == Self.upper
        updateStatus(i)
        updateStatus(j)
        if wasUpperI != (status[i] == Self.upper) {
            let row = q.row(i, l)
            updateBar(row, wasUpperI ? -c : c)
        }
        if wasUpperJ != (status[j] == Self.upper) {
            let row = q.row(j, l)
            updateBar(row, wasUpperJ ? -c : c)
        }
    }

    private mutating func updateBar(_ row: UnsafePointer<Float>, _ signedC: Double) {
        gradientBar.withUnsafeMutableBufferPointer { b in
            if signedC < 0 {
                for k in 0..<l { b[k] -= c * Double(row[k]) }
            } else {
                for k in 0..<l { b[k] += c * Double(row[k]) }
            }
        }
    }

    /// WSS3: i maximises −G over I_up, j minimises the second-order objective decrease; nil when the
    /// maximal violation is below eps (optimal on the active set).
    private func selectWorkingSet() -> (Int, Int)? {
        var gmax = -Double.infinity, gmax2 = -Double.infinity
        var gmaxIndex = -1, gminIndex = -1
        var objDiffMin = Double.infinity
        for t in 0..<activeSize where status[t] != Self.upper {
            if -gradient[t] >= gmax { gmax = -gradient[t]; gmaxIndex = t }
        }
        let i = gmaxIndex
        let qi: UnsafePointer<Float>? = i != -1 ? q.row(i, activeSize) : nil
        let qdi = i != -1 ? q.diagonal[i] : 0
        for j in 0..<activeSize where status[j] != Self.lower {
            let gj = gradient[j]
            let gradDiff = gmax + gj
            if gj >= gmax2 { gmax2 = gj }
            if gradDiff > 0 {
                let quad = qdi + q.diagonal[j] - 2.0 * Double(qi![j])
                let objDiff = quad > 0 ? -(gradDiff * gradDiff) / quad : -(gradDiff * gradDiff) / Self.tau
                if objDiff <= objDiffMin { gminIndex = j; objDiffMin = objDiff }
            }
        }
        if gmax + gmax2 < eps || gminIndex == -1 { return nil }
        return (gmaxIndex, gminIndex)
    }

    private func beShrunk(_ i: Int, _ gmax1: Double, _ gmax2: Double) -> Bool {
        switch status[i] {
        case Self.upper: return -gradient[i] > gmax1
        case Self.lower: return gradient[i] > gmax2
        default: return false
        }
    }

    private mutating func shrink() {
        var gmax1 = -Double.infinity, gmax2 = -Double.infinity
        for i in 0..<activeSize {
            if status[i] != Self.upper, -gradient[i] >= gmax1 { gmax1 = -gradient[i] }
            if status[i] != Self.lower, gradient[i] >= gmax2 { gmax2 = gradient[i] }
        }
        if !unshrink && gmax1 + gmax2 <= eps * 10 {
            unshrink = true
            reconstructGradient()
            activeSize = l
        }
        var i = 0
        while i < activeSize {
            if beShrunk(i, gmax1, gmax2) {
                activeSize -= 1
                while activeSize > i {
                    if !beShrunk(activeSize, gmax1, gmax2) {
                        swapIndex(i, activeSize)
                        break
                    }
                    activeSize -= 1
                }
            }
            i += 1
        }
    }

    private mutating func swapIndex(_ i: Int, _ j: Int) {
        q.swap(i, j)
        gradient.swapAt(i, j)
        status.swapAt(i, j)
        alpha.swapAt(i, j)
        active.swapAt(i, j)
        gradientBar.swapAt(i, j)
    }

    /// Rebuilds G for the shrunk positions from Ḡ and the free variables.
    private mutating func reconstructGradient() {
        if activeSize == l { return }
        for j in activeSize..<l { gradient[j] = gradientBar[j] + 0 }
        var freeCount = 0
        for j in 0..<activeSize where status[j] == Self.free { freeCount += 1 }
        if freeCount * l > 2 * activeSize * (l - activeSize) {
            for i in activeSize..<l {
                let qi = q.row(i, activeSize)
                for j in 0..<activeSize where status[j] == Self.free { gradient[i] += alpha[j] * Double(qi[j]) }
            }
        } else {
            for i in 0..<activeSize where status[i] == Self.free {
                let qi = q.row(i, l)
                let ai = alpha[i]
                for j in activeSize..<l { gradient[j] += ai * Double(qi[j]) }
            }
        }
    }

    /// ρ: the mean gradient over free variables, else the midpoint of the feasible interval.
    private func calculateRho() -> Double {
        var freeCount = 0
        var ub = Double.infinity, lb = -Double.infinity, sumFree = 0.0
        for i in 0..<activeSize {
            let yG = gradient[i]
            if status[i] == Self.upper {
                lb = lb > yG ? lb : yG
            } else if status[i] == Self.lower {
                ub = ub < yG ? ub : yG
            } else {
                freeCount += 1
                sumFree += yG
            }
        }
        return freeCount > 0 ? sumFree / Double(freeCount) : (ub + lb) / 2
    }
}
