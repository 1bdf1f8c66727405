// Encoders for writing images back into shards: baseline JPEG with Pillow's default settings and
// 8-bit RGB PNG, both through the C shims (libjpeg-turbo, libpng).

import CImageCodecs

/// Encodes `image` as a baseline JPEG the way Pillow's `Image.save(f, "JPEG", quality=q)` does with its defaults
/// (libjpeg's standard tables scaled by `quality` with baseline-limited entries, 4:2:0 chroma subsampling, ISLOW
/// DCT, standard Huffman tables, JFIF 1.01 header without a resolution).
///
/// With the same libjpeg-turbo version and the same settings, the bytes equal Pillow's; across versions the
/// decoded pixels may differ by a few levels.
/// - Parameters:
///   - image: the pixels.
///   - quality: 1...100 (clamped); webdataset's `TarWriter` encoder and CoDE's shards use 100.
/// - Throws: `ImageError.unsupported` for an empty image or one wider or taller than 65,500 pixels,
///   `ImageError.outOfMemory`, `ImageError.corrupt` if libjpeg reports an error.
public func encodeJPEG(_ image: RGBImage, quality: Int = 75) throws(ImageError) -> [UInt8] {
    try encode(image, format: .jpeg) { pixels, output, size, message in
        cic_jpeg_encode_rgb(pixels, Int32(image.width), Int32(image.height), Int32(clamping: quality),
                            output, size, message)
    }
}

/// Encodes `image` as an 8-bit RGB PNG (colour type 2, not interlaced). Lossless: decoding gives back exactly
/// `image.pixels`.
/// - Parameters:
///   - image: the pixels.
///   - compressionLevel: zlib level 0...9; `nil` uses zlib's default (6, as Pillow).
/// - Throws: `ImageError.unsupported` for an empty image, `ImageError.outOfMemory`, `ImageError.corrupt` if libpng
///   reports an error.
public func encodePNG(_ image: RGBImage, compressionLevel: Int? = nil) throws(ImageError) -> [UInt8] {
    let level = Int32(clamping: compressionLevel ?? -1)
    return try encode(image, format: .png) { pixels, output, size, message in
        cic_png_encode_rgb(pixels, Int32(image.width), Int32(image.height), level, output, size, message)
    }
}

/// Runs a C encoder and copies its malloc'd output into an array.
private func encode(
    _ image: RGBImage, format: ImageFormat,
    _ call: (UnsafePointer<UInt8>, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>,
             UnsafeMutablePointer<CChar>) -> Int32
) throws(ImageError) -> [UInt8] {
    let name = "\(format.rawValue) encoder (\(image.width)x\(image.height))"
    guard image.width > 0, image.height > 0, image.width <= Int(Int32.max), image.height <= Int(Int32.max) else {
        throw .unsupported(name: name, format: format, detail: "cannot encode a \(image.width)x\(image.height) image")
    }
    var output: UnsafeMutablePointer<UInt8>?
    var size = 0
    var message = [CChar](repeating: 0, count: Int(CIC_MESSAGE_SIZE))
    let status = image.pixels.withUnsafeBufferPointer { pixels in
        message.withUnsafeMutableBufferPointer { text in
            call(pixels.baseAddress!, &output, &size, text.baseAddress!)
        }
    }
    defer { cic_free(output) }
    guard status == CIC_OK, let output else {
        let detail = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch Int(status) {
        case Int(CIC_NO_MEMORY): throw .outOfMemory(name: name, format: format)
        case Int(CIC_UNSUPPORTED): throw .unsupported(name: name, format: format, detail: detail)
        default: throw .corrupt(name: name, format: format, detail: detail.isEmpty ? "encoder error \(status)" : detail)
        }
    }
    return Array(UnsafeBufferPointer(start: output, count: size))
}
