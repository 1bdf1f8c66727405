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
