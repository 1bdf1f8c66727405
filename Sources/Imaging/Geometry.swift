// Geometric helpers for the training augmentations: constant-colour padding (augly `pad`,
// torchvision `F.pad(img, padding, fill)` in "constant" mode on a PIL RGB image). Resizing with a
// chosen filter is `RGBImage.resized(width:height:filter:)` in Resample.swift; cropping is
// `RGBImage.cropped(_:)`.

extension RGBImage {
    /// The image with `left`, `top`, `right` and `bottom` pixels of `fill` added around it: a
    /// `(left + width + right) × (top + height + bottom)` canvas of `fill` with this image pasted at
    /// `(left, top)` (what augly's `pad` and torchvision's constant-mode `pad` produce).
    ///
    /// - Precondition: all four margins are non-negative.
    public func padded(left: Int, top: Int, right: Int, bottom: Int,
                       fill: (red: UInt8, green: UInt8, blue: UInt8) = (0, 0, 0)) -> RGBImage {
        precondition(left >= 0 && top >= 0 && right >= 0 && bottom >= 0,
                     "padded: negative margin (\(left), \(top), \(right), \(bottom))")
        let outW = left + width + right, outH = top + height + bottom
        var out = [UInt8](repeating: 0, count: outW * outH * 3)
        if fill != (0, 0, 0) {
            var i = 0
            while i < out.count {
                out[i] = fill.red; out[i + 1] = fill.green; out[i + 2] = fill.blue
                i += 3
            }
        }
        let rowBytes = width * 3
        if rowBytes > 0 && height > 0 {
            pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for r in 0..<height {
                        let to = dst.baseAddress! + ((top + r) * outW + left) * 3
                        to.update(from: src.baseAddress! + r * rowBytes, count: rowBytes)
                    }
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }
}
