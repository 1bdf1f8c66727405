// PNG: libpng through the C shim (samples as stored), then Pillow's PngImagePlugin modes:
//   grey 1-bit -> "1" (0/255); 2/4-bit -> "L" scaled by 0x55/0x11; 8-bit -> "L";
//   16-bit -> "I;16", whose RGB conversion clips at 255 (min(value, 255), not value >> 8);
//   grey+alpha 8 -> "LA", 16 -> "RGBA" via "LA;16B" (most significant bytes);
//   RGB/RGBA 8 or 16 -> most significant byte of each sample; palette -> "P" (entries past PLTE black).
// Alpha and tRNS never affect the RGB values; gAMA/sRGB/iCCP are ignored, as in Pillow.
//
// Memory: a non-interlaced image is decoded a row at a time, each row converted to RGB at once (a 16-bit image
// never sits whole in memory), keeping only the rows and columns of the center-crop window when one is asked
// for; the rows below the window are still decoded (into the same row buffer), so a file cut short there fails
// as in Pillow. An interlaced image needs every row before any is complete: its samples are held whole.

import CImageCodecs

func decodePNG(_ input: DecoderInput, centerCropWindow: Int? = nil) throws(ImageError) -> RGBImage {
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
    // After png_set_packing every pixel takes `stride` bytes of a decoded row.
    guard rowBytes >= width * stride else { throw input.corrupt("decoded rows shorter than their pixels") }
    let window = centerCropWindow.map { PixelWindow.centerCrop(width: width, height: height, size: $0) }
        ?? PixelWindow(x: 0, y: 0, width: width, height: height)
    let interlaced = info.interlaced != 0
    // The result, the decoded samples (every row when interlaced, else one) and libpng's two row buffers.
    try input.reserve(bytesTotal(bytesFor(window.width, window.height, 3), bytesFor(interlaced ? height : 1, rowBytes),
                                 bytesFor(2, rowBytes)),
                      width: width, height: height)
    let rows = window.y..<(window.y + window.height)
    let columnOffset = window.x * stride
    if interlaced {
        let samples: [UInt8]
        (samples, status) = filledBytes(count: height * rowBytes) { pixels in
            cic_png_read(decoder, pixels, rowBytes, &info)
        }
        guard status == CIC_OK else {
            throw input.error(status: status, message: messageText(info.message), width: info.width, height: info.height)
        }
        return samples.withUnsafeBufferPointer { buffer in
            convertToRGB(rows: buffer.baseAddress! + window.y * rowBytes + columnOffset, rowBytes: rowBytes,
                         width: window.width, height: window.height, layout: layout)
        }
    }
    // 8-bit RGB rows spanning the whole width are the result itself: they are decoded straight into it.
    let direct = info.color_type == 2 && bits == 8 && window.width == width
    var row = [UInt8](repeating: 0, count: rowBytes)
    status = Int32(CIC_OK)
    let image = row.withUnsafeMutableBufferPointer { scratch in
        makeRGB(width: window.width, height: window.height) { out in
            for y in 0..<height {
                let target = rows.contains(y) ? out + (y - window.y) * window.width * 3 : nil
                if direct, let target {
                    status = cic_png_read_row(decoder, target, &info)
                } else {
                    status = cic_png_read_row(decoder, scratch.baseAddress!, &info)
                    if status == CIC_OK, let target {
                        convertRow(scratch.baseAddress! + columnOffset, target, width: window.width, layout: layout)
                    }
                }
                guard status == CIC_OK else { return }
            }
        }
    }
    guard status == CIC_OK else {
        throw input.error(status: status, message: messageText(info.message), width: info.width, height: info.height)
    }
    return image
}
