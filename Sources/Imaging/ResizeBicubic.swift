// Pillow's `Image.resize(size, Image.BICUBIC)` for 8-bit RGB, bit-exact, plus torchvision's
// `Resize(int)` size rule. The resampler itself (filter banks, fixed-point passes, Pillow 13's
// pass order) lives in Resample.swift and serves every filter; see there for the rules.
//
// Preprocessing asks for just a window of the resized image (the part a centre crop keeps);
// every pixel of that window is computed exactly as in the full resize.

extension RGBImage {
    /// Pillow `Image.resize((width, height), Image.BICUBIC)`, bit-exact, for an RGB image.
    ///
    /// Separable and antialiased: the cubic kernel (a = -0.5) is stretched by the downscale
    /// factor, its taps are normalised to sum to one and quantised to 22-bit fixed point, and
    /// each pass rounds and clamps to 8 bits exactly as Pillow does. The passes run in
    /// Pillow 13.0's order: vertical first when the height shrinks by more than twice as many
    /// pixels as the width, otherwise horizontal first (on only the rows the vertical pass
    /// reads). Upscaling uses the plain 4-tap kernel. An axis whose size does not change is
    /// left unfiltered, and resizing to the current size returns an identical image.
    ///
    /// - Precondition: the image and the target size are non-empty.
    public func resizedBicubic(width newWidth: Int, height newHeight: Int) -> RGBImage {
        resized(width: newWidth, height: newHeight, filter: .bicubic)
    }

    /// torchvision `Resize(size, interpolation=BICUBIC)` on a PIL image: the shorter side
    /// becomes `size` and the longer side `int(size * long / short)` (truncated); for a square
    /// image both become `size`. If that is already the image's size, the image is returned
    /// unchanged (torchvision returns the input as is); otherwise this is `resizedBicubic`.
    ///
    /// - Precondition: the image is non-empty and `size > 0`.
    public func resizedShorterSide(to size: Int) -> RGBImage {
        let target = RGBImage.shorterSideTarget(width: width, height: height, size: size)
        if target.width == width && target.height == height { return self }
        return resizedBicubic(width: target.width, height: target.height)
    }

    /// The output size of torchvision's `Resize(size)` (an `int`, no `max_size`) for a
    /// `width`×`height` image: the shorter side (the width when the sides are equal) becomes
    /// `size`, the other `int(size * long / short)` computed in double precision and truncated,
    /// as Python does.
    ///
    /// - Precondition: all arguments are positive.
    public static func shorterSideTarget(width: Int, height: Int, size: Int) -> (width: Int, height: Int) {
        precondition(width > 0 && height > 0 && size > 0, "Resize: sizes must be positive")
        let widthIsShort = width <= height
        let short = widthIsShort ? width : height
        let long = widthIsShort ? height : width
        // Python's int / int is the correctly rounded quotient; so is Double / Double of the
        // (exactly representable) operands.
        let newLong = Int(Double(size * long) / Double(short))
        return widthIsShort ? (size, newLong) : (newLong, size)
    }

    /// The pixels `window` of `resizedBicubic(width:height:)`, computed without producing the
    /// rest of the resized image; bit-identical to cropping the full result.
    func resizedBicubicWindow(width newWidth: Int, height newHeight: Int, window: PixelWindow) -> RGBImage {
        resizedWindow(width: newWidth, height: newHeight, filter: .bicubic, window: window)
    }
}
