import Foundation

extension PlotSVG {
    /// A reliability diagram (scikit-learn's `CalibrationDisplay` layout): per non-empty bin, the share of
    /// fakes against the mean probability of fake, as markers joined by a line, one series per probability
    /// set labelled with its ECE; the dashed diagonal is perfect calibration.
    public static func reliability(curves: [(label: String, bins: [ReliabilityBin], ece: Double)], title: String,
                                   width: Int = 640, height: Int = 480) -> String {
        let series = curves.map { curve -> Series in
            let filled = curve.bins.filter { $0.count > 0 }
            return Series(label: "\(curve.label) (ECE \(String(format: "%.3f", curve.ece)))",
                          x: filled.compactMap(\.meanConfidence), y: filled.compactMap(\.accuracy), markerRadius: 3.5)
        }
        let bins = curves.first?.bins.count ?? CalibrationMetrics.defaultBinCount
        let counts = curves.map { $0.bins.reduce(0) { $0 + $1.count } }
        let subtitle = "\(bins) equal-width bins; \(Set(counts).count == 1 ? "\(counts.first ?? 0)" : counts.map(String.init).joined(separator: "/")) images"
        return chart(series: series, title: title, subtitle: subtitle,
                     xLabel: "Mean probability of fake in the bin", yLabel: "Fraction of fakes in the bin",
                     legend: .upperLeft, diagonal: true, width: width, height: height)
    }

    /// A 2-D scatter of embedded points (e.g. t-SNE), one colour per class with the class names in a legend
    /// right of the plot; the axes span the points with 5% margins.
    /// - Parameters:
    ///   - points: one position per image.
    ///   - classes: each point's class, an index into `classNames` (others are not drawn).
    ///   - classNames: legend text per class; colours follow `palette` in this order.
    public static func scatter(points: [SIMD2<Double>], classes: [Int], classNames: [String], title: String,
                               subtitle: String = "", xLabel: String = "t-SNE 1", yLabel: String = "t-SNE 2",
                               width: Int = 800, height: Int = 600) -> String {
        let series = classNames.indices.map { c -> Series in
            let members = points.indices.filter { $0 < classes.count && classes[$0] == c }
            return Series(label: "\(classNames[c]) (\(members.count))", x: members.map { points[$0].x },
                          y: members.map { points[$0].y }, line: false, markerRadius: 2.5)
        }
        let (xRange, yRange) = paddedRanges(points)
        return chart(series: series, title: title, subtitle: subtitle, xLabel: xLabel, yLabel: yLabel,
                     legend: .outsideRight, diagonal: false, width: width, height: height, xRange: xRange, yRange: yRange)
    }

    /// The points' bounding box widened by 5% on every side (a unit box around a single point).
    static func paddedRanges(_ points: [SIMD2<Double>]) -> (ClosedRange<Double>, ClosedRange<Double>) {
        let finite = points.filter { $0.x.isFinite && $0.y.isFinite }
        guard let first = finite.first else { return (0...1, 0...1) }
        var lo = first, hi = first
        for p in finite { lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p) }
        func padded(_ a: Double, _ b: Double) -> ClosedRange<Double> {
            let margin = b > a ? (b - a) * 0.05 : 0.5
            return (a - margin)...(b + margin)
        }
        return (padded(lo.x, hi.x), padded(lo.y, hi.y))
    }
}
