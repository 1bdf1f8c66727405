// The two CoDE preprocessing pipelines (docs/upstream.md, Preprocessing), from decoded RGB to a normalised tensor.

/// A CoDE preprocessing pipeline: PIL-semantics geometry followed by `ToTensor` + `Normalize`,
/// producing a `3 × crop × crop` float32 CHW tensor bit-identical to torchvision's.
public enum Preprocessing: Sendable, Equatable {
    /// `CenterCrop(size)` → ToTensor → Normalize (the released inference / D3 test protocol;
    /// images smaller than the crop are zero-padded).
    case centerCrop(size: Int)
    /// `Resize(resize, BICUBIC)` (shorter side) → `CenterCrop(crop)` → ToTensor → Normalize
    /// (the training and in-training evaluation path).
    case resizeThenCenterCrop(resize: Int, crop: Int)

    /// CoDE inference: `CenterCrop(224)` only, no resize.
    public static let inference = Preprocessing.centerCrop(size: 224)
    /// CoDE training / evaluation: `Resize(248, BICUBIC)` + `CenterCrop(224)`.
    public static let trainingEval = Preprocessing.resizeThenCenterCrop(resize: 248, crop: 224)

    /// Side of the square output.
    public var cropSize: Int {
        switch self {
        case .centerCrop(let size): return size
        case .resizeThenCenterCrop(_, let crop): return crop
        }
    }

    /// Number of floats `apply` produces: `3 * cropSize * cropSize`.
    public var outputCount: Int { 3 * cropSize * cropSize }

    /// Runs the pipeline on `image`, returning `3 * crop * crop` floats in CHW order.
    public func apply(_ image: RGBImage, normalization: Normalization = .imageNet) -> [Float] {
        let n = outputCount
        return [Float](unsafeUninitializedCapacity: n) { buffer, initialised in
            apply(image, normalization: normalization, into: buffer)
            initialised = n
        }
    }

    /// Runs the pipeline writing the first `3 * crop * crop` floats of `into` (CHW order).
    ///
    /// Only what the crop keeps is computed: the crop reads just the kept pixels, and the
    /// resize of `.resizeThenCenterCrop` evaluates only the resized pixels inside the crop
    /// window (bit-identical to resizing the whole image and cropping).
    ///
    /// - Precondition: `into.count >= outputCount`; for `.resizeThenCenterCrop` the image is non-empty.
    public func apply(_ image: RGBImage, normalization: Normalization, into: UnsafeMutableBufferPointer<Float>) {
        let lut = normalization.lookupTable()
        switch self {
        case .centerCrop(let size):
            writeNormalizedCrop(image, width: size, height: size,
                                CenterCropAxis(sourceSize: image.width, cropSize: size),
                                CenterCropAxis(sourceSize: image.height, cropSize: size),
                                lut: lut, into: into)
        case .resizeThenCenterCrop(let resize, let crop):
            let target = RGBImage.shorterSideTarget(width: image.width, height: image.height, size: resize)
            let ax = CenterCropAxis(sourceSize: target.width, cropSize: crop)
            let ay = CenterCropAxis(sourceSize: target.height, cropSize: crop)
            if target.width == image.width && target.height == image.height {
                // torchvision's Resize returns the image untouched.
                writeNormalizedCrop(image, width: crop, height: crop, ax, ay, lut: lut, into: into)
                return
            }
            // Resize only the window of the resized image that the crop shows.
            let window = PixelWindow(x: ax.visible.lowerBound + ax.shift, y: ay.visible.lowerBound + ay.shift,
                                     width: ax.visible.count, height: ay.visible.count)
            let part = image.resizedBicubicWindow(width: target.width, height: target.height, window: window)
            var wx = ax, wy = ay
            wx.shift = -ax.visible.lowerBound
            wy.shift = -ay.visible.lowerBound
            writeNormalizedCrop(part, width: crop, height: crop, wx, wy, lut: lut, into: into)
        }
    }
}
