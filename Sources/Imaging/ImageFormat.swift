/// The image formats the decoders understand.
public enum ImageFormat: String, Sendable, CaseIterable {
    case jpeg, png, bmp, gif, tiff, webp

    /// Upper-case name used in messages.
    var displayName: String {
        switch self {
        case .jpeg: return "JPEG"
        case .png: return "PNG"
        case .bmp: return "BMP"
        case .gif: return "GIF"
        case .tiff: return "TIFF"
        case .webp: return "WebP"
        }
    }
}

/// Lower-case file extensions (without the dot) treated as images when walking folders.
///
/// Only used to pick files; decoding always detects the format from the content.
public let imageFileExtensions: Set<String> = ["jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff", "webp"]

/// Magic numbers by format, as Pillow's plugins accept them: (offset, bytes) pairs that must all match.
private let signatures: [(ImageFormat, [(Int, [UInt8])])] = [
    (.jpeg, [(0, [0xFF, 0xD8, 0xFF])]),
    (.png, [(0, [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])]),
    (.gif, [(0, Array("GIF87a".utf8))]),
    (.gif, [(0, Array("GIF89a".utf8))]),
    (.bmp, [(0, Array("BM".utf8))]),
    (.tiff, [(0, [0x4D, 0x4D, 0x00, 0x2A])]),  // classic TIFF, big-endian
    (.tiff, [(0, [0x49, 0x49, 0x2A, 0x00])]),  // classic TIFF, little-endian
    (.tiff, [(0, [0x4D, 0x4D, 0x2A, 0x00])]),  // byte-swapped magic (Pillow accepts it)
    (.tiff, [(0, [0x49, 0x49, 0x00, 0x2A])]),
    (.tiff, [(0, [0x4D, 0x4D, 0x00, 0x2B])]),  // BigTIFF
    (.tiff, [(0, [0x49, 0x49, 0x2B, 0x00])]),
    (.webp, [(0, Array("RIFF".utf8)), (8, Array("WEBP".utf8)), (12, Array("VP8 ".utf8))]),
    (.webp, [(0, Array("RIFF".utf8)), (8, Array("WEBP".utf8)), (12, Array("VP8L".utf8))]),
    (.webp, [(0, Array("RIFF".utf8)), (8, Array("WEBP".utf8)), (12, Array("VP8X".utf8))]),
]

/// Detects the format from the first bytes (magic numbers), as Pillow's plugins accept them.
///
/// Returns `nil` when no supported format matches. The extension of a file plays no part.
public func sniffImageFormat(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
    func matches(_ offset: Int, _ magic: [UInt8]) -> Bool {
        guard bytes.count >= offset + magic.count else { return false }
        return magic.indices.allSatisfy { bytes[offset + $0] == magic[$0] }
    }
    return signatures.first { _, parts in parts.allSatisfy { matches($0.0, $0.1) } }?.0
}

/// Detects the format of an in-memory file from its first bytes; see ``sniffImageFormat(_:)-(UnsafeRawBufferPointer)``.
public func sniffImageFormat(_ bytes: [UInt8]) -> ImageFormat? {
    bytes.withUnsafeBytes { sniffImageFormat($0) }
}
