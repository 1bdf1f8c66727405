// GIF: giflib through the C shim returns the first frame's indices; the image is then built the
// way Pillow's GifImagePlugin builds frame 0:
//   - size: the logical screen, enlarged when the first frame reaches past it;
//   - palette: the frame's local table, else the global table; a table whose every entry i is
//     (i, i, i) counts as no palette, and without a palette the mode is "L" (index = grey);
//   - outside the frame rectangle: the GCE transparent index when there is one, else index 0
//     (the background index is not used for the first frame);
//   - convert("RGB"): palette lookup (entries past the table are black) or grey replication;
//     transparency never changes the RGB values.

import CImageCodecs

func decodeGIF(_ input: DecoderInput) throws(ImageError) -> RGBImage {
    var image = cic_gif_image()
    defer { cic_free(image.pixels) }
    // Besides the frame's indices: the canvas of indices and the RGB result.
    let status = try withMemoryGate(input, extraPerPixel: 1 + 3) { gate in
        cic_gif_decode(input.base, input.bytes.count, Int64(input.maxPixels), gate, &image)
    }
    let left = Int(image.left), top = Int(image.top)
    let frameWidth = Int(image.width), frameHeight = Int(image.height)
    let width = max(left + frameWidth, Int(image.screen_width))
    let height = max(top + frameHeight, Int(image.screen_height))
    guard status == CIC_OK, let indices = image.pixels else {
        throw input.error(status: status, message: messageText(image.message), width: Int32(clamping: width),
                          height: Int32(clamping: height))
    }
    guard width > 0, height > 0 else { throw input.corrupt("empty logical screen and frame") }

    let palette: Palette
    if image.local_count > 0 {
        palette = withUnsafeBytes(of: image.local_palette) { gifPalette($0, count: Int(image.local_count)) }
    } else if image.global_count > 0 {
        palette = withUnsafeBytes(of: image.global_palette) { gifPalette($0, count: Int(image.global_count)) }
    } else {
        palette = .identityGray
    }
    let fill = UInt8(image.transparency >= 0 ? Int(image.transparency) : 0)

    // Compose the indices of the full canvas, then map them through the palette.
    var canvas = [UInt8](repeating: fill, count: width * height)
    canvas.withUnsafeMutableBufferPointer { dst in
        for y in 0..<frameHeight {
            (dst.baseAddress! + (top + y) * width + left).update(from: indices + y * frameWidth, count: frameWidth)
        }
    }
    return canvas.withUnsafeBufferPointer { rows in
        convertToRGB(rows: rows.baseAddress!, rowBytes: width, width: width, height: height, layout: .palette(palette))
    }
}

/// The colour table as Pillow uses it: `.identityGray` when every entry i is (i, i, i) (Pillow's "L"
/// mode, where indices past the table still read as grey), else the entries with black beyond.
private func gifPalette(_ table: UnsafeRawBufferPointer, count: Int) -> Palette {
    let isIdentity = (0..<count).allSatisfy { i in
        table[3 * i] == UInt8(truncatingIfNeeded: i) && table[3 * i + 1] == table[3 * i] && table[3 * i + 2] == table[3 * i]
    }
    return isIdentity ? .identityGray : Palette(rgbTriples: table, count: count)
}
