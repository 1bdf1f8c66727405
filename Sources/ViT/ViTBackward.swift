import Tensor

// The backward pass of each ViT layer, one plain function per layer (llm.c style). Each comment gives the
// forward it inverts with its shapes. Row counts are batch·tokens; D hidden, I MLP width, T tokens,
// H heads, dh = D/H. Every function runs its work over `threads` cores and gives the same bits for the
// same thread count: weight gradients are split by output feature (each core owns whole rows of dW and
// sums over all input rows itself), bias gradients are column sums in row order, and LayerNorm parameter
// gradients are summed over a fixed set of row chunks in chunk order.

/// Contiguous row chunks for a row-parallel loop: as many as threads, at least 16 rows each.
@inline(__always)
func rowParts(_ rows: Int, threads: Int, minimum: Int = 16) -> Int { max(1, min(threads, rows / minimum)) }

/// Linear backward. Forward: y[rows×out] = x[rows×in] · wᵀ + b, w: [out×in].
///
///     dx[rows×in]  = dy · w            (overwritten; skipped when `dx` or `weight` is nil)
///     dw[out×in]  += dyᵀ · x
///     db[out]     += Σ_rows dy         (skipped when `dBias` is nil)
///
/// Cost: 2·rows·in·out FLOPs for each of dx and dw.
func linearBackward(
    dy: UnsafePointer<Float>, x: UnsafePointer<Float>, rows: Int, inFeatures: Int, outFeatures: Int,
    weight: UnsafePointer<Float>?, dx: UnsafeMutablePointer<Float>?,
    dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?, threads: Int
) {
    if let dx, let weight {
        let parts = rowParts(rows, threads: threads)
        parallelFor(parts, threads: threads) { part in
            let r = chunkRange(part, of: parts, total: rows)
            if r.isEmpty { return }
            BLAS.gemm(transA: false, transB: false, m: r.count, n: inFeatures, k: outFeatures,
                      a: dy + r.lowerBound * outFeatures, lda: outFeatures, b: weight, ldb: inFeatures,
                      c: dx + r.lowerBound * inFeatures, ldc: inFeatures)
        }
    }
    let parts = max(1, min(threads, outFeatures / 8))
    parallelFor(parts, threads: threads) { part in
        let o = chunkRange(part, of: parts, total: outFeatures)
        if o.isEmpty { return }
        // dW[o, :] += dY[:, o]ᵀ · X   (dY[:, o] read as a transposed [rows×|o|] block with stride out)
        BLAS.gemm(transA: true, transB: false, m: o.count, n: inFeatures, k: rows,
                  a: dy + o.lowerBound, lda: outFeatures, b: x, ldb: inFeatures,
                  beta: 1, c: dWeight + o.lowerBound * inFeatures, ldc: inFeatures)
        if let dBias { addColumnSums(dy + o.lowerBound, rows: rows, width: o.count, stride: outFeatures, into: dBias + o.lowerBound) }
    }
}

/// acc[width] += Σ_r m[r·stride ..< r·stride + width], rows in order, in blocks of 64 rows summed
/// separately first (keeps the rounding error of long sums near √rows·ε instead of rows·ε).
func addColumnSums(_ m: UnsafePointer<Float>, rows: Int, width: Int, stride: Int, into acc: UnsafeMutablePointer<Float>) {
    let block = UnsafeMutablePointer<Float>.allocate(capacity: width)
    defer { block.deallocate() }
    var r = 0
    while r < rows {
        let end = min(rows, r + 64)
        block.update(from: m + r * stride, count: width)
        for row in (r + 1)..<max(r + 1, end) { addInPlace(block, m + row * stride, count: width) }
        addInPlace(acc, block, count: width)
        r = end
    }
}

/// LayerNorm backward over all rows. Forward: y = (x − mean)·rstd·gamma + beta per row of width D.
///
///     dx[rows×D] += rstd · (g − mean(g) − x̂·mean(g ⊙ x̂)),  g = dy ⊙ gamma
///     dgamma[D]  += Σ_rows dy ⊙ x̂,   dbeta[D] += Σ_rows dy
///
/// Row chunks run in parallel, each with its own dgamma/dbeta partial sums, added in chunk order.
func layerNormBackwardRows(
    dy: UnsafePointer<Float>, x: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
    gamma: UnsafePointer<Float>, rows: Int, width d: Int,
    dx: UnsafeMutablePointer<Float>, dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>, threads: Int
) {
    let parts = rowParts(rows, threads: threads, minimum: 32)
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: parts * 2 * d)
    defer { partial.deallocate() }
    partial.initialize(repeating: 0, count: parts * 2 * d)
    parallelFor(parts, threads: threads) { part in
        let r = chunkRange(part, of: parts, total: rows)
        if r.isEmpty { return }
        layerNormBackward(dy: dy + r.lowerBound * d, x: x + r.lowerBound * d, mean: mean + r.lowerBound,
                          rstd: rstd + r.lowerBound, gamma: gamma, rows: r.count, width: d,
                          dx: dx + r.lowerBound * d, dgamma: partial + part * 2 * d, dbeta: partial + part * 2 * d + d)
    }
    for part in 0..<parts {
        addInPlace(dGamma, partial + part * 2 * d, count: d)
        addInPlace(dBeta, partial + part * 2 * d + d, count: d)
    }
}

/// Multi-head self-attention backward, one (image, head) pair per task. Forward, per pair with
/// Q, K, V: [T×dh] slices of qkv [rows×3D] (row stride 3D) and P: [T×T] the cached probabilities:
///
///     S = scale · Q Kᵀ,  P = softmax_rows(S),  ctx = P V          (ctx: [T×dh] slice of [rows×D])
///
/// Backward, written into dqkv (every element overwritten):
///
///     dP = dctx Vᵀ,  dV = Pᵀ dctx,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = scale·dS K,  dK = scale·dSᵀ Q
///
/// Cost per pair: 4 products of 2·T²·dh FLOPs.
func attentionBackward(
    dContext: UnsafePointer<Float>, qkv: UnsafePointer<Float>, probabilities: UnsafePointer<Float>,
    dqkv: UnsafeMutablePointer<Float>, batch: Int, tokens t: Int, width d: Int, heads: Int, threads: Int
) {
    let dh = d / heads
    let scale = 1 / Float(dh).squareRoot()
    parallelFor(batch * heads, threads: threads) { task in
        let b = task / heads, head = task % heads
        let base = b * t * 3 * d + head * dh
        let q = qkv + base, k = q + d, v = q + 2 * d
        let dq = dqkv + base, dk = dq + d, dv = dq + 2 * d
        let dctx = dContext + b * t * d + head * dh
        let p = probabilities + task * t * t
        let ds = UnsafeMutablePointer<Float>.allocate(capacity: t * t)
        defer { ds.deallocate() }
        BLAS.gemm(transA: false, transB: true, m: t, n: t, k: dh, a: dctx, lda: d, b: v, ldb: 3 * d, c: ds, ldc: t)
        BLAS.gemm(transA: true, transB: false, m: t, n: dh, k: t, a: p, lda: t, b: dctx, ldb: d, c: dv, ldc: 3 * d)
        softmaxBackwardRows(probabilities: p, gradient: ds, rows: t, width: t, stride: t)
        BLAS.gemm(transA: false, transB: false, m: t, n: dh, k: t, alpha: scale, a: ds, lda: t, b: k, ldb: 3 * d,
                  c: dq, ldc: 3 * d)
        BLAS.gemm(transA: true, transB: false, m: t, n: dh, k: t, alpha: scale, a: ds, lda: t, b: q, ldb: 3 * d,
                  c: dk, ldc: 3 * d)
    }
}

/// Patch-embedding backward. Forward: x[b, 0] = cls + pos[0]; x[b, 1+n] = patches[b·N+n] · Wᵀ + bias + pos[1+n],
/// patches: im2col rows [B·N × C·P·P], W: [D × C·P·P].
///
///     dpos[t]  += Σ_b dx[b, t],   dcls += Σ_b dx[b, 0]
///     dW       += dPatchᵀ · patches,  dbias += Σ dPatch,  dPatch[b·N+n] = dx[b, 1+n]
///
/// `scratch` holds at least B·N·D floats. No gradient for the pixels.
func patchEmbeddingBackward(
    dx: UnsafePointer<Float>, patches: UnsafePointer<Float>, batch: Int, tokens t: Int, width d: Int, patchColumns: Int,
    dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>,
    dClassToken: UnsafeMutablePointer<Float>, dPosition: UnsafeMutablePointer<Float>,
    scratch: UnsafeMutablePointer<Float>, threads: Int
) {
    let n = t - 1
    let parts = max(1, min(threads, t))
    parallelFor(parts, threads: threads) { part in
        for token in chunkRange(part, of: parts, total: t) {
            for b in 0..<batch { addInPlace(dPosition + token * d, dx + (b * t + token) * d, count: d) }
        }
    }
    for b in 0..<batch { addInPlace(dClassToken, dx + b * t * d, count: d) }
    for b in 0..<batch { (scratch + b * n * d).update(from: dx + (b * t + 1) * d, count: n * d) }
    linearBackward(dy: scratch, x: patches, rows: batch * n, inFeatures: patchColumns, outFeatures: d,
                   weight: nil, dx: nil, dWeight: dWeight, dBias: dBias, threads: threads)
}
