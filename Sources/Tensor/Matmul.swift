#if canImport(Accelerate)
import Accelerate
#elseif canImport(CDNNL)
import CDNNL
#else
import CBLAS
#endif

/// Matrix products: the one interface to the platform's SGEMM.
///
/// Linux: oneDNN's `dnnl_sgemm` (Debian libdnnl-dev), which picks AVX-512 kernels at run time; or, built
/// with `DEEPFAKE_BLAS=openblas`, OpenBLAS's CBLAS. macOS: Accelerate. On this project's Zen 4 machines
/// oneDNN ran ViT-Tiny's shapes at ~230 GFLOP/s per core against ~120 for OpenBLAS 0.3.21 (which such
/// machines pin to its Haswell kernels with OPENBLAS_CORETYPE, as its AVX-512 kernels are not trusted there).
///
/// Every call runs single-threaded: callers split work over cores themselves (rows of a big product,
/// or independent small products such as attention heads), which beats library threading on these shapes.
public enum BLAS {
    /// Call once before any product; idempotent.
    public static func configure() {
        #if !canImport(Accelerate) && !canImport(CDNNL)
        _ = singleThreaded
        #endif
    }

    #if !canImport(Accelerate) && !canImport(CDNNL)
    private static let singleThreaded: Void = { openblas_set_num_threads(1) }()
    #endif

    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, row-major, with leading dimensions.
    @inlinable
    public static func gemm(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        if m == 0 || n == 0 { return }
        #if canImport(CDNNL)
        omp_set_num_threads(1)  // per calling thread: keep this product on this thread
        _ = dnnl_sgemm(transA ? 84 : 78, transB ? 84 : 78, Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda),
                       b, Int64(ldb), beta, c, Int64(ldc))  // 84 'T', 78 'N'; row-major like ours
        #else
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        #endif
    }
}

/// The BLAS calls a product over `images` blocks of `rowsPerImage` rows is cut into: every block is cut at the
/// same `pieces` (row ranges within a block). BLAS results can depend on a call's row count in the last bits,
/// so a computation that must agree bit for bit with per-image products (the training forward with the
/// inference forward) cuts its rows the same way.
public struct RowCalls: Sendable {
    public let images: Int, rowsPerImage: Int, pieces: [Range<Int>]

    public init(images: Int, rowsPerImage: Int, pieces: [Range<Int>]) {
        self.images = images; self.rowsPerImage = rowsPerImage; self.pieces = pieces
    }

    public var count: Int { images * pieces.count }

    /// Rows of call `index`, image by image.
    public func rows(_ index: Int) -> Range<Int> {
        let base = index / pieces.count * rowsPerImage, piece = pieces[index % pieces.count]
        return base + piece.lowerBound ..< base + piece.upperBound
    }
}

/// y[rows×out] = x[rows×in] · wᵀ + bias, where `w` is a PyTorch Linear weight [out×in].
/// Rows are split over `threads`; `activation` is applied in the same pass as the bias.
/// `calls`: run the product in exactly these calls (see `RowCalls`), spread over the threads.
@inlinable
public func linearForward(
    x: UnsafePointer<Float>, rows: Int, inFeatures: Int,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
    y: UnsafeMutablePointer<Float>, threads: Int, activation: Activation? = nil, calls: RowCalls? = nil
) {
    let parts = calls?.count ?? max(1, min(threads, rows / 16))
    parallelFor(parts, threads: threads) { part in
        let r = calls?.rows(part) ?? chunkRange(part, of: parts, total: rows)
        if r.isEmpty { return }
        let yp = y + r.lowerBound * outFeatures
        BLAS.gemm(transA: false, transB: true, m: r.count, n: outFeatures, k: inFeatures,
                  a: x + r.lowerBound * inFeatures, lda: inFeatures, b: weight, ldb: inFeatures,
                  c: yp, ldc: outFeatures)
        if let bias { addBiasRows(yp, bias: bias, rows: r.count, cols: outFeatures, activation: activation) }
        else if let activation { activation.apply(yp, count: r.count * outFeatures) }
    }
}
