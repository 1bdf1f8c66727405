import Foundation
import Imaging

/// The embedding scatter of `PlotSVG.scatter` as a PNG (libpng through `encodePNG`): white background, the
/// plot frame with ticks and numeric labels, anti-aliased points coloured per class with `PlotSVG.palette`,
/// and a legend right of the plot. Text uses a built-in 5×7 bitmap font (upper case, digits and . - ( ) : / %
/// only; other characters are left blank), drawn at twice its size.
public enum PlotPNG {
    /// PNG bytes of the scatter.
    /// - Throws: `ImageError` when the PNG encoder fails (an image of zero size).
    public static func scatter(points: [SIMD2<Double>], classes: [Int], classNames: [String], title: String,
                               width: Int = 800, height: Int = 600) throws(ImageError) -> [UInt8] {
        var canvas = Canvas(width: width, height: height)
        let legendWidth = 24 + 12 * (classNames.map { "\($0) (0000)".count }.max() ?? 0)
        let left = 70, right = width - 20 - legendWidth, top = 44, bottom = height - 40
        guard right > left + 10, bottom > top + 10 else { return try encodePNG(canvas.image) }
        let (xRange, yRange) = PlotSVG.paddedRanges(points)
        func px(_ x: Double) -> Double { Double(left) + (x - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * Double(right - left) }
        func py(_ y: Double) -> Double { Double(bottom) - (y - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) * Double(bottom - top) }
        let ink: (UInt8, UInt8, UInt8) = (34, 34, 34), grid: (UInt8, UInt8, UInt8) = (227, 227, 227)

        canvas.text(title, x: max(4, (width - 12 * title.count) / 2), y: 12, colour: ink)
        let xTicks = PlotSVG.ticks(xRange), yTicks = PlotSVG.ticks(yRange)
        for t in xTicks.values {
            let x = Int(px(t.value).rounded())
            canvas.fill(x: x, y: top, width: 1, height: bottom - top, colour: grid)
            canvas.fill(x: x, y: bottom, width: 1, height: t.labelled ? 6 : 3, colour: ink)
            if t.labelled {
                let label = String(format: "%.\(xTicks.digits)f", t.value)
                canvas.text(label, x: x - 6 * label.count, y: bottom + 10, colour: ink)
            }
        }
        for t in yTicks.values {
            let y = Int(py(t.value).rounded())
            canvas.fill(x: left, y: y, width: right - left, height: 1, colour: grid)
            canvas.fill(x: left - (t.labelled ? 6 : 3), y: y, width: t.labelled ? 6 : 3, height: 1, colour: ink)
            if t.labelled {
                let label = String(format: "%.\(yTicks.digits)f", t.value)
                canvas.text(label, x: left - 10 - 12 * label.count, y: y - 7, colour: ink)
            }
        }
        for (i, p) in points.enumerated() where i < classes.count && classNames.indices.contains(classes[i]) {
            canvas.disc(x: px(p.x), y: py(p.y), radius: 2.6, colour: colour(classes[i]), within: (left, top, right, bottom))
        }
        canvas.frame(x: left, y: top, width: right - left, height: bottom - top, colour: ink)
        for (c, name) in classNames.enumerated() {
            let y = top + 8 + 22 * c
            canvas.disc(x: Double(right + 24), y: Double(y + 7), radius: 4.5, colour: colour(c), within: (0, 0, width, height))
            let count = classes.lazy.filter { $0 == c }.count
            canvas.text("\(name) (\(count))", x: right + 36, y: y, colour: ink)
        }
        return try encodePNG(canvas.image)
    }

    private static func colour(_ index: Int) -> (UInt8, UInt8, UInt8) {
        let hex = PlotSVG.palette[index % PlotSVG.palette.count].dropFirst()
        let v = UInt32(hex, radix: 16) ?? 0
        return (UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF))
    }
}

/// An RGB drawing surface with the few primitives the scatter needs.
struct Canvas {
    let width: Int, height: Int
    private(set) var pixels: [UInt8]

    init(width: Int, height: Int) {
        self.width = max(0, width); self.height = max(0, height)
        pixels = [UInt8](repeating: 255, count: self.width * self.height * 3)
    }

    var image: RGBImage { RGBImage(width: width, height: height, pixels: pixels) }

    /// Mixes `colour` into pixel (x, y) with weight `alpha` (0…1); outside the canvas nothing happens.
    mutating func blend(_ x: Int, _ y: Int, _ colour: (UInt8, UInt8, UInt8), alpha: Double) {
        guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
        let a = min(1, alpha), i = (y * width + x) * 3
        for (k, c) in [colour.0, colour.1, colour.2].enumerated() {
            pixels[i + k] = UInt8((Double(pixels[i + k]) * (1 - a) + Double(c) * a).rounded())
        }
    }

    mutating func fill(x: Int, y: Int, width w: Int, height h: Int, colour: (UInt8, UInt8, UInt8)) {
        for yy in y..<(y + max(0, h)) { for xx in x..<(x + max(0, w)) { blend(xx, yy, colour, alpha: 1) } }
    }

    mutating func frame(x: Int, y: Int, width w: Int, height h: Int, colour: (UInt8, UInt8, UInt8)) {
        fill(x: x, y: y, width: w + 1, height: 1, colour: colour); fill(x: x, y: y + h, width: w + 1, height: 1, colour: colour)
        fill(x: x, y: y, width: 1, height: h + 1, colour: colour); fill(x: x + w, y: y, width: 1, height: h + 1, colour: colour)
    }

    /// A filled disc, its edge anti-aliased by pixel-centre distance, clipped to `within` (left, top, right, bottom).
    mutating func disc(x cx: Double, y cy: Double, radius r: Double, colour: (UInt8, UInt8, UInt8), within clip: (Int, Int, Int, Int)) {
        let x0 = max(clip.0, Int((cx - r - 1).rounded(.down))), x1 = min(clip.2, Int((cx + r + 1).rounded(.up)))
        let y0 = max(clip.1, Int((cy - r - 1).rounded(.down))), y1 = min(clip.3, Int((cy + r + 1).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        for y in y0...y1 {
            for x in x0...x1 {
                let d = ((Double(x) + 0.5 - cx) * (Double(x) + 0.5 - cx) + (Double(y) + 0.5 - cy) * (Double(y) + 0.5 - cy)).squareRoot()
                blend(x, y, colour, alpha: 0.85 * min(1, max(0, r + 0.5 - d)))
            }
        }
    }

    /// `text` in upper case with the 5×7 font at scale 2 (12 px per character), top-left at (x, y).
    mutating func text(_ text: String, x: Int, y: Int, colour: (UInt8, UInt8, UInt8)) {
        for (n, ch) in text.uppercased().enumerated() {
            guard let rows = bitmapFont[ch] else { continue }
            for (r, bits) in rows.enumerated() {
                for c in 0..<5 where bits & (0x10 >> c) != 0 {
                    fill(x: x + 12 * n + 2 * c, y: y + 2 * r, width: 2, height: 2, colour: colour)
                }
            }
        }
    }
}

/// 5×7 glyphs, one byte per row (bit 4 = leftmost column), top row first.
private let bitmapFont: [Character: [UInt8]] = [
    "A": [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11], "B": [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
    "C": [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E], "D": [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
    "E": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F], "F": [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
    "G": [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F], "H": [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
    "I": [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E], "J": [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
    "K": [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], "L": [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
    "M": [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11], "N": [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
    "O": [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "P": [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
    "Q": [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D], "R": [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
    "S": [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E], "T": [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
    "U": [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E], "V": [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
    "W": [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A], "X": [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
    "Y": [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04], "Z": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
    "0": [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], "1": [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    "2": [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], "3": [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    "4": [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], "5": [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    "6": [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], "7": [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    "8": [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], "9": [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
    ".": [0, 0, 0, 0, 0, 0x0C, 0x0C], "-": [0, 0, 0, 0x1F, 0, 0, 0], ":": [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
    "(": [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02], ")": [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
    "/": [0x01, 0x02, 0x02, 0x04, 0x08, 0x08, 0x10], "%": [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
]
