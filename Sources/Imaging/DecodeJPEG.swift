// JPEG: libjpeg-turbo through the C shim, then Pillow's mode handling:
// "L" replicated to RGB, "RGB" as is (decoded straight into the result), "CMYK" read with rawmode
// "CMYK;I" (Pillow assumes Adobe's inverted CMYK for every 4-component JPEG) and converted with
// Pillow's cmyk2rgb. EXIF orientation is not applied (Pillow does not on open).

import CImageCodecs

func decodeJPEG(_ input: DecoderInput, centerCropWindow: Int? = nil) throws(ImageError) -> RGBImage {
    var info = cic_jpeg_image()
    var decoder: OpaquePointer?
    defer { cic_jpeg_close(decoder) }
    var status = cic_jpeg_open(input.base, input.bytes.count, Int64(input.maxPixels), &info, &decoder)
    guard status == CIC_OK, let decoder else {
        throw input.error(status: status, message: messageText(info.message), width: info.width, height: info.height)
    }
    var width = Int(info.width), height = Int(info.height)
    let components = Int(info.components)
    let samples: [UInt8]
    let window = centerCropWindow.flatMap { $0 > 0 ? PixelWindow.centerCrop(width: width, height: height, size: $0) : nil }
    // The decoded samples (of the window, or of the image), their RGB conversion unless they are RGB already,
    // and libjpeg's whole-image coefficient buffer for a progressive or multi-scan file.
    let decodedPixels = window.map { bytesFor($0.width, $0.height) } ?? bytesFor(width, height)
    try input.reserve(bytesTotal(bytesFor(decodedPixels, components), components == 3 ? 0 : bytesFor(decodedPixels, 3),
                                 Int(clamping: info.coefficient_bytes)),
                      width: width, height: height)
    if let window, window.width < width || window.height < height {
        // Only the window's rows and columns are decoded (bit-identical to cropping a full decode).
        (samples, status) = filledBytes(count: window.width * window.height * components) { pixels in
            cic_jpeg_read_window(decoder, pixels, window.width * components, Int32(window.x), Int32(window.y),
                                 Int32(window.width), Int32(window.height), &info)
        }
        width = window.width
        height = window.height
    } else {
        (samples, status) = filledBytes(count: width * height * components) { pixels in
            cic_jpeg_read(decoder, pixels, width * components, &info)
        }
    }
    guard status == CIC_OK else {
        throw input.error(status: status, message: messageText(info.message), width: info.width, height: info.height)
    }
    switch components {
    case 3:
        return RGBImage(width: width, height: height, pixels: samples)
    case 1:
        return convert(samples, width: width, height: height, components: 1, layout: .gray(stride: 1, offset: 0))
    default:
        return convert(samples, width: width, height: height, components: 4,
                       layout: .cmyk(stride: 4, offsets: (0, 1, 2, 3), inverted: true))
    }
}

private func convert(_ samples: [UInt8], width: Int, height: Int, components: Int, layout: PixelLayout) -> RGBImage {
    samples.withUnsafeBufferPointer { buffer in
        convertToRGB(rows: buffer.baseAddress!, rowBytes: width * components, width: width, height: height,
                     layout: layout)
    }
}
