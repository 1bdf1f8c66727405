import Checkpoints
import Tensor

/// A ViT encoder (pre-norm blocks, class token, learned position embedding, final LayerNorm),
/// numerically equivalent to transformers' `ViTModel` without pooler and to timm's `VisionTransformer`
/// with `num_classes=0`.
public struct VisionTransformer: Sendable {
    public let config: ViTConfig
    public let weights: ViTWeights

    public init(config: ViTConfig, weights: ViTWeights) {
        self.config = config
        self.weights = weights
        BLAS.configure()
    }

    /// Loads a Hugging Face model folder: `config.json` and `model.safetensors`.
    public init(folder: String) throws(CheckpointError) {
        let config = try ViTConfig(contentsOf: folder + "/config.json")
        let file = try SafeTensorsFile(path: folder + "/model.safetensors")
        self.init(config: config, weights: try ViTWeights(file: file, config: config))
    }

    /// Floats in one input image: channels × image size².
    public var inputCount: Int { config.channels * config.imageSize * config.imageSize }

    /// All tokens after the final LayerNorm: [batch, tokens, hidden] (transformers' `last_hidden_state`).
    /// `pixels` holds `batch` normalized CHW images.
    public func lastHiddenState(pixels: UnsafeBufferPointer<Float>, batch: Int, options: ComputeOptions = .init()) -> Tensor {
        precondition(pixels.count == batch * inputCount, "expected \(batch * inputCount) input floats, got \(pixels.count)")
        var x = encode(pixels: pixels.baseAddress!, batch: batch, threads: options.threads)
        let rows = batch * config.tokens, d = config.hiddenSize
        x.withUnsafeMutableBufferPointer { xb in
            let xp = xb.baseAddress!
            finalNorm(xp, rowIndices: 0..<rows, threads: options.threads)
        }
        return Tensor(shape: [batch, config.tokens, d], data: x)
    }

    /// The CoDE embedding: the class token after the final LayerNorm, [batch, hidden].
    public func embed(pixels: UnsafeBufferPointer<Float>, batch: Int, options: ComputeOptions = .init()) -> Tensor {
        precondition(pixels.count == batch * inputCount, "expected \(batch * inputCount) input floats, got \(pixels.count)")
        let x = encode(pixels: pixels.baseAddress!, batch: batch, threads: options.threads)
        let d = config.hiddenSize, t = config.tokens
        var out = [Float](repeating: 0, count: batch * d)
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                for b in 0..<batch {
                    layerNorm(xb.baseAddress! + b * t * d, ob.baseAddress! + b * d, rows: 1, width: d,
                              gamma: weights.normWeight, beta: weights.normBias, eps: config.layerNormEps)
                }
            }
        }
        return Tensor(shape: [batch, d], data: out)
    }

    private func finalNorm(_ x: UnsafeMutablePointer<Float>, rowIndices: Range<Int>, threads: Int) {
        let d = config.hiddenSize
        let parts = max(1, min(threads, rowIndices.count / 32))
        parallelFor(parts, threads: threads) { part in
            let r = chunkRange(part, of: parts, total: rowIndices.count)
            layerNorm(x + (rowIndices.lowerBound + r.lowerBound) * d, x + (rowIndices.lowerBound + r.lowerBound) * d,
                      rows: r.count, width: d, gamma: weights.normWeight, beta: weights.normBias, eps: config.layerNormEps)
        }
    }

    /// Patch embedding and every block; returns the residual stream [batch·tokens, hidden] before the final norm.
    private func encode(pixels: UnsafePointer<Float>, batch: Int, threads: Int) -> [Float] {
        let c = config
        let d = c.hiddenSize, t = c.tokens, rows = batch * t
        var x = [Float](repeating: 0, count: rows * d)
        var h = [Float](repeating: 0, count: rows * d)
        var qkv = [Float](repeating: 0, count: rows * 3 * d)
        var mlp = [Float](repeating: 0, count: rows * c.intermediateSize)
        x.withUnsafeMutableBufferPointer { xb in
        h.withUnsafeMutableBufferPointer { hb in
        qkv.withUnsafeMutableBufferPointer { qb in
        mlp.withUnsafeMutableBufferPointer { mb in
            let xp = xb.baseAddress!, hp = hb.baseAddress!, qp = qb.baseAddress!, mp = mb.baseAddress!
            embedPatches(pixels: pixels, batch: batch, into: xp, threads: threads)
            for block in weights.blocks {
                attentionBlock(block, x: xp, h: hp, qkv: qp, batch: batch, threads: threads)
                mlpBlock(block, x: xp, h: hp, hidden: mp, rows: rows, threads: threads)
            }
        }}}}
        return x
    }

    /// x[b, 0] = cls + pos[0]; x[b, 1+n] = conv(patch n) + pos[1+n]. The convolution is a product of
    /// im2col rows [batch·N, C·P·P] with the flattened kernel [D, C·P·P].
    private func embedPatches(pixels: UnsafePointer<Float>, batch: Int, into x: UnsafeMutablePointer<Float>, threads: Int) {
        let c = config
        let p = c.patchSize, n = c.grid * c.grid, d = c.hiddenSize
        let cols = c.channels * p * p
        var im2col = [Float](repeating: 0, count: batch * n * cols)
        var projected = [Float](repeating: 0, count: batch * n * d)
        im2col.withUnsafeMutableBufferPointer { colb in
            projected.withUnsafeMutableBufferPointer { pb in
                embedPatches(pixels: pixels, batch: batch, patches: colb.baseAddress!, scratch: pb.baseAddress!, into: x, threads: threads)
            }
        }
    }

    /// The patch embedding into caller buffers (the training forward keeps `patches` for the backward):
    /// im2col rows `patches` [batch·N, C·P·P], their projection `scratch` [batch·N, D], then `x` [batch·T, D]
    /// with the class token prepended and the position embedding added.
    func embedPatches(pixels: UnsafePointer<Float>, batch: Int, patches colp: UnsafeMutablePointer<Float>,
                      scratch: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>, threads: Int) {
        let c = config
        let p = c.patchSize, g = c.grid, n = g * g, s = c.imageSize, d = c.hiddenSize
        let cols = c.channels * p * p
        parallelFor(batch, threads: threads) { b in
            for py in 0..<g { for px in 0..<g {
                let row = colp + ((b * n) + py * g + px) * cols
                for ch in 0..<c.channels { for ky in 0..<p {
                    let src = pixels + ((b * c.channels + ch) * s + py * p + ky) * s + px * p
                    (row + (ch * p + ky) * p).update(from: src, count: p)
                }}
            }}
        }
        linearForward(x: colp, rows: batch * n, inFeatures: cols, weight: weights.patchWeight,
                      bias: weights.patchBias, outFeatures: d, y: scratch, threads: threads)
        addPositions(scratch, batch: batch, into: x)
    }

    /// Prepends the class token to the projected patches and adds the position embedding.
    private func addPositions(_ scratch: UnsafePointer<Float>, batch: Int, into x: UnsafeMutablePointer<Float>) {
        let d = config.hiddenSize, t = config.tokens, n = t - 1
        weights.positionEmbedding.withUnsafeBufferPointer { pos in
            weights.classToken.withUnsafeBufferPointer { cls in
                for b in 0..<batch {
                    let xb = x + b * t * d
                    for j in 0..<d { xb[j] = cls[j] + pos[j] }
                    for k in 0..<n {
                        let dst = xb + (1 + k) * d, src = scratch + (b * n + k) * d, pk = pos.baseAddress! + (1 + k) * d
                        for j in 0..<d { dst[j] = src[j] + pk[j] }
                    }
                }
            }
        }
    }

    /// x += Attention(LN1(x)). Heads × batch run in parallel with single-threaded products.
    private func attentionBlock(_ w: ViTBlockWeights, x: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>,
                                qkv: UnsafeMutablePointer<Float>, batch: Int, threads: Int) {
        let c = config
        let d = c.hiddenSize, t = c.tokens, rows = batch * t, dh = c.headDim
        normRows(x, into: h, rows: rows, gamma: w.norm1Weight, beta: w.norm1Bias, threads: threads)
        linearForward(x: h, rows: rows, inFeatures: d, weight: w.qkvWeight, bias: w.qkvBias, outFeatures: 3 * d,
                      y: qkv, threads: threads)
        // context [rows, D] goes into h (LN1 output is no longer needed)
        let scale = 1 / Float(dh).squareRoot()
        let ctx = h
        parallelFor(batch * c.heads, threads: threads) { task in
            let b = task / c.heads, head = task % c.heads
            let base = qkv + b * t * 3 * d + head * dh
            var scores = [Float](repeating: 0, count: t * t)
            scores.withUnsafeMutableBufferPointer { sb in
                let s = sb.baseAddress!
                // scores[T×T] = scale · Q Kᵀ   (Q, K: T×dh slices of qkv with row stride 3D)
                BLAS.gemm(transA: false, transB: true, m: t, n: t, k: dh, alpha: scale, a: base, lda: 3 * d,
                          b: base + d, ldb: 3 * d, c: s, ldc: t)
                softmaxRows(s, rows: t, width: t, stride: t)
                // ctx[T×dh] = scores · V
                BLAS.gemm(transA: false, transB: false, m: t, n: dh, k: t, a: s, lda: t, b: base + 2 * d, ldb: 3 * d,
                          c: ctx + b * t * d + head * dh, ldc: d)
            }
        }
        residualLinear(ctx, rows: rows, inFeatures: d, weight: w.projWeight, bias: w.projBias, x: x, threads: threads)
    }

    /// x += fc2(act(fc1(LN2(x)))).
    private func mlpBlock(_ w: ViTBlockWeights, x: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>,
                          hidden: UnsafeMutablePointer<Float>, rows: Int, threads: Int) {
        let c = config
        let d = c.hiddenSize, i = c.intermediateSize
        normRows(x, into: h, rows: rows, gamma: w.norm2Weight, beta: w.norm2Bias, threads: threads)
        let act = c.activation
        linearForward(x: h, rows: rows, inFeatures: d, weight: w.fc1Weight, bias: w.fc1Bias, outFeatures: i,
                      y: hidden, threads: threads) { r in
            act.apply(hidden + r.lowerBound * i, count: r.count * i)
        }
        residualLinear(hidden, rows: rows, inFeatures: i, weight: w.fc2Weight, bias: w.fc2Bias, x: x, threads: threads)
    }

    /// x[rows×D] += input[rows×in] · wᵀ + bias (the product accumulates straight into x).
    private func residualLinear(_ input: UnsafeMutablePointer<Float>, rows: Int, inFeatures: Int, weight: [Float],
                                bias: [Float], x: UnsafeMutablePointer<Float>, threads: Int) {
        let d = config.hiddenSize
        let parts = max(1, min(threads, rows / 16))
        weight.withUnsafeBufferPointer { wb in
            bias.withUnsafeBufferPointer { bb in
                parallelFor(parts, threads: threads) { part in
                    let r = chunkRange(part, of: parts, total: rows)
                    BLAS.gemm(transA: false, transB: true, m: r.count, n: d, k: inFeatures,
                              a: input + r.lowerBound * inFeatures, lda: inFeatures, b: wb.baseAddress!, ldb: inFeatures,
                              beta: 1, c: x + r.lowerBound * d, ldc: d)
                    for row in r { addInPlace(x + row * d, bb.baseAddress!, count: d) }
                }
            }
        }
    }

    private func normRows(_ x: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int,
                          gamma: [Float], beta: [Float], threads: Int) {
        let d = config.hiddenSize, eps = config.layerNormEps
        let parts = max(1, min(threads, rows / 32))
        parallelFor(parts, threads: threads) { part in
            let r = chunkRange(part, of: parts, total: rows)
            layerNorm(x + r.lowerBound * d, out + r.lowerBound * d, rows: r.count, width: d,
                      gamma: gamma, beta: beta, eps: eps)
        }
    }
}
