// PNG: libpng through the C shim (samples as stored), then Pillow's PngImagePlugin modes:
//   grey 1-bit -> "1" (0/255); 2/4-bit -> "L" scaled by 0x55/0x11; 8-bit -> "L";
//   16-bit -> "I;16", whose RGB conversion clips at 255 (min(value, 255), not value >> 8);
//   grey+alpha 8 -> "LA", 16 -> "RGBA" via "LA;16B" (most significant bytes);
//   RGB/RGBA 8 or 16 -> most significant byte of each sample; palette -> "P" (entries past PLTE black).
// Alpha and tRNS never affect the RGB values; gAMA/sRGB/iCCP are ignored, as in Pillow.

import CImageCodecs

func decodePNG(_ input: DecoderInput) throws(ImageError) -> RGBImage {
    var info = cic_png_image()
    var decoder: OpaquePointer?
    defer { cic_png_close(decoder) }
    var status = cic_png_open(input.base, input.bytes.count, Int64(input.maxPixels), &info, &decoder)
    guard status == CIC_OK, let decoder else {
        throw input.error(status: status, message: messageText(info.message), width: info.width, height: info.height)
    }
    let width = Int(info.width), height = Int(info.height), rowBytes = Int(info.row_bytes)
    let bits = Int(info.bit_depth), channels = Int(info.channels)
    let bytesPerSample = bits == 16 ? 2 : 1
    let stride = channels * bytesPerSample
    let layout: PixelLayout
    switch (Int(info.color_type), bits) {
    case (0, 1):
        layout = .bilevel
    case (0, 2), (0, 4):
        let scale = bits == 2 ? 0x55 : 0x11
        layout = .palette(Palette(rgb: (0..<(1 << bits) * 3).map { UInt8(($0 / 3) * scale) }))
    case (0, 8):
        layout = .gray(stride: 1, offset: 0)
    case (0, 16):
        layout = .gray16Clipped(stride: 2, bigEndian: true)
    case (4, _):
        layout = .gray(stride: stride, offset: 0)
    case (2, _), (6, _):
        layout = .rgb(stride: stride, r: 0, g: bytesPerSample, b: 2 * bytesPerSample)
    case (3, _):
        let palette = withUnsafeBytes(of: info.palette) { Palette(rgbTriples: $0, count: Int(info.palette_count)) }
        layout = .palette(palette)
    default:
        throw input.unsupported("colour type \(info.color_type) with bit depth \(bits)")
    }
    // 8-bit RGB rows are the result itself; everything else goes through a native buffer.
    let direct = info.color_type == 2 && bits == 8
    let samples: [UInt8]
    (samples, status) = filledBytes(count: height * rowBytes) { pixels in
        cic_png_read(decoder, pixels, rowBytes, &info)
    }
    guard status == CIC_OK else {
        throw input.error(status: status, message: messageText(info.message), width: info.width, height: info.height)
    }
    if direct { return RGBImage(width: width, height: height, pixels: samples) }
    return samples.withUnsafeBufferPointer { buffer in
        convertToRGB(rows: buffer.baseAddress!, rowBytes: rowBytes, width: width, height: height, layout: layout)
    }
}
