// torchvision `ToTensor()` + `Normalize(mean, std)` on CPU float32, bit-exact.

/// Per-channel mean and standard deviation for `Normalize`, in float32 as torchvision uses
/// them (`torch.as_tensor(mean, dtype=float32)`).
public struct Normalization: Sendable, Equatable {
    /// Channel means (R, G, B), subtracted from the `[0, 1]` pixel values.
    public var mean: (Float, Float, Float)
    /// Channel standard deviations (R, G, B), dividing the centred values.
    public var std: (Float, Float, Float)

    /// Creates a normalisation from float32 means and standard deviations.
    public init(mean: (Float, Float, Float), std: (Float, Float, Float)) {
        self.mean = mean
        self.std = std
    }

    /// ImageNet statistics, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), as used by
    /// CoDE. Converted decimal → Double → Float, the path Python floats take into torch.
    public static let imageNet = Normalization(
        mean: (Float(0.485 as Double), Float(0.456 as Double), Float(0.406 as Double)),
        std: (Float(0.229 as Double), Float(0.224 as Double), Float(0.225 as Double)))

    public static func == (a: Normalization, b: Normalization) -> Bool {
        a.mean == b.mean && a.std == b.std
    }

    /// The 256 possible outputs of each channel, `lut[c * 256 + p] = (Float(p) / 255 - mean[c]) / std[c]`,
    /// each operation rounded to float32 separately (as torch's `div`, `sub_`, `div_` kernels do).
    func lookupTable() -> [Float] {
        let means = [mean.0, mean.1, mean.2]
        let stds = [std.0, std.1, std.2]
        var lut = [Float](repeating: 0, count: 3 * 256)
        for c in 0..<3 {
            for p in 0..<256 {
                let x: Float = Float(p) / 255
                let centred: Float = x - means[c]
                lut[c * 256 + p] = centred / stds[c]
            }
        }
        return lut
    }
}

/// torchvision `ToTensor()` followed by `Normalize(norm.mean, norm.std)`, bit-exact with
/// torch on CPU in float32: `x = Float(p) / 255` (a true division), then `(x - mean) / std`,
/// each step rounded to `Float`. Returns `3 * height * width` values, channel-planar (CHW).
public func normalizedCHW(_ image: RGBImage, _ norm: Normalization = .imageNet) -> [Float] {
    let n = 3 * image.width * image.height
    return [Float](unsafeUninitializedCapacity: n) { buffer, initialised in
        normalizedCHW(image, norm, into: buffer)
        initialised = n
    }
}

/// `normalizedCHW(_:_:)` writing into a caller-provided buffer (e.g. one slot of a batch);
/// the first `3 * height * width` elements are written.
///
/// - Precondition: `into.count >= 3 * image.width * image.height`.
public func normalizedCHW(_ image: RGBImage, _ norm: Normalization, into: UnsafeMutableBufferPointer<Float>) {
    let ax = CenterCropAxis(sourceSize: image.width, cropSize: image.width)
    let ay = CenterCropAxis(sourceSize: image.height, cropSize: image.height)
    writeNormalizedCrop(image, width: image.width, height: image.height, ax, ay,
                        lut: norm.lookupTable(), into: into)
}

/// Writes the normalised CHW planes of a `width`×`height` crop of `source` described by
/// `ax`/`ay` (pixels outside the source are zero bytes, i.e. `lut[c * 256]`).
func writeNormalizedCrop(_ source: RGBImage, width: Int, height: Int,
                         _ ax: CenterCropAxis, _ ay: CenterCropAxis,
                         lut: [Float], into: UnsafeMutableBufferPointer<Float>) {
    let plane = width * height
    precondition(into.count >= 3 * plane, "normalizedCHW: buffer holds \(into.count) floats, need \(3 * plane)")
    if plane == 0 { return }
    let out0 = into.baseAddress!, out1 = out0 + plane, out2 = out1 + plane
    lut.withUnsafeBufferPointer { lutBuf in
        let l0 = lutBuf.baseAddress!, l1 = l0 + 256, l2 = l1 + 256
        let pad0 = l0[0], pad1 = l1[0], pad2 = l2[0]
        source.pixels.withUnsafeBufferPointer { src in
            let xs = ax.visible
            for oy in 0..<height {
                let rowOut = oy * width
                if !ay.visible.contains(oy) || xs.isEmpty {
                    (out0 + rowOut).update(repeating: pad0, count: width)
                    (out1 + rowOut).update(repeating: pad1, count: width)
                    (out2 + rowOut).update(repeating: pad2, count: width)
                    continue
                }
                if xs.lowerBound > 0 {
                    (out0 + rowOut).update(repeating: pad0, count: xs.lowerBound)
                    (out1 + rowOut).update(repeating: pad1, count: xs.lowerBound)
                    (out2 + rowOut).update(repeating: pad2, count: xs.lowerBound)
                }
                if xs.upperBound < width {
                    let tail = width - xs.upperBound
                    (out0 + rowOut + xs.upperBound).update(repeating: pad0, count: tail)
                    (out1 + rowOut + xs.upperBound).update(repeating: pad1, count: tail)
                    (out2 + rowOut + xs.upperBound).update(repeating: pad2, count: tail)
                }
                var p = src.baseAddress! + ((oy + ay.shift) * source.width + xs.lowerBound + ax.shift) * 3
                let o0 = out0 + rowOut, o1 = out1 + rowOut, o2 = out2 + rowOut
                for ox in xs {
                    o0[ox] = l0[Int(p[0])]
                    o1[ox] = l1[Int(p[1])]
                    o2[ox] = l2[Int(p[2])]
                    p += 3
                }
            }
        }
    }
}
