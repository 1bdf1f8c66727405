// WebP: libwebp through the C shim. Pillow decodes through WebPAnimDecoder in RGBA and, for
// convert("RGB"), drops the alpha: the colour samples are returned as decoded (never blended),
// so they are decoded straight to RGB. Animated files give their first frame on a black canvas.

import CImageCodecs

func decodeWebP(_ input: DecoderInput) throws(ImageError) -> RGBImage {
    var info = cic_webp_image()
    var status = cic_webp_info(input.base, input.bytes.count, Int64(input.maxPixels), &info)
    guard status == CIC_OK else {
        throw input.error(status: status, message: messageText(info.message), width: info.width, height: info.height)
    }
    let width = Int(info.width), height = Int(info.height)
    // The RGB result and libwebp's own buffers: 4 bytes a pixel of ARGB for lossless data (1 of alpha plane for
    // lossy data with alpha).
    try input.reserve(bytesFor(width, height, 3 + 4), width: width, height: height)
    let pixels: [UInt8]
    (pixels, status) = filledBytes(count: width * height * 3) { buffer in
        cic_webp_decode_rgb(input.base, input.bytes.count, buffer, &info)
    }
    guard status == CIC_OK else {
        throw input.error(status: status, message: messageText(info.message), width: info.width, height: info.height)
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}
