// The public decoding entry points: read the bytes, detect the format by content, dispatch to
// the format's decoder. Every decoder returns what Pillow 13's `Image.open(p).convert("RGB")`
// returns, bit for bit.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CImageCodecs
import FileAccess
import Foundation

/// Options for ``decodeImage(_:name:options:)-([UInt8],_,_)`` and its variants.
public struct DecodeOptions: Sendable {
    /// The default of ``maxBytes``: 256 MiB, far above any real image file.
    public static let defaultMaxBytes = 256 << 20

    /// Largest admissible `width * height`. Images above it are refused after reading the header,
    /// before any pixel memory is allocated. The default is Pillow's decompression-bomb error
    /// threshold (2 × `Image.MAX_IMAGE_PIXELS`).
    public var maxPixels: Int = 178_956_970

    /// When set, the decoder returns only the pixels a torchvision `CenterCrop(n)` keeps (the whole image
    /// along a side shorter than `n`), with the values a full decode has there. `Preprocessing.centerCrop(n)`
    /// gives the same tensor from this window as from the full image. JPEG then decodes only those rows and
    /// columns (plus the upsampler's context), PNG keeps only those rows and columns of each row it decodes;
    /// other formats are decoded whole and cropped.
    public var centerCropWindow: Int?

    /// Largest input accepted, in bytes: a file holding more is refused before it is read (and never read past
    /// this many bytes), an in-memory input holding more is refused too.
    public var maxBytes: Int = DecodeOptions.defaultMaxBytes

    /// The budget each decode takes its estimated peak pixel memory from before allocating any (see
    /// ``DecodeMemoryBudget``); nil for no budget. By default the process-wide ``DecodeMemoryBudget/shared``.
    public var memoryBudget: DecodeMemoryBudget? = .shared

    /// - Parameters:
    ///   - maxPixels: largest admissible `width * height`.
    ///   - centerCropWindow: return only what `CenterCrop(n)` keeps (see the property).
    ///   - maxBytes: largest input read, in bytes.
    ///   - memoryBudget: the budget decodes take their pixel memory from (nil: none).
    public init(maxPixels: Int = 178_956_970, centerCropWindow: Int? = nil, maxBytes: Int = DecodeOptions.defaultMaxBytes,
                memoryBudget: DecodeMemoryBudget? = .shared) {
        self.maxPixels = maxPixels
        self.centerCropWindow = centerCropWindow
        self.maxBytes = maxBytes
        self.memoryBudget = memoryBudget
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
    try decodeImage(bytes, name: name, options: options) { $0 }
}

/// Decodes an in-memory image file and hands the image to `use`, its memory still counted in
/// `options.memoryBudget` until `use` returns (so work on the full image, such as a resize, stays within the
/// budget too); see ``decodeImage(_:name:options:)-(UnsafeRawBufferPointer,_,_)``. `use` must not decode with
/// the same budget (it would wait for memory its caller holds).
public func decodeImage<T>(_ bytes: UnsafeRawBufferPointer, name: String, options: DecodeOptions = .init(),
                           then use: (RGBImage) -> T) throws(ImageError) -> T {
    guard bytes.count > 0 else { throw .empty(name: name) }
    guard bytes.count <= max(0, options.maxBytes) else {
        throw .unreadable(name: name, reason: FileReadError.tooLarge(size: Int64(bytes.count), limit: max(0, options.maxBytes)).description)
    }
    guard let format = sniffImageFormat(bytes) else { throw .unrecognizedFormat(name: name) }
    let window = options.centerCropWindow.flatMap { $0 > 0 ? $0 : nil }
    // A format decoded whole and then cropped holds the cropped copy too.
    let reservation = MemoryReservation(budget: options.memoryBudget, extra: window.map { bytesFor($0, $0, 3) } ?? 0)
    defer { reservation.release() }
    let input = DecoderInput(bytes: bytes, name: name, format: format, maxPixels: max(0, options.maxPixels),
                             reservation: reservation)
    var image: RGBImage
    switch format {
    case .jpeg: image = try decodeJPEG(input, centerCropWindow: window)
    case .png: image = try decodePNG(input, centerCropWindow: window)
    case .bmp: image = try decodeBMP(input)
    case .gif: image = try decodeGIF(input)
    case .tiff: image = try decodeTIFF(input)
    case .webp: image = try decodeWebP(input)
    }
    if let size = window, format != .jpeg && format != .png {
        image = image.copyOfWindow(PixelWindow.centerCrop(width: image.width, height: image.height, size: size))
    }
    return use(image)
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

/// Decodes an in-memory image file and hands it to `use` within the budget; see
/// ``decodeImage(_:name:options:then:)-(UnsafeRawBufferPointer,_,_,_)``.
public func decodeImage<T>(_ bytes: [UInt8], name: String, options: DecodeOptions = .init(),
                           then use: (RGBImage) -> T) throws(ImageError) -> T {
    let result: Result<T, ImageError> = bytes.withUnsafeBytes { buffer in
        do throws(ImageError) { return .success(try decodeImage(buffer, name: name, options: options, then: use)) }
        catch { return .failure(error) }
    }
    return try result.get()
}

/// Decodes an in-memory image file; see ``decodeImage(_:name:options:)-(UnsafeRawBufferPointer,_,_)``.
public func decodeImage(_ data: Data, name: String,
                        options: DecodeOptions = .init()) throws(ImageError) -> RGBImage {
    try withBytes(data) { (buffer) throws(ImageError) in try decodeImage(buffer, name: name, options: options) }
}

/// Reads and decodes the image file at `path`; errors name the file by `path` as given.
///
/// Only a regular file is read (a FIFO, socket or device is refused without blocking on it), and at most
/// `options.maxBytes` bytes of it.
public func decodeImage(path: String, options: DecodeOptions = .init()) throws(ImageError) -> RGBImage {
    try decodeImage(pathBytes: Array(path.utf8), name: path, options: options)
}

/// Reads and decodes the image file whose path is `pathBytes` (a name that need not be UTF-8); errors name it
/// `name`. See ``decodeImage(path:options:)``.
public func decodeImage(pathBytes: [UInt8], name: String, options: DecodeOptions = .init()) throws(ImageError) -> RGBImage {
    try decodeImage(pathBytes: pathBytes, name: name, options: options) { $0 }
}

/// Reads and decodes the image file whose path is `pathBytes` and hands the image to `use` while its memory is
/// still counted in the budget; see ``decodeImage(_:name:options:then:)-(UnsafeRawBufferPointer,_,_,_)``.
public func decodeImage<T>(pathBytes: [UInt8], name: String, options: DecodeOptions = .init(),
                           then use: (RGBImage) -> T) throws(ImageError) -> T {
    let bytes: [UInt8]
    do {
        bytes = try readRegularFile(pathBytes, limit: max(0, options.maxBytes))
    } catch {
        throw .unreadable(name: name, reason: error.description)
    }
    return try decodeImage(bytes, name: name, options: options, then: use)
}

// MARK: - Internals shared by the format decoders

/// What a format decoder gets: the file, its name for errors, the detected format and the limit.
struct DecoderInput {
    let bytes: UnsafeRawBufferPointer
    let name: String
    let format: ImageFormat
    let maxPixels: Int
    /// Where the decoder takes its memory from (once, from its estimate after the header).
    let reservation: MemoryReservation

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

    /// Takes `bytes` (the decoder's estimate of its peak pixel memory, from the header) from the memory budget,
    /// waiting while other decodes hold too much; throws when it is more than the whole budget. Called once per
    /// decode, before the pixel buffers are allocated.
    func reserve(_ bytes: Int, width: Int, height: Int) throws(ImageError) {
        guard reservation.take(bytes) == nil else { return }
        throw .overMemoryBudget(name: name, format: format, width: width, height: height,
                                bytes: bytesTotal(bytes, reservation.extra), budget: reservation.budget?.bytes ?? 0)
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

/// Runs a C decoder that asks a memory gate before allocating its pixel buffers (GIF, TIFF): the gate takes the
/// decoder's bytes plus `extraPerPixel` bytes per pixel of the image (what the Swift side adds: the RGB result,
/// a canvas) from the decode's memory reservation. Returns the decoder's status; throws the reservation's error
/// when the gate refused.
func withMemoryGate(_ input: DecoderInput, extraPerPixel: Int,
                    _ decode: (UnsafePointer<cic_memory_gate>) -> Int32) throws(ImageError) -> Int32 {
    final class Context {
        let input: DecoderInput, extraPerPixel: Int
        var refusal: ImageError?
        init(_ input: DecoderInput, _ extraPerPixel: Int) { self.input = input; self.extraPerPixel = extraPerPixel }
    }
    let context = Context(input, extraPerPixel)
    var gate = cic_memory_gate(reserve: { pointer, bytes, width, height in
        let context = Unmanaged<Context>.fromOpaque(pointer!).takeUnretainedValue()
        do throws(ImageError) {
            let extra = bytesFor(Int(width), Int(height), context.extraPerPixel)
            try context.input.reserve(bytesTotal(Int(bytes), extra), width: Int(width), height: Int(height))
            return 1
        } catch {
            context.refusal = error
            return 0
        }
    }, context: Unmanaged.passUnretained(context).toOpaque())
    let status = withExtendedLifetime(context) { decode(&gate) }
    if status == CIC_REFUSED, let refusal = context.refusal { throw refusal }
    return status
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
