import Foundation

/// Charts as standalone SVG (640×480 by default): a title, axes (0 to 1 unless given) with a light grid at a
/// round step (0.1 on the unit square, labelled every second line), one coloured line and/or set of markers
/// per series, and a legend naming each series. ROC and precision–recall plots here; the reliability diagram
/// and the embedding scatter in PlotTrust.swift; a PNG of the scatter in PlotRaster.swift.
public enum PlotSVG {
    /// One line of a chart, in data coordinates (0…1 on both axes).
    public struct Series: Sendable {
        /// Legend text.
        public var label: String
        /// Horizontal coordinates.
        public var x: [Double]
        /// Vertical coordinates (same count as `x`).
        public var y: [Double]
        /// Draw as a step function (horizontal, then vertical: matplotlib's `steps-post`) instead of segments.
        public var steps: Bool
        /// Join the points with a line.
        public var line: Bool
        /// Radius of a filled circle drawn at every point, in pixels; 0 draws none.
        public var markerRadius: Double

        /// A series from its points.
        public init(label: String, x: [Double], y: [Double], steps: Bool = false, line: Bool = true, markerRadius: Double = 0) {
            precondition(x.count == y.count, "series \(label): \(x.count) x values, \(y.count) y values")
            self.label = label; self.x = x; self.y = y; self.steps = steps; self.line = line; self.markerRadius = markerRadius
        }
    }

    /// Where the legend box sits: inside the plot area, or in a column right of it.
    public enum LegendCorner: Sendable { case lowerRight, lowerLeft, upperLeft, outsideRight }

    /// Colours of the lines, in order (matplotlib's tab10), reused cyclically.
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// A ROC plot: false-positive rate → true-positive rate, the chance diagonal dashed, each curve labelled
    /// with its AUC; the subtitle gives the mean AUC.
    public static func roc(curves: [(label: String, curve: ROCCurve, auc: Double)], title: String,
                           width: Int = 640, height: Int = 480) -> String {
        let series = curves.map { Series(label: "\($0.label) (AUC \(fixed($0.auc, 3)))",
                                         x: $0.curve.falsePositiveRates, y: $0.curve.truePositiveRates) }
        return chart(series: series, title: title, subtitle: meanLine("AUC", curves.map(\.auc)),
                     xLabel: "False positive rate (reals called fake)", yLabel: "True positive rate (fakes caught)",
                     legend: .lowerRight, diagonal: true, width: width, height: height)
    }

    /// A precision–recall plot: recall → precision as scikit-learn draws it (steps), each curve labelled
    /// with its average precision; the subtitle gives the mean AP.
    public static func precisionRecall(curves: [(label: String, curve: PrecisionRecallCurve, averagePrecision: Double)],
                                       title: String, width: Int = 640, height: Int = 480) -> String {
        let series = curves.map { Series(label: "\($0.label) (AP \(fixed($0.averagePrecision, 3)))",
                                         x: $0.curve.recall, y: $0.curve.precision, steps: true) }
        return chart(series: series, title: title, subtitle: meanLine("AP", curves.map(\.averagePrecision)),
                     xLabel: "Recall (fakes caught)", yLabel: "Precision (fake calls that are right)",
                     legend: .lowerLeft, diagonal: false, width: width, height: height)
    }

    /// A chart with the layout described on `PlotSVG`; `xRange` and `yRange` are the axes' spans (points
    /// outside are clipped), `diagonal` dashes the line from the lower-left to the upper-right corner.
    public static func chart(series: [Series], title: String, subtitle: String = "", xLabel: String, yLabel: String,
                             legend: LegendCorner, diagonal: Bool, width: Int = 640, height: Int = 480,
                             xRange: ClosedRange<Double> = 0...1, yRange: ClosedRange<Double> = 0...1) -> String {
        let w = Double(width), h = Double(height)
        let legendColumn = legend == .outsideRight ? legendWidth(series) + 16 : 0
        let left = 64.0, right = w - 20 - legendColumn, top = subtitle.isEmpty ? 44.0 : 58.0, bottom = h - 52
        let xSpan = max(xRange.upperBound - xRange.lowerBound, .leastNormalMagnitude)
        let ySpan = max(yRange.upperBound - yRange.lowerBound, .leastNormalMagnitude)
        func px(_ x: Double) -> Double { left + min(1, max(0, (x - xRange.lowerBound) / xSpan)) * (right - left) }
        func py(_ y: Double) -> Double { bottom - min(1, max(0, (y - yRange.lowerBound) / ySpan)) * (bottom - top) }
        let xTicks = ticks(xRange), yTicks = ticks(yRange)
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" \
        font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
        <rect width="100%" height="100%" fill="white"/>
        <defs><clipPath id="plot-area"><rect x="\(f(left - 2))" y="\(f(top - 2))" width="\(f(right - left + 4))" \
        height="\(f(bottom - top + 4))"/></clipPath></defs>

        """
        s += "<text x=\"\(f(w / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">\(escape(title))</text>\n"
        if !subtitle.isEmpty {
            s += "<text x=\"\(f(w / 2))\" y=\"40\" text-anchor=\"middle\" font-size=\"12\" fill=\"#444\">\(escape(subtitle))</text>\n"
        }
        // Grid (inner tick positions) and ticks (long and labelled every second one).
        s += "<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n"
        for t in xTicks.values where t.value > xRange.lowerBound && t.value < xRange.upperBound {
            s += "<line x1=\"\(f(px(t.value)))\" y1=\"\(f(top))\" x2=\"\(f(px(t.value)))\" y2=\"\(f(bottom))\"/>\n"
        }
        for t in yTicks.values where t.value > yRange.lowerBound && t.value < yRange.upperBound {
            s += "<line x1=\"\(f(left))\" y1=\"\(f(py(t.value)))\" x2=\"\(f(right))\" y2=\"\(f(py(t.value)))\"/>\n"
        }
        s += "</g>\n<g stroke=\"#222\" stroke-width=\"1\">\n"
        for t in xTicks.values {
            s += "<line x1=\"\(f(px(t.value)))\" y1=\"\(f(bottom))\" x2=\"\(f(px(t.value)))\" y2=\"\(f(bottom + (t.labelled ? 6 : 3)))\"/>\n"
        }
        for t in yTicks.values {
            s += "<line x1=\"\(f(left - (t.labelled ? 6 : 3)))\" y1=\"\(f(py(t.value)))\" x2=\"\(f(left))\" y2=\"\(f(py(t.value)))\"/>\n"
        }
        s += "</g>\n<g font-size=\"11\" fill=\"#222\">\n"
        for t in xTicks.values where t.labelled {
            s += "<text x=\"\(f(px(t.value)))\" y=\"\(f(bottom + 19))\" text-anchor=\"middle\">\(fixed(t.value, xTicks.digits))</text>\n"
        }
        for t in yTicks.values where t.labelled {
            s += "<text x=\"\(f(left - 9))\" y=\"\(f(py(t.value) + 4))\" text-anchor=\"end\">\(fixed(t.value, yTicks.digits))</text>\n"
        }
        s += "</g>\n"
        s += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(h - 14))\" text-anchor=\"middle\" font-size=\"13\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(18 \(f((top + bottom) / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">\(escape(yLabel))</text>\n"
        if diagonal {
            s += "<line x1=\"\(f(px(0)))\" y1=\"\(f(py(0)))\" x2=\"\(f(px(1)))\" y2=\"\(f(py(1)))\" stroke=\"#999\" stroke-width=\"1\" stroke-dasharray=\"5 4\"/>\n"
        }
        // Curves.
        s += "<g clip-path=\"url(#plot-area)\" fill=\"none\" stroke-width=\"2\" stroke-linejoin=\"round\" stroke-linecap=\"round\">\n"
        for (k, series) in series.enumerated() where series.line {
            var points: [(Double, Double)] = []
            for i in series.x.indices {
                let p = (px(series.x[i]), py(series.y[i]))
                if series.steps, let last = points.last { points.append((p.0, last.1)) }
                points.append(p)
            }
            // Drop points that land on the previous one at 0.1 px.
            var text: [String] = [], previous = ""
            for p in points {
                let t = "\(f(p.0)),\(f(p.1))"
                if t != previous { text.append(t); previous = t }
            }
            if text.count == 1 { text.append(text[0]) }
            s += "<polyline stroke=\"\(palette[k % palette.count])\" points=\"\(text.joined(separator: " "))\"/>\n"
        }
        s += "</g>\n"
        // Markers.
        for (k, series) in series.enumerated() where series.markerRadius > 0 {
            s += "<g clip-path=\"url(#plot-area)\" fill=\"\(palette[k % palette.count])\" fill-opacity=\"0.85\">\n"
            for i in series.x.indices {
                s += "<circle cx=\"\(f(px(series.x[i])))\" cy=\"\(f(py(series.y[i])))\" r=\"\(f(series.markerRadius))\"/>"
                if i % 8 == 7 { s += "\n" }
            }
            s += "\n</g>\n"
        }
        // Axes box on top of the curves.
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(bottom - top))\" fill=\"none\" stroke=\"#222\" stroke-width=\"1\"/>\n"
        // Legend.
        if !series.isEmpty {
            let rowHeight = 16.0, fontSize = 11.0
            let boxWidth = legend == .outsideRight ? legendWidth(series) : min(right - left - 16, legendWidth(series))
            let boxHeight = 8 + rowHeight * Double(series.count)
            let x0: Double, y0: Double
            switch legend {
            case .lowerRight: x0 = right - 8 - boxWidth; y0 = bottom - 8 - boxHeight
            case .lowerLeft: x0 = left + 8; y0 = bottom - 8 - boxHeight
            case .upperLeft: x0 = left + 8; y0 = top + 8
            case .outsideRight: x0 = right + 16; y0 = top
            }
            s += "<g font-size=\"\(f(fontSize))\">\n"
            s += "<rect x=\"\(f(x0))\" y=\"\(f(y0))\" width=\"\(f(boxWidth))\" height=\"\(f(boxHeight))\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#bbb\"/>\n"
            for (k, series) in series.enumerated() {
                let y = y0 + 4 + rowHeight * (Double(k) + 0.5)
                let colour = palette[k % palette.count]
                if series.line {
                    s += "<line x1=\"\(f(x0 + 8))\" y1=\"\(f(y))\" x2=\"\(f(x0 + 30))\" y2=\"\(f(y))\" stroke=\"\(colour)\" stroke-width=\"2.5\"/>"
                }
                if series.markerRadius > 0 {
                    s += "<circle cx=\"\(f(x0 + 19))\" cy=\"\(f(y))\" r=\"\(f(max(3, series.markerRadius)))\" fill=\"\(colour)\"/>"
                }
                s += "<text x=\"\(f(x0 + 36))\" y=\"\(f(y + 4))\">\(escape(series.label))</text>\n"
            }
            s += "</g>\n"
        } else {
            s += "<text x=\"\(f((left + right) / 2))\" y=\"\(f((top + bottom) / 2))\" text-anchor=\"middle\" font-size=\"13\" fill=\"#888\">no curve (a class is missing)</text>\n"
        }
        return s + "</svg>\n"
    }

    /// The legend box's width for these labels (11 px text).
    private static func legendWidth(_ series: [Series]) -> Double {
        40 + Double(series.map(\.label.count).max() ?? 0) * 11 * 0.6
    }

    /// Tick positions for an axis span: a step of 1, 2 or 5 × 10ⁿ giving about ten intervals (0.1 on 0…1),
    /// every second multiple of the step labelled, with the decimals the step needs.
    static func ticks(_ range: ClosedRange<Double>) -> (values: [(value: Double, labelled: Bool)], digits: Int) {
        let span = range.upperBound - range.lowerBound
        guard span > 0, span.isFinite else { return ([(range.lowerBound, true)], 1) }
        let raw = span / 10, magnitude = Foundation.pow(10, Foundation.floor(Foundation.log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw * 0.999 } ?? 10 * magnitude
        let first = Int((range.lowerBound / step).rounded(.up)), last = Int((range.upperBound / step + 1e-9).rounded(.down))
        let digits = max(0, -Int(Foundation.floor(Foundation.log10(step) + 1e-9)))
        return ((first...max(first, last)).map { (Double($0) * step, $0 % 2 == 0) }, digits)
    }

    private static func meanLine(_ name: String, _ values: [Double]) -> String {
        let finite = values.filter(\.isFinite)
        guard !finite.isEmpty else { return "" }
        if finite.count == 1 { return "\(name) \(fixed(finite[0], 3))" }
        return "mean \(name) \(fixed(finite.reduce(0, +) / Double(finite.count), 3)) over \(finite.count) pairs"
    }

    private static func fixed(_ v: Double, _ digits: Int) -> String {
        v.isFinite ? String(format: "%.\(digits)f", v) : "n/a"
    }

    private static func f(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(format: "%.1f", r)
    }

    private static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
