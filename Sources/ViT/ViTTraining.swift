import Foundation
import Tensor
#if canImport(Glibc)
import Glibc
#endif

// Training: a forward pass that keeps what the backward needs, and the backward pass that turns the
// gradient of the CLS embeddings into the gradient of every parameter. Shapes: B images, T = 1 + N tokens
// (N patches), D hidden, I MLP width, H heads, L blocks, rows = B·T. The layer backward rules are in
// ViTBackward.swift; the inference forward (VisionTransformer.swift) is untouched and stays the fast path.

/// Floats owned by a class, so a value type can hold them and share them read-only once filled.
///
/// Large buffers (≥ 4 MiB) are 2 MiB-aligned and, on Linux, marked for transparent huge pages: the first
/// touch of a fresh 3 GiB activation cache costs ~2.2 s in 4 KiB page faults on the project's VM and
/// ~0.25 s with huge pages (measured with a C probe, 2026-11-26).
final class FloatStorage: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let count: Int

    /// `count` floats, zeroed or left for the caller to fill completely before reading.
    init(count: Int, zeroed: Bool = false) {
        self.count = count
        let bytes = max(1, count) * MemoryLayout<Float>.stride
        if bytes >= 4 << 20 {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 2 << 20)
            #if os(Linux)
            _ = madvise(raw, bytes, MADV_HUGEPAGE)
            #endif
            base = raw.bindMemory(to: Float.self, capacity: max(1, count))
        } else {
            base = .allocate(capacity: max(1, count))
        }
        if zeroed { base.initialize(repeating: 0, count: count) }
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}

/// Memory that training passes reuse from one step to the next.
///
/// Every training forward needs a fresh activation cache (~24 MB per ViT-Tiny image) and the backward
/// its scratch; allocated anew each step, their first touch costs page faults and kernel zeroing (about
/// 40% of the training forward's time on the project's VM). A workspace keeps the buffers and hands a
/// buffer out again once nothing else refers to it (the `ViTActivations` holding it is gone). It only ever
/// grows to the largest set of buffers alive at once; `clear()` returns the memory.
public final class ViTWorkspace: @unchecked Sendable {
    private let lock = NSLock()
    private var buffers: [FloatStorage] = []

    public init() {}

    /// Bytes held, in use or free.
    public var byteCount: Int {
        lock.lock(); defer { lock.unlock() }
        return buffers.reduce(0) { $0 + $1.count * MemoryLayout<Float>.stride }
    }

    /// Drops every buffer that is not in use.
    public func clear() {
        lock.lock(); defer { lock.unlock() }
        buffers.removeAll { _ in true }
    }

    /// A buffer of at least `count` floats nobody else holds (best fit up to twice the size), or a new one.
    func take(count: Int, zeroed: Bool) -> FloatStorage {
        lock.lock(); defer { lock.unlock() }
        var best: Int?
        for i in buffers.indices where buffers[i].count >= count && buffers[i].count <= 2 * max(count, 1) {
            if isKnownUniquelyReferenced(&buffers[i]), best.map({ buffers[i].count < buffers[$0].count }) ?? true { best = i }
        }
        if let best {
            let storage = buffers[best]
            if zeroed { storage.base.update(repeating: 0, count: count) }
            return storage
        }
        let storage = FloatStorage(count: count, zeroed: zeroed)
        buffers.append(storage)
        return storage
    }
}

/// A new buffer, or one from `workspace` when there is one.
func floats(_ count: Int, zeroed: Bool = false, from workspace: ViTWorkspace?) -> FloatStorage {
    workspace?.take(count: count, zeroed: zeroed) ?? FloatStorage(count: count, zeroed: zeroed)
}

/// Where each cached activation lives inside one allocation.
struct ActivationLayout: Sendable, Equatable {
    let batch: Int, rows: Int, d: Int, intermediate: Int, tokens: Int, heads: Int
    let patchRows: Int, patchColumns: Int
    let layerOffset: Int, layerStride: Int, finalOffset: Int, total: Int

    init(config c: ViTConfig, batch: Int) {
        self.batch = batch
        d = c.hiddenSize; intermediate = c.intermediateSize; tokens = c.tokens; heads = c.heads
        rows = batch * tokens
        patchRows = batch * (tokens - 1)
        patchColumns = c.channels * c.patchSize * c.patchSize
        layerOffset = patchRows * patchColumns
        layerStride = rows * (6 * d + intermediate + 4) + batch * heads * tokens * tokens
        finalOffset = layerOffset + c.layers * layerStride
        total = finalOffset + batch * (d + 2)
    }

    // Per layer, in order: block input [rows, D], qkv [rows, 3D], context [rows, D], attention residual
    // [rows, D], pre-activation [rows, I], LN1 mean, LN1 rstd, LN2 mean, LN2 rstd [rows each],
    // attention probabilities [B, H, T, T].
    func blockInput(_ l: Int) -> Int { layerOffset + l * layerStride }
    func qkv(_ l: Int) -> Int { blockInput(l) + rows * d }
    func context(_ l: Int) -> Int { blockInput(l) + rows * 4 * d }
    func attentionResidual(_ l: Int) -> Int { blockInput(l) + rows * 5 * d }
    func preActivation(_ l: Int) -> Int { blockInput(l) + rows * 6 * d }
    func norm1Mean(_ l: Int) -> Int { preActivation(l) + rows * intermediate }
    func norm1Rstd(_ l: Int) -> Int { norm1Mean(l) + rows }
    func norm2Mean(_ l: Int) -> Int { norm1Mean(l) + 2 * rows }
    func norm2Rstd(_ l: Int) -> Int { norm1Mean(l) + 3 * rows }
    func probabilities(_ l: Int) -> Int { norm1Mean(l) + 4 * rows }
    /// CLS rows entering the final LayerNorm [B, D], then its mean [B] and rstd [B].
    var finalInput: Int { finalOffset }
    var finalMean: Int { finalOffset + batch * d }
    var finalRstd: Int { finalMean + batch }
}

/// Everything one training forward keeps for its backward, for one batch of images, in one allocation:
///
///     im2col patches        B·N × C·P²
///     per block (× L)       block input, attention residual (the two residual streams, LayerNorm inputs),
///                           qkv, attention context                       B·T × 6D
///                           pre-GELU MLP values                          B·T × I
///                           LN1/LN2 means and reciprocal std             B·T × 4
///                           attention probabilities per head             B × H × T × T
///     final LayerNorm       CLS rows entering it, mean, rstd             B × (D + 2)
///
/// Total floats: B·N·C·P² + L·(B·T·(6D + I + 4) + B·H·T²) + B·(D + 2) (`floatCount`). ViT-Tiny/16 at 224²
/// (T = 197, D = 192, I = 768, H = 3, L = 12): B·(150,528 + 12·(197·1,924 + 116,427) + 194) = 6.10 M floats
/// = 24.4 MB per image, so 3.1 GB for one CoDE forward of 4·32 images and 6.2 GB for a batch of 32
/// records (two forwards; 6.7 GB peak resident measured for the whole step). LayerNorm outputs and GELU
/// outputs are recomputed in the backward, not kept. Scratch: the forward B·T·(2D + I) floats (0.9 MB per
/// ViT-Tiny image), the backward B·T·(6D + 2I) (2.1 MB per image) plus one parameter-sized buffer.
///
/// Immutable once the forward returns; the backward only reads it.
public struct ViTActivations: @unchecked Sendable {
    public let config: ViTConfig
    /// Images in the batch.
    public let batch: Int
    let layout: ActivationLayout
    let storage: FloatStorage

    init(config: ViTConfig, batch: Int, workspace: ViTWorkspace?) {
        self.config = config
        self.batch = batch
        layout = ActivationLayout(config: config, batch: batch)
        storage = floats(layout.total, from: workspace)
    }

    /// Floats cached for `batch` images (see the type's documentation for the formula).
    public static func floatCount(config: ViTConfig, batch: Int) -> Int { ActivationLayout(config: config, batch: batch).total }

    /// Bytes cached for `batch` images.
    public static func byteCount(config: ViTConfig, batch: Int) -> Int { floatCount(config: config, batch: batch) * 4 }

    @inline(__always) func at(_ offset: Int) -> UnsafeMutablePointer<Float> { storage.base + offset }
}

/// The result of a training forward: the embeddings and the activations the backward needs.
public struct ViTTrainingPass: Sendable {
    /// The CLS token after the final LayerNorm, [batch, hidden]; equal to `VisionTransformer.embed`.
    public let embedding: Tensor
    public let activations: ViTActivations
}

extension VisionTransformer {
    /// The training forward: the same computation as `embed` (bit for bit, same thread count), keeping the
    /// activations the backward needs. `pixels` holds `batch` normalized CHW images. With a `workspace`,
    /// the cache and scratch come from (and go back to) its buffers.
    public func trainingForward(pixels: UnsafeBufferPointer<Float>, batch: Int, options: ComputeOptions = .init(),
                                workspace: ViTWorkspace? = nil) -> ViTTrainingPass {
        precondition(pixels.count == batch * inputCount, "expected \(batch * inputCount) input floats, got \(pixels.count)")
        precondition(batch > 0 && config.layers > 0)
        let c = config, threads = options.threads
        let d = c.hiddenSize, t = c.tokens, rows = batch * t
        let acts = ViTActivations(config: c, batch: batch, workspace: workspace)
        let lay = acts.layout
        let h = floats(rows * d, from: workspace), hidden = floats(rows * c.intermediateSize, from: workspace)
        let last = floats(rows * d, from: workspace)
        embedPatches(pixels: pixels.baseAddress!, batch: batch, patches: acts.at(0), scratch: h.base,
                     into: acts.at(lay.blockInput(0)), threads: threads)
        for (l, w) in weights.blocks.enumerated() {
            let out = l + 1 < c.layers ? acts.at(lay.blockInput(l + 1)) : last.base
            trainingBlockForward(w, layer: l, acts, output: out, h: h.base, hidden: hidden.base, threads: threads)
        }
        var embedding = [Float](repeating: 0, count: batch * d)
        embedding.withUnsafeMutableBufferPointer { eb in
            for b in 0..<batch {
                let input = acts.at(lay.finalInput + b * d)
                input.update(from: last.base + b * t * d, count: d)
                layerNormRecordingStatistics(input, eb.baseAddress! + b * d, rows: 1, width: d,
                                             gamma: weights.normWeight, beta: weights.normBias, eps: c.layerNormEps,
                                             mean: acts.at(lay.finalMean + b), rstd: acts.at(lay.finalRstd + b))
            }
        }
        return ViTTrainingPass(embedding: Tensor(shape: [batch, d], data: embedding), activations: acts)
    }

    /// The backward: given dL/d(embedding) [batch, hidden] for the pass that produced `activations`, adds
    /// dL/d(parameter) for every parameter to `gradients` (a `ViTWeights` of this config's shapes, e.g.
    /// `ViTWeights.zeros(config:)`), so successive calls accumulate like PyTorch's `.grad`. When the config
    /// has no q/k/v biases their gradient stays zero. Deterministic for a given thread count. Scratch comes
    /// from `workspace` when given.
    public func backward(_ activations: ViTActivations, embeddingGradient: UnsafeBufferPointer<Float>,
                         into gradients: inout ViTWeights, options: ComputeOptions = .init(),
                         workspace: ViTWorkspace? = nil) {
        let c = config, a = activations, lay = a.layout, threads = options.threads
        let batch = a.batch, d = c.hiddenSize, t = c.tokens, i = c.intermediateSize, rows = batch * t
        precondition(a.config == c, "activations come from a model with another config")
        precondition(embeddingGradient.count == batch * d, "expected \(batch * d) gradient floats, got \(embeddingGradient.count)")
        let layout = FlatParameterLayout(config: c)
        let flat = floats(layout.total, zeroed: true, from: workspace)
        let dx = floats(rows * d, zeroed: true, from: workspace)
        let scratch = BackwardScratch(rows: rows, d: d, intermediate: i, workspace: workspace)
        let g = FlatParameters(base: flat.base, layout: layout)
        let dNormWeight = g[.encoder(\.normWeight)], dNormBias = g[.encoder(\.normBias)]
        weights.normWeight.withUnsafeBufferPointer { gamma in
            for b in 0..<batch {
                layerNormBackward(dy: embeddingGradient.baseAddress! + b * d, x: a.at(lay.finalInput + b * d),
                                  mean: a.at(lay.finalMean + b), rstd: a.at(lay.finalRstd + b), gamma: gamma.baseAddress!,
                                  rows: 1, width: d, dx: dx.base + b * t * d,
                                  dgamma: dNormWeight, dbeta: dNormBias)
            }
        }
        for l in stride(from: c.layers - 1, through: 0, by: -1) {
            trainingBlockBackward(weights.blocks[l], layer: l, a, dx: dx.base, gradients: g, scratch: scratch, threads: threads)
        }
        patchEmbeddingBackward(dx: dx.base, patches: a.at(0), batch: batch, tokens: t, width: d,
                               patchColumns: lay.patchColumns, dWeight: g[.encoder(\.patchWeight)], dBias: g[.encoder(\.patchBias)],
                               dClassToken: g[.encoder(\.classToken)], dPosition: g[.encoder(\.positionEmbedding)],
                               scratch: scratch.dh.base, threads: threads)
        gradients.add(flat: g)
    }

    // MARK: forward pieces

    /// One block, keeping its activations. x0 = block input (cached), output = x2:
    ///
    ///     x1 = x0 + proj(attention(LN1(x0))),   x2 = x1 + fc2(act(fc1(LN2(x1))))
    ///
    /// `h` [rows, D] and `hidden` [rows, I] are scratch (LN outputs, activated MLP values).
    private func trainingBlockForward(_ w: ViTBlockWeights, layer l: Int, _ a: ViTActivations, output x2: UnsafeMutablePointer<Float>,
                                      h: UnsafeMutablePointer<Float>, hidden: UnsafeMutablePointer<Float>, threads: Int) {
        let c = config, lay = a.layout
        let d = c.hiddenSize, t = c.tokens, rows = a.batch * t, dh = c.headDim, i = c.intermediateSize
        let x0 = a.at(lay.blockInput(l)), qkv = a.at(lay.qkv(l)), ctx = a.at(lay.context(l))
        let x1 = a.at(lay.attentionResidual(l)), pre = a.at(lay.preActivation(l)), probs = a.at(lay.probabilities(l))
        let calls = RowCalls(images: a.batch, rowsPerImage: t, pieces: c.tokenPieces)  // the inference forward's calls
        normRowsRecording(x0, into: h, rows: rows, gamma: w.norm1Weight, beta: w.norm1Bias,
                          mean: a.at(lay.norm1Mean(l)), rstd: a.at(lay.norm1Rstd(l)), threads: threads)
        linearForward(x: h, rows: rows, inFeatures: d, weight: w.qkvWeight, bias: w.qkvBias, outFeatures: 3 * d,
                      y: qkv, threads: threads, calls: calls)
        let scale = 1 / Float(dh).squareRoot()
        parallelFor(a.batch * c.heads, threads: threads) { task in
            let b = task / c.heads, head = task % c.heads
            let base = qkv + b * t * 3 * d + head * dh
            let s = probs + task * t * t
            // S[T×T] = scale · Q Kᵀ → P = softmax rows (kept) → ctx[T×dh] = P V, in the inference forward's pieces
            for q in c.tokenPieces {
                BLAS.gemm(transA: false, transB: true, m: q.count, n: t, k: dh, alpha: scale, a: base + q.lowerBound * 3 * d,
                          lda: 3 * d, b: base + d, ldb: 3 * d, c: s + q.lowerBound * t, ldc: t)
                softmaxRows(s + q.lowerBound * t, rows: q.count, width: t, stride: t)
                BLAS.gemm(transA: false, transB: false, m: q.count, n: dh, k: t, a: s + q.lowerBound * t, lda: t,
                          b: base + 2 * d, ldb: 3 * d, c: ctx + (b * t + q.lowerBound) * d + head * dh, ldc: d)
            }
        }
        residualForward(from: x0, to: x1, input: ctx, rows: rows, inFeatures: d, weight: w.projWeight, bias: w.projBias, threads: threads)
        normRowsRecording(x1, into: h, rows: rows, gamma: w.norm2Weight, beta: w.norm2Bias,
                          mean: a.at(lay.norm2Mean(l)), rstd: a.at(lay.norm2Rstd(l)), threads: threads)
        linearForward(x: h, rows: rows, inFeatures: d, weight: w.fc1Weight, bias: w.fc1Bias, outFeatures: i,
                      y: pre, threads: threads, calls: calls)
        let act = c.activation
        let parts = rowParts(rows, threads: threads)
        parallelFor(parts, threads: threads) { part in
            let r = chunkRange(part, of: parts, total: rows)
            act.apply(pre + r.lowerBound * i, into: hidden + r.lowerBound * i, count: r.count * i)
        }
        residualForward(from: x1, to: x2, input: hidden, rows: rows, inFeatures: i, weight: w.fc2Weight, bias: w.fc2Bias, threads: threads)
    }

    /// to[rows×D] = from + input[rows×in] · wᵀ + bias, with the inference forward's order of operations
    /// (copy, product accumulated with beta 1 in the same calls per image, then bias), so the values are identical.
    private func residualForward(from: UnsafePointer<Float>, to x: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                                 rows: Int, inFeatures: Int, weight: [Float], bias: [Float], threads: Int) {
        let d = config.hiddenSize, t = config.tokens
        weight.withUnsafeBufferPointer { wb in
            bias.withUnsafeBufferPointer { bb in
                let calls = RowCalls(images: rows / t, rowsPerImage: t, pieces: config.tokenPieces)
                parallelFor(calls.count, threads: threads) { call in
                    let r = calls.rows(call)
                    (x + r.lowerBound * d).update(from: from + r.lowerBound * d, count: r.count * d)
                    BLAS.gemm(transA: false, transB: true, m: r.count, n: d, k: inFeatures,
                              a: input + r.lowerBound * inFeatures, lda: inFeatures, b: wb.baseAddress!, ldb: inFeatures,
                              beta: 1, c: x + r.lowerBound * d, ldc: d)
                    addBiasRows(x + r.lowerBound * d, bias: bb.baseAddress!, rows: r.count, cols: d)
                }
            }
        }
    }

    /// LayerNorm of every row, recording mean and rstd per row.
    private func normRowsRecording(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int,
                                   gamma: [Float], beta: [Float], mean: UnsafeMutablePointer<Float>,
                                   rstd: UnsafeMutablePointer<Float>, threads: Int) {
        let d = config.hiddenSize, eps = config.layerNormEps
        let parts = rowParts(rows, threads: threads, minimum: 32)
        gamma.withUnsafeBufferPointer { gb in
            beta.withUnsafeBufferPointer { bb in
                parallelFor(parts, threads: threads) { part in
                    let r = chunkRange(part, of: parts, total: rows)
                    layerNormRecordingStatistics(x + r.lowerBound * d, out + r.lowerBound * d, rows: r.count, width: d,
                                                 gamma: gb.baseAddress!, beta: bb.baseAddress!, eps: eps,
                                                 mean: mean + r.lowerBound, rstd: rstd + r.lowerBound)
                }
            }
        }
    }

    /// Recomputes a LayerNorm output [rows, D] from its cached input and statistics.
    private func normRowsRecomputed(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, rows: Int,
                                    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, mean: UnsafePointer<Float>,
                                    rstd: UnsafePointer<Float>, threads: Int) {
        let d = config.hiddenSize
        let parts = rowParts(rows, threads: threads, minimum: 32)
        parallelFor(parts, threads: threads) { part in
            let r = chunkRange(part, of: parts, total: rows)
            layerNormFromStatistics(x + r.lowerBound * d, out + r.lowerBound * d, rows: r.count, width: d,
                                    gamma: gamma, beta: beta, mean: mean + r.lowerBound, rstd: rstd + r.lowerBound)
        }
    }

    // MARK: backward pieces

    /// One block backward. On entry `dx` [rows, D] holds dL/dx2 (the block output); on return dL/dx0.
    /// Parameter gradients are written into the flat gradient buffer `g`.
    private func trainingBlockBackward(_ w: ViTBlockWeights, layer l: Int, _ a: ViTActivations, dx: UnsafeMutablePointer<Float>,
                                       gradients g: FlatParameters, scratch: BackwardScratch, threads: Int) {
        let c = config, lay = a.layout
        let d = c.hiddenSize, t = c.tokens, rows = a.batch * t, i = c.intermediateSize
        let x0 = a.at(lay.blockInput(l)), qkv = a.at(lay.qkv(l)), ctx = a.at(lay.context(l))
        let x1 = a.at(lay.attentionResidual(l)), pre = a.at(lay.preActivation(l)), probs = a.at(lay.probabilities(l))
        let hbuf = scratch.h.base, dh = scratch.dh.base, abuf = scratch.activated.base, da = scratch.dActivated.base
        let dqkv = scratch.dqkv.base
        let act = c.activation
        func grad(_ path: WritableKeyPath<ViTBlockWeights, [Float]> & Sendable) -> UnsafeMutablePointer<Float> { g[.block(l, path)] }
        withBlockPointers(w) { p in
            // MLP: x2 = x1 + fc2(act(fc1(LN2(x1))))
            normRowsRecomputed(x1, into: hbuf, rows: rows, gamma: p.norm2Weight, beta: p.norm2Bias,
                               mean: a.at(lay.norm2Mean(l)), rstd: a.at(lay.norm2Rstd(l)), threads: threads)
            let parts = rowParts(rows, threads: threads)
            parallelFor(parts, threads: threads) { part in
                let r = chunkRange(part, of: parts, total: rows)
                act.apply(pre + r.lowerBound * i, into: abuf + r.lowerBound * i, count: r.count * i)
            }
            linearBackward(dy: dx, x: abuf, rows: rows, inFeatures: i, outFeatures: d, weight: p.fc2Weight,
                           dx: da, dWeight: grad(\.fc2Weight), dBias: grad(\.fc2Bias), threads: threads)
            parallelFor(parts, threads: threads) { part in
                let r = chunkRange(part, of: parts, total: rows)
                act.backward(input: pre + r.lowerBound * i, gradient: da + r.lowerBound * i, count: r.count * i)
            }
            linearBackward(dy: da, x: hbuf, rows: rows, inFeatures: d, outFeatures: i, weight: p.fc1Weight,
                           dx: dh, dWeight: grad(\.fc1Weight), dBias: grad(\.fc1Bias), threads: threads)
            layerNormBackwardRows(dy: dh, x: x1, mean: a.at(lay.norm2Mean(l)), rstd: a.at(lay.norm2Rstd(l)),
                                  gamma: p.norm2Weight, rows: rows, width: d, dx: dx,
                                  dGamma: grad(\.norm2Weight), dBeta: grad(\.norm2Bias), threads: threads)
            // attention: x1 = x0 + proj(attention(LN1(x0)))
            linearBackward(dy: dx, x: ctx, rows: rows, inFeatures: d, outFeatures: d, weight: p.projWeight,
                           dx: dh, dWeight: grad(\.projWeight), dBias: grad(\.projBias), threads: threads)
            attentionBackward(dContext: dh, qkv: qkv, probabilities: probs, dqkv: dqkv, batch: a.batch, tokens: t,
                              width: d, heads: c.heads, threads: threads)
            normRowsRecomputed(x0, into: hbuf, rows: rows, gamma: p.norm1Weight, beta: p.norm1Bias,
                               mean: a.at(lay.norm1Mean(l)), rstd: a.at(lay.norm1Rstd(l)), threads: threads)
            linearBackward(dy: dqkv, x: hbuf, rows: rows, inFeatures: d, outFeatures: 3 * d, weight: p.qkvWeight,
                           dx: dh, dWeight: grad(\.qkvWeight), dBias: g.pointer(.block(l, \.qkvBias)), threads: threads)
            layerNormBackwardRows(dy: dh, x: x0, mean: a.at(lay.norm1Mean(l)), rstd: a.at(lay.norm1Rstd(l)),
                                  gamma: p.norm1Weight, rows: rows, width: d, dx: dx,
                                  dGamma: grad(\.norm1Weight), dBeta: grad(\.norm1Bias), threads: threads)
        }
    }
}

/// Scratch buffers of one backward, reused by every block.
struct BackwardScratch {
    /// A recomputed LayerNorm output [rows, D].
    let h: FloatStorage
    /// The gradient of a LayerNorm output or of the attention context [rows, D].
    let dh: FloatStorage
    /// act(pre) [rows, I] and its gradient [rows, I].
    let activated: FloatStorage, dActivated: FloatStorage
    /// Gradient of q, k, v [rows, 3D].
    let dqkv: FloatStorage

    init(rows: Int, d: Int, intermediate: Int, workspace: ViTWorkspace?) {
        h = floats(rows * d, from: workspace); dh = floats(rows * d, from: workspace)
        activated = floats(rows * intermediate, from: workspace); dActivated = floats(rows * intermediate, from: workspace)
        dqkv = floats(rows * 3 * d, from: workspace)
    }
}

/// Read-only pointers to one block's parameters.
struct BlockPointers {
    let norm1Weight: UnsafePointer<Float>, norm1Bias: UnsafePointer<Float>
    let qkvWeight: UnsafePointer<Float>, projWeight: UnsafePointer<Float>
    let norm2Weight: UnsafePointer<Float>, norm2Bias: UnsafePointer<Float>
    let fc1Weight: UnsafePointer<Float>, fc2Weight: UnsafePointer<Float>
}

/// Runs `body` with pointers to the block's parameters that the backward reads.
func withBlockPointers<R>(_ w: ViTBlockWeights, _ body: (BlockPointers) -> R) -> R {
    w.norm1Weight.withUnsafeBufferPointer { n1w in w.norm1Bias.withUnsafeBufferPointer { n1b in
    w.qkvWeight.withUnsafeBufferPointer { qkv in w.projWeight.withUnsafeBufferPointer { proj in
    w.norm2Weight.withUnsafeBufferPointer { n2w in w.norm2Bias.withUnsafeBufferPointer { n2b in
    w.fc1Weight.withUnsafeBufferPointer { fc1 in w.fc2Weight.withUnsafeBufferPointer { fc2 in
        body(BlockPointers(norm1Weight: n1w.baseAddress!, norm1Bias: n1b.baseAddress!, qkvWeight: qkv.baseAddress!,
                           projWeight: proj.baseAddress!, norm2Weight: n2w.baseAddress!, norm2Bias: n2b.baseAddress!,
                           fc1Weight: fc1.baseAddress!, fc2Weight: fc2.baseAddress!))
    }}}}}}}}
}
