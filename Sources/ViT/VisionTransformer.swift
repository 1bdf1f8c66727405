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

    /// Loads a Hugging Face model folder: `config.json` and `model.safetensors` (which must describe the same
    /// model: an error names both when they do not).
    public init(folder: String) throws(CheckpointError) {
        let configPath = folder + "/config.json"
        let config = try ViTConfig(contentsOf: configPath)
        let file = try SafeTensorsFile(path: folder + "/model.safetensors")
        self.init(config: config, weights: try ViTWeights(file: file, config: config, configSource: configPath))
    }

    /// Floats in one input image: channels × image size².
    public var inputCount: Int { config.channels * config.imageSize * config.imageSize }

    /// All tokens after the final LayerNorm: [batch, tokens, hidden] (transformers' `last_hidden_state`).
    /// `pixels` holds `batch` normalized CHW images.
    public func lastHiddenState(pixels: UnsafeBufferPointer<Float>, batch: Int, options: ComputeOptions = .init()) -> Tensor {
        precondition(pixels.count == batch * inputCount, "expected \(batch * inputCount) input floats, got \(pixels.count)")
        var x = [Float](repeating: 0, count: batch * config.tokens * config.hiddenSize)
        x.withUnsafeMutableBufferPointer { xb in
            encode(pixels: pixels.baseAddress!, batch: batch, threads: options.threads, classTokenOnly: false, into: xb.baseAddress!)
        }
        return Tensor(shape: [batch, config.tokens, config.hiddenSize], data: x)
    }

    /// The CoDE embedding: the class token after the final LayerNorm, [batch, hidden].
    public func embed(pixels: UnsafeBufferPointer<Float>, batch: Int, options: ComputeOptions = .init()) -> Tensor {
        precondition(pixels.count == batch * inputCount, "expected \(batch * inputCount) input floats, got \(pixels.count)")
        let d = config.hiddenSize, t = config.tokens
        var out = [Float](repeating: 0, count: batch * d)
        withScratch(count: batch * t * d) { x in
            encode(pixels: pixels.baseAddress!, batch: batch, threads: options.threads, classTokenOnly: true, into: x)
            out.withUnsafeMutableBufferPointer { ob in
                for b in 0..<batch { (ob.baseAddress! + b * d).update(from: x + b * t * d, count: d) }
            }
        }
        return Tensor(shape: [batch, d], data: out)
    }

    // MARK: inference

    /// One image's workspace: LN output / attention context `h` [T, D], two `qkv` buffers [T, 3D] (alternate
    /// layers, so ranks of a team need one barrier per layer), MLP hidden [T, I], im2col rows [N, C·P·P].
    private var slotFloats: Int {
        let c = config, t = c.tokens
        let floats = t * c.hiddenSize + 2 * t * 3 * c.hiddenSize + t * c.intermediateSize + c.grid * c.grid * c.channels * c.patchSize * c.patchSize
        return (floats + 15) / 16 * 16  // every rank's slot starts 64-byte aligned, like rank 0's
    }

    /// The encoder and final LayerNorm for `batch` images into x [batch·T, D]. Work is cut by image: with
    /// `threads` ranks, whole images run one per rank (single-threaded products on cache-resident buffers);
    /// the images left over (all of them when batch < threads) run one at a time, their token pieces
    /// (`config.tokenPieces`) shared over the ranks. Either way every piece goes through the same products,
    /// so an image's values do not depend on the batch or the thread count. `classTokenOnly`: the last block
    /// and the final norm compute the class-token row only, which is all `embed` reads (the other rows of x
    /// are then left before the last block).
    private func encode(pixels: UnsafePointer<Float>, batch: Int, threads: Int, classTokenOnly: Bool,
                        into x: UnsafeMutablePointer<Float>) {
        let c = config
        let t = c.tokens, d = c.hiddenSize
        let pieces = c.tokenPieces
        let team = WorkerTeam.shared(size: min(threads, max(1, batch * pieces.count)))
        let ranks = team.size
        let whole = batch / ranks * ranks
        let slot = slotFloats, scoresFloats = (t * t + 15) / 16 * 16
        withScratch(count: ranks * (slot + scoresFloats)) { scratch in
            team.run { rank in
                let scores = scratch + ranks * slot + rank * scoresFloats
                var image = rank
                while image < whole {
                    encodeImage(pixels + image * inputCount, x: x + image * t * d, workspace: scratch + rank * slot,
                                scores: scores, pieces: pieces, team: nil, classTokenOnly: classTokenOnly)
                    image += ranks
                }
                // the images left are shared in rank 0's slot, which rank 0 may still be using above
                if whole > 0 && whole < batch { team.barrier() }
                let mine = pieces.indices.filter { $0 % ranks == rank }.map { pieces[$0] }
                for image in whole..<batch {
                    encodeImage(pixels + image * inputCount, x: x + image * t * d, workspace: scratch, scores: scores,
                                pieces: mine, team: team, classTokenOnly: classTokenOnly)
                }
            }
        }
    }

    /// One image's token `pieces` (all of them, or this rank's when a `team` shares the image): patch
    /// embedding, every block and the final LayerNorm, single-threaded, one product call per piece. Ranks
    /// meet once per block, after their pieces of Q, K, V.
    private func encodeImage(_ pixels: UnsafePointer<Float>, x: UnsafeMutablePointer<Float>,
                             workspace: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
                             pieces: [Range<Int>], team: WorkerTeam?, classTokenOnly: Bool) {
        let c = config
        let t = c.tokens, d = c.hiddenSize, i = c.intermediateSize, dh = c.headDim
        let cols = c.channels * c.patchSize * c.patchSize, eps = c.layerNormEps
        let h = workspace, qkvBuffers = h + t * d, mlp = qkvBuffers + 2 * t * 3 * d, patches = mlp + t * i

        // Patch embedding: token 0 is the class token, token 1 + n is patch n.
        let w = weights
        for rows in pieces {
            let patchRows = c.patchRows(ofTokens: rows)
            copyPatches(of: pixels, patchRows, into: patches)
            BLAS.gemm(transA: false, transB: true, m: patchRows.count, n: d, k: cols, a: patches + patchRows.lowerBound * cols,
                      lda: cols, b: w.patchWeight, ldb: cols, c: x + (patchRows.lowerBound + 1) * d, ldc: d)
            finishTokens(x, rows, patchBiasAdded: false)
        }

        let scale = 1 / Float(dh).squareRoot()
        for (layer, block) in w.blocks.enumerated() {
            let qkv = qkvBuffers + (layer % 2) * t * 3 * d
            // LN1 and Q, K, V of these rows; every piece's K and V are needed below.
            for rows in pieces where !rows.isEmpty {
                layerNorm(x + rows.lowerBound * d, h + rows.lowerBound * d, rows: rows.count, width: d,
                          gamma: block.norm1Weight, beta: block.norm1Bias, eps: eps)
                BLAS.gemm(transA: false, transB: true, m: rows.count, n: 3 * d, k: d, a: h + rows.lowerBound * d, lda: d,
                          b: block.qkvWeight, ldb: d, c: qkv + rows.lowerBound * 3 * d, ldc: 3 * d)
                addBiasRows(qkv + rows.lowerBound * 3 * d, bias: block.qkvBias, rows: rows.count, cols: 3 * d)
            }
            team?.barrier()

            let last = layer == w.blocks.count - 1
            for rows in pieces {
                let q = last && classTokenOnly ? (rows.contains(0) ? 0..<1 : 0..<0) : rows
                if q.isEmpty { continue }
                let m = q.count, q0 = q.lowerBound
                // Attention per head over these queries; the context goes into h's rows of q.
                for head in 0..<c.heads {
                    let base = qkv + head * dh
                    BLAS.gemm(transA: false, transB: true, m: m, n: t, k: dh, alpha: scale, a: base + q0 * 3 * d, lda: 3 * d,
                              b: base + d, ldb: 3 * d, c: scores, ldc: t)
                    softmaxRows(scores, rows: m, width: t, stride: t)
                    BLAS.gemm(transA: false, transB: false, m: m, n: dh, k: t, a: scores, lda: t, b: base + 2 * d, ldb: 3 * d,
                              c: h + q0 * d + head * dh, ldc: d)
                }
                // x += proj(context)
                BLAS.gemm(transA: false, transB: true, m: m, n: d, k: d, a: h + q0 * d, lda: d, b: block.projWeight, ldb: d,
                          beta: 1, c: x + q0 * d, ldc: d)
                addBiasRows(x + q0 * d, bias: block.projBias, rows: m, cols: d)
                // x += fc2(act(fc1(LN2(x))))
                layerNorm(x + q0 * d, h + q0 * d, rows: m, width: d, gamma: block.norm2Weight, beta: block.norm2Bias, eps: eps)
                BLAS.gemm(transA: false, transB: true, m: m, n: i, k: d, a: h + q0 * d, lda: d, b: block.fc1Weight, ldb: d,
                          c: mlp + q0 * i, ldc: i)
                addBiasRows(mlp + q0 * i, bias: block.fc1Bias, rows: m, cols: i, activation: c.activation)
                BLAS.gemm(transA: false, transB: true, m: m, n: d, k: i, a: mlp + q0 * i, lda: i, b: block.fc2Weight, ldb: i,
                          beta: 1, c: x + q0 * d, ldc: d)
                addBiasRows(x + q0 * d, bias: block.fc2Bias, rows: m, cols: d)
            }
        }

        for rows in pieces {
            let normed = classTokenOnly ? (rows.contains(0) ? 0..<1 : 0..<0) : rows
            layerNorm(x + normed.lowerBound * d, x + normed.lowerBound * d, rows: normed.count, width: d,
                      gamma: w.normWeight, beta: w.normBias, eps: eps)
        }
    }

    // MARK: training support

    /// The patch embedding into caller buffers (the training forward keeps `patches` for the backward):
    /// im2col rows `patches` [batch·N, C·P·P], their projection `scratch` [batch·N, D], then `x` [batch·T, D]
    /// with the class token prepended and the position embedding added.
    func embedPatches(pixels: UnsafePointer<Float>, batch: Int, patches colp: UnsafeMutablePointer<Float>,
                      scratch: UnsafeMutablePointer<Float>, into x: UnsafeMutablePointer<Float>, threads: Int) {
        let c = config
        let n = c.grid * c.grid, t = c.tokens, d = c.hiddenSize
        let cols = c.channels * c.patchSize * c.patchSize
        parallelFor(batch, threads: threads) { b in
            copyPatches(of: pixels + b * inputCount, 0..<n, into: colp + b * n * cols)
        }
        linearForward(x: colp, rows: batch * n, inFeatures: cols, weight: weights.patchWeight,
                      bias: weights.patchBias, outFeatures: d, y: scratch, threads: threads,
                      calls: RowCalls(images: batch, rowsPerImage: n, pieces: c.tokenPieces.map(c.patchRows(ofTokens:))))
        for b in 0..<batch {
            (x + (b * t + 1) * d).update(from: scratch + b * n * d, count: n * d)
            finishTokens(x + b * t * d, 0..<t, patchBiasAdded: true)
        }
    }

    // MARK: shared by both forwards

    /// im2col: patch `k` of one CHW image (row-major over the grid) as row `k` of `patches` [N, C·P·P], for
    /// every `k` in `range`.
    private func copyPatches(of pixels: UnsafePointer<Float>, _ range: Range<Int>, into patches: UnsafeMutablePointer<Float>) {
        let c = config
        let p = c.patchSize, g = c.grid, s = c.imageSize, cols = c.channels * p * p
        for k in range {
            let py = k / g, px = k % g, row = patches + k * cols
            for ch in 0..<c.channels { for ky in 0..<p {
                (row + (ch * p + ky) * p).update(from: pixels + (ch * s + py * p + ky) * s + px * p, count: p)
            }}
        }
    }

    /// Token rows `tokens` of one image's `x` [T, D]: row 0 becomes the class token; the others hold their
    /// patch's projection, to which the patch bias is added unless `patchBiasAdded`; then every row gets its
    /// position embedding.
    private func finishTokens(_ x: UnsafeMutablePointer<Float>, _ tokens: Range<Int>, patchBiasAdded: Bool) {
        let d = config.hiddenSize, w = weights
        w.positionEmbedding.withUnsafeBufferPointer { pos in
            for token in tokens {
                let xr = x + token * d
                if token == 0 {
                    xr.update(from: w.classToken, count: d)
                } else if !patchBiasAdded {
                    addInPlace(xr, w.patchBias, count: d)
                }
                addInPlace(xr, pos.baseAddress! + token * d, count: d)
            }
        }
    }
}
