// The public decoding entry points: read the bytes, detect the format by content, dispatch to
// the format's decoder. Every decoder returns what Pillow 13's `Image.open(p).convert("RGB")`
// returns, bit for bit.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CImageCodecs
import Foundation

/// Options for ``decodeImage(_:name:options:)-([UInt8],_,_)`` and its variants.
public struct DecodeOptions: Sendable {
    /// Largest admissible `width * height`. Images above it are refused after reading the header,
    /// before any pixel memory is allocated. The default is Pillow's decompression-bomb error
    /// threshold (2 × `Image.MAX_IMAGE_PIXELS`).
    public var maxPixels: Int = 178_956_970

    /// When set, the decoder returns only the pixels a torchvision `CenterCrop(n)` keeps (the whole image
    /// along a side shorter than `n`), with the values a full decode has there. `Preprocessing.centerCrop(n)`
    /// gives the same tensor from this window as from the full image. JPEG then decodes only those rows and
    /// columns (plus the upsampler's context); other formats are decoded whole and cropped.
    public var centerCropWindow: Int?

    /// - Parameters:
    ///   - maxPixels: largest admissible `width * height`.
    ///   - centerCropWindow: return only what `CenterCrop(n)` keeps (see the property).
    public init(maxPixels: Int = 178_956_970, centerCropWindow: Int? = nil) {
        self.maxPixels = maxPixels
        self.centerCropWindow = centerCropWindow
    }
}

/// Decodes an in-memory image file (JPEG, PNG, BMP, GIF, TIFF or WebP, detected by content).
///
/// - Parameters:
///   - bytes: the whole file.
///   - name: how errors refer to the input (e.g. the path the user gave, or a tar member name).
///   - options: limits.
/// - Returns: the image as Pillow's `Image.open(...).convert("RGB")` gives it: first frame or page
///   only, alpha dropped (never blended), EXIF orientation not applied (TIFF Orientation tags are,
///   as Pillow applies them when loading TIFFs).
public func decodeImage(_ bytes: UnsafeRawBufferPointer, name: String,
                        options: DecodeOptions = .init()) throws(ImageError) -> RGBImage {
    guard bytes.count > 0 else { throw .empty(name: name) }
    guard let format = sniffImageFormat(bytes) else { throw .unrecognizedFormat(name: name) }
    let input = DecoderInput(bytes: bytes, name: name, format: format, maxPixels: max(0, options.maxPixels))
    let image: RGBImage
    switch format {
    case .jpeg: return try decodeJPEG(input, centerCropWindow: options.centerCropWindow)
    case .png: image = try decodePNG(input)
    case .bmp: image = try decodeBMP(input)
    case .gif: image = try decodeGIF(input)
    case .tiff: image = try decodeTIFF(input)
    case .webp: image = try decodeWebP(input)
    }
    guard let size = options.centerCropWindow, size > 0 else { return image }
    return image.copyOfWindow(PixelWindow.centerCrop(width: image.width, height: image.height, size: size))
}

extension PixelWindow {
    /// The source pixels torchvision's `CenterCrop(size)` keeps of a `width` × `height` image.
    static func centerCrop(width: Int, height: Int, size: Int) -> PixelWindow {
        let ax = CenterCropAxis(sourceSize: width, cropSize: size), ay = CenterCropAxis(sourceSize: height, cropSize: size)
        return PixelWindow(x: ax.visible.lowerBound + ax.shift, y: ay.visible.lowerBound + ay.shift,
                           width: ax.visible.count, height: ay.visible.count)
    }
}

/// Decodes an in-memory image file; see ``decodeImage(_:name:options:)-(UnsafeRawBufferPointer,_,_)``.
public func decodeImage(_ bytes: [UInt8], name: String,
                        options: DecodeOptions = .init()) throws(ImageError) -> RGBImage {
    try withBytes(bytes) { (buffer) throws(ImageError) in try decodeImage(buffer, name: name, options: options) }
}

/// Decodes an in-memory image file; see ``decodeImage(_:name:options:)-(UnsafeRawBufferPointer,_,_)``.
public func decodeImage(_ data: Data, name: String,
                        options: DecodeOptions = .init()) throws(ImageError) -> RGBImage {
    try withBytes(data) { (buffer) throws(ImageError) in try decodeImage(buffer, name: name, options: options) }
}

/// Reads and decodes the image file at `path`; errors name the file by `path` as given.
public func decodeImage(path: String, options: DecodeOptions = .init()) throws(ImageError) -> RGBImage {
    let bytes = try readFile(path)
    return try decodeImage(bytes, name: path, options: options)
}

// MARK: - Internals shared by the format decoders

/// What a format decoder gets: the file, its name for errors, the detected format and the limit.
struct DecoderInput {
    let bytes: UnsafeRawBufferPointer
    let name: String
    let format: ImageFormat
    let maxPixels: Int

    var base: UnsafePointer<UInt8> {
        // A non-empty buffer always has a base address (decodeImage rejects empty input).
        bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    }

    func truncated(_ detail: String) -> ImageError { .truncated(name: name, format: format, detail: detail) }
    func corrupt(_ detail: String) -> ImageError { .corrupt(name: name, format: format, detail: detail) }
    func unsupported(_ detail: String) -> ImageError { .unsupported(name: name, format: format, detail: detail) }
    func tooLarge(width: Int, height: Int) -> ImageError {
        .tooLarge(name: name, format: format, width: width, height: height, maxPixels: maxPixels)
    }

    /// Throws `tooLarge` when `width * height` exceeds the limit.
    func checkSize(width: Int, height: Int) throws(ImageError) {
        let (area, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || area > maxPixels { throw tooLarge(width: width, height: height) }
    }

    /// Maps a C shim status (other than CIC_OK) to an error.
    func error(status: Int32, message: String, width: Int32, height: Int32) -> ImageError {
        let detail = message.isEmpty ? "decoder error \(status)" : message
        switch Int(status) {
        case Int(CIC_TRUNCATED): return truncated(detail)
        case Int(CIC_TOO_LARGE): return tooLarge(width: Int(width), height: Int(height))
        case Int(CIC_UNSUPPORTED): return unsupported(detail)
        case Int(CIC_NO_MEMORY): return .outOfMemory(name: name, format: format)
        default: return corrupt(detail)
        }
    }
}

/// Runs `body` on the contiguous bytes of a collection (typed-throws friendly).
private func withBytes<C: ContiguousBytes>(
    _ bytes: C, _ body: (UnsafeRawBufferPointer) throws(ImageError) -> RGBImage
) throws(ImageError) -> RGBImage {
    let result: Result<RGBImage, ImageError> = bytes.withUnsafeBytes { buffer in
        do throws(ImageError) { return .success(try body(buffer)) } catch { return .failure(error) }
    }
    return try result.get()
}

/// A `count`-byte array written by `fill` (a C shim call returning a CIC status).
/// On failure the array is empty and the status says why. `count` must be positive.
func filledBytes(count: Int, _ fill: (UnsafeMutablePointer<UInt8>) -> Int32) -> (bytes: [UInt8], status: Int32) {
    var status = Int32(CIC_OK)
    let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        status = fill(buffer.baseAddress!)
        initialized = status == CIC_OK ? count : 0
    }
    return (bytes, status)
}

/// The text of a fixed-size C message buffer.
func messageText<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Reads a whole file with POSIX calls, straight into the returned array.
private func readFile(_ path: String) throws(ImageError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { throw .unreadable(name: path, reason: String(cString: strerror(errno))) }
    defer { close(descriptor) }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
        throw .unreadable(name: path, reason: String(cString: strerror(errno)))
    }
    if (status.st_mode & S_IFMT) == S_IFDIR { throw .unreadable(name: path, reason: "is a directory") }
    // One spare byte shows whether the file grew since fstat.
    var bytes = [UInt8](repeating: 0, count: max(Int(status.st_size), 0) + 1)
    var filled = 0
    while true {
        if filled == bytes.count { bytes.append(contentsOf: repeatElement(0, count: max(bytes.count, 1 << 16))) }
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
        if count < 0 {
            if errno == EINTR { continue }
            throw .unreadable(name: path, reason: String(cString: strerror(errno)))
        }
        if count == 0 { break }
        filled += count
    }
    bytes.removeSubrange(filled...)
    return bytes
}
