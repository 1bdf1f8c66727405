// torchvision `CenterCrop` semantics on PIL images.

/// How one axis of a torchvision centre crop maps output indices to source indices:
/// output index `i` shows source index `i + shift` when that lies in `0..<sourceSize`, and the
/// zero padding otherwise. `visible` is the range of output indices that show source pixels.
struct CenterCropAxis: Equatable {
    var shift: Int
    var visible: Range<Int>

    /// torchvision's rule for a source of `sourceSize` pixels and a crop of `cropSize`:
    /// when the source is smaller it is first zero-padded by `(crop - n) / 2` before and
    /// `(crop - n + 1) / 2` after (integer division); the crop then starts at
    /// `int(round((padded - crop) / 2.0))`, Python's round-half-to-even (so an excess of 1
    /// starts at 0, an excess of 3 at 2).
    init(sourceSize n: Int, cropSize c: Int) {
        precondition(n >= 0 && c >= 0, "CenterCrop: negative size")
        let padBefore = c > n ? (c - n) / 2 : 0
        let padAfter = c > n ? (c - n + 1) / 2 : 0
        let excess = n + padBefore + padAfter - c
        let half = excess / 2
        // x.5 rounds to the even neighbour.
        let offset = excess % 2 == 0 ? half : half + (half & 1)
        shift = offset - padBefore
        let lo = max(0, -shift)
        let hi = min(c, n - shift)
        visible = lo < hi ? lo..<hi : lo..<lo
    }
}

extension RGBImage {
    /// torchvision `CenterCrop((height, width))` on a PIL image.
    ///
    /// An axis shorter than the crop is first zero-padded (black) by `(crop - n) / 2` before and
    /// `(crop - n + 1) / 2` after; the crop then starts at `int(round((n - crop) / 2.0))` with
    /// Python's round-half-to-even (height 225 → top 0, height 227 → top 2 for a 224 crop).
    /// Only the kept pixels are read.
    ///
    /// - Precondition: `width >= 0` and `height >= 0`.
    public func centerCropped(width cropWidth: Int, height cropHeight: Int) -> RGBImage {
        let ax = CenterCropAxis(sourceSize: width, cropSize: cropWidth)
        let ay = CenterCropAxis(sourceSize: height, cropSize: cropHeight)
        var out = [UInt8](repeating: 0, count: cropWidth * cropHeight * 3)
        let count = ax.visible.count * 3
        if count > 0 && !ay.visible.isEmpty {
            pixels.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for oy in ay.visible {
                        let from = src.baseAddress! + ((oy + ay.shift) * width + ax.visible.lowerBound + ax.shift) * 3
                        let to = dst.baseAddress! + (oy * cropWidth + ax.visible.lowerBound) * 3
                        to.update(from: from, count: count)
                    }
                }
            }
        }
        return RGBImage(width: cropWidth, height: cropHeight, pixels: out)
    }

    /// torchvision `CenterCrop(size)`: a square `size`×`size` centre crop (see
    /// `centerCropped(width:height:)`).
    public func centerCropped(size: Int) -> RGBImage {
        centerCropped(width: size, height: size)
    }
}
