// Elementwise kernels and row reductions on raw buffers. The hot ones of the forward (exact GELU, softmax,
// LayerNorm, bias rows) run in CKernels, compiled for AVX-512, AVX2+FMA and baseline x86-64 and chosen at run
// time; the rest are written here with SIMD8<Float>, 8 lanes at a time with scalar tails.

import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public typealias Vec8 = SIMD8<Float>

@inlinable @inline(__always)
func load8(_ p: UnsafePointer<Float>) -> Vec8 { UnsafeRawPointer(p).loadUnaligned(as: Vec8.self) }

@inlinable @inline(__always)
func store8(_ v: Vec8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec8.self) }

/// y[i] += x[i] for i in 0..<count.
@inlinable
public func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count { store8(load8(y + i) + load8(x + i), y + i); i += 8 }
    while i < count { y[i] += x[i]; i += 1 }
}

// MARK: exp and erf

/// e^x on 8 lanes: Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, degree-7 Taylor for e^r
/// (relative error ≈ 1e-7), 2^n assembled in the exponent bits. Inputs are clamped to [-87.3, 88.3].
@inlinable @inline(__always)
public func exp8(_ x: Vec8) -> Vec8 {
    // .replacing(with:where:) compiles to compare + blend; the generic pointwiseMin/Max did not inline
    let low = Vec8(repeating: -87.3), high = Vec8(repeating: 88.3)
    let x = x.replacing(with: low, where: x .< low).replacing(with: high, where: x .> high)
    let magic = Vec8(repeating: 12_582_912)  // 1.5·2^23: adding it rounds to an integer
    let shifted = x * 1.442_695_04 + magic
    let n = shifted - magic
    let r = (x - n * 0.693_145_75) - n * 1.428_606_8e-6
    var p = Vec8(repeating: 1.0 / 5040)
    p = p * r + 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let ni = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((ni &+ 127) &<< 23, to: Vec8.self)
    return p * scale
}

/// erf on 8 lanes, odd-symmetric, absolute error ≤ 2e-7 against libm:
/// |x| < 1: the Maclaurin series x·Σ (−1)ⁿ x²ⁿ · 2/(√π · n! · (2n+1)), 12 terms (truncation < 1e-10);
/// |x| ≥ 1: Abramowitz & Stegun 7.1.26, 1 − t·P(t)·e^{−x²} with t = 1/(1 + 0.3275911·|x|) (≤ 1.5e-7).
/// The series avoids the cancellation 7.1.26 suffers near 0.
@inlinable @inline(__always)
public func erf8(_ x: Vec8) -> Vec8 {
    let a = x.replacing(with: -x, where: x .< 0)
    let z = a * a
    var series = Vec8(repeating: -1.229_055_5e-9)
    series = series * z + 1.480_719_3e-8
    series = series * z - 1.636_584_4e-7
    series = series * z + 1.646_211_4e-6
    series = series * z - 1.492_565e-5
    series = series * z + 1.205_533_3e-4
    series = series * z - 8.548_327e-4
    series = series * z + 5.223_977_8e-3
    series = series * z - 2.686_617_2e-2
    series = series * z + 1.128_379_2e-1
    series = series * z - 3.761_263_8e-1
    series = series * z + 1.128_379_2
    series = series * a
    let t = 1 / (1 + 0.327_591_1 * a)
    var poly = Vec8(repeating: 1.061_405_429)
    poly = poly * t - 1.453_152_027
    poly = poly * t + 1.421_413_741
    poly = poly * t - 0.284_496_736
    poly = poly * t + 0.254_829_592
    poly = poly * t
    let tail = 1 - poly * exp8(-z)
    let y = tail.replacing(with: series, where: a .< 1)
    return y.replacing(with: -y, where: x .< 0)
}

// MARK: activations

/// The activation functions a ViT config may name.
public enum Activation: String, Sendable, CaseIterable {
    /// 0.5·x·(1 + erf(x/√2)) — PyTorch `nn.GELU()`, HF "gelu".
    case gelu
    /// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) — HF "gelu_new", "gelu_pytorch_tanh".
    case geluTanh
    /// max(0, x).
    case relu
    /// x·sigmoid(1.702·x) — HF "quick_gelu".
    case quickGelu

    /// Maps a Hugging Face `hidden_act` string; nil for one we do not implement.
    public init?(huggingFace name: String) {
        switch name {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "relu": self = .relu
        case "quick_gelu": self = .quickGelu
        default: return nil
        }
    }

    /// Applies the activation in place to `count` elements.
    @inlinable
    public func apply(_ p: UnsafeMutablePointer<Float>, count: Int) {
        if self == .gelu { dfk_gelu(p, count); return }
        var i = 0
        while i + 8 <= count {
            store8(apply8(load8(p + i)), p + i)
            i += 8
        }
        if i < count {
            var tail = Vec8(repeating: 0)
            for j in 0..<(count - i) { tail[j] = p[i + j] }
            let out = apply8(tail)
            for j in 0..<(count - i) { p[i + j] = out[j] }
        }
    }

    @inlinable @inline(__always)
    func apply8(_ x: Vec8) -> Vec8 {
        switch self {
        case .gelu:
            return 0.5 * x * (1 + erf8(x * 0.707_106_781_186_547_5))
        case .geluTanh:
            let u = 0.797_884_560_802_865_4 * (x + 0.044_715 * x * x * x)
            // tanh(u) = 1 - 2/(e^{2u} + 1)
            let th = 1 - 2 / (exp8(2 * u) + 1)
            return 0.5 * x * (1 + th)
        case .relu:
            return x.replacing(with: 0, where: x .< 0)
        case .quickGelu:
            return x / (1 + exp8(-1.702 * x))
        }
    }
}

// MARK: row reductions

/// LayerNorm over the last dimension: out[r] = (x[r] − mean) / √(var + eps) · gamma + beta,
/// biased variance, for `rows` rows of `width` (x and out may alias).
@inlinable
public func layerNorm(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, rows: Int, width: Int,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float
) {
    dfk_layer_norm(x, out, rows, width, gamma, beta, eps, nil, nil)
}

/// Softmax of each row in place: x ← exp(x − max) / Σ exp(x − max); rows of `width`, `stride` apart.
@inlinable
public func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, stride: Int) {
    dfk_softmax_rows(x, rows, width, stride)
}

/// y[r, :] += bias for `rows` rows of `cols`, then the activation, in one pass where the kernel fuses them
/// (exact GELU); `activation` nil adds the bias only.
@inlinable
public func addBiasRows(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int,
                        activation: Activation? = nil) {
    switch activation {
    case nil: dfk_bias_rows(y, bias, rows, cols, 0)
    case .gelu: dfk_bias_rows(y, bias, rows, cols, 1)
    case let other?:
        dfk_bias_rows(y, bias, rows, cols, 0)
        other.apply(y, count: rows * cols)
    }
}

/// Which vector instruction set the C kernels use ("avx512", "avx2" or "baseline").
public enum KernelISA: Int32, Sendable, CaseIterable {
    case baseline = 0, avx2 = 1, avx512 = 2

    /// The set in use: the best supported one unless `force` lowered it.
    public static var current: KernelISA { KernelISA(rawValue: dfk_isa()) ?? .baseline }
    /// The best set this CPU supports, capped by the environment variable DEEPFAKE_ISA (baseline, avx2,
    /// avx512), which imitates a CPU with fewer vector units.
    public static var supported: KernelISA { KernelISA(rawValue: dfk_isa_supported()) ?? .baseline }
    /// Why DEEPFAKE_ISA cannot be used, when it names no set (the kernels then run the baseline set); nil
    /// when it is unset or valid. Programs report it and stop.
    public static var environmentProblem: String? {
        guard dfk_isa_environment() == -2 else { return nil }
        let value = getenv("DEEPFAKE_ISA").map { String(cString: $0) } ?? ""
        return "DEEPFAKE_ISA=\(value) names no instruction set; use baseline, avx2 or avx512 (or leave it unset)"
    }
    /// Uses `isa` (at most what the CPU supports) from now on: for tests and benchmarks.
    public static func force(_ isa: KernelISA) { dfk_force_isa(isa.rawValue) }
    /// Runs `body` under each set this CPU supports, lowest first, then restores the set in use: for tests
    /// that must hold on every machine, whatever its vector units.
    public static func forEachSupported(_ body: (KernelISA) throws -> Void) rethrows {
        let saved = current
        defer { force(saved) }
        for isa in allCases where isa.rawValue <= supported.rawValue {
            force(isa)
            try body(isa)
        }
    }
    public var name: String { ["baseline", "avx2", "avx512"][Int(rawValue)] }
}
