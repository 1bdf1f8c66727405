/// Why an image could not be decoded. Every case names the input (`name`, as the caller gave it).
public enum ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened or read.
    case unreadable(name: String, reason: String)
    /// The input has no bytes at all.
    case empty(name: String)
    /// The content matches none of the supported formats (detection is by content, never by extension).
    case unrecognizedFormat(name: String)
    /// `width * height` exceeds `DecodeOptions.maxPixels`; refused before any pixel memory is allocated.
    case tooLarge(name: String, format: ImageFormat, width: Int, height: Int, maxPixels: Int)
    /// The data ends before the image does.
    case truncated(name: String, format: ImageFormat, detail: String)
    /// The data is malformed.
    case corrupt(name: String, format: ImageFormat, detail: String)
    /// A valid file in a variant this decoder does not handle (e.g. 12-bit JPEG, 32-bit float TIFF).
    case unsupported(name: String, format: ImageFormat, detail: String)
    /// Memory for the pixels could not be allocated.
    case outOfMemory(name: String, format: ImageFormat)
    /// Decoding would take about `bytes` of pixel memory, more than the whole decode memory budget
    /// (`DecodeOptions.memoryBudget`, of `budget` bytes); refused before any pixel memory is allocated.
    case overMemoryBudget(name: String, format: ImageFormat, width: Int, height: Int, bytes: Int, budget: Int)

    /// The input's name as given to the decoder.
    public var name: String {
        switch self {
        case .unreadable(let name, _), .empty(let name), .unrecognizedFormat(let name),
             .tooLarge(let name, _, _, _, _), .truncated(let name, _, _), .corrupt(let name, _, _),
             .unsupported(let name, _, _), .outOfMemory(let name, _), .overMemoryBudget(let name, _, _, _, _, _):
            return name
        }
    }

    public var description: String {
        switch self {
        case .unreadable(let name, let reason):
            return "\(name): cannot read the file: \(reason)"
        case .empty(let name):
            return "\(name): the file is empty (0 bytes); re-download or remove it"
        case .unrecognizedFormat(let name):
            return "\(name): not a recognised image format (supported: JPEG, PNG, BMP, GIF, TIFF, WebP; "
                + "the format is detected from the content, not the extension)"
        case .tooLarge(let name, let format, let width, let height, let maxPixels):
            let (area, overflow) = width.multipliedReportingOverflow(by: height)  // a header's sizes may overflow
            return "\(name): \(format.displayName) image of \(width)x\(height) = \(overflow ? "more than \(Int.max)" : "\(area)") pixels exceeds "
                + "the limit of \(maxPixels) pixels (DecodeOptions.maxPixels); refused before decoding"
        case .truncated(let name, let format, let detail):
            return "\(name): \(format.displayName) data is truncated (\(detail)); the file is incomplete"
        case .corrupt(let name, let format, let detail):
            return "\(name): corrupt \(format.displayName) data: \(detail)"
        case .unsupported(let name, let format, let detail):
            return "\(name): unsupported \(format.displayName) variant: \(detail)"
        case .outOfMemory(let name, let format):
            return "\(name): out of memory while decoding the \(format.displayName) image"
        case .overMemoryBudget(let name, let format, let width, let height, let bytes, let budget):
            return "\(name): decoding this \(width)x\(height) \(format.displayName) image needs about \(mebibytes(bytes)) of "
                + "memory, more than the whole decode memory budget of \(mebibytes(budget)) (DecodeOptions.memoryBudget, "
                + "deepfake's --decode-memory); refused before decoding"
        }
    }
}

/// `bytes` in MiB for messages, e.g. "1860 MiB".
private func mebibytes(_ bytes: Int) -> String {
    bytes == Int.max ? "more than \(Int.max >> 20) MiB" : "\((bytes + (1 << 20) - 1) >> 20) MiB"
}
