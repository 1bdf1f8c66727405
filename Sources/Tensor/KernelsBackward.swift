import CKernels
// Kernels for training: the LayerNorm forward that records its statistics, and the backward rules of
// LayerNorm, softmax and the activations. Same conventions as Kernels.swift (SIMD8 lanes, scalar tails).

// MARK: LayerNorm with statistics

/// LayerNorm that also records each row's mean and reciprocal standard deviation 1/√(var + eps).
/// Its output is bit-identical to `layerNorm`: both run the same kernel.
///
/// x, out: [rows, width] (may alias); mean, rstd: [rows].
@inlinable
public func layerNormRecordingStatistics(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, width: Int,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
    mean meanOut: UnsafeMutablePointer<Float>, rstd rstdOut: UnsafeMutablePointer<Float>
) {
    dfk_layer_norm(x, out, rows, width, gamma, beta, eps, meanOut, rstdOut)
}

/// Recomputes a LayerNorm output from its input and recorded statistics, with `layerNorm`'s arithmetic:
/// out = (x − mean)·rstd·gamma + beta. x, out: [rows, width]; mean, rstd: [rows].
@inlinable
public func layerNormFromStatistics(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, width: Int,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
    mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>
) {
    dfk_layer_norm_from_statistics(x, out, rows, width, gamma, beta, mean, rstd)
}

/// LayerNorm backward for `rows` rows of `width`, with x̂ = (x − mean)·rstd and g = dy ⊙ gamma:
///
///     dx      += rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂))
///     dgamma  += Σ_rows dy ⊙ x̂
///     dbeta   += Σ_rows dy
///
/// x, dy, dx: [rows, width]; mean, rstd: [rows]; gamma, dgamma, dbeta: [width]. Every output accumulates.
@inlinable
public func layerNormBackward(
    dy: UnsafePointer<Float>, x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
    gamma: UnsafePointer<Float>, rows: Int, width: Int,
    dx: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>, dbeta: UnsafeMutablePointer<Float>
) {
    for r in 0..<rows {
        let xr = x + r * width, gr = dy + r * width, dxr = dx + r * width
        let m = mean[r], inv = rstd[r]
        // pass 1: the two row means, and the parameter gradients
        var sumG = Vec8(repeating: 0), sumGX = Vec8(repeating: 0)
        var i = 0
        while i + 8 <= width {
            let xhat = (load8(xr + i) - m) * inv
            let d = load8(gr + i)
            let g = d * load8(gamma + i)
            sumG += g; sumGX += g * xhat
            store8(load8(dgamma + i) + d * xhat, dgamma + i)
            store8(load8(dbeta + i) + d, dbeta + i)
            i += 8
        }
        var sg = sumG.sum(), sgx = sumGX.sum()
        while i < width {
            let xhat = (xr[i] - m) * inv
            let g = gr[i] * gamma[i]
            sg += g; sgx += g * xhat
            dgamma[i] += gr[i] * xhat
            dbeta[i] += gr[i]
            i += 1
        }
        let meanG = sg / Float(width), meanGX = sgx / Float(width)
        // pass 2: the input gradient
        i = 0
        while i + 8 <= width {
            let xhat = (load8(xr + i) - m) * inv
            let g = load8(gr + i) * load8(gamma + i)
            store8(load8(dxr + i) + inv * (g - meanG - xhat * meanGX), dxr + i)
            i += 8
        }
        while i < width {
            let xhat = (xr[i] - m) * inv
            dxr[i] += inv * (gr[i] * gamma[i] - meanG - xhat * meanGX)
            i += 1
        }
    }
}

// MARK: softmax backward

/// Softmax backward for rows of probabilities p (y = softmax(s)): ds = p ⊙ (dp − Σ_j p_j·dp_j),
/// written over dp in place. p, dp: `rows` rows of `width`, row stride `stride`.
@inlinable
public func softmaxBackwardRows(probabilities p: UnsafePointer<Float>, gradient dp: UnsafeMutablePointer<Float>,
                                rows: Int, width: Int, stride: Int) {
    for r in 0..<rows {
        let pr = p + r * stride, gr = dp + r * stride
        var acc = Vec8(repeating: 0)
        var i = 0
        while i + 8 <= width { acc += load8(pr + i) * load8(gr + i); i += 8 }
        var dot = acc.sum()
        while i < width { dot += pr[i] * gr[i]; i += 1 }
        i = 0
        while i + 8 <= width { store8(load8(pr + i) * (load8(gr + i) - dot), gr + i); i += 8 }
        while i < width { gr[i] = pr[i] * (gr[i] - dot); i += 1 }
    }
}

// MARK: activation derivatives

extension Activation {
    /// Multiplies `gradient` by the activation's derivative at `input` (the pre-activation values):
    /// gradient[i] ← gradient[i] · act′(input[i]), for `count` elements.
    @inlinable
    public func backward(input: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>, count: Int) {
        if self == .gelu { dfk_gelu_backward(input, gradient, count); return }
        var i = 0
        while i + 8 <= count {
            store8(load8(gradient + i) * derivative8(load8(input + i)), gradient + i)
            i += 8
        }
        if i < count {
            var tail = Vec8(repeating: 0)
            for j in 0..<(count - i) { tail[j] = input[i + j] }
            let d = derivative8(tail)
            for j in 0..<(count - i) { gradient[i + j] *= d[j] }
        }
    }

    /// Writes act(input) to `output` without touching `input` (count elements).
    @inlinable
    public func apply(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, count: Int) {
        if self == .gelu { dfk_gelu_into(input, output, count); return }
        output.update(from: input, count: count)
        apply(output, count: count)
    }

    /// The derivative on 8 lanes:
    /// - gelu: Φ(x) + x·φ(x), Φ(x) = ½(1 + erf(x/√2)), φ(x) = e^{−x²/2}/√(2π);
    /// - geluTanh: ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715·x²), u = √(2/π)(x + 0.044715x³);
    /// - relu: 1 where x > 0, else 0 (PyTorch's choice at 0);
    /// - quickGelu: σ(1.702x) + 1.702·x·σ(1.702x)(1 − σ(1.702x)).
    @inlinable @inline(__always)
    public func derivative8(_ x: Vec8) -> Vec8 {
        switch self {
        case .gelu:
            let cdf = 0.5 * (1 + erf8(x * 0.707_106_781_186_547_5))
            let pdf = exp8(-0.5 * x * x) * 0.398_942_280_401_432_7
            return cdf + x * pdf
        case .geluTanh:
            let k: Float = 0.797_884_560_802_865_4
            let u = k * (x + 0.044_715 * x * x * x)
            // with E = e^{2u}: 1 + tanh u = 2E/(E + 1) and 1 − tanh²u = 4E/(E + 1)², free of the cancellation
            // 1 − tanh² suffers where |tanh u| ≈ 1 (E → ∞ gives 0, not inf/inf, as E/(E + 1) is formed first)
            let e = exp8(2 * u)
            let ratio: Vec8 = e / (e + 1)
            let sech2: Vec8 = 4 * ratio / (e + 1)
            let slope: Vec8 = k * (1 + 0.134_145 * x * x)
            let half: Vec8 = 0.5 * x * sech2
            return ratio + half * slope
        case .relu:
            return Vec8(repeating: 1).replacing(with: 0, where: x .<= 0)
        case .quickGelu:
            let s = 1 / (1 + exp8(-1.702 * x))
            return s + 1.702 * x * s * (1 - s)
        }
    }
}
