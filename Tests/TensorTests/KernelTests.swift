import Foundation
import Tensor
import XCTest

/// Kernels against double-precision libm and straightforward double-precision formulas. Every test runs
/// once per instruction set this CPU supports (the C kernels are compiled for AVX-512, AVX2+FMA and baseline
/// x86-64 and chosen at run time); failure messages name the set.
final class KernelTests: XCTestCase {
    private var isa: String { KernelISA.current.name }
    private func grid(_ lo: Double, _ hi: Double, _ n: Int) -> [Float] {
        (0..<n).map { Float(lo + (hi - lo) * Double($0) / Double(n - 1)) }
    }

    func testExpMatchesLibmToOneMillionth() {
        let xs = grid(-87, 88, 100_003)
        var worst = 0.0
        for chunk in stride(from: 0, to: xs.count - 8, by: 8) {
            let v = exp8(SIMD8<Float>(xs[chunk..<(chunk + 8)]))
            for j in 0..<8 {
                let ref = Foundation.exp(Double(xs[chunk + j]))
                worst = max(worst, abs(Double(v[j]) - ref) / ref)
            }
        }
        XCTAssertLessThan(worst, 1e-6, "worst relative error \(worst)")
    }

    func testErfMatchesLibm() {
        let xs = grid(-6, 6, 400_001)
        var worst = 0.0
        for chunk in stride(from: 0, to: xs.count - 8, by: 8) {
            let v = erf8(SIMD8<Float>(xs[chunk..<(chunk + 8)]))
            for j in 0..<8 { worst = max(worst, abs(Double(v[j]) - Foundation.erf(Double(xs[chunk + j])))) }
        }
        XCTAssertLessThan(worst, 2e-7, "worst absolute error \(worst)")
    }

    func testActivationsMatchTheirFormulas() { KernelISA.forEachSupported { _ in
        var xs = grid(-8, 8, 1003)  // not a multiple of 8: exercises the tail
        let original = xs
        for act in Activation.allCases {
            xs = original
            xs.withUnsafeMutableBufferPointer { act.apply($0.baseAddress!, count: $0.count) }
            for (x, y) in zip(original, xs) {
                let d = Double(x)
                let ref: Double
                switch act {
                case .gelu: ref = 0.5 * d * (1 + Foundation.erf(d / 2.0.squareRoot()))
                case .geluTanh: ref = 0.5 * d * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (d + 0.044715 * d * d * d)))
                case .relu: ref = max(0, d)
                case .quickGelu: ref = d / (1 + Foundation.exp(-1.702 * d))
                }
                XCTAssertEqual(Double(y), ref, accuracy: 2e-6, "\(isa): \(act) at \(x)")
            }
        }
    }}

    func testSoftmaxRowsAgainstDouble() { KernelISA.forEachSupported { _ in
        let width = 197, rows = 3
        var x = (0..<(rows * width)).map { Float(sin(Double($0) * 0.37) * 9) }
        let original = x
        x.withUnsafeMutableBufferPointer { softmaxRows($0.baseAddress!, rows: rows, width: width, stride: width) }
        for r in 0..<rows {
            let row = original[(r * width)..<((r + 1) * width)].map(Double.init)
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            for j in 0..<width { XCTAssertEqual(Double(x[r * width + j]), e[j] / s, accuracy: 1e-7, isa) }
        }
    }}

    func testLayerNormAgainstDouble() { KernelISA.forEachSupported { _ in
        let width = 203, rows = 4
        let x = (0..<(rows * width)).map { Float(cos(Double($0) * 0.11) * 3 + 0.5) }
        let gamma = (0..<width).map { Float(1 + 0.01 * Double($0 % 7)) }
        let beta = (0..<width).map { Float(0.1 * Double($0 % 5) - 0.2) }
        var out = [Float](repeating: 0, count: x.count)
        layerNorm(x, &out, rows: rows, width: width, gamma: gamma, beta: beta, eps: 1e-6)
        for r in 0..<rows {
            let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
            let mean = row.reduce(0, +) / Double(width)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
            for j in 0..<width {
                let ref = (row[j] - mean) / (variance + 1e-6).squareRoot() * Double(gamma[j]) + Double(beta[j])
                XCTAssertEqual(Double(out[r * width + j]), ref, accuracy: 2e-6, isa)
            }
        }
    }}

    /// The statistics-recording LayerNorm and the recomputation from statistics give layerNorm's values bit for bit.
    func testLayerNormVariantsAreBitIdentical() { KernelISA.forEachSupported { _ in
        let width = 203, rows = 5
        let x = (0..<(rows * width)).map { Float(sin(Double($0) * 0.23) * 4 - 0.3) }
        let gamma = (0..<width).map { Float(1 - 0.02 * Double($0 % 9)) }
        let beta = (0..<width).map { Float(0.05 * Double($0 % 4)) }
        var plain = [Float](repeating: 0, count: x.count), recorded = plain, recomputed = plain
        var mean = [Float](repeating: 0, count: rows), rstd = mean
        layerNorm(x, &plain, rows: rows, width: width, gamma: gamma, beta: beta, eps: 1e-5)
        layerNormRecordingStatistics(x, &recorded, rows: rows, width: width, gamma: gamma, beta: beta, eps: 1e-5, mean: &mean, rstd: &rstd)
        layerNormFromStatistics(x, &recomputed, rows: rows, width: width, gamma: gamma, beta: beta, mean: mean, rstd: rstd)
        XCTAssertEqual(recorded, plain, isa)
        XCTAssertEqual(recomputed, plain, isa)
    }}

    /// Bias plus activation in one pass equals the bias added, then the activation applied.
    func testFusedBiasActivationEqualsTwoPasses() { KernelISA.forEachSupported { _ in
        let rows = 7, cols = 37  // not a multiple of 16: the padded tail
        let y0 = (0..<(rows * cols)).map { Float(sin(Double($0) * 0.61) * 5) }
        let bias = (0..<cols).map { Float(cos(Double($0)) * 0.5) }
        for act in [nil] + Activation.allCases.map(Optional.some) {
            var fused = y0, twoPasses = y0
            addBiasRows(&fused, bias: bias, rows: rows, cols: cols, activation: act)
            addBiasRows(&twoPasses, bias: bias, rows: rows, cols: cols)
            for r in 0..<rows { for c in 0..<cols { XCTAssertEqual(twoPasses[r * cols + c], y0[r * cols + c] + bias[c], isa) } }
            if let act { act.apply(&twoPasses, count: twoPasses.count) }
            XCTAssertEqual(fused, twoPasses, "\(isa): \(String(describing: act))")
        }
    }}

    func testLinearForwardAgainstDoubleProduct() {
        let rows = 37, inF = 29, outF = 23
        let x = (0..<(rows * inF)).map { Float(sin(Double($0))) }
        let w = (0..<(outF * inF)).map { Float(cos(Double($0) * 0.7)) }
        let b = (0..<outF).map { Float($0) * 0.1 }
        for threads in [1, 2, 3] {
            var y = [Float](repeating: .nan, count: rows * outF)
            linearForward(x: x, rows: rows, inFeatures: inF, weight: w, bias: b, outFeatures: outF, y: &y, threads: threads)
            for r in 0..<rows {
                for o in 0..<outF {
                    var ref = Double(b[o])
                    for k in 0..<inF { ref += Double(x[r * inF + k]) * Double(w[o * inF + k]) }
                    XCTAssertEqual(Double(y[r * outF + o]), ref, accuracy: 1e-4, "threads \(threads)")
                }
            }
        }
    }

    func testChunksCoverTheRangeExactlyOnce() {
        for total in [0, 1, 7, 197, 6304] {
            for parts in 1...5 {
                let ranges = (0..<parts).map { chunkRange($0, of: parts, total: total) }
                XCTAssertEqual(ranges.map(\.count).reduce(0, +), total)
                for k in 1..<parts { XCTAssertEqual(ranges[k].lowerBound, ranges[k - 1].upperBound) }
            }
        }
    }
}
