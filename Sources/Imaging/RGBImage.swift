/// An 8-bit RGB image, the decoders' output: `height` rows of `width` interleaved R, G, B bytes.
///
/// The pixel values are exactly those of Pillow's `np.asarray(Image.open(path).convert("RGB"))`.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Row-major, interleaved RGB samples (HWC); `pixels.count == width * height * 3`.
    public var pixels: [UInt8]

    /// Wraps existing pixels.
    /// - Precondition: `width >= 0`, `height >= 0` and `pixels.count == width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "RGBImage: negative size \(width)x\(height)")
        precondition(pixels.count == width * height * 3,
                     "RGBImage: \(pixels.count) bytes for \(width)x\(height) RGB (expected \(width * height * 3))")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

extension RGBImage {
    /// A `width`×`height` image whose pixel (x, y) is this image's pixel `source(x, y)`: flips, transposes and
    /// other exact pixel permutations.
    @inlinable
    public func remapped(width newWidth: Int, height newHeight: Int, _ source: (_ x: Int, _ y: Int) -> (x: Int, y: Int)) -> RGBImage {
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<newHeight {
                    for x in 0..<newWidth {
                        let (sx, sy) = source(x, y)
                        let s = (sy * width + sx) * 3, d = (y * newWidth + x) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }
}
